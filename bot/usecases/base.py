"""What every use case shares: its dependencies, and how notifications are queued.

A notification is queued in the same unit of work as the case change that caused it (the
durable outbox, DESIGN §5); delivery is the outbox use case's business.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from bot.chat.render import notification_view, plain_text, with_web_link
from bot.domain.absence import OUTLOOK_PREFIX, STATE_PREFIX, effective_absence, stand_in_for
from bot.domain.bundling import bundlable, held_until
from bot.domain.case import Case, iso
from bot.domain import notify
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
            self.queue(recipient.person, notice.event, view, key, now,
                       urgent=is_urgent(case, notice.event))
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
        # a team channel is not a person: its posts are not bundled (bot.domain.bundling)
        self.deps.store.add_notification(_item(
            f"{case.number}:{event}:{len(case.events)}:unit:{unit.id}", f"unit:{unit.id}",
            channel, case.number, event, plain_text(org, view), view, now))

    def queue(self, person_id: str, event: str, view: dict, key: str, now: datetime, *,
              urgent: bool = False) -> bool:
        """Queue one notice for a person (their stand-in while they are away), due when the
        recipient's preference on their channel says (bot.domain.notify): `urgent` ones (red
        cases, Lex Maria/Sarah requests, the bot's own alarms) at once, whatever it says."""
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
        channel = self.channel_for(person)
        item = self._bundling(_item(key, person.id, channel, view.get("number"), event,
                                    plain_text(org, view), view, now), now)
        scheduled = self.schedule(person.id, channel, event, urgent, now)
        if scheduled.get("next_attempt") and scheduled["next_attempt"] < item["next_attempt"]:
            # a kännedom copy's info time (bundling) is later than the preference's: it stands
            scheduled["next_attempt"] = scheduled["held_until"] = item["next_attempt"]
        item.update(scheduled)
        return self.deps.store.add_notification(item)

    # ------------------------------------------------------------------ preferences
    def preference(self, person_id: str, channel: str) -> notify.Preference | None:
        """The person's own for the channel, else the organisation's default; None when
        neither is set: at once, at any hour (as before preferences existed)."""
        state = self.deps.store.get_state(notify.PREFIX + person_id)
        return notify.preference_for(state, channel) or self.default_preference()

    def default_preference(self) -> notify.Preference | None:
        return notify.parse_preference(self.deps.org.notify_default or "")

    def working_hours(self, person_id: str) -> notify.WorkingHours:
        """The person's Outlook working hours when they were read (Graph), else the office's."""
        office = notify.WorkingHours.office(self.deps.calendar)
        return notify.hours_from_state(self.deps.store.get_state(notify.HOURS_PREFIX + person_id),
                                       office)

    def delivery(self, person_id: str, channel: str, event: str, urgent: bool,
                 now: datetime) -> tuple[notify.Preference | None, datetime | None]:
        """The recipient's preference and when the notice goes out under it (None: muted)."""
        preference = self.preference(person_id, channel)
        if preference is None:
            return None, now
        if event == "digest" and preference.mode == notify.QUIET:
            preference = notify.Preference(notify.IMMEDIATE)   # the summary a quiet person gets
        when = notify.delivery_time(preference, self.working_hours(person_id), urgent, now,
                                    self.deps.calendar)
        return preference, when

    def schedule(self, person_id: str, channel: str, event: str, urgent: bool,
                 now: datetime) -> dict:
        """The outbox fields for the delivery time: held until then (`next_attempt`, the
        outbox claims nothing before it), or `muted`: recorded, never sent by chat."""
        preference, when = self.delivery(person_id, channel, event, urgent, now)
        if preference is None:
            return {}
        if when is None:
            return {"state": "muted", "muted_at": iso(now), "preference": preference.word()}
        if when > now:
            return {"next_attempt": iso(when), "held_until": iso(when),
                    "preference": preference.word()}
        return {}

    def _bundling(self, item: dict, now: datetime) -> dict:
        """A reminder, escalation or kännedom copy may wait for the person's bundle
        (bot.domain.bundling); a kännedom copy waits for the next info time."""
        rules = self.deps.org.notifications
        view = item["view"]
        if bundlable(item["event"], view.get("role"), bool(view.get("red")), rules):
            item["bundlable"] = True
            item["next_attempt"] = iso(held_until(now, item["event"], view.get("role"), rules,
                                                  self.deps.calendar))
        return item

    def stand_in(self, person_id: str, now: datetime) -> str | None:
        """`frånvaro`, else Outlook's automatic replies (issue 26, when [mail] outlook_absence)."""
        store, org, local = self.deps.store, self.deps.org, self.deps.calendar.local
        outlook = store.get_state(OUTLOOK_PREFIX + person_id) if org.outlook_absence else None
        absence = effective_absence(person_id, store.get_state(STATE_PREFIX + person_id),
                                    outlook, now, local, org.timezone)
        if absence is None:
            return None
        return stand_in_for(org, person_id, absence, local(now).date())

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


def is_urgent(case: Case, event: str) -> bool:
    """Always delivered at once: a red case, a Lex Maria/Sarah assessment request."""
    return case.severity == "red" or event == "lex_requested"


def _item(key: str, recipient: str, channel: str, number: str | None, event: str, text: str,
          view: dict, now: datetime) -> dict:
    return {"id": key, "recipient": recipient, "channel": channel, "diary_number": number,
            "event": event, "text": text, "view": view, "state": "pending",
            "created": iso(now), "attempts": 0, "next_attempt": iso(now),
            # issue 26: a random marker the Teams card carries, looked for after a crash
            "marker": secrets.token_hex(8)}
