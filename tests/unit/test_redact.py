"""Tests for bot.domain.redact against Skatteverket's official test numbers.

The corpus lives outside the repository, in /work/shared/corpora/personnummer
(see SOURCES.md there): allPins.json (41,129 test personnummer), allCoords.json
(2,264 test samordningsnummer), orgnumber.json (Luhn-valid organisation numbers
that are not personnummer) and list.json (the cross-language vector list).
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from personnummer import personnummer as pn_lib

from bot.domain.redact import PLACEHOLDER, contains_personnummer, is_personnummer, redact

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "personnummer"

TITLE = "Avvikelse gällande brukare {}, läkemedel"
NOTIFICATION = "Ny avvikelse VOK 2026/0042: patient {} föll i badrummet. Ring 070-123 45 67."


def _load(name: str):
    path = CORPUS / name
    if not path.is_file():
        pytest.fail(
            f"Test corpus missing: {path}. Expected the personnummer corpus in "
            f"<repo>/../shared/corpora/personnummer (see its SOURCES.md).",
            pytrace=False,
        )
    with path.open(encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def pins() -> list[str]:
    data = _load("allPins.json")
    assert len(data) == 41129
    return data


@pytest.fixture(scope="module")
def coords() -> list[str]:
    data = _load("allCoords.json")
    assert len(data) == 2264
    return data


@pytest.fixture(scope="module")
def orgnumbers() -> list[dict]:
    return _load("orgnumber.json")


@pytest.fixture(scope="module")
def vectors() -> list[dict]:
    return _load("list.json")


def _forms(n12: str) -> tuple[str, ...]:
    """The ways people write a 12-digit number: YYYYMMDDNNNC, YYYYMMDD-NNNC,
    YYMMDDNNNC, YYMMDD-NNNC and YYMMDD+NNNC (aged 100+)."""
    n10 = n12[2:]
    return (n12, f"{n12[:8]}-{n12[8:]}", n10, f"{n10[:6]}-{n10[6:]}", f"{n10[:6]}+{n10[6:]}")


def _luhn_ok(ten: str) -> bool:
    """Independent Luhn check for the test's own assertions."""
    total = 0
    for i, ch in enumerate(ten[:9]):
        v = int(ch) * (2 if i % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    return (10 - total % 10) % 10 == int(ten[9])


# --- the whole Skatteverket corpus --------------------------------------------------------------

def test_every_test_number_in_every_format_is_redacted(pins, coords):
    title_expected = TITLE.format(PLACEHOLDER)
    note_expected = NOTIFICATION.format(PLACEHOLDER)
    failures: list[str] = []
    for n12 in (*pins, *coords):
        for form in _forms(n12):
            title = TITLE.format(form)
            got = redact(title)
            if got != title_expected:
                failures.append(f"title {form!r}: {got!r}")
            note = NOTIFICATION.format(form)
            got = redact(note)
            if got != note_expected:
                failures.append(f"notification {form!r}: {got!r}")
            if not contains_personnummer(note):
                failures.append(f"contains_personnummer missed {form!r}")
    assert not failures, f"{len(failures)} failures, first 10:\n" + "\n".join(failures[:10])


def test_month_00_samordningsnummer_are_redacted_although_the_library_rejects_them(coords):
    month00 = [n for n in coords if n[4:6] == "00"]
    assert month00, "corpus should contain month-00 samordningsnummer"
    assert "191500722390" in month00
    # The reason redact.py validates by hand:
    assert not pn_lib.valid("191500722390")
    for n in month00:
        assert is_personnummer(n), n
        assert redact(f"brukare {n}") == f"brukare {PLACEHOLDER}"


def test_day_60_samordningsnummer_are_redacted(coords):
    day60 = [n for n in coords if n[6:8] == "60"]
    assert day60
    for n in day60:
        for form in _forms(n):
            assert redact(form) == PLACEHOLDER, form


def test_corpus_personnummer_agree_with_library(pins):
    # Cross-check on a sample: every official test personnummer is valid to the library too.
    sample = pins[::97]
    assert all(pn_lib.valid(n) for n in sample)


# --- cross-check against the personnummer package -----------------------------------------------

def test_agrees_with_library_on_random_12_digit_candidates():
    """Where the library's rules are the right ones (12-digit form, so the century is known;
    month 01-12; samordningsnummer whose day-60 is a real date), both must agree."""
    rng = random.Random(20261121)
    disagreements = []
    checked = 0
    while checked < 20000:
        century = rng.choice(("18", "19", "20"))
        yy = f"{rng.randrange(100):02d}"
        month = f"{rng.randrange(1, 13):02d}"
        day = rng.randrange(1, 32)
        coord = rng.random() < 0.3
        dd = f"{day + 60 if coord else day:02d}"
        serial = f"{rng.randrange(1000):03d}"
        # Bias towards a correct check digit so that the date rules are exercised.
        check = str(rng.randrange(10))
        cand = century + yy + month + dd + serial + check
        if rng.random() < 0.8:
            for c in "0123456789":
                if _luhn_ok(cand[2:11] + c):
                    cand = cand[:11] + c
                    break
        if coord and not pn_lib.valid(cand) and _luhn_ok(cand[2:]) and serial != "000":
            continue  # day-60 not a calendar date: we deliberately accept, the library rejects
        checked += 1
        if is_personnummer(cand) != pn_lib.valid(cand):
            disagreements.append((cand, is_personnummer(cand), pn_lib.valid(cand)))
    assert not disagreements, disagreements[:10]


def test_list_json_vectors(vectors):
    for v in vectors:
        forms = [v["long_format"], v["short_format"], v["separated_format"], v["separated_long"]]
        if " " in v["separated_format"]:
            # The library rejects "090527 1474"; the redactor tolerates a space on purpose.
            assert all(redact(f) == PLACEHOLDER for f in forms), v
            continue
        for f in forms:
            assert is_personnummer(f) == v["valid"], (f, v)
            assert (redact(f"({f})") == f"({PLACEHOLDER})") == v["valid"], (f, v)


# --- things that must not be redacted -----------------------------------------------------------

def test_organisation_numbers_are_not_redacted(orgnumbers):
    assert orgnumbers
    for org in orgnumbers:
        for form in (org["separated_format"], org["short_format"]):
            text = f"Leverantör {form}, faktura"
            assert redact(text) == text, form
            assert not contains_personnummer(text), form


def test_common_organisation_number_is_not_redacted():
    assert _luhn_ok("5560360793")  # a real, Luhn-valid organisation number
    for text in ("Volvo Personvagnar AB, org.nr 556036-0793.", "5560360793", "16556036-0793"):
        assert redact(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "Händelsen inträffade 2026-11-21 kl. 14:30.",
        "Datum 20261121",
        "Datum 261121",
        "Mellan 2026-11-21 och 2026-12-01",
        "Ring 070-123 45 67",
        "Ring 08-123 456 78",
        "Ring +46 70 123 45 67",
        "Ring 0701234567",
        "Ring 070 123 45 67 eller 0046 70 123 45 67",
        "Diarienummer VOK 2026/0042",
        "VOK 2026/0042, SN 2025/1234 och dnr 2026-000123",
        "Referens 12345678901234",  # 14-digit run
        "Referens 19850709980512",  # 14 digits that contain a valid 12-digit number
        "Referens 1985070998051",  # 13 digits
        "Referens 85070998051",  # 11 digits
        "OCR 4711 0815 1234 5678",
    ],
)
def test_not_redacted(text):
    assert redact(text) == text
    assert not contains_personnummer(text)


def test_phone_number_used_above_is_not_luhn_valid():
    # A bare 10-digit mobile number can be Luhn-valid by chance (and would then be redacted);
    # the one asserted on above is not.
    assert not _luhn_ok("0701234567")
    assert not pn_lib.valid("0701234567")


@pytest.mark.parametrize(
    "bad",
    ["8507099806", "850709-9806", "19850709-9806", "198507099806", "850709+9800"],
)
def test_invalid_check_digit_is_not_redacted(bad):
    assert not _luhn_ok(bad.replace("-", "").replace("+", "")[-10:])
    assert redact(f"brukare {bad}") == f"brukare {bad}"


@pytest.mark.parametrize(
    "bad",
    [
        "851309-9803",  # month 13
        "850732-9803",  # day 32
        "850700-9807",  # day 00
        "850231-9805",  # 31 February
        "19850229-9803",  # 29 February in a non-leap year (century known)
        "850792-9800",  # day 92: neither personnummer nor samordningsnummer
        "850709-0003",  # serial 000
        "21850709-9805",  # century 21
        "850009-9805",  # month 00 is only for samordningsnummer
    ],
)
def test_invalid_dates_are_not_redacted(bad):
    # Make the check digit right so that only the date/serial/century rule can reject it.
    digits = bad.replace("-", "")
    ten = digits[-10:]
    fixed_check = next(c for c in "0123456789" if _luhn_ok(ten[:9] + c))
    bad = bad[:-1] + fixed_check
    assert redact(f"brukare {bad}.") == f"brukare {bad}."


def test_leap_day():
    assert is_personnummer("20000229-2399")
    assert is_personnummer("000229-2399")


# --- hand-written placements --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("850709-9805", "[personnummer]"),
        ("850709-9805 ringde", "[personnummer] ringde"),
        ("Gäller 850709-9805", "Gäller [personnummer]"),
        ("Brukare (850709-9805) föll", "Brukare ([personnummer]) föll"),
        ("Brukare 19850709-9805, läkemedel", "Brukare [personnummer], läkemedel"),
        ("Brukare 8507099805.", "Brukare [personnummer]."),
        ("pnr:850709 9805", "pnr:[personnummer]"),
        ("pnr 850709\u20139805 (en dash)", "pnr [personnummer] (en dash)"),
        ("Personnr 191500722390/VOK 2026/0042", "Personnr [personnummer]/VOK 2026/0042"),
        (
            "Två brukare: 850709-9805 och 19090527+1474; ring 070-123 45 67",
            "Två brukare: [personnummer] och [personnummer]; ring 070-123 45 67",
        ),
        ("\n850709-9805\n", "\n[personnummer]\n"),
        ("ID850709-9805", "ID[personnummer]"),
    ],
)
def test_placements(text, expected):
    assert redact(text) == expected
    assert contains_personnummer(text)


def test_empty_and_digitless():
    assert redact("") == ""
    assert not contains_personnummer("")
    assert redact("Inga siffror här") == "Inga siffror här"
    assert PLACEHOLDER == "[personnummer]"


def test_redact_is_idempotent():
    text = NOTIFICATION.format("850709-9805")
    once = redact(text)
    assert redact(once) == once
    assert not contains_personnummer(once)
