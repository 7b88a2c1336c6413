"""The chat grammar (DESIGN §7): parse(text, org) -> Command, Swedish words and English aliases,
loose diary numbers, helpful errors, and never an exception."""
from __future__ import annotations

import random
from datetime import date

import pytest

from bot.domain.diary import DiaryNumber
from bot.commands import Command, parse

N42 = DiaryNumber(2026, 42, "VOK")
N1 = DiaryNumber(2026, 1, "VOK")


def ok(text: str, org) -> Command:
    command = parse(text, org)
    assert command.error is None, f"{text!r}: {command.error}"
    return command


def err(text: str, org) -> str:
    command = parse(text, org)
    assert command.name == "help" and command.error, f"{text!r} should be refused, got {command}"
    return command.error


# --------------------------------------------------------------------------- verbs
VERBS = [
    # (words, canonical name, arguments after the verb, expected args)
    (("status", "läge"), "status", " VOK 2026/42", {}),
    (("registrerad", "registrera", "registered", "register"), "register", " VOK 2026/42", {}),
    (("bedöm", "bedom", "assess"), "assess", " VOK 2026/42 röd", {"severity": "red"}),
    (("skicka", "send"), "send", " VOK 2026/42", {}),
    (("skickad", "sent"), "mark_sent", " VOK 2026/42", {}),
    (("avsluta", "close"), "close", " VOK 2026/42", {"reason": None}),
    (("åtgärd", "atgard", "action"), "action", " VOK 2026/42 Ring anhörig",
     {"text": "Ring anhörig", "due": None}),
    (("enhet", "unit"), "unit", " VOK 2026/42 Solgården", {"unit": "solgarden"}),
    (("motpart", "counterpart"), "counterpart", " VOK 2026/42 Regionen",
     {"counterpart": "region-exempel"}),
    (("rubrik", "title"), "title", " VOK 2026/42 Fall i badrummet", {"title": "Fall i badrummet"}),
    (("snooza", "snooze"), "snooze", " VOK 2026/42 2026-12-07 semester",
     {"until": date(2026, 12, 7), "reason": "semester"}),
]


@pytest.mark.parametrize("words,name,rest,args", VERBS, ids=[v[1] for v in VERBS])
def test_every_case_verb_in_swedish_and_english(org, words, name, rest, args):
    for word in words:
        for spelled in (word, word.upper(), word.capitalize()):
            command = ok(spelled + rest, org)
            assert (command.name, command.number, command.args) == (name, N42, args), spelled


@pytest.mark.parametrize("words,name", [
    (("mina", "mine", "my"), "mine"),
    (("öppna", "oppna", "open"), "open"),
    (("försenade", "forsenade", "overdue", "late"), "overdue"),
    (("hjälp", "hjalp", "help", "?"), "help"),
])
def test_every_list_verb_in_swedish_and_english(org, words, name):
    for word in words:
        command = ok(word, org)
        assert command.name == name and command.number is None
        assert command.read_only


@pytest.mark.parametrize("text,name,unit", [
    ("prenumerera alla", "subscribe", "*"), ("subscribe all", "subscribe", "*"),
    ("prenumerera *", "subscribe", "*"), ("prenumerera Solgården", "subscribe", "solgarden"),
    ("subscribe HT Norr", "subscribe", "hemtjanst-norr"),
    ("avprenumerera alla", "unsubscribe", "*"), ("unsubscribe Hemsjukvården", "unsubscribe", "hemsjukvard"),
    ("avprenumerera hemtjanst-soder", "unsubscribe", "hemtjanst-soder"),
])
def test_subscriptions(org, text, name, unit):
    command = ok(text, org)
    assert (command.name, command.args) == (name, {"unit": unit})


def test_empty_text_is_help(org):
    for text in ("", "   ", None, "<@U123>", "@Avvikelsebot", "/avvikelse"):
        command = parse(text, org)
        assert command == Command("help")


def test_read_only_commands(org):
    assert ok("status 2026/1", org).read_only
    assert not ok("registrerad 2026/1", org).read_only
    assert not ok("prenumerera alla", org).read_only


# --------------------------------------------------------------------------- diary numbers
@pytest.mark.parametrize("typed", [
    "VOK 2026/42", "2026/42", "vok-2026-0042", "VOK 2026/0042", "vok 2026/42", "VOK-2026-42",
    "VOK2026/42", "VOK 2026 / 0042", "2026-42", "Vok_2026/042", "VOK 2026/00000042",
])
def test_loose_diary_numbers(org, typed):
    assert ok(f"status {typed}", org).number == N42
    assert ok(f"avsluta {typed} dubblett", org).args == {"reason": "dubblett"}


@pytest.mark.parametrize("typed", ["VOK 2026/42?", "VOK 2026/42.", "2026/42!", "VOK 2026/42,"])
def test_punctuation_after_the_number_is_ignored(org, typed):
    assert ok(f"status {typed}", org).number == N42


def test_trailing_punctuation_before_a_reason(org):
    command = ok("avsluta VOK 2026/42, dubblett", org)
    assert (command.number, command.args) == (N42, {"reason": "dubblett"})


@pytest.mark.parametrize("typed", ["ABC 2026/42", "2026/0", "26/42", "VOK 1850/1", "VOK", "42",
                                   "VOK 2026", "VOK 2026/42/1"])
def test_bad_diary_numbers(org, typed):
    message = err(f"status {typed}", org)
    assert "inget diarienummer" in message and "VOK 2026/0042" in message
    assert "status <dnr>" in message


@pytest.mark.parametrize("text,usage", [
    ("status", "status <dnr>"), ("registrerad", "registrerad <dnr>"), ("skicka", "skicka <dnr>"),
    ("skickad", "skickad <dnr>"), ("avsluta", "avsluta <dnr>[, <dnr> …] [orsak]"),
    ("bedöm", "bedöm <dnr> röd|gul|grön"), ("enhet", "enhet <dnr> <enhet>"),
    ("motpart", "motpart <dnr> <motpart>"), ("rubrik", "rubrik <dnr> <text>"),
    ("snooza", "snooza <dnr> <ÅÅÅÅ-MM-DD> <orsak>"), ("åtgärd", "åtgärd <dnr> <text>"),
    ("åtgärd klar", "åtgärd klar <dnr> <nr>"), ("register", "registrerad <dnr>"),
])
def test_missing_number_gives_usage(org, text, usage):
    message = err(text, org)
    assert "diarienummer" in message
    assert usage in message
    assert "«–»" not in message, "say what is missing, not quote a dash"


def test_mentions_and_slash_command_are_stripped(org):
    for text in ("<@U123> status VOK 2026/1", "<@U0123ABC|avvikelsebot> status VOK 2026/1",
                 "@Avvikelsebot status VOK 2026/1", "@avvikelsebot  status   VOK 2026/1",
                 "/avvikelse status VOK 2026/1", "  status\tVOK 2026/1\n", "Status: VOK 2026/1"):
        command = ok(text, org)
        assert (command.name, command.number) == ("status", N1), text


# --------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("text,severity", [
    ("bedöm VOK 2026/42 röd", "red"), ("bedöm VOK 2026/42 Röd", "red"), ("bedom 2026/42 rod", "red"),
    ("assess 2026/42 red", "red"), ("bedöm 2026/42 gul", "yellow"), ("assess 2026/42 yellow", "yellow"),
    ("bedöm 2026/42 grön", "green"), ("bedöm 2026/42 GRÖN", "green"), ("assess 2026/42 green", "green"),
])
def test_severities(org, text, severity):
    assert ok(text, org).args == {"severity": severity}


@pytest.mark.parametrize("text", ["bedöm VOK 2026/42", "bedöm VOK 2026/42 lila",
                                  "bedöm VOK 2026/42 röd gul", "assess 2026/42 purple"])
def test_bad_severity(org, text):
    message = err(text, org)
    assert "röd, gul eller grön" in message and "bedöm <dnr> röd|gul|grön" in message


def test_action_with_due_date(org):
    command = ok("åtgärd VOK 2026/42 Ring anhörig och boka möte senast 2026-12-01", org)
    assert (command.name, command.number) == ("action", N42)
    assert command.args == {"text": "Ring anhörig och boka möte", "due": date(2026, 12, 1)}
    assert ok("action 2026/42 Call the family due 2026-12-01", org).args == {
        "text": "Call the family", "due": date(2026, 12, 1)}


def test_action_done(org):
    for text in ("åtgärd klar VOK 2026/42 2", "åtgärd KLAR 2026/42 2", "action done 2026/42 2",
                 "atgard klar vok-2026-0042 2"):
        command = ok(text, org)
        assert (command.name, command.number, command.args) == ("action_done", N42, {"no": 2}), text


@pytest.mark.parametrize("tail", ["", "två", "2 3", "-1", "²", "1.5"])
def test_action_done_needs_a_plain_number(org, tail):
    message = err(f"åtgärd klar VOK 2026/42 {tail}", org)
    assert "åtgärdens nummer" in message if not tail else f"«{tail}» är inget åtgärdsnummer" in message
    assert "åtgärd klar <dnr> <nr>" in message
    assert message.count("Så här") == 1, "the usage once, not twice"


@pytest.mark.parametrize("text", ["åtgärd VOK 2026/42", "åtgärd VOK 2026/42 senast 2026-12-01"])
def test_action_needs_text(org, text):
    assert "Skriv vad åtgärden är" in err(text, org)


@pytest.mark.parametrize("text,bad", [
    ("åtgärd VOK 2026/42 Ring senast 2026-13-01", "2026-13-01"),
    ("åtgärd VOK 2026/42 Ring senast imorgon", "imorgon"),
    ("snooza VOK 2026/42 7/12 semester", "7/12"),
    ("snooza VOK 2026/42 2026-02-30 semester", "2026-02-30"),
])
def test_bad_dates(org, text, bad):
    message = err(text, org)
    assert f"«{bad}» är inget datum" in message and "ÅÅÅÅ-MM-DD" in message


def test_missing_date(org):
    message = err("snooza VOK 2026/42", org)
    assert message.startswith("Ange ett datum, ÅÅÅÅ-MM-DD.")
    assert "snooza <dnr> <ÅÅÅÅ-MM-DD> <orsak>" in message


def test_snooze(org):
    command = ok("snooza VOK 2026/42 2026-12-07 väntar på journal", org)
    assert (command.name, command.number, command.args) == (
        "snooze", N42, {"until": date(2026, 12, 7), "reason": "väntar på journal"})
    assert "orsak" in err("snooza VOK 2026/42 2026-12-07", org)


@pytest.mark.parametrize("text,unit", [
    ("öppna Hemtjänst Norr", "hemtjanst-norr"), ("öppna hemtjänst   norr", "hemtjanst-norr"),
    ("open HT Söder", "hemtjanst-soder"), ("öppna Solgårdens SÄBO", "solgarden"),
    ("öppna bjorkhagen", "bjorkhagen"), ("öppna", None), ("open", None),
])
def test_open_with_and_without_unit(org, text, unit):
    command = ok(text, org)
    assert (command.name, command.args) == ("open", {"unit": unit})


@pytest.mark.parametrize("text,unit", [
    ("enhet VOK 2026/42 HT Söder", "hemtjanst-soder"), ("enhet 2026/42 Hemtjänst Söder", "hemtjanst-soder"),
    ("unit 2026/42 HSV", "hemsjukvard"), ("enhet 2026/42 Korttids Björkhagen", "bjorkhagen"),
])
def test_unit_by_name_or_alias(org, text, unit):
    command = ok(text, org)
    assert (command.name, command.number, command.args) == ("unit", N42, {"unit": unit})


@pytest.mark.parametrize("text,shown", [
    ("öppna Hemtjänst Väster", "«Hemtjänst Väster» finns inte"),
    ("enhet VOK 2026/42 Söder", "«Söder» finns inte"),
    ("prenumerera Månskenet", "«Månskenet» finns inte"),
    ("enhet VOK 2026/42", "Ange en enhet."), ("avprenumerera", "Ange en enhet."),
    ("prenumerera", "Ange en enhet."),
])
def test_unknown_or_missing_unit_lists_the_units(org, text, shown):
    message = err(text, org)
    assert shown in message
    for unit in org.units.values():
        assert unit.name in message


def test_counterpart_by_name_alias_or_id(org):
    for typed in ("Region Exempel", "regionen", "region-exempel", "Patientsäkerhetsenheten"):
        assert ok(f"motpart 2026/42 {typed}", org).args == {"counterpart": "region-exempel"}
    message = err("motpart 2026/42 Månsjukhuset", org)
    assert "«Månsjukhuset» finns inte" in message and "Dosapoteket Norden" in message


def test_title_and_close_reason_keep_their_words(org):
    assert ok("rubrik 2026/42 Fel  dos  vid   utskrivning", org).args == {
        "title": "Fel dos vid utskrivning"}
    assert ok("avsluta 2026/42 felaktigt diarierad, hör till VOK 2026/0041", org).args == {
        "reason": "felaktigt diarierad, hör till VOK 2026/0041"}
    assert "Rubriken" in err("rubrik 2026/42", org)


# --------------------------------------------------------------------------- typos
@pytest.mark.parametrize("typo,suggestion", [
    ("statsu", "status"), ("registrerd", "registrerad"), ("avslut", "avsluta"),
    ("prenumerer", "prenumerera"), ("bedömm", "bedöm"), ("forsenad", "forsenade"),
    ("hjälpp", "hjälp"), ("snoze", "snooze"),
])
def test_typos_suggest_the_nearest_word(org, typo, suggestion):
    message = err(f"{typo} VOK 2026/42", org)
    assert f"«{typo}»" in message
    assert f"Menade du «{suggestion}»?" in message


def test_nonsense_has_no_suggestion(org):
    message = err("xyzzy VOK 2026/42", org)
    assert message == "Jag förstod inte «xyzzy»."


def test_errors_never_echo_a_personnummer(org):
    for text in ("19121212-1212 status", "öppna 19121212-1212", "status 19121212-1212"):
        message = err(text, org)
        assert "1212-1212" not in message, message


def test_a_very_long_unknown_word_is_not_echoed_in_full(org):
    message = err("x" * 5000, org)
    assert len(message) < 300


# --------------------------------------------------------------------------- garbage
ALPHABET = ("abcdefghijklmnopqrstuvwxyzåäöÅÄÖ ABCXYZ0123456789/-_.,:;!?<>@#*'\"\\\t\n "
            "\u00a0\u200b\u2028\u202e\ufeff²³½٣४𝟘é̈ßİıﬁ🙂漢字\x00\x1b")
WORDS = ["status", "åtgärd", "klar", "snooza", "bedöm", "enhet", "öppna", "prenumerera", "avsluta",
         "VOK", "2026/42", "vok-2026-0042", "senast", "2026-12-01", "9999-99-99", "röd", "alla",
         "<@U1>", "@bot", "/avvikelse", "HT Norr", "by", "due", "done", "²", "٣٣"]


def random_inputs(n: int = 400) -> list[str]:
    rng = random.Random(20261116)
    inputs = ["", " ", "\n", "\x00", "?" * 3, "status " + "9" * 5000, "åtgärd " * 2000,
              "a" * 100_000, "status VOK 2026/" + "1" * 300, "😀" * 1000]
    while len(inputs) < n:
        if rng.random() < 0.5:
            text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 80)))
        else:
            text = " ".join(rng.choice(WORDS) if rng.random() < 0.7 else
                            "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 8)))
                            for _ in range(rng.randint(1, 7)))
        inputs.append(text)
    return inputs


def test_garbage_never_raises(org):
    for text in random_inputs():
        command = parse(text, org)
        assert isinstance(command, Command), repr(text)
        if command.name == "help":
            assert command.error is None or isinstance(command.error, str)
        else:
            assert command.error is None


def test_avsluta_takes_several_numbers_and_one_reason(org):
    command = parse("avsluta VOK 2026/1, 2026/2 vok-2026-0003 dubbletter av 2026/4", org)
    assert command.name == "close" and command.number == DiaryNumber(2026, 1, "VOK")
    assert command.args["numbers"] == [DiaryNumber(2026, n, "VOK") for n in (1, 2, 3)]
    assert command.args["reason"] == "dubbletter av 2026/4"
    single = parse("avsluta VOK 2026/1 klar", org)
    assert "numbers" not in single.args and single.args["reason"] == "klar"
