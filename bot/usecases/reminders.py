"""The reminder scan (DESIGN §6): queue every reminder, escalation and weekly digest due at
`now` that was not queued before. The marker and the notification land in the same unit of
work, so a restart never sends one twice and a downtime only delays it to the next scan in
office hours. One marker per case, step, level and recipient holds the last due day sent."""
from __future__ import annotations

from datetime import date, datetime

from bot.chat.render import digest_view, reminder_view
from bot.domain.case import Case, iso
from bot.domain.org import Person
from bot.domain.disclosure import STEP as DISCLOSURE_STEP
from bot.domain.process import LEX_STEP, current_step, lex_step
from bot.texts import t
from bot.usecases.base import Deps, Notices
from bot.usecases.queries import Queries
from reminders.rules import Due, due_reminders, weekly_digest_due


def _urgent(case: Case, due: Due) -> bool:
    """A red case's reminders and escalations, and a Lex Maria/Sarah assessment's, go at once."""
    return case.severity == "red" or due.step == LEX_STEP


def reminder_slot(due: Due) -> str:
    return f"{due.number}:{due.step}:{due.level}:{due.recipient}"


class Reminders:
    def __init__(self, deps: Deps, notices: Notices, queries: Queries):
        self.deps, self.notices, self.queries = deps, notices, queries

    def run(self, now: datetime | None = None, *, dry_run: bool = False) -> list[dict]:
        now = now or self.deps.clock.now()
        if dry_run:
            return self._scan(now, dry_run=True)
        with self.deps.uow:
            return self._scan(now, dry_run=False)

    def _scan(self, now: datetime, *, dry_run: bool) -> list[dict]:
        store, calendar, org = self.deps.store, self.deps.calendar, self.deps.org
        subscriptions = store.subscriptions()
        results: list[dict] = []
        open_cases = store.open_cases()
        for case in open_cases:
            for due in due_reminders(case, now, calendar, org, subscriptions):
                day = due.marker or calendar.local(due.due).date().isoformat()
                already = store.reminder_sent(reminder_slot(due), day)
                addressee = self._addressee(due.recipient, now)
                results.append({**addressee, "diary_number": due.number,
                                "step": due.step, "level": due.level, "due": iso(due.due),
                                "deadline": iso(due.deadline), "already_sent": already,
                                **self._delivery(addressee["recipient"], due.level,
                                                 _urgent(case, due), now)})
                if not dry_run and not already:
                    self._queue_reminder(case, due, day, now)
            results += self._chase(case, now, dry_run)
        results += self._digests(open_cases, now, subscriptions, dry_run)
        return results

    def _addressee(self, person_id: str, now: datetime) -> dict:
        """Who really gets it at `now`: the stand-in while the person is away (as
        Notices.queue routes it), so the dry run shows what `run` will do."""
        deputy = self.notices.stand_in(person_id, now)
        if deputy is None:
            return {"recipient": person_id, "on_behalf_of": None}
        return {"recipient": deputy, "on_behalf_of": person_id}

    def _delivery(self, person_id: str, event: str, urgent: bool, now: datetime) -> dict:
        """When the item would be delivered under the recipient's preference (issue 24):
        `delivery` None = muted (tyst); `preference` as the person typed it."""
        person = self.deps.org.people.get(person_id)
        if person is None:
            return {"delivery": iso(now), "preference": None}
        channel = self.notices.channel_for(person)
        preference, when = self.notices.delivery(person_id, channel, event, urgent, now)
        return {"delivery": iso(when) if when else None,
                "preference": preference.word() if preference else None}

    def _chase(self, case: Case, now: datetime, dry_run: bool) -> list[dict]:
        """The automatic reminder to a counterpart that asked for one, on the agreed day
        (in office hours), once per sending: afterwards the registrator chases by hand."""
        from bot.domain.process import current_step, may_remind, step_deadline
        from bot.usecases.chase import in_flight, queue_reminder, reminded_since_sent
        org, calendar = self.deps.org, self.deps.calendar
        counterpart = org.counterparts.get(case.counterpart or "")
        if not (counterpart and counterpart.remind_automatically and may_remind(case)):
            return []
        deadline = step_deadline(case, org, calendar)
        step = current_step(case, org)
        if (deadline is None or step is None or now <= deadline or not calendar.in_office_hours(now)
                or (case.imported and deadline <= datetime.fromisoformat(case.imported))
                or reminded_since_sent(case)):
            return []
        result = {"diary_number": case.number, "recipient": counterpart.id, "step": step.name,
                  "level": "counterpart", "due": iso(now), "deadline": iso(deadline),
                  "already_sent": in_flight(self.deps, case)}
        if not dry_run and not result["already_sent"]:
            queue_reminder(self.deps, case, None, "system", now)
        return [result]

    def _queue_reminder(self, case: Case, due: Due, day: str, now: datetime) -> None:
        org = self.deps.org
        if due.step == DISCLOSURE_STEP:
            owners = org.registrators()
        else:
            step = lex_step(case, org) if due.step == LEX_STEP else current_step(case, org)
            owners = list(step.owners) if step else []
        view = reminder_view(org, case, step=due.step, level=due.level, deadline=due.deadline,
                             calendar_local=self.deps.calendar.local, owners=owners)
        self.notices.queue(due.recipient, due.level, view, due.key, now, urgent=_urgent(case, due))
        self.deps.store.mark_reminder(reminder_slot(due), day, iso(now))

    def _digests(self, open_cases: list[Case], now: datetime, subscriptions,
                 dry_run: bool) -> list[dict]:
        store, org, calendar = self.deps.store, self.deps.org, self.deps.calendar
        monday = weekly_digest_due(now, calendar)
        if monday is None:
            return []
        results = []
        for person in org.people.values():
            if not person.roles & {"manager", "ma", "sas"}:
                continue
            mine = [c for c in open_cases if self._in_digest(person, c, subscriptions)]
            if not mine:
                continue  # nobody is pinged for nothing
            slot = f"digest:{person.id}"
            already = store.reminder_sent(slot, monday.isoformat())
            addressee = self._addressee(person.id, now)
            results.append({**addressee, "diary_number": None, "step": "digest",
                            "level": "digest", "due": iso(calendar.office_start(monday)),
                            "deadline": None, "already_sent": already,
                            **self._delivery(addressee["recipient"], "digest", False, now)})
            if dry_run or already:
                continue
            self._queue_digest(person, mine, monday, now)
        return results

    def _queue_digest(self, person: Person, mine: list[Case], monday: date, now: datetime) -> None:
        is_overdue = self.queries.is_overdue
        mine.sort(key=lambda c: (not is_overdue(c, now), c.key))
        overdue = sum(1 for c in mine if is_overdue(c, now))
        lines = [self.queries.list_line(c, now) for c in mine]
        # red cases nobody said "seen" to (kvittera): listed again at the end
        unacknowledged = [c for c in mine if c.severity == "red" and not c.acks]
        if unacknowledged:
            lines += ["", t(self.deps.lang, "digest_unacknowledged")]
            lines += [self.queries.list_line(c, now) for c in unacknowledged]
        view = digest_view(self.deps.org, lines, len(mine), overdue)
        self.notices.queue(person.id, "digest", view, f"digest:{monday.isoformat()}:{person.id}", now)
        self.deps.store.mark_reminder(f"digest:{person.id}", monday.isoformat(), iso(now))

    def _in_digest(self, person: Person, case: Case, subscriptions) -> bool:
        org = self.deps.org
        if "manager" in person.roles and person.id in org.managers_of(case.unit):
            return True
        return bool(person.roles & {"ma", "sas"}) and person.id in org.subscribers_of(
            case.unit, subscriptions)
