"""Issue 16, first part: notes (`anteckning`), links (`länka`) and search (`sök`) through the
service layer on a wired bot, and through the installed CLI (`command --as`): the same answers,
the same access rules, personnummer never shown."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from bot.domain.access import Actor
from tests.fakes.mail import make_mail
from tests.scenario.test_cli import cli

NORR = "VOK 2026/0001"
SODER = "VOK 2026/0002"


def say(bot, who: str | Actor, text: str, channel: str = "slack"):
    actor = who if isinstance(who, Actor) else Actor.person(who)
    return bot.services.handle_command(actor, text, channel)


def deviation(bot, unit: str, subject: str, n: int) -> str:
    result = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject=f"{subject}, {unit}",
        message_id=f"<avv-{n}@regionexempel.se>",
        date=datetime(2026, 11, 16, 9, n, tzinfo=timezone.utc),
        body=f"Hej,\nvi vill anmäla en avvikelse i {unit}.\nMvh Lisa"))
    assert result["outcome"] == "new_case", result
    return result["diary_number"]


@pytest.fixture
def cases(bot):
    """Hemtjänst Norr (Anna) and Hemtjänst Söder (Bengt), both from Region Exempel."""
    assert deviation(bot, "Hemtjänst Norr", "Dosapoteket levererade fel dos", 1) == NORR
    assert deviation(bot, "Hemtjänst Söder", "Utebliven hemsjukvård", 2) == SODER
    return bot


# --------------------------------------------------------------------------- notes
def test_a_note_is_a_diarised_document_with_author_time_and_redacted_text(cases, clock):
    bot = cases
    clock.set(datetime(2026, 11, 16, 13, 15, tzinfo=timezone.utc))
    reply = say(bot, "anna", "anteckning 2026/1 Ringde regionens samordnare om 19121212-1212, "
                             "de återkommer på fredag.")
    assert reply.ok and reply.text == "Anteckningen är diarierad i VOK 2026/0001 som handling 2."
    case = bot.store.get_case_by_text(NORR)
    note = case.documents[-1]
    assert (note.no, note.type, note.sender) == (2, "note", "anna")
    assert note.received == "2026-11-16T13:15:00+00:00"
    assert "19121212" not in json.dumps(case.to_dict())
    assert case.events[-1].what == "document" and case.events[-1].details == {"no": 2, "type": "note"}
    status = say(bot, "maria", "status 2026/1").text
    assert "2. anteckning 2026-11-16 14:15 +01:00 från Anna Andersson: Ringde regionens samordnare" in status
    assert "19121212" not in status


def test_a_note_follows_the_access_rules_and_is_not_empty(cases):
    bot = cases
    before = bot.store.get_case_by_text(NORR).to_dict()
    denied = say(bot, "bengt", "anteckning 2026/1 Jag tittade på det")
    assert not denied.ok and "2026/0001" in denied.text
    empty = say(bot, "anna", "anteckning 2026/1")
    assert not empty.ok and "Anteckningen kan inte vara tom." in empty.text
    assert "anteckning <dnr> <text>" in empty.text
    assert bot.store.get_case_by_text(NORR).to_dict() == before


def test_a_closed_case_still_takes_a_note(cases):
    bot = cases
    assert say(bot, "maria", "avsluta 2026/1 Dubblett av ett annat ärende").ok
    assert say(bot, "maria", "anteckning 2026/1 Regionen ringde efteråt och bekräftade").ok
    assert bot.store.get_case_by_text(NORR).documents[-1].type == "note"


# --------------------------------------------------------------------------- links
def test_a_link_goes_both_ways_and_shows_in_status(cases):
    bot = cases
    reply = say(bot, "maria", "länka 2026/1 2026/2")
    assert reply.ok and reply.text == "VOK 2026/0001 och VOK 2026/0002 är nu kopplade till varandra."
    assert bot.store.get_case_by_text(NORR).links == [SODER]
    assert bot.store.get_case_by_text(SODER).links == [NORR]
    assert "Kopplat till: VOK 2026/0002" in say(bot, "anna", "status 2026/1").text
    assert "Kopplat till: VOK 2026/0001" in say(bot, "bengt", "status 2026/2").text
    again = say(bot, "maria", "länka 2026/2 2026/1")
    assert not again.ok and again.text == "VOK 2026/0002 är redan kopplat till VOK 2026/0001."


def test_a_link_needs_the_right_to_change_both_cases(cases):
    bot = cases
    # Anna manages Norr but may not even see Söder's case: nothing changes in either
    denied = say(bot, "anna", "länka 2026/1 2026/2")
    assert not denied.ok and "2026/0002" in denied.text
    assert bot.store.get_case_by_text(NORR).links == []
    assert bot.store.get_case_by_text(SODER).links == []
    self_link = say(bot, "maria", "länka 2026/1 VOK 2026/0001")
    assert not self_link.ok and "kopplas till sig självt" in self_link.text
    missing = say(bot, "maria", "länka 2026/1 2026/9")
    assert not missing.ok and missing.text == "Ärendet VOK 2026/0009 finns inte."
    assert bot.store.get_case_by_text(NORR).links == []


def test_link_grammar_wants_two_numbers(cases):
    reply = say(cases, "maria", "länka 2026/1")
    assert not reply.ok and "länka <dnr> <dnr>" in reply.text


# --------------------------------------------------------------------------- search
def test_search_finds_titles_counterparts_units_and_numbers_within_what_one_may_see(cases):
    bot = cases
    assert say(bot, "maria", "sök dosapoteket").text.splitlines()[:2] == [
        "Träffar för «dosapoteket»: 1",
        "VOK 2026/0001 «Dosapoteket levererade fel dos, Hemtjänst Norr» · Hemtjänst Norr · Diarierad"]
    assert say(bot, "maria", "sök region exempel").text.startswith("Träffar för «region exempel»: 2")
    assert say(bot, "maria", "sök Söder").text.startswith("Träffar för «Söder»: 1")
    assert "VOK 2026/0002" in say(bot, "maria", "sök 2026/2").text
    # Anna sees her own unit's case only, whatever she searches for
    mine = say(bot, "anna", "sök region exempel").text
    assert mine.startswith("Träffar för «region exempel»: 1") and SODER not in mine
    assert say(bot, "anna", "sök utebliven").text == "Inga ärenden som du får se matchar «utebliven»."


def test_search_covers_closed_cases_and_says_when_it_stops(cases, monkeypatch):
    bot = cases
    assert say(bot, "maria", "avsluta 2026/2 Fel mottagare").ok
    assert SODER in say(bot, "maria", "sök utebliven").text
    import bot.usecases.queries as queries
    monkeypatch.setattr(queries, "SEARCH_LIMIT", 1)
    capped = say(bot, "maria", "sök region").text.splitlines()
    assert capped[0] == "Träffar för «region»: 1"
    assert capped[-1] == "Visar de första 1 – skriv mer för att få färre träffar."


def test_search_refuses_too_short_text_and_strangers(cases):
    bot = cases
    short = say(bot, "maria", "sök ab")
    assert not short.ok and "minst 3 tecken" in short.text
    stranger = say(bot, "okand", "sök region")
    assert not stranger.ok and "VOK" not in stranger.text


def test_english_catalog_and_help(bot):
    from bot.help import help_text
    sv, en = help_text("sv", ["manager"]), help_text("en", ["manager"])
    assert "anteckning <dnr> <text>" in sv and "länka <dnr> <dnr>" in sv and "sök <text>" in sv
    assert "note <number> <text>" in en and "link <number> <number>" in en and "search <text>" in en


# --------------------------------------------------------------------------- the CLI
def test_notes_links_and_search_from_the_cli(tmp_path):
    data = tmp_path / "data"
    for n, subject in ((1, "Dosapoteket levererade fel dos, Hemtjänst Norr"),
                       (2, "Utebliven hemsjukvård, Hemtjänst Söder")):
        mail = tmp_path / f"{n}.eml"
        mail.write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                                   subject=subject, body="En avvikelse.",
                                   message_id=f"<cli-{n}@regionexempel.se>"))
        assert cli(data, "ingest", str(mail)).returncode == 0
    done = cli(data, "command", "--as", "anna", "anteckning 2026/1 Samtal med 19121212-1212s dotter")
    assert done.returncode == 0 and "handling 2" in done.stdout
    done = cli(data, "command", "--as", "rut", "länka 2026/1 2026/2")
    assert done.returncode == 0 and "kopplade till varandra" in done.stdout
    status = json.loads(cli(data, "status", "2026/2", "--json").stdout)
    assert status["links"] == [NORR]
    norr = json.loads(cli(data, "status", "2026/1", "--json").stdout)
    assert norr["documents"][1]["type"] == "note" and "19121212" not in json.dumps(norr)
    done = cli(data, "command", "--as", "anna", "sök dosapoteket")
    assert done.returncode == 0 and done.stdout.startswith("Träffar för «dosapoteket»: 1")
    denied = cli(data, "command", "--as", "anna", "anteckning 2026/2 Inte min enhet")
    assert denied.returncode != 0 and "Traceback" not in denied.stdout + denied.stderr
