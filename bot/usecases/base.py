"""What every use case shares: its dependencies, and how notifications are queued.

A notification is queued in the same unit of work as the case change that caused it (the
durable outbox, DESIGN §5); delivery is the outbox use case's business.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.chat.render import notification_view, plain_text, with_web_link
from bot.domain.absence import STATE_PREFIX, Absence, stand_in_for
from bot.domain.case import Case, iso
from bot.domain.org import Organisation, Person
from bot.domain.process import Notice, Outcome, lex_step, step_deadline
from bot.texts import t
from bot.ports import CaseStore, Clock, MailSender, Notifier
from bot.usecases.uow import UnitOfWork
from reminders.calendar import BusinessCalendar

# case events a unit's team channel is told about (for information)
UNIT_POST_EVENTS = frozenset({"incoming_diarised", "unit_assigned", "outgoing_diarised",
                              "response_incoming", "response_outgoing"})


@dataclass(frozen=True)
class Reply:
    text: str
    ok: bool = True


@dataclass
class Deps:
    org: Organisation
    store: CaseStore
    uow: UnitOfWork
    calendar: BusinessCalendar
    clock: Clock
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    channels: dict[str, bool] = field(default_factory=lambda: {"console": True})
    sender: MailSender | None = None
    web_url: str | None = None       # the web overview's address, when it is switched on

    @property
    def lang(self) -> str:
        return self.org.language


class Notices:
    """Queues notifications into the outbox (inside the caller's unit of work)."""

    def __init__(self, deps: Deps):
        self.deps = deps

    def save(self, outcome: Outcome, now: datetime) -> None:
        """The case and its notifications in the same write."""
        self.deps.store.put_case(outcome.case)
        for notice in outcome.notices:
            self.queue_notice(outcome.case, notice, now)

    def queue_notice(self, case: Case, notice: Notice, now: datetime) -> None:
        org, calendar = self.deps.org, self.deps.calendar
        deadline = step_deadline(case, org, calendar)
        lex = lex_step(case, org) if notice.event == "lex_requested" else None
        if lex is not None:       # the assessor's own clock, not the case's next step
            deadline = calendar.deadline(datetime.fromisoformat(lex.started), lex.days)
        for recipient in notice.recipients:
            view = notification_view(org, case, notice.event, recipient.role, deadline,
                                     calendar.local)
            key = f"{case.number}:{notice.event}:{len(case.events)}:{recipient.person}"
            self.queue(recipient.person, notice.event, view, key, now)
        if notice.event in UNIT_POST_EVENTS:
            self._queue_unit_post(case, notice.event, deadline, now)

    def _queue_unit_post(self, case: Case, event: str, deadline, now: datetime) -> None:
        """The unit's team channel sees its cases come and go (DESIGN §5), for information."""
        org, channels = self.deps.org, self.deps.channels
        unit = org.units.get(case.unit or "")
        if unit is None:
            return
        channel = ("slack" if unit.slack_channel and channels.get("slack") else
                   "teams" if unit.teams_channel and channels.get("teams") else None)
        if channel is None:
            return
        view = with_web_link(org, notification_view(org, case, event, "info", deadline,
                                                    self.deps.calendar.local), self.deps.web_url)
        self.deps.store.add_notification(_item(
            f"{case.number}:{event}:{len(case.events)}:unit:{unit.id}", f"unit:{unit.id}",
            channel, case.number, event, plain_text(org, view), view, now))

    def queue(self, person_id: str, event: str, view: dict, key: str, now: datetime) -> bool:
        org = self.deps.org
        person = org.people.get(person_id)
        if person is None:
            return False
        deputy = self.stand_in(person_id, now)
        if deputy is not None:   # away: the stand-in gets it, saying on whose behalf
            view = {**view, "on_behalf_of": person_id,
                    "headline": t(org.language, "on_behalf_of", name=person.name)
                    + " " + view.get("headline", "")}
            person = org.people[deputy]
        view = with_web_link(org, view, self.deps.web_url)
        return self.deps.store.add_notification(_item(
            key, person.id, self.channel_for(person), view.get("number"), event,
            plain_text(org, view), view, now))

    def stand_in(self, person_id: str, now: datetime) -> str | None:
        absence = Absence.from_state(self.deps.store.get_state(STATE_PREFIX + person_id))
        if absence is None:
            return None
        return stand_in_for(self.deps.org, person_id, absence,
                            self.deps.calendar.local(now).date())

    def channel_for(self, person: Person) -> str:
        """The first channel the person has that is configured (DESIGN §5)."""
        channels = self.deps.channels
        if person.slack and channels.get("slack"):
            return "slack"
        if person.teams and channels.get("teams"):
            return "teams"
        if channels.get("email"):
            return "email"
        return "console"


def _item(key: str, recipient: str, channel: str, number: str | None, event: str, text: str,
          view: dict, now: datetime) -> dict:
    return {"id": key, "recipient": recipient, "channel": channel, "diary_number": number,
            "event": event, "text": text, "view": view, "state": "pending",
            "created": iso(now), "attempts": 0, "next_attempt": iso(now)}
