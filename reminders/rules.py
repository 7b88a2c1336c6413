"""Which reminders and escalations are due for a case at a moment (DESIGN §6). Pure.

    due_reminders(case, now, calendar, org, subscriptions=()) -> list[Due]

No store, no clock, no I/O: the scheduler job asks this for every open case and sends what
comes back, guarded by ``Due.key`` (sent at most once per case, step, level, due day and
recipient, across restarts).

The schedule of one overdue step, with D the local date of its deadline:

* reminders to the step's owners at office start of R1 = the first business day after D,
  then every ``repeat_every`` business days (R1, R1+r, R1+2r, ...). At ``now`` only the
  *latest* of those moments that is <= now is returned, so a bot that was down for a week
  catches up with one reminder, not one per missed day, and a day between two repeats gives
  the same key as the repeat before it (already sent, so nothing new);
* an escalation to the MA/SAS subscribed to the unit (everyone with role ma or sas if
  nobody is) at office start of the business day E = ``escalate_after`` business days after
  D, repeated like the reminders (E, E+r, ...: the latest moment <= now) until someone
  acknowledges it (``kvittera``, case.acks); then nothing until ``acknowledged_for``
  business days after the acknowledgement, when the chain starts again if the step is
  still open;
* a snooze of the step to a date U suppresses both until U; from U on the latest reminder
  moment is max(regular latest, office start of the first business day >= U), so the day the
  snooze ends brings one reminder; the escalation moment is likewise max(regular, resume).

Open actions with a due date get the same reminder schedule (their deadline is the end of the
due date), to the action's owner, else the unit's managers, else the registrators; they are
never escalated and never snoozed.

An asked-for Lex Maria / Lex Sarah assessment (``lex_step``) is a second step beside the
case's own, with the same schedule; it escalates to whoever answers for that kind of care
(Organisation.lex_escalation), never to the other function.

A request for documents (kind REQUEST, bot.domain.disclosure) has a clock in office hours,
not days: the registrators are reminded [records] request_reminders office hours after it
came in (2 and 4 by default: the same day), then every last-of-those hours until the
decision closes it. Only the latest moment that has passed is returned, its marker the local
minute of that moment, so each moment reminds once and a bot that was down catches up with
one reminder.

Nothing is due outside office hours, for a closed case, or for a step that is done (the case
moved on: only ``current_step`` is looked at).
"""
from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

from bot.domain import disclosure
from bot.domain.case import REQUEST, Case
from bot.domain.org import Organisation, Subscription
from bot.domain.lagrum import case_lagrum
from bot.domain.process import current_step, deadline_of, lex_step

if TYPE_CHECKING:  # the calendar type only for hints: rules never build one
    from reminders.calendar import BusinessCalendar

__all__ = ["Due", "REMINDER", "ESCALATION", "due_reminders", "weekly_digest_due", "digest_key"]

REMINDER, ESCALATION = "reminder", "escalation"
_END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True)
class Due:
    number: str            # case diary number
    recipient: str         # person id
    step: str              # the step name from current_step, or f"action:{no}" for an action
    level: str             # "reminder" | "escalation"
    due: datetime          # the office-start moment (aware) it became due
    deadline: datetime     # the step's deadline (aware, end of day local)
    key: str               # sent-at-most-once marker
    # the marker's "day" when a step is reminded several times a day (a request's office
    # hours): the local minute of the moment; None = the local date of `due`
    marker: str | None = None

    @staticmethod
    def make_key(number: str, step: str, level: str, due_day: date, recipient: str) -> str:
        return f"{number}:{step}:{level}:{due_day.isoformat()}:{recipient}"


def due_reminders(case: Case, now: datetime, calendar: "BusinessCalendar", org: Organisation,
                  subscriptions: Iterable[Subscription] = ()) -> list[Due]:
    """Everything due for *case* at *now*: at most one reminder moment per step or action
    (the latest that has passed), and the escalation of the step once it has passed."""
    if case.is_closed:
        return []
    memo = _memo(calendar)
    today = memo.today(now)
    if today is None:                                      # outside office hours
        return []
    result: list[Due] = []
    # a backlog import: what was overdue before the import is history, not a reminder storm
    imported = datetime.fromisoformat(case.imported) if case.imported else None
    step = current_step(case, org)
    if step is not None:
        deadline = (deadline_of(step, calendar) if step.calendar_days
                    else memo.deadline(step.started, step.days))
        if imported is not None and deadline <= imported:
            pass
        elif today > deadline.date():                      # overdue (the fast path ends here)
            _step_items(result, case, step.name, step.owners, deadline, today, memo, org,
                        tuple(subscriptions))
    lex = lex_step(case, org)
    if lex is not None:
        deadline = memo.deadline(lex.started, lex.days)
        if today > deadline.date():
            # the assessors are MA/SAS themselves: an unmade assessment escalates to whoever
            # answers for that kind of care ([patient_safety] escalate_maria/escalate_sarah,
            # else the registrators), never to the other function
            others = tuple(org.lex_escalation(case.unit, lex.owners, case_lagrum(case, org)))
            _step_items(result, case, lex.name, lex.owners, deadline, today, memo, org,
                        tuple(subscriptions), escalate_to=others)
    if case.kind == REQUEST:
        _request_items(result, case, now, calendar, org)
    for action in case.actions:
        if action.done is not None or not action.due:
            continue
        due_day = date.fromisoformat(action.due)
        if today <= due_day:
            continue
        deadline = datetime.combine(due_day, _END_OF_DAY, tzinfo=calendar.tz)
        if imported is not None and deadline <= imported:
            continue
        owners = ((action.owner,) if action.owner
                  else tuple(org.managers_of(case.unit)) or tuple(org.registrators()))
        day = memo.latest_reminder_day(due_day, today, org.deadlines.repeat_every)
        _emit(result, case.number, f"action:{action.no}", REMINDER, owners, day, deadline, memo)
    return result


def _step_items(result: list[Due], case: Case, name: str, owners: tuple[str, ...],
                deadline: datetime, today: date, memo: "_Memo", org: Organisation,
                subscriptions: tuple[Subscription, ...],
                escalate_to: tuple[str, ...] | None = None) -> None:
    deadline_day = deadline.date()
    resume = _resume_day(case, name, today, memo)
    if resume is False:                                    # snoozed past today
        return
    assert resume is None or isinstance(resume, date)
    rules = org.deadlines
    reminder_day = memo.latest_reminder_day(deadline_day, today, rules.repeat_every)
    if resume is not None and resume > reminder_day:
        reminder_day = resume
    _emit(result, case.number, name, REMINDER, owners, reminder_day, deadline, memo)

    # escalate_after = 0 means "with the first reminder": never before the step is overdue
    escalation_day = max(memo.add_business_days(deadline_day, rules.escalate_after),
                         memo.add_business_days(deadline_day, 1))
    if resume is not None and resume > escalation_day:
        escalation_day = resume
    acked = _acknowledged_day(case, name, memo)
    if acked is not None:
        # acknowledged: no escalation until the pause ends, then the chain starts again
        restart = memo.add_business_days(acked, rules.acknowledged_for)
        if today < restart:
            return
        escalation_day = max(escalation_day, restart)
    if escalation_day <= today:
        # unacknowledged, the escalation repeats like a reminder (every repeat_every days)
        escalation_day = memo.latest_repeat_day(escalation_day, today, rules.repeat_every)
        targets = escalate_to if escalate_to is not None else tuple(
            org.escalation_targets(case.unit, subscriptions)) or tuple(
            p.id for p in org.people.values() if p.roles & {"ma", "sas"})
        _emit(result, case.number, name, ESCALATION, targets, escalation_day, deadline, memo)


_REQUEST_MOMENTS = 500                # a request left undecided for months stops counting here


def request_moments(case: Case, now: datetime, calendar: "BusinessCalendar",
                    org: Organisation) -> list[datetime]:
    """The reminder moments of a request case up to *now* (oldest first)."""
    started = datetime.fromisoformat(case.created)
    marks = list(org.records.request_reminders)
    repeat = marks[-1]
    moments: list[datetime] = []
    hours = marks[0]
    for index in range(_REQUEST_MOMENTS):
        hours = marks[index] if index < len(marks) else hours + repeat
        moment = calendar.add_office_hours(started, hours)
        if moment > now:
            break
        moments.append(moment)
    return moments


def _request_items(result: list[Due], case: Case, now: datetime, calendar: "BusinessCalendar",
                   org: Organisation) -> None:
    moments = request_moments(case, now, calendar, org)
    if not moments:
        return
    moment = calendar.local(moments[-1])
    first_day = calendar.add_office_hours(datetime.fromisoformat(case.created), 0).date()
    deadline = calendar.office_end(first_day)
    marker = moment.isoformat(timespec="minutes")
    for person in dict.fromkeys(org.registrators()):
        result.append(Due(case.number, person, disclosure.STEP, REMINDER, moment, deadline,
                          f"{case.number}:{disclosure.STEP}:{REMINDER}:{marker}:{person}",
                          marker))


def _acknowledged_day(case: Case, step: str, memo: "_Memo") -> date | None:
    """The local day of the latest `kvittera` of *step*, or None."""
    times = [ack["at"] for ack in case.acks if ack.get("step") == step]
    if not times:
        return None
    return memo.calendar.local(datetime.fromisoformat(max(times))).date()


def _resume_day(case: Case, step: str, today: date, memo: "_Memo") -> date | None | Literal[False]:
    """False while a snooze of *step* runs past today; else the first business day on or
    after the latest snooze's end (None when the step was never snoozed)."""
    latest: date | None = None
    for snooze in case.snoozes:
        if snooze.step != step:
            continue
        until = date.fromisoformat(snooze.until)
        if until > today:
            return False
        if latest is None or until > latest:
            latest = until
    if latest is None:
        return None
    return memo.add_business_days(latest, 0)


def _emit(result: list[Due], number: str, step: str, level: str, recipients: Iterable[str],
          day: date, deadline: datetime, memo: "_Memo") -> None:
    moment = memo.office_start(day)
    for person in dict.fromkeys(recipients):
        result.append(Due(number, person, step, level, moment, deadline,
                          Due.make_key(number, step, level, day, person)))


# --------------------------------------------------------------------------- memo
class _Memo:
    """Answers of one calendar, remembered: a scan asks the same few questions for thousands
    of cases (is *now* in office hours, the deadline of a step started at t with n days, the
    latest reminder day of a deadline). The calendar is immutable (time zone, office hours and
    closed days are fixed at construction), so the answers never go stale; each table is
    cleared when it grows past _LIMIT, which bounds memory in a bot that runs for years."""

    _LIMIT = 50_000

    def __init__(self, calendar: "BusinessCalendar") -> None:
        self.calendar = calendar
        self._now: tuple[datetime | None, date | None] = (None, None)
        self._deadlines: dict[tuple[str, int], datetime] = {}
        self._day_deadlines: dict[tuple[date, int], datetime] = {}
        self._days: dict[tuple[date, int], date] = {}
        self._starts: dict[date, datetime] = {}
        self._latest: dict[tuple[date, date, int], date] = {}

    @staticmethod
    def _put(table: dict, key, value):
        if len(table) >= _Memo._LIMIT:
            table.clear()
        table[key] = value
        return value

    def today(self, now: datetime) -> date | None:
        """The local date of *now* if it is in office hours, else None."""
        last, answer = self._now
        if last is not None and last is now:
            return answer
        cal = self.calendar
        answer = cal.local(now).date() if cal.in_office_hours(now) else None
        self._now = (now, answer)
        return answer

    def deadline(self, started: str, days: int) -> datetime:
        key = (started, days)
        try:
            return self._deadlines[key]
        except KeyError:
            pass
        # many cases start on the same day: compute once per (local start date, days)
        start_day = self.calendar.local(datetime.fromisoformat(started)).date()
        day_key = (start_day, days)
        try:
            value = self._day_deadlines[day_key]
        except KeyError:
            value = self._put(self._day_deadlines, day_key, self.calendar.deadline(
                datetime.fromisoformat(started), days))
        return self._put(self._deadlines, key, value)

    def add_business_days(self, day: date, n: int) -> date:
        key = (day, n)
        try:
            return self._days[key]
        except KeyError:
            return self._put(self._days, key, self.calendar.add_business_days(day, n))

    def office_start(self, day: date) -> datetime:
        try:
            return self._starts[day]
        except KeyError:
            return self._put(self._starts, day, self.calendar.office_start(day))

    def latest_reminder_day(self, deadline_day: date, today: date, repeat_every: int) -> date:
        """The latest of R1, R1+r, R1+2r … business days that is <= today, R1 being the first
        business day after the deadline day (today > deadline_day and today is a business
        day, so R1 <= today)."""
        return self.latest_repeat_day(self.add_business_days(deadline_day, 1), today,
                                      repeat_every)

    def latest_repeat_day(self, first: date, today: date, repeat_every: int) -> date:
        """The latest of first, first+r, first+2r … business days that is <= today
        (first <= today)."""
        key = (first, today, repeat_every)
        try:
            return self._latest[key]
        except KeyError:
            pass
        latest = first
        if repeat_every > 0:
            is_business_day = self.calendar.is_business_day
            one, count, day = timedelta(days=1), 0, first
            while day < today:
                day += one
                if is_business_day(day):
                    count += 1
                    if count % repeat_every == 0:
                        latest = day
        return self._put(self._latest, key, latest)


_MEMOS: "weakref.WeakKeyDictionary[BusinessCalendar, _Memo]" = weakref.WeakKeyDictionary()


def _memo(calendar: "BusinessCalendar") -> _Memo:
    try:
        return _MEMOS[calendar]
    except KeyError:
        pass
    except TypeError:                  # not weak-referenceable: remember nothing across calls
        return _Memo(calendar)
    memo = _Memo(calendar)
    try:
        _MEMOS[calendar] = memo
    except TypeError:
        pass
    return memo


# --------------------------------------------------------------------------- weekly digest
def weekly_digest_due(now: datetime, calendar: "BusinessCalendar") -> date | None:
    """The Monday of the current ISO week, if the weekly digest is due at *now*.

    It is due from office start of the week's first business day (Tuesday when Monday is a
    holiday) and, should the bot have been down then, at any later office-hours moment of the
    same week; ``digest_key`` makes it go out once a week. Any business day of a week is on or
    after the week's first business day, so this is "in office hours" plus the Monday.
    """
    if not calendar.in_office_hours(now):
        return None
    today = calendar.local(now).date()
    return today - timedelta(days=today.weekday())


def digest_key(person: str, monday: date) -> str:
    """The sent-at-most-once marker of one person's digest for the week starting *monday*."""
    return f"digest:{monday.isoformat()}:{person}"
