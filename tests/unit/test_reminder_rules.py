"""The pure reminder rules of DESIGN §6: when a reminder or escalation is due, to whom, and
under which at-most-once key; the weekly digest.

Cases are built with open_case and moved with apply; every date below is checked by hand on
the Swedish calendar (Europe/Stockholm, winter UTC+1; office 08:00–16:30; closed 2026-12-23).

November 2026:  Mon 16  Tue 17  Wed 18  Thu 19  Fri 20 | Mon 23 … Fri 27 | Mon 30
December 2026:  Tue 1 … Fri 4 | Mon 7 … Fri 11 | Mon 14  Tue 15  Wed 16 …
                Mon 21  Tue 22  Wed 23 (closed day)  Thu 24 julafton  Fri 25 juldagen | Mon 28
                Tue 29  Wed 30  Thu 31 nyårsafton | Fri 1 Jan nyårsdagen | Mon 4 Jan 2027
"""
from __future__ import annotations

import ast
import dataclasses
import time as timer
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.domain.access import Actor
from bot.domain.case import DOC_DEVIATION, DOC_RESPONSE, INCOMING, OUTGOING, Case, Document, iso
from bot.domain.org import Subscription
from bot.domain.process import (AddAction, AddDocument, Assess, Close, CompleteAction, Context,
                                MarkSent, RecordLex, Register, SetLagrum, SnoozeStep, apply,
                                open_case)
from reminders import rules
from reminders.calendar import BusinessCalendar
from reminders.rules import Due, digest_key, due_reminders, weekly_digest_due

STHLM = ZoneInfo("Europe/Stockholm")
NUMBER = "VOK 2026/0042"
LISA = "lisa.larsson@regionexempel.se"
ANNA_MAIL = "anna.andersson@exempelby.se"


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A Stockholm wall-clock moment."""
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


DIARISED = at(2026, 11, 16, 9, 30)           # Monday


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return BusinessCalendar("Europe/Stockholm", time(8), time(16, 30), {date(2026, 12, 23)})


# --------------------------------------------------------------------------- building cases
def opened(org, kind: str = INCOMING, *, unit: str | None = "hemtjanst-norr",
           severity: str | None = None, received: datetime = DIARISED) -> Case:
    sender = LISA if kind == INCOMING else ANNA_MAIL
    document = Document(no=1, type=DOC_DEVIATION, received=iso(received), sender=sender,
                        subject="Avvikelse: fall vid hembesök", message_id="first@x")
    return open_case(number=NUMBER, key=2026_000_042, kind=kind, title="Fall vid hembesök",
                     document=document, unit=unit, counterpart="region-exempel",
                     severity=severity, conversation_id=None,
                     ctx=Context(org, Actor.mail("x@regionexempel.se"), "mail", received)).case


def do(org, case: Case, command, who: str, when: datetime) -> Case:
    return apply(case, command, Context(org, Actor.person(who), "slack", when)).case


def answered(org, case: Case, sender: str, when: datetime) -> Case:
    doc = Document(no=len(case.documents) + 1, type=DOC_RESPONSE, received=iso(when),
                   sender=sender, subject=f"SV: {NUMBER}", message_id=f"r{len(case.documents)}@x")
    internal = sender.endswith("@exempelby.se")
    return apply(case, AddDocument(doc, sender_internal=internal),
                 Context(org, Actor.mail(sender), "mail", when)).case


def lex_decided(org, case: Case, when: datetime) -> Case:
    """A red case asks the MA/SAS for a Lex assessment (its own step, tests/unit/test_lex.py):
    made here, so these tests see the case's own steps only."""
    return do(org, case, RecordLex("ingen", "Ingen vårdskada"), "maria", when)


def registered(org, severity=None, unit="hemtjanst-norr") -> Case:
    case = do(org, opened(org, severity=severity, unit=unit), Register(), "anna",
              at(2026, 11, 17))
    return lex_decided(org, case, at(2026, 11, 17)) if severity == "red" else case


def response_received(org) -> Case:                      # response arrives Wed 18 10:00
    return answered(org, registered(org), ANNA_MAIL, at(2026, 11, 18))


def response_sent(org) -> Case:                          # sent on Thu 19 10:00
    return do(org, response_received(org), MarkSent(), "rut", at(2026, 11, 19))


def out_sent(org) -> Case:                               # sent on Tue 17 10:00
    return do(org, opened(org, OUTGOING), MarkSent(), "rut", at(2026, 11, 17))


def out_answered(org) -> Case:                           # counterpart answers Wed 18 10:00
    return answered(org, out_sent(org), LISA, at(2026, 11, 18))


def items(result: list[Due]) -> list[tuple[str, str, str, str]]:
    """(step, level, recipient, due local time) — compact and readable in a failure."""
    return [(d.step, d.level, d.recipient, d.due.astimezone(STHLM).strftime("%Y-%m-%d %H:%M"))
            for d in result]


# --------------------------------------------------------------------------- every step
STEPS = [
    # id, build, step, owners, deadline (local date), first reminder (local date)
    ("incoming-register", lambda org: opened(org), "register", ["anna"],
     date(2026, 11, 18), date(2026, 11, 19)),
    ("incoming-respond-red", lambda org: registered(org, "red"), "respond", ["anna"],
     date(2026, 11, 23), date(2026, 11, 24)),
    ("incoming-respond-yellow", lambda org: registered(org, "yellow"), "respond", ["anna"],
     date(2026, 11, 30), date(2026, 12, 1)),
    ("incoming-respond-green", lambda org: registered(org, "green"), "respond", ["anna"],
     date(2026, 12, 14), date(2026, 12, 15)),
    ("incoming-respond-unassessed", lambda org: registered(org), "respond", ["anna"],
     date(2026, 11, 30), date(2026, 12, 1)),
    # a health-care unit's case is HSL (issue 26): the registrator says SoL, so its two
    # managers investigate; under HSL the MA does
    ("incoming-respond-two-managers", lambda org: do(
        org, registered(org, "red", unit="hemsjukvard"), SetLagrum("SoL"), "rut",
        at(2026, 11, 17)), "respond", ["anna", "david"], date(2026, 11, 23), date(2026, 11, 24)),
    ("incoming-respond-hsl", lambda org: registered(org, "red", unit="hemsjukvard"),
     "respond", ["maria"], date(2026, 11, 23), date(2026, 11, 24)),
    ("incoming-send_response", response_received, "send_response", ["rut"],
     date(2026, 11, 19), date(2026, 11, 20)),
    ("incoming-close", response_sent, "close", ["anna"],
     date(2026, 11, 26), date(2026, 11, 27)),
    ("outgoing-send", lambda org: opened(org, OUTGOING), "send", ["rut"],
     date(2026, 11, 17), date(2026, 11, 18)),
    ("outgoing-external_response", out_sent, "external_response", ["rut"],
     date(2026, 12, 15), date(2026, 12, 16)),
    ("outgoing-close", out_answered, "close", ["anna"],
     date(2026, 11, 25), date(2026, 11, 26)),
    ("no-unit-register-goes-to-registrator", lambda org: opened(org, unit=None), "register",
     ["rut"], date(2026, 11, 18), date(2026, 11, 19)),
    ("holiday-register", lambda org: opened(org, received=at(2026, 12, 21)), "register",
     ["anna"], date(2026, 12, 28), date(2026, 12, 29)),
]


@pytest.mark.parametrize("build,step,owners,deadline,first", [r[1:] for r in STEPS],
                         ids=[r[0] for r in STEPS])
def test_first_reminder_of_each_step(org, cal, build, step, owners, deadline, first):
    case = build(org)
    # the deadline day itself, late in office hours: not overdue yet
    assert due_reminders(case, at(deadline.year, deadline.month, deadline.day, 16, 29),
                         cal, org) == []
    # the first reminder: office start of the first business day after the deadline
    now = at(first.year, first.month, first.day, 8, 0)
    result = due_reminders(case, now, cal, org)
    assert items(result) == [(step, "reminder", p, f"{first} 08:00") for p in owners]
    for due in result:
        assert due.number == NUMBER
        assert due.due == now and due.due.utcoffset() == timedelta(hours=1)
        assert due.deadline == datetime.combine(deadline, time(23, 59, 59), tzinfo=STHLM)
        assert due.key == f"{NUMBER}:{step}:reminder:{first.isoformat()}:{due.recipient}"


def test_severity_change_moves_the_respond_reminder(org, cal):
    case = registered(org)                                   # unassessed: deadline Mon 30
    red_first = at(2026, 11, 24, 8)
    assert due_reminders(case, red_first, cal, org) == []
    red = lex_decided(org, do(org, case, Assess("red"), "anna", at(2026, 11, 18)), at(2026, 11, 18))
    assert items(due_reminders(red, red_first, cal, org)) == [
        ("respond", "reminder", "anna", "2026-11-24 08:00")]
    green = do(org, red, Assess("green"), "anna", at(2026, 11, 18, 11))
    assert due_reminders(green, red_first, cal, org) == []
    assert due_reminders(green, at(2026, 12, 14, 16), cal, org) == []
    assert items(due_reminders(green, at(2026, 12, 15, 8), cal, org)) == [
        ("respond", "reminder", "anna", "2026-12-15 08:00")]


# --------------------------------------------------------------------------- when, exactly
WHEN = [
    # id, now, expected due moments of the register step (deadline Wed 18, R1 Thu 19)
    ("deadline-day", at(2026, 11, 18, 12), []),
    ("R1-07:59", at(2026, 11, 19, 7, 59), []),
    ("R1-08:00", at(2026, 11, 19, 8, 0), ["2026-11-19 08:00"]),
    ("R1-16:29", at(2026, 11, 19, 16, 29), ["2026-11-19 08:00"]),
    ("R1-16:30-office-closed", at(2026, 11, 19, 16, 30), []),
    ("R1-evening", at(2026, 11, 19, 21), []),
    ("saturday", at(2026, 11, 21, 10), []),
    ("sunday", at(2026, 11, 22, 10), []),
]


@pytest.mark.parametrize("now,expected", [r[1:] for r in WHEN], ids=[r[0] for r in WHEN])
def test_reminders_only_in_office_hours(org, cal, now, expected):
    result = due_reminders(opened(org), now, cal, org)
    assert [i[3] for i in items(result)] == expected


HOLIDAY = [
    # a case diarised Mon 21 Dec: deadline Mon 28 (22, then 23 closed, 24–27 holidays/weekend)
    ("tue-22", at(2026, 12, 22, 10), []),
    ("closed-day-23", at(2026, 12, 23, 10), []),
    ("julafton", at(2026, 12, 24, 10), []),
    ("deadline-mon-28", at(2026, 12, 28, 10), []),
    ("R1-tue-29-07:59", at(2026, 12, 29, 7, 59), []),
    ("R1-tue-29", at(2026, 12, 29, 8), [("reminder", "2026-12-29 08:00")]),
    ("wed-30-same-as-R1", at(2026, 12, 30, 9), [("reminder", "2026-12-29 08:00")]),
    ("nyarsafton", at(2026, 12, 31, 9), []),
    ("nyarsdagen", at(2027, 1, 1, 9), []),
    # R1+2 = 30 Dec, 4 Jan; escalation = 3 business days after 28 Dec = 29, 30, 4 Jan
    ("mon-4-jan", at(2027, 1, 4, 8), [("reminder", "2027-01-04 08:00"),
                                      ("escalation", "2027-01-04 08:00"),
                                      ("escalation", "2027-01-04 08:00")]),
    ("trettondagen", at(2027, 1, 6, 9), []),
]


@pytest.mark.parametrize("now,expected", [r[1:] for r in HOLIDAY], ids=[r[0] for r in HOLIDAY])
def test_deadline_and_reminders_across_christmas(org, cal, now, expected):
    case = opened(org, received=at(2026, 12, 21))
    result = due_reminders(case, now, cal, org)
    assert [(d.level, i[3]) for d, i in zip(result, items(result))] == expected
    for d in result:
        assert d.deadline == datetime(2026, 12, 28, 23, 59, 59, tzinfo=STHLM)


# --------------------------------------------------------------------------- repeat, escalation
REPEAT = [
    # id, now, expected (level, recipient, due) for the register step; R1 Thu 19, repeat 2,
    # escalation Mon 23 (3 business days after Wed 18)
    ("R1", at(2026, 11, 19, 8), [("reminder", "anna", "2026-11-19 08:00")]),
    ("R1-later-that-day", at(2026, 11, 19, 15), [("reminder", "anna", "2026-11-19 08:00")]),
    ("fri-20-between-repeats", at(2026, 11, 20, 9), [("reminder", "anna", "2026-11-19 08:00")]),
    ("weekend-nothing", at(2026, 11, 21, 9), []),
    ("mon-23-R1+2-and-escalation", at(2026, 11, 23, 8), [
        ("reminder", "anna", "2026-11-23 08:00"),
        ("escalation", "maria", "2026-11-23 08:00"),
        ("escalation", "sven", "2026-11-23 08:00")]),
    ("mon-23-07:59-none-yet", at(2026, 11, 23, 7, 59), []),
    ("tue-24-same-keys-as-23", at(2026, 11, 24, 9), [
        ("reminder", "anna", "2026-11-23 08:00"),
        ("escalation", "maria", "2026-11-23 08:00"),
        ("escalation", "sven", "2026-11-23 08:00")]),
    # nobody acknowledged (kvittera): the escalation repeats with the reminders (issue 16)
    ("wed-25-R1+4-escalation-repeats", at(2026, 11, 25, 8), [
        ("reminder", "anna", "2026-11-25 08:00"),
        ("escalation", "maria", "2026-11-25 08:00"),
        ("escalation", "sven", "2026-11-25 08:00")]),
    # a bot down for two weeks catches up with one reminder and one escalation, the latest
    ("catch-up-after-downtime", at(2026, 12, 4, 12), [
        ("reminder", "anna", "2026-12-03 08:00"),
        ("escalation", "maria", "2026-12-03 08:00"),
        ("escalation", "sven", "2026-12-03 08:00")]),
]


@pytest.mark.parametrize("now,expected", [r[1:] for r in REPEAT], ids=[r[0] for r in REPEAT])
def test_repeat_and_escalation(org, cal, now, expected):
    result = due_reminders(opened(org), now, cal, org)
    assert [i[1:] for i in items(result)] == expected


def test_key_identifies_the_due_moment_not_the_scan(org, cal):
    case = opened(org)
    keys = {day: [d.key for d in due_reminders(case, at(2026, 11, day, 9), cal, org)
                  if d.level == "reminder"] for day in (19, 20, 23)}
    assert keys[19] == [f"{NUMBER}:register:reminder:2026-11-19:anna"]
    assert keys[20] == keys[19]
    assert keys[23] == [f"{NUMBER}:register:reminder:2026-11-23:anna"]


ESCALATION = [
    # id, unit, expected escalation recipients (everyone subscribed: maria "*", sven Norr/Söder)
    ("hemtjanst-norr", "hemtjanst-norr", ["maria", "sven"]),
    ("hemtjanst-soder", "hemtjanst-soder", ["maria", "sven"]),
    ("solgarden-only-maria", "solgarden", ["maria"]),
    ("bjorkhagen-only-maria", "bjorkhagen", ["maria"]),
    ("no-unit-star-subscriber", None, ["maria"]),
]


@pytest.mark.parametrize("unit,expected", [r[1:] for r in ESCALATION],
                         ids=[r[0] for r in ESCALATION])
def test_escalation_recipients(org, cal, unit, expected):
    case = opened(org, unit=unit)
    assert [d for d in due_reminders(case, at(2026, 11, 20, 16), cal, org)
            if d.level == "escalation"] == []                 # not before Mon 23
    result = [d for d in due_reminders(case, at(2026, 11, 23, 8), cal, org)
              if d.level == "escalation"]
    assert [d.recipient for d in result] == expected
    assert {d.key for d in result} == {
        f"{NUMBER}:register:escalation:2026-11-23:{p}" for p in expected}


def test_escalation_with_chat_subscription(org, cal):
    extra = (Subscription("sven", ("solgarden",)),)
    result = due_reminders(opened(org, unit="solgarden"), at(2026, 11, 23, 8), cal, org, extra)
    assert [(d.level, d.recipient) for d in result] == [
        ("reminder", "cecilia"), ("escalation", "maria"), ("escalation", "sven")]


def test_escalation_without_subscribers_goes_to_every_ma_and_sas(org, cal):
    bare = dataclasses.replace(org, subscriptions=())
    result = due_reminders(opened(bare, unit="solgarden"), at(2026, 11, 23, 8), cal, bare)
    assert [(d.level, d.recipient) for d in result] == [
        ("reminder", "cecilia"), ("escalation", "maria"), ("escalation", "sven")]


# --------------------------------------------------------------------------- snooze
def snoozed(org, until: date, step_case=None) -> Case:
    case = step_case or opened(org)
    return do(org, case, SnoozeStep(until, "väntar på journalkopia"), "anna",
              at(2026, 11, 19, 10))


SNOOZE = [
    # id, until, now, expected (level, recipient, due); register: R1 Thu 19, esc. Mon 23
    ("during-snooze-R1-day", date(2026, 11, 24), at(2026, 11, 19, 11), []),
    ("during-snooze-escalation-day", date(2026, 11, 24), at(2026, 11, 23, 8), []),
    ("until-day-07:59", date(2026, 11, 24), at(2026, 11, 24, 7, 59), []),
    ("until-day-office-start", date(2026, 11, 24), at(2026, 11, 24, 8), [
        ("reminder", "anna", "2026-11-24 08:00"),
        ("escalation", "maria", "2026-11-24 08:00"),
        ("escalation", "sven", "2026-11-24 08:00")]),
    ("regular-cadence-takes-over", date(2026, 11, 24), at(2026, 11, 25, 8), [
        ("reminder", "anna", "2026-11-25 08:00"),
        ("escalation", "maria", "2026-11-24 08:00"),
        ("escalation", "sven", "2026-11-24 08:00")]),
    # until a Saturday: resumes the following Monday (regular latest then is Fri 27)
    ("until-saturday-resumes-monday", date(2026, 11, 28), at(2026, 11, 30, 8), [
        ("reminder", "anna", "2026-11-30 08:00"),
        ("escalation", "maria", "2026-11-30 08:00"),
        ("escalation", "sven", "2026-11-30 08:00")]),
    ("until-saturday-still-snoozed-friday", date(2026, 11, 28), at(2026, 11, 27, 9), []),
    # a snooze to tomorrow: silent for the rest of today, one reminder tomorrow at 08:00
    ("snoozed-to-tomorrow-rest-of-today", date(2026, 11, 20), at(2026, 11, 19, 12), []),
    ("snoozed-to-tomorrow-next-morning", date(2026, 11, 20), at(2026, 11, 20, 8), [
        ("reminder", "anna", "2026-11-20 08:00")]),
]


@pytest.mark.parametrize("until,now,expected", [r[1:] for r in SNOOZE],
                         ids=[r[0] for r in SNOOZE])
def test_snooze(org, cal, until, now, expected):
    assert [i[1:] for i in items(due_reminders(snoozed(org, until), now, cal, org))] == expected


def test_snooze_that_ends_before_the_deadline_changes_nothing(org, cal):
    case = do(org, opened(org), SnoozeStep(date(2026, 11, 18), "semester"), "anna",
              at(2026, 11, 17))
    assert items(due_reminders(case, at(2026, 11, 19, 8), cal, org)) == [
        ("register", "reminder", "anna", "2026-11-19 08:00")]


def test_snooze_of_another_step_does_not_apply(org, cal):
    case = snoozed(org, date(2026, 12, 10))                  # snoozes `register`
    case = do(org, case, Register(), "anna", at(2026, 11, 19, 11))
    assert items(due_reminders(case, at(2026, 12, 1, 8), cal, org)) == [
        ("respond", "reminder", "anna", "2026-12-01 08:00")]


def test_snooze_does_not_apply_to_actions(org, cal):
    case = do(org, opened(org), AddAction("Ny rutin", due=date(2026, 11, 18)), "anna",
              at(2026, 11, 17))
    case = snoozed(org, date(2026, 11, 30), case)
    assert items(due_reminders(case, at(2026, 11, 19, 8), cal, org)) == [
        ("action:1", "reminder", "anna", "2026-11-19 08:00")]


# --------------------------------------------------------------------------- done, closed
def test_done_step_has_no_reminders(org, cal):
    late = do(org, opened(org), Register(), "anna", at(2026, 11, 20, 9))
    # register was overdue since Thu 19; now the case is at `respond` (deadline Mon 30)
    assert due_reminders(late, at(2026, 11, 20, 10), cal, org) == []
    assert due_reminders(late, at(2026, 11, 23, 8), cal, org) == []
    assert [i[0] for i in items(due_reminders(late, at(2026, 12, 1, 8), cal, org))] == ["respond"]


def test_closed_case_has_nothing(org, cal):
    case = do(org, opened(org), AddAction("Ny rutin", due=date(2026, 11, 18)), "anna",
              at(2026, 11, 17))
    assert due_reminders(case, at(2026, 11, 23, 8), cal, org) != []
    closed = do(org, case, Close("dubblett"), "maria", at(2026, 11, 20))
    assert closed.is_closed
    assert due_reminders(closed, at(2026, 11, 23, 8), cal, org) == []


# --------------------------------------------------------------------------- actions
def with_action(org, *, unit="hemtjanst-norr", owner=None, who="anna",
                due=date(2026, 11, 20)) -> Case:
    # registered red on Tue 17: respond deadline Mon 23, so only the action is due on Mon 23
    case = do(org, registered(org, unit=unit), Assess("red"), who, at(2026, 11, 17, 11))
    case = lex_decided(org, case, at(2026, 11, 17, 11))
    return do(org, case, AddAction("Se över läkemedelsrutinen", due=due, owner=owner), who,
              at(2026, 11, 17, 12))


ACTIONS = [
    # id, build, now, expected (step, level, recipient, due)
    ("due-day-nothing", lambda org: with_action(org), at(2026, 11, 20, 16), []),
    ("next-business-day-to-creator", lambda org: with_action(org), at(2026, 11, 23, 8),
     [("action:1", "reminder", "anna", "2026-11-23 08:00")]),
    ("explicit-owner", lambda org: with_action(org, owner="bengt"), at(2026, 11, 23, 8),
     [("action:1", "reminder", "bengt", "2026-11-23 08:00")]),
    ("repeats-every-2", lambda org: with_action(org), at(2026, 11, 24, 9),
     [("respond", "reminder", "anna", "2026-11-24 08:00"),
      ("action:1", "reminder", "anna", "2026-11-23 08:00")]),
    ("repeat-R1+2-no-escalation", lambda org: with_action(org), at(2026, 11, 25, 8),
     [("respond", "reminder", "anna", "2026-11-24 08:00"),
      ("action:1", "reminder", "anna", "2026-11-25 08:00")]),
    ("across-christmas", lambda org: with_action(org, due=date(2026, 12, 22)),
     at(2026, 12, 28, 8), [("respond", "reminder", "anna", "2026-12-22 08:00"),
                           ("action:1", "reminder", "anna", "2026-12-28 08:00")]),
]


@pytest.mark.parametrize("build,now,expected", [r[1:] for r in ACTIONS],
                         ids=[r[0] for r in ACTIONS])
def test_action_reminders(org, cal, build, now, expected):
    result = due_reminders(build(org), now, cal, org)
    assert [i for i in items(result) if not i[1] == "escalation"] == expected
    for d in result:
        if d.step == "action:1":
            assert d.key == f"{NUMBER}:action:1:reminder:{d.due.date().isoformat()}:{d.recipient}"


def test_action_deadline_is_end_of_due_date(org, cal):
    [due] = due_reminders(with_action(org), at(2026, 11, 23, 8), cal, org)
    assert due.deadline == datetime(2026, 11, 20, 23, 59, 59, tzinfo=STHLM)


def test_action_without_owner_goes_to_managers_then_registrator(org, cal):
    # added by the registrator in chat without an owner: AddAction makes the actor the owner,
    # so build owner-less actions directly as mail intake or an import would leave them
    case = with_action(org, unit="hemsjukvard", who="rut")
    case.actions[0].owner = None
    assert [(d.step, d.recipient) for d in due_reminders(case, at(2026, 11, 23, 8), cal, org)] \
        == [("action:1", "anna"), ("action:1", "david")]
    case.unit = None
    assert [(d.step, d.recipient) for d in due_reminders(case, at(2026, 11, 23, 8), cal, org)] \
        == [("action:1", "rut")]


def test_done_action_and_action_without_due_date_have_nothing(org, cal):
    case = with_action(org)
    case = do(org, case, AddAction("Utbildning"), "anna", at(2026, 11, 17, 13))   # no due date
    done = do(org, case, CompleteAction(1), "anna", at(2026, 11, 20, 9))
    assert due_reminders(done, at(2026, 11, 23, 8), cal, org) == []


# --------------------------------------------------------------------------- weekly digest
DIGEST = [
    ("monday-08:00", at(2026, 11, 16, 8, 0), date(2026, 11, 16)),
    ("monday-07:59", at(2026, 11, 16, 7, 59), None),
    ("monday-16:30-closed", at(2026, 11, 16, 16, 30), None),
    ("wednesday-catch-up", at(2026, 11, 18, 10), date(2026, 11, 16)),
    ("saturday", at(2026, 11, 21, 10), None),
    ("sunday", at(2026, 11, 22, 10), None),
    ("annandag-pask-monday", at(2026, 4, 6, 10), None),
    ("tuesday-after-annandag-pask", at(2026, 4, 7, 8), date(2026, 4, 6)),
    ("julafton-thursday", at(2026, 12, 24, 10), None),
    ("closed-day-wednesday-23", at(2026, 12, 23, 10), None),
    ("tuesday-22-dec", at(2026, 12, 22, 10), date(2026, 12, 21)),
]


@pytest.mark.parametrize("now,expected", [r[1:] for r in DIGEST], ids=[r[0] for r in DIGEST])
def test_weekly_digest_due(cal, now, expected):
    assert weekly_digest_due(now, cal) == expected


def test_digest_key_once_per_person_and_week():
    assert digest_key("maria", date(2026, 11, 16)) == "digest:2026-11-16:maria"
    assert digest_key("maria", date(2026, 11, 16)) != digest_key("sven", date(2026, 11, 16))
    assert digest_key("maria", date(2026, 11, 16)) != digest_key("maria", date(2026, 11, 23))


# --------------------------------------------------------------------------- purity, speed
def test_rules_are_pure():
    tree = ast.parse(Path(rules.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    allowed_prefixes = ("bot.domain", "reminders.calendar", "__future__", "collections", "weakref",
                        "dataclasses", "datetime", "typing")
    assert all(name.startswith(allowed_prefixes) for name in imported), imported


def test_due_reminders_is_fast_for_cases_not_due(org, cal):
    case = registered(org, "green")                          # deadline Mon 14 Dec
    now = at(2026, 11, 25, 10)
    due_reminders(case, now, cal, org)                       # warm the calendar
    start = timer.perf_counter()
    for _ in range(5000):
        assert not due_reminders(case, now, cal, org)
    elapsed = timer.perf_counter() - start
    assert elapsed < 1.0, f"5,000 scans took {elapsed:.3f} s"
