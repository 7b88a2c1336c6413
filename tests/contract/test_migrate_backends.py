"""`avvikelsebot migrate`: a TinyDB data directory into an empty PostgreSQL database and
back, checked case by case; nothing lost (open and archived cases, their mail records and
raw bytes, the outbox and its history, counters, markers, subscriptions, adapter state)."""
from __future__ import annotations

import os
from datetime import timedelta

from bot.app import build
from bot.domain.access import Actor
from bot.domain.case import Case, iso
from bot.settings import Settings
from bot.store.postgres import PostgresCaseStore
from bot.store.repository import TinyDbCaseStore
from bot.usecases.uow import UnitOfWork
from tests.conftest import EXAMPLE_CONFIG, MONDAY
from tests.fakes.mail import make_mail
from tests.scenario.test_cli import cli

BULK = int(os.environ.get("MIGRATE_CASES", "400"))


def _fill(settings, clock, notifier, sender) -> None:
    """A diary as a year of use leaves it: real intake (raw bytes, notifications delivered
    and moved to history), then many cases, half of them closed and archived."""
    bot = build(settings, notifiers={"console": notifier}, clock=clock, sender=sender)
    for n in range(5):
        result = bot.services.ingest_mail(make_mail(
            sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
            subject=f"Avvikelse Hemtjänst Norr – händelse {n}", message_id=f"<m{n}@regionexempel.se>",
            body=f"Hej,\nhändelse {n}.\nMvh Lisa"))
        assert result["outcome"] == "new_case"
    assert bot.services.handle_command(Actor.person("anna"), "status VOK 2026/1", "cli").ok
    bot.services.deliver_outbox()
    store = bot.store
    with UnitOfWork(store):
        for i in range(BULK):
            number = store.next_number(2026)
            store.put_case(Case(number=number.format(4), key=number.key, kind="incoming",
                                title=f"Bulk {i}", status="closed" if i % 2 else "diarised",
                                created=iso(MONDAY), message_ids=[f"bulk{i}@x"]))
            store.record_mail({"key": f"mid:bulk{i}@x", "outcome": "new_case",
                               "number": number.format(4), "message_id": f"bulk{i}@x",
                               "conversation_id": f"conv{i}", "at": iso(MONDAY),
                               "content_hash": str(i)})
        store.mark_reminder("VOK 2026/0001:register:reminder:anna", "2026-11-19", iso(MONDAY))
        store.subscribe("anna", "hemtjanst-syd")
        store.set_state("teams:anna", {"ref": {"conversation": "a"}})
    store.housekeep(MONDAY + timedelta(days=1))       # closed cases and delivered → archive
    bot.close()


def _record(found: dict | None) -> dict | None:
    """A mail record without the archive's own lookup field."""
    return None if found is None else {k: v for k, v in found.items() if k != "l"}


def _snapshot(store) -> dict:
    with store.lock:
        following = store.next_number(2026).seq      # what the next mail would get
        store.rollback()
    return {
        "cases": sorted((c.to_dict() for c in store.all_cases()), key=lambda d: d["key"]),
        "mails": {k: _record(store.mail_seen(k)) for k in [f"mid:bulk{i}@x" for i in range(BULK)]
                  + ["mid:m0@regionexempel.se", "mid:m4@regionexempel.se"]},
        "refs": [store.case_for_conversation(f"conv{i}") for i in range(BULK)],
        "outbox": sorted(n["id"] for n in [*store.outbox(), *store.outbox_history()]),
        "subs": store.subscription_overrides(),
        "state": store.states(),
        "marker": store.reminder_sent("VOK 2026/0001:register:reminder:anna", "2026-11-19"),
        "next": following,
        "raw": [store.read_raw(d.raw) for c in store.all_cases() for d in c.documents if d.raw],
    }


def test_migrate_to_postgresql_and_back_loses_nothing(org, tmp_path, clock, notifier, sender,
                                                     database_url):
    data = tmp_path / "data"
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org, env={})
    _fill(settings, clock, notifier, sender)
    source = TinyDbCaseStore(data)
    before = _snapshot(source)
    assert len(before["cases"]) == BULK + 5 and len(before["raw"]) == 5
    assert source.archive_years() == [2026], "the closed cases were archived"
    source.close()

    moved = cli(data, "migrate", "--to", database_url, timeout=600)
    assert moved.returncode == 0, moved.stderr
    assert f"{BULK + 5} ärenden" in moved.stdout
    database = PostgresCaseStore(database_url)
    assert _snapshot(database) == before
    database.close()

    again = cli(data, "migrate", "--to", database_url)
    assert again.returncode != 0 and "inte tom" in again.stderr, "never merged into a diary"

    # reads logged by the web while the diary was in the database
    from bot.store.web_state import PostgresWebState
    web = PostgresWebState(database_url, link_minutes=10, session_hours=8)
    for n in range(3):
        web.readlog.record(person="rut", number=f"VOK 2026/000{n + 1}", what="mail",
                           at=MONDAY + timedelta(minutes=n), document=1,
                           detail="bilaga 19121212-1212.pdf" if n == 2 else None)
    web.close()

    back = tmp_path / "back"
    returned = cli(back, "migrate", "--from", database_url, timeout=600)
    assert returned.returncode == 0, returned.stderr
    exported = TinyDbCaseStore(back)
    assert _snapshot(exported) == before
    exported.close()
    # … are in the read log's files of the data directory, which `logg` exports from now on
    from bot.web.readlog import ReadLog
    day = MONDAY.date()
    copied = list(ReadLog(back).entries(day, day))
    assert [(e["case"], e["what"], e.get("document")) for e in copied] == [
        ("VOK 2026/0001", "mail", 1), ("VOK 2026/0002", "mail", 1), ("VOK 2026/0003", "mail", 1)]
    assert copied[2]["detail"] == "bilaga [personnummer].pdf"
