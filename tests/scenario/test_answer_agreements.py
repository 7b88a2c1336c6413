"""Agreements per counterpart ("the other party answers within 60 calendar days") and the
automatic reminder on the agreed day: once, threaded, from the functional mailbox."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from bot.app import build
from bot.domain.process import step_deadline
from bot.settings import parse_agreement
from tests.scenario.test_remind_counterpart import outgoing_case_sent

STOCKHOLM_MORNING = "T08:30:00+00:00"     # 09:30 in Stockholm in winter


def agreed(org, settings, within: str | None, automatic: bool):
    region = dataclasses.replace(org.counterparts["region-exempel"], remind_automatically=automatic,
                                 answer_within=parse_agreement(within) if within else None)
    org = dataclasses.replace(org, counterparts={**org.counterparts, "region-exempel": region})
    return dataclasses.replace(settings, org=org)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day + STOCKHOLM_MORNING).astimezone(timezone.utc)


@pytest.mark.parametrize("text,expected", [
    ("60 kalenderdagar", (60, True)), ("20 arbetsdagar", (20, False)), ("30 dagar", (30, True)),
    ("10 business days", (10, False)), (15, (15, False)), ("snart", None), (0, None)])
def test_an_agreement_is_read_in_business_or_calendar_days(text, expected):
    assert parse_agreement(text) == expected


def test_the_agreed_answer_time_is_the_cases_deadline(org, settings, clock, notifier, sender):
    bot = build(agreed(org, settings, "60 kalenderdagar", False), notifiers={"console": notifier},
                clock=clock, sender=sender)
    try:
        number = outgoing_case_sent(bot, sender)           # sent Monday 16 November 2026
        case = bot.store.get_case_by_text(number)
        deadline = bot.calendar.local(step_deadline(case, bot.services.org, bot.calendar))
        assert deadline.date().isoformat() == "2027-01-15"  # the 60th day, a Friday
    finally:
        bot.close()


def test_the_automatic_reminder_goes_once_on_the_agreed_day(org, settings, clock, notifier, sender):
    bot = build(agreed(org, settings, "60 kalenderdagar", True), notifiers={"console": notifier},
                clock=clock, sender=sender)
    try:
        number = outgoing_case_sent(bot, sender)
        first = sender.sent[0]
        def scan(day: str) -> list[dict]:
            clock.set(at(day))
            due = bot.services.run_reminders(at(day))
            bot.services.deliver_outbox()
            return due
        scan("2027-01-15")                                   # the last agreed day: not yet
        assert len(sender.sent) == 1
        due = scan("2027-01-18")                             # the next working day
        assert [d["level"] for d in due if d["level"] == "counterpart"] == ["counterpart"]
        scan("2027-01-19")
        scan("2027-02-01")
        to_region = [m for m in sender.sent if m["To"] == "patientsakerhet@regionexempel.se"]
        assert len(to_region) == 2                           # the sent mail and one reminder
        assert to_region[1]["In-Reply-To"] == first["Message-ID"]
        assert to_region[1]["Thread-Index"] and to_region[1]["Thread-Topic"]
        case = bot.store.get_case_by_text(number)
        assert [d.type for d in case.documents] == ["deviation", "sent", "reminder"]
    finally:
        bot.close()


def test_no_automatic_reminder_unless_the_counterpart_asked(org, settings, clock, notifier, sender):
    bot = build(agreed(org, settings, "60 kalenderdagar", False), notifiers={"console": notifier},
                clock=clock, sender=sender)
    try:
        outgoing_case_sent(bot, sender)
        clock.set(at("2027-01-18"))
        bot.services.run_reminders(at("2027-01-18"))
        bot.services.deliver_outbox()
        assert [m["To"] for m in sender.sent] == ["patientsakerhet@regionexempel.se"]
    finally:
        bot.close()


def test_the_report_counts_an_answer_in_time_by_the_counterparts_agreement(org, settings, clock):
    from bot.domain.case import Case
    from bot.report import build_report
    case = Case(number="VOK 2026/0001", key=2026000001, kind="outgoing", title="t",
                status="response_received", created="2026-03-02T08:00:00+00:00",
                counterpart="region-exempel",
                status_since={"diarised": "2026-03-02T08:00:00+00:00",
                              "sent": "2026-03-02T09:00:00+00:00",
                              "response_received": "2026-04-13T09:00:00+00:00"})   # 42 days
    bot = build(settings, clock=clock)
    try:
        calendar = bot.calendar
    finally:
        bot.close()
    default = build_report([case], org, calendar, 2026, clock.now()).answer_rates[0]
    with_agreement = build_report([case], agreed(org, settings, "60 kalenderdagar", False).org,
                                  calendar, 2026, clock.now()).answer_rates[0]
    assert (default.answered, default.answered_in_time) == (1, 0)        # 20 working days
    assert (with_agreement.answered, with_agreement.answered_in_time) == (1, 1)
