"""The bundling rule (bot.domain.bundling): which notifications may wait for a person's bundle,
when a kännedom copy becomes sendable, and when a (recipient, channel) bundle is due."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from bot.domain.bundling import bundlable, due_bundles, held_until
from bot.domain.org import Notifications
from reminders.calendar import BusinessCalendar

RULES = Notifications()                       # 10 minutes, info at 08:00 and 13:00
OFF = Notifications(bundle_minutes=0)
CAL = BusinessCalendar("Europe/Stockholm", time(8, 0), time(16, 30))
UTC = timezone.utc


def test_reminders_escalations_and_kannedom_copies_wait_for_the_bundle():
    assert bundlable("reminder", "act", False, RULES)
    assert bundlable("escalation", "act", False, RULES)
    assert bundlable("incoming_diarised", "info", False, RULES)
    assert bundlable("closed", "info", False, RULES)


def test_routine_follow_up_and_the_digest_wait_too():
    assert bundlable("response_incoming", "act", False, RULES)     # the registrator sends it on
    assert bundlable("response_outgoing", "act", False, RULES)
    assert bundlable("supplement", "act", False, RULES)
    assert bundlable("digest", "act", False, RULES)                 # joins Monday's reminders


def test_red_cases_lex_requests_and_new_work_go_at_once():
    assert not bundlable("reminder", "act", True, RULES)          # a red case: never held
    assert not bundlable("incoming_diarised", "info", True, RULES)
    assert not bundlable("response_incoming", "act", True, RULES)
    assert not bundlable("lex_requested", "act", False, RULES)     # Lex Maria / Sarah
    assert not bundlable("incoming_diarised", "act", False, RULES)  # a new case to register
    assert not bundlable("incoming_diarised_no_unit", "act", False, RULES)
    assert not bundlable("outgoing_diarised", "act", False, RULES)
    assert not bundlable("unit_assigned", "act", False, RULES)
    assert not bundlable("triage", "act", False, RULES)
    assert not bundlable("send_failed", "act", False, RULES)


def test_zero_minutes_turns_bundling_off():
    assert not bundlable("reminder", "act", False, OFF)
    assert not bundlable("incoming_diarised", "info", False, OFF)


def test_a_kannedom_copy_waits_for_the_next_info_time_on_a_business_day():
    # Tuesday 2026-12-01 09:30 Stockholm (08:30 UTC) -> 13:00 the same day
    tuesday = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    assert held_until(tuesday, "incoming_diarised", "info", RULES, CAL) == \
        datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    # Friday 2026-12-04 14:00 -> Monday 08:00, never Saturday
    friday = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
    monday = held_until(friday, "incoming_diarised", "info", RULES, CAL)
    assert CAL.local(monday).date() == date(2026, 12, 7) and CAL.local(monday).hour == 8
    # routine follow-up too; a reminder is sendable at once (then waits the window only)
    assert held_until(tuesday, "response_incoming", "act", RULES, CAL) == \
        datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert held_until(tuesday, "reminder", "act", RULES, CAL) == tuesday
    assert held_until(tuesday, "digest", "act", RULES, CAL) == tuesday
    assert held_until(tuesday, "incoming_diarised", "info", Notifications(info_at=()), CAL) == tuesday


def _item(n: int, recipient: str, created: datetime, *, channel: str = "slack",
          next_attempt: datetime | None = None) -> dict:
    return {"id": f"i{n}", "recipient": recipient, "channel": channel,
            "created": created.isoformat(), "next_attempt": (next_attempt or created).isoformat()}


def test_a_bundle_is_due_once_its_first_item_has_waited_the_window_and_takes_all():
    start = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    window = timedelta(minutes=10)
    items = [_item(n, "anna", start + timedelta(minutes=n)) for n in range(40)
             if start + timedelta(minutes=n) <= start + timedelta(minutes=9)]
    assert due_bundles(items, start + timedelta(minutes=9), window) == []
    due = due_bundles(items, start + timedelta(minutes=10), window)
    assert len(due) == 1 and [i["id"] for i in due[0]] == [f"i{n}" for n in range(10)]


def test_bundles_are_per_recipient_and_channel_and_never_take_what_is_not_sendable():
    start = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    later = start + timedelta(hours=5)
    items = [_item(1, "anna", start), _item(2, "anna", start, channel="email"),
             _item(3, "bo", start), _item(4, "anna", start, next_attempt=later)]
    due = due_bundles(items, start + timedelta(minutes=10), timedelta(minutes=10))
    assert sorted([i["id"] for i in group] for group in due) == [["i1"], ["i2"], ["i3"]]
    # the held copy opens its own window when it becomes sendable
    assert due_bundles([items[3]], later + timedelta(minutes=9), timedelta(minutes=10)) == []
    assert len(due_bundles([items[3]], later + timedelta(minutes=10), timedelta(minutes=10))) == 1


def test_a_bundle_is_due_by_the_instant_whatever_the_clock_s_time_zone():
    """The outbox stores UTC times; a clock that answers in local time must not make a
    due item look late (string order of '15:00-05:00' and '19:40+00:00' is not time order)."""
    from datetime import datetime, timedelta, timezone
    from bot.domain.bundling import due_bundles
    utc = datetime(2026, 12, 7, 20, 0, tzinfo=timezone.utc)
    item = {"id": "a", "recipient": "anna", "channel": "slack",
            "created": "2026-12-07T19:40:00+00:00", "next_attempt": "2026-12-07T19:40:00+00:00"}
    local = utc.astimezone(timezone(timedelta(hours=-5)))         # 15:00-05:00
    assert due_bundles([item], local, timedelta(minutes=10)) == [[item]]
