"""The use cases, wired together: one object the entry points (CLI, mail watcher, Slack,
Teams, the scheduler) call. Each method is one use case from bot/usecases and runs in one
unit of work; this module only composes them."""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any, Iterable

from bot.chat.render import mailbox_view
from bot.domain.access import Actor
from bot.domain.case import Case
from bot.domain.health import HEALTH_KEY, MailboxHealth, next_health
from bot.domain.org import Organisation
from bot.domain.redact import redact
from bot.ports import CaseStore, Clock, MailSender, Notifier
from bot.usecases.uow import UnitOfWork
from bot.usecases.archive import Archive
from bot.usecases.disclosure import Disclosure
from bot.usecases.base import Deps, Notices, Reply
from bot.usecases.commands import Commands
from bot.usecases.intake import Intake
from bot.usecases.outbox import Outbox
from bot.usecases.outlook import OutlookAbsences, RepliesReader
from bot.usecases.queries import Queries
from bot.usecases.records import Culling, Records
from bot.usecases.reminders import Reminders
from reminders.calendar import BusinessCalendar

log = logging.getLogger(__name__)

HOUSEKEEPING = timedelta(minutes=10)

__all__ = ["Reply", "Services"]


class Services:
    def __init__(self, org: Organisation, store: CaseStore, calendar: BusinessCalendar,
                 clock: Clock, notifiers: dict[str, Notifier] | None = None,
                 channels: dict[str, bool] | None = None, sender: MailSender | None = None):
        self.org, self.store, self.calendar, self.clock = org, store, calendar, clock
        self.uow = UnitOfWork(store)
        notifiers = notifiers if notifiers is not None else {}
        self.deps = Deps(org, store, self.uow, calendar, clock, notifiers,
                         channels or {"console": True}, sender)
        self.notices = Notices(self.deps)
        self.queries = Queries(self.deps)
        self.intake = Intake(self.deps, self.notices)
        self.outbox = Outbox(self.deps, self.notices)
        self.commands = Commands(self.deps, self.notices, self.intake, self.queries)
        self.intake.run_command = self.commands.handle   # commands answered by mail (DESIGN §7)
        self.reminders = Reminders(self.deps, self.notices, self.queries)
        self.records = Records(self.deps)
        self.archive = Archive(self.deps)
        self.disclosure = Disclosure(self.deps)
        self._housekept: datetime | None = None
        # Outlook working hours (issue 24): set by the composition root when Graph is the
        # mail source (bot.usecases.workhours.WorkingHoursRefresh)
        self.working_hours: Any = None
        self.outlook: OutlookAbsences | None = None     # issue 26: use_outlook() turns it on
        self._pruned: date | None = None           # the local day retention last ran

    @property
    def notifiers(self) -> dict[str, Notifier]:
        return self.deps.notifiers

    @property
    def channels(self) -> dict[str, bool]:
        return self.deps.channels

    @property
    def sender(self) -> MailSender | None:
        return self.deps.sender

    # ------------------------------------------------------------------ intake
    def ingest_mail(self, raw: bytes, *, arrived: datetime | None = None,
                    conversation_id: str | None = None) -> dict[str, Any]:
        return self.intake.ingest(raw, arrived=arrived, conversation_id=conversation_id)

    def ingest_many(self, items: Iterable[tuple[bytes, datetime | None, str | None]],
                    on_durable=None, *, quiet: bool = False) -> list[dict[str, Any]]:
        return self.intake.ingest_many(items, on_durable, quiet=quiet)

    # ------------------------------------------------------------------ commands
    def cull(self, decision: str, before, *, by: str, dry_run: bool) -> Culling:
        """Gallring by a configured decision (bot/usecases/records.py)."""
        return self.records.cull(decision, before, by=by, dry_run=dry_run)

    def handle_command(self, actor: Actor, text: str, channel: str, *,
                       private: bool = True) -> Reply:
        return self.commands.handle(actor, text, channel, private=private)

    # ------------------------------------------------------------------ outbox
    def deliver_outbox(self, *, wait: bool = True, only: set[str] | None = None) -> dict[str, int]:
        return self.outbox.deliver(wait=wait, only=only)

    # ------------------------------------------------------------------ Outlook (issue 26)
    def use_outlook(self, reader: RepliesReader) -> OutlookAbsences:
        self.outlook = OutlookAbsences(self.deps, reader)
        return self.outlook

    def refresh_outlook(self, *, force: bool = False) -> dict[str, int]:
        """Managers' automatic replies, each read at most every 15 minutes."""
        if self.outlook is None:
            return {"read": 0, "failed": 0}
        return self.outlook.refresh(force=force)

    def retry_outbox(self) -> dict[str, int]:
        """`outbox --retry`: failed notifications queued again, waiting ones due now."""
        return self.outbox.retry()

    def housekeep(self, *, force: bool = False) -> None:
        """Move what is no longer open out of the live set, every few minutes of the
        injected clock (the store stays bounded by what is open)."""
        now = self.clock.now()
        if not force and self._housekept and now - self._housekept < HOUSEKEEPING:
            return
        self._housekept = now
        self.store.housekeep(now)
        today = self.calendar.local(now).date()
        if force or self._pruned != today:          # retention: once a day is enough
            self._pruned = today
            self.forget_delivered(now)

    def forget_delivered(self, now: datetime | None = None) -> tuple[int, datetime]:
        """Retention: delivered notifications older than [retention] notifications_days
        leave the outbox log (the diary and the read log are never shortened by it).
        Returns how many went and the moment before which they were delivered."""
        now = now or self.clock.now()
        before = now - timedelta(days=self.org.notification_retention_days)
        gone = self.store.forget_delivered(before)
        if gone:
            log.info("gallrade %d levererade aviseringar äldre än %d dagar", gone,
                     self.org.notification_retention_days)
        return gone, before

    # ------------------------------------------------------------------ reminders
    def run_reminders(self, now: datetime | None = None, *, dry_run: bool = False) -> list[dict]:
        return self.reminders.run(now, dry_run=dry_run)

    # ------------------------------------------------------------------ queries
    def refresh_working_hours(self, now: datetime | None = None) -> dict[str, int]:
        """Read the Outlook working hours that are due to be read again (none without Graph)."""
        if self.working_hours is None:
            return {}
        return self.working_hours.run(now)

    def visible_cases(self, actor: Actor, *, include_closed: bool = False) -> list[Case]:
        return self.queries.visible_cases(actor, include_closed=include_closed)

    def is_overdue(self, case: Case, now: datetime | None = None) -> bool:
        return self.queries.is_overdue(case, now)

    def list_text(self, cases: list[Case]) -> str:
        return self.queries.list_text(cases)

    def deadline_text(self, case: Case) -> str | None:
        return self.queries.deadline_text(case)

    def status_text(self, case: Case) -> str:
        return self.queries.status_text(case)

    def status_json(self, case: Case, *, events: bool = True) -> dict[str, Any]:
        return self.queries.status_json(case, events=events)

    def report(self, year: int | None = None) -> dict[str, Any]:
        return self.queries.report(year)

    # ------------------------------------------------------------------ mailbox health
    def record_mailbox_health(self, ok: bool, error: str = "", mailbox: str = "") -> str | None:
        """After each mailbox round: tell the registrator once when the mailbox has been
        unreadable for organisation.mailbox_alert_minutes, and once when it recovers."""
        now = self.clock.now()
        with self.uow as store:
            before = MailboxHealth.from_dict(store.get_state(HEALTH_KEY))
            after, event = next_health(before, ok=ok, error=redact(error)[:200], now=now,
                                       alert_after=timedelta(minutes=self.org.mailbox_alert_minutes))
            if after == before:
                return None
            store.set_state(HEALTH_KEY, after.to_dict())
            if event:
                since = before.failing_since or after.failing_since or now.isoformat()
                local = self.calendar.local(datetime.fromisoformat(since))
                view = mailbox_view(self.org, event, mailbox=mailbox or self.org.mailbox,
                                    since=f"{local:%Y-%m-%d %H:%M}", error=after.error or before.error)
                for registrator in self.org.registrators():
                    self.notices.queue(registrator, event, view, f"{event}:{since}:{registrator}", now,
                                       urgent=True)   # the bot's own alarm: never held
                log.warning("brevlådan: %s (%s)", event, after.error or before.error)
            return event

    def close(self) -> None:
        self.outbox.close()
        if self.working_hours is not None:
            self.working_hours.source.close()
        close = getattr(self.outlook.reader, "close", None) if self.outlook else None
        if close is not None:
            close()
