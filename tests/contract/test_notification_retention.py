"""Retention of the delivered-notification log (issue 24), on both stores: delivered (sent, or
handed to e-mail) notifications older than [retention] notifications_days go, during `run`'s
housekeeping and by `outbox --gallra`; newer ones, pending and failed ones stay; the diary
and the read log are never shortened by it."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest

from bot.domain.case import iso
from bot.ports import FixedClock
from bot.services import Services
from bot.usecases.uow import UnitOfWork
from bot.web.readlog import VIEW_CASE, ReadLog
from reminders.calendar import BusinessCalendar
from tests.contract.test_store_backends import _add, open_store  # noqa: F401

NOW = datetime(2028, 11, 16, 9, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def _notification(key: str, state: str, created: datetime, done: datetime | None) -> dict:
    item = {"id": key, "recipient": "anna", "channel": "slack", "diary_number": "VOK 2026/0001",
            "event": "incoming_diarised", "text": f"text {key}", "view": {"number": "VOK 2026/0001"},
            "state": "pending", "created": iso(created), "attempts": 0,
            "next_attempt": iso(created)}
    fields: dict = {"state": state}
    if state == "sent":
        fields["sent_at"] = iso(done)
    elif state == "fallback":
        fields["fallback_at"] = iso(done)
    elif state == "failed":
        fields["failed_at"] = iso(done)
    return item, fields


# what each notification is, and whether it survives a retention of 730 days at NOW
ITEMS = {
    "sent-3y": ("sent", NOW - 3 * 365 * DAY, False),
    "sent-731d": ("sent", NOW - 731 * DAY, False),
    "fallback-800d": ("fallback", NOW - 800 * DAY, False),
    "sent-729d": ("sent", NOW - 729 * DAY, True),
    "sent-yesterday": ("sent", NOW - DAY, True),
    "failed-3y": ("failed", NOW - 3 * 365 * DAY, True),
    "pending-3y": ("pending", NOW - 3 * 365 * DAY, True),
}


def fill(store) -> None:
    for key, (state, at, _) in ITEMS.items():
        item, fields = _notification(key, state, at - timedelta(minutes=5),
                                     at if state != "pending" else None)
        with UnitOfWork(store):
            store.add_notification(item)
            if state != "pending":
                store.update_notification(key, fields)


def everything(store) -> set[str]:
    return {n["id"] for n in store.outbox()} | {n["id"] for n in store.outbox_history()}


def test_retention_removes_only_old_deliveries_and_never_the_diary_or_the_read_log(
        open_store, org, tmp_path):  # noqa: F811
    store = open_store()
    cases = [_add(store), _add(store, closed=True)]
    fill(store)
    readlog = ReadLog(tmp_path / "state")
    for back in (3 * 365, 800, 1):        # looks at the case long ago and lately
        readlog.record(person="anna", number=cases[0].number, what=VIEW_CASE, at=NOW - back * DAY)
    logged = sorted(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())
    store.housekeep(NOW)                  # all but the pending one are history now
    assert everything(store) == set(ITEMS)

    calendar = BusinessCalendar(org.timezone, org.office_hours.start, org.office_hours.end,
                                org.office_hours.closed_days)
    services = Services(org, store, calendar, FixedClock(NOW))
    services.housekeep(force=True)        # what `run` does every ten minutes

    kept = {k for k, (_, _, stays) in ITEMS.items() if stays}
    assert everything(store) == kept
    for key in set(ITEMS) - kept:         # not even a button's look-up finds them
        assert store.notification(key) is None, key
    assert store.notification("sent-729d")["state"] == "sent"
    assert store.notification("failed-3y")["state"] == "failed"
    assert {c.number for c in store.all_cases()} == {c.number for c in cases}
    assert sorted(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file()) == logged

    store.close()
    reopened = open_store()               # durable
    assert everything(reopened) == kept
    again = Services(org, reopened, calendar, FixedClock(NOW))
    assert again.forget_delivered(NOW)[0] == 0         # nothing more to remove


def test_a_shorter_retention_from_the_config_removes_more(open_store, org):  # noqa: F811
    store = open_store()
    fill(store)
    store.housekeep(NOW)
    short = dataclasses.replace(org, notification_retention_days=7)
    calendar = BusinessCalendar(org.timezone, org.office_hours.start, org.office_hours.end,
                                org.office_hours.closed_days)
    gone, before = Services(short, store, calendar, FixedClock(NOW)).forget_delivered()
    assert before == NOW - 7 * DAY and gone == 4
    assert everything(store) == {"sent-yesterday", "failed-3y", "pending-3y"}


def test_outbox_gallra_on_the_command_line(tmp_path):
    from bot.store.repository import TinyDbCaseStore
    from tests.scenario.test_cli_admin import run
    store = TinyDbCaseStore(tmp_path / "data")
    now = datetime.now(timezone.utc)
    with UnitOfWork(store):
        for key, age in (("old", 900), ("new", 10)):
            item, fields = _notification(key, "sent", now - age * DAY, now - age * DAY)
            store.add_notification(item)
            store.update_notification(key, fields)
    store.housekeep(now)
    store.close()
    done = run(tmp_path, "outbox", "--gallra", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["removed"] == 1
    listed = run(tmp_path, "outbox", "--json")
    assert [n["text"] for n in json.loads(listed.stdout)] == ["text new"]


@pytest.mark.parametrize("value", ["0", "-3", "\"två år\"", "40000"])
def test_a_bad_retention_is_a_clear_swedish_error(tmp_path, value):
    from tests.conftest import EXAMPLE_CONFIG
    from tests.scenario.test_cli_admin import run
    config = tmp_path / "org.toml"
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert "notifications_days = 730" in text        # the example says the default
    config.write_text(text.replace("notifications_days = 730", f"notifications_days = {value}"),
                      encoding="utf-8")
    done = run(tmp_path, "check-config", config=config)
    assert done.returncode == 2, done.stdout
    assert "retention.notifications_days" in done.stderr and "heltal" in done.stderr
