"""The composition root: settings in, a wired bot out. Tests pass fakes for any part."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.chat.console import ConsoleNotifier
from bot.mail.maildir import MaildirMailSource
from bot.mail.pickup import PickupFolderMailSender
from bot.ports import Clock, MailSender, MailSource, Notifier, SystemClock
from bot.services import Services
from bot.settings import Settings
from bot.store.repository import TinyDbCaseStore
from reminders.calendar import BusinessCalendar

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)


@dataclass
class Bot:
    settings: Settings
    store: TinyDbCaseStore
    services: Services
    mail: MailSource | None
    calendar: BusinessCalendar
    clock: Clock
    notifiers: dict[str, Notifier] = field(default_factory=dict)

    def close(self) -> None:
        self.store.close()

    # ---------------------------------------------------------------- the run loop
    def poll_mailbox(self) -> list[dict[str, Any]]:
        """Fetch what waits, diarise it durably, then acknowledge it in the mailbox."""
        if self.mail is None:
            return []
        fetched = self.mail.fetch()
        if not fetched:
            return []
        results = self.services.ingest_many(
            ((raw, arrived, conversation) for raw, arrived, _, conversation in fetched))
        for _, _, source_id, _ in fetched:  # only after the commit in ingest_many
            self.mail.acknowledge(source_id)
        return results

    async def run_forever(self, poll_seconds: float = 1.0, stop: asyncio.Event | None = None) -> None:
        """One event loop: the mail watcher and the outbox; blocking work in threads."""
        import asyncio  # only `run` needs the event loop; read-only commands start faster
        stop = stop or asyncio.Event()
        from reminders.scheduler import start_scheduler
        scheduler = start_scheduler(self)
        log.info("avvikelsebot kör: källa=%s data=%s", self.settings.mail_source,
                 self.settings.data_dir)
        while not stop.is_set():
            try:
                results = await asyncio.to_thread(self.poll_mailbox)
                for result in results:
                    log.info("%s %s %s", result["outcome"], result["diary_number"] or "",
                             result["reason"])
                await asyncio.to_thread(self.services.deliver_outbox)
            except Exception:  # keep watching: one bad round must not stop the bot
                log.exception("fel i bevakningen; försöker igen")
            try:
                await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
            except asyncio.TimeoutError:
                pass
        scheduler.shutdown(wait=False)


def build(settings: Settings, *, mail: MailSource | None = None,
          notifiers: dict[str, Notifier] | None = None, store: TinyDbCaseStore | None = None,
          clock: Clock | None = None, sender: MailSender | None = None, readonly: bool = False,
          command: str = "avvikelsebot") -> Bot:
    org = settings.org
    clock = clock or SystemClock()
    calendar = BusinessCalendar(org.timezone, org.office_hours.start, org.office_hours.end,
                                org.office_hours.closed_days)
    store = store or TinyDbCaseStore(settings.data_dir, series=org.series, digits=org.digits,
                                     readonly=readonly, command=command)
    if notifiers is None:
        notifiers = {"console": ConsoleNotifier(org)}
    channels = {name: on for name, on in settings.channels().items() if name in notifiers}
    if mail is None and not readonly and settings.mail_source == "maildir":
        mail = MaildirMailSource(settings.data_dir / "inbox")
    if sender is None and not readonly:
        sender = PickupFolderMailSender(settings.data_dir / "utkorg")
    services = Services(org, store, calendar, clock, notifiers, channels, sender)
    return Bot(settings, store, services, mail, calendar, clock, notifiers)
