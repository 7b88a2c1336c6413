"""Gallring by decision (issue 25), on TinyDB and PostgreSQL: only closed cases of a kind
with the named decision, closed before the day and not held, are removed — the case, its mail
records' texts and its raw mails; a held case or one whose kind has no decision is never
removed; the log entry (who, when, decision, diary numbers, counts) is written first and is
never culled; a mail of a culled case that comes again stays a duplicate."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import pytest

from bot.app import build
from bot.domain.access import Actor
from bot.domain.diary import parse_diary_number
from bot.ports import FixedClock
from bot.settings import Settings
from bot.store.postgres import PostgresCaseStore
from bot.store.repository import TinyDbCaseStore
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.notifier import FakeNotifier

DECISION = "Gallringsbeslut SN 2025-03-12 § 41: avvikelser gallras 2 år efter avslut"


def utc(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=timezone.utc)


@pytest.fixture(params=["tinydb", "postgresql"])
def office(request, org, tmp_path):
    records = replace(org.records, culling={"incoming": DECISION})
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data",
                        org=replace(org, records=records), env={})
    if request.param == "tinydb":
        store = TinyDbCaseStore(settings.data_dir)
    else:
        store = PostgresCaseStore(request.getfixturevalue("database_url"))
    clock = FixedClock(utc(2024, 3, 4))
    bot = build(settings, notifiers={"console": FakeNotifier()}, store=store, clock=clock,
                sender=FakeMailSender())
    yield bot, clock
    bot.close()


def say(bot, who: str, text: str):
    reply = bot.services.handle_command(Actor.person(who), text, "slack")
    assert reply.ok, reply.text
    return reply


def incoming(bot, n: int, when: datetime) -> str:
    result = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject=f"Avvikelse {n} Hemtjänst Norr", body="Patienten 19121212-1212 föll.",
        message_id=f"<cull-{n}@regionexempel.se>", date=when), arrived=when)
    assert result["outcome"] == "new_case", result
    return result["diary_number"]


def outgoing(bot, n: int, when: datetime) -> str:
    result = bot.services.ingest_mail(make_mail(
        sender="Maria Medicinsson <maria.medicinsson@exempelby.se>",
        subject=f"Avvikelse till Dosapoteket {n}, Hemtjänst Norr", body="Fel i dosrullen.",
        message_id=f"<cull-out-{n}@exempelby.se>", date=when), arrived=when)
    assert result["outcome"] == "new_case" and result["kind"] == "outgoing", result
    return result["diary_number"]


def raw_of(bot, number: str) -> str:
    return bot.store.get_case_by_text(number).documents[0].raw


def raw_exists(bot, relative: str) -> bool:
    try:
        bot.store.read_raw(relative)
        return True
    except Exception:
        return False


def test_only_what_the_decision_covers_is_culled_and_the_log_stays(office):
    bot, clock = office
    old = incoming(bot, 1, utc(2024, 3, 4))
    held = incoming(bot, 2, utc(2024, 3, 4))
    no_decision = outgoing(bot, 3, utc(2024, 3, 4))
    still_open = incoming(bot, 4, utc(2024, 3, 4))
    for number in (old, held, no_decision):
        say(bot, "rut", f"avsluta {number} klart")
    say(bot, "rut", f"spärra {held} begärd av IVO i tillsyn")
    clock.set(utc(2026, 12, 1))
    recent = incoming(bot, 5, utc(2026, 12, 1))
    say(bot, "rut", f"avsluta {recent} klart")
    old_raw = raw_of(bot, old)
    assert raw_exists(bot, old_raw)
    with bot.services.uow:              # closed cases leave the live set for the archive
        bot.store.housekeep(utc(2026, 12, 1))
    archived = isinstance(bot.store, TinyDbCaseStore)
    if archived:
        assert bot.store.cases_archive.get(parse_diary_number(old, "VOK").key) is not None

    dry = bot.services.cull(DECISION, date(2025, 1, 1), by="rut", dry_run=True)
    assert dry.numbers == [old] and dry.held == [held] and not dry.done
    assert bot.store.get_case_by_text(old) is not None           # a dry run removes nothing

    done = bot.services.cull(DECISION, date(2025, 1, 1), by="rut", dry_run=False)
    assert done.numbers == [old] and done.counts == {"incoming": 1}
    assert bot.store.get_case_by_text(old) is None
    assert not raw_exists(bot, old_raw)
    if archived:                        # no copy left in the append-only archive either
        files = (bot.settings.data_dir / "archive").rglob("*.jsonl")
        assert not any(b"cull-1@" in f.read_bytes() or b'"Avvikelse 1 ' in f.read_bytes()
                       for f in files)
    for kept in (held, no_decision, still_open, recent):
        assert bot.store.get_case_by_text(kept) is not None, kept
    assert {c.number for c in bot.store.all_cases()} == {held, no_decision, still_open, recent}

    log = bot.services.records.log()
    assert len(log) == 1 and log[0]["decision"] == DECISION and log[0]["numbers"] == [old]
    assert log[0]["by"] == "rut" and log[0]["held"] == [held] and log[0]["counts"] == {"incoming": 1}

    # the same mail again is still a duplicate, not a new case
    again = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject="Avvikelse 1 Hemtjänst Norr",
        body="Patienten 19121212-1212 föll.", message_id="<cull-1@regionexempel.se>",
        date=utc(2024, 3, 4)), arrived=utc(2024, 3, 4))
    assert again["outcome"] == "duplicate"

    # culling again finds nothing more; lifting the hold lets the next run take the held case
    assert bot.services.cull(DECISION, date(2025, 1, 1), by="rut", dry_run=False).numbers == []
    say(bot, "rut", f"spärra {held} av")
    assert bot.services.cull(DECISION, date(2025, 1, 1), by="rut", dry_run=False).numbers == [held]
    assert len(bot.services.records.log()) == 2


def test_a_decision_nobody_configured_is_refused(office):
    bot, _ = office
    from bot.errors import DomainError
    with pytest.raises(DomainError, match="Gallringsbeslut SN"):
        bot.services.cull("Ett annat beslut", date(2025, 1, 1), by="rut", dry_run=False)


def test_only_the_registrator_holds_a_case(office):
    bot, _ = office
    number = incoming(bot, 1, utc(2024, 3, 4))
    refused = bot.services.handle_command(Actor.person("anna"), f"spärra {number} vill ha kvar",
                                          "slack")
    assert not refused.ok
    assert parse_diary_number(number, "VOK") is not None
