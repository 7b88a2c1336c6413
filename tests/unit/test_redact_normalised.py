"""The redactor reads a number the way a person would, whatever a mail client, a word
processor or an HTML converter did to its characters (DESIGN §8), and still never
touches an organisation number, a phone number, a date, a diary number or a timestamp.

Every Skatteverket test number (allPins.json, allCoords.json, see SOURCES.md) is tried
in every written form below; the replacement must remove the original characters.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.domain.redact import (PLACEHOLDER, clean_for_terminal, contains_personnummer,
                               redact, strip_control)

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "personnummer"

DASHES = ["\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe63", "\uff0d"]
INVISIBLE = ["\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
FULLWIDTH = str.maketrans("0123456789-+", "０１２３４５６７８９－＋")


def _load(name: str):
    path = CORPUS / name
    if not path.is_file():
        pytest.fail(f"corpus missing: {path} (see /work/shared/corpora/personnummer/SOURCES.md)",
                    pytrace=False)
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def numbers() -> list[str]:
    pins, coords = _load("allPins.json"), _load("allCoords.json")
    assert len(pins) == 41129 and len(coords) == 2264
    return [*pins, *coords]


def written_forms(n12: str, i: int) -> list[str]:
    """The ways a number reaches the bot: with and without century, '-' or '+', spaces
    around the separator, every dash, a soft hyphen or zero-width character inside
    (rotating through them so every kind meets every digit position), fullwidth."""
    n10 = n12[2:]
    dash = DASHES[i % len(DASHES)]
    hidden = INVISIBLE[i % len(INVISIBLE)]
    cut = 1 + i % 7                       # where inside the digits the invisible one sits
    plain = [n12, f"{n12[:8]}-{n12[8:]}", n10, f"{n10[:6]}-{n10[6:]}", f"{n10[:6]}+{n10[6:]}"]
    return [
        *plain,
        f"{n12[:8]} - {n12[8:]}", f"{n10[:6]} -{n10[6:]}", f"{n10[:6]}  {n10[6:]}",
        f"{n12[:8]}{dash}{n12[8:]}", f"{n10[:6]}{dash}{n10[6:]}",
        f"{n12[:8]} {dash} {n12[8:]}",
        n12[:cut] + hidden + n12[cut:], f"{n10[:6]}-{n10[6:8]}{hidden}{n10[8:]}",
        f"{n12[:8]}{hidden}-{hidden}{n12[8:]}",
        f"{n12[:8]}\u00a0{n12[8:]}", f"{n10[:6]}\u202f-\u202f{n10[6:]}",
        n12.translate(FULLWIDTH), f"{n10[:6]}-{n10[6:]}".translate(FULLWIDTH),
        f"{n12[:4]}{hidden}{n12[4:8]}".translate(FULLWIDTH) + f"\uff0d{n12[8:]}",
    ]


def test_every_test_number_in_every_written_form_is_removed(numbers):
    failures = []
    for i, n12 in enumerate(numbers):
        for form in written_forms(n12, i):
            text = f"Brukare {form}, föll i badrummet"
            got = redact(text)
            if got != f"Brukare {PLACEHOLDER}, föll i badrummet":
                failures.append(f"{form!r} -> {got!r}")
    assert not failures, f"{len(failures)} missed, first 10:\n" + "\n".join(failures[:10])


def test_two_numbers_in_one_text_with_unicode_around_them_are_both_removed():
    text = "Åsa (１９１２１２１２－１２１２) och Örjan 19121212\u2010\u200b1212 – se VOK 2026/0042 ✔"
    assert redact(text) == f"Åsa ({PLACEHOLDER}) och Örjan {PLACEHOLDER} – se VOK 2026/0042 ✔"


def test_control_codes_inside_a_number_do_not_hide_it_from_the_terminal_cleaner():
    assert clean_for_terminal("pnr 1912\x1b[0m1212-12\x0012") == f"pnr {PLACEHOLDER}"


NOT_NUMBERS = [
    "212000-0142", "Exempelby kommun, org.nr 212000-0142", "2120000142", "16212000-0142",
    "556036-0793", "5560360793", "Volvo 556036\u20100793",
    "070-123 45 67", "070\u2011123\u00a045\u00a067", "+46 70 123 45 67", "08-123 456 78",
    "0046 70 123 45 67", "Tel. ０７０－１２３ ４５ ６７", "020-120 120",
    "2026-11-21", "2026\u201011\u201021", "２０２６－１１－２１", "21/11 2026", "20261121", "261121",
    "Mellan 2026-11-21 och 2026-12-01", "2026-11-21 - 2026-12-01", "20261121 - 20261201",
    "VOK 2026/0042", "VOK 2026/0042, VOK 2026/0043", "SN 2025/1234", "dnr 2026-000123",
    "2026-11-21T14:30:00+01:00", "2026-11-21T14:30:00.123456+00:00", "2026-11-21 14:30",
    "20261121T143000Z", "1764000000", "1764000000123", "kl. 14:30\u201316:30",
    "Referens 12345678901234", "OCR 4711 0815 1234 5678", "IBAN SE45 5000 0000 0583 9825 7466",
    "Bankgiro 5050-1055", "Plusgiro 90 20 01-9",
]


@pytest.mark.parametrize("text", NOT_NUMBERS)
def test_what_is_not_a_personnummer_is_left_alone(text):
    assert redact(text) == text
    assert not contains_personnummer(text)


def test_no_organisation_number_in_the_corpus_is_taken_for_a_personnummer():
    for org in _load("orgnumber.json"):
        for form in (org["separated_format"], org["short_format"],
                     org["separated_format"].replace("-", " - "),
                     org["separated_format"].replace("-", "\u2010"),
                     org["short_format"].translate(FULLWIDTH)):
            assert redact(form) == form, form


def test_terminal_cleaning_removes_escape_sequences_and_controls_but_keeps_newline_and_tab():
    hostile = ("Ämne\x1b[2J\x1b[31mRÖD\x1b[0m\x1b]8;;http://x\x07länk\x1b]8;;\x07\r\n"
               "\trad två\x07\x08\x7f\x9b31m\u202eslut\u202c")
    assert strip_control(hostile) == "ÄmneRÖDlänk\r\n\trad tvåslut"
    assert strip_control("falsk rad\rriktig rad\r\n") == "falsk radriktig rad\r\n"


def test_cleaning_leaves_ordinary_swedish_text_alone():
    text = "Åtgärd klar: Hemtjänst Norr – «fall» i badrummet ✔\n\tnästa rad"
    assert clean_for_terminal(text) == text


def test_in_a_long_swedish_text_only_the_numbers_go_and_every_other_character_stays():
    """Long texts are read in pieces (plain runs copied, special characters one by one):
    the places found must still be the original characters, however far in."""
    line = "Brukaren på Åsgården föll 2026-11-30 kl 09.15, ring 070-123 45 67 – ﬁck plåster. "
    text = (line * 40 + "Pnr １９１２１２１２\u00ad－1212, " + line * 3
            + "och 19121212\u2060 - \u200b1212.")
    expected = line * 40 + f"Pnr {PLACEHOLDER}, " + line * 3 + f"och {PLACEHOLDER}."
    assert redact(text) == expected
    assert redact(line * 50) == line * 50
