"""The composition root: settings in, a wired bot out. Tests pass fakes for any part."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from bot.chat.console import ConsoleNotifier
from bot.mail.maildir import MaildirMailSource
from bot.mail.pickup import PickupFolderMailSender
from bot.ops.metrics import Metrics, metered
from bot.errors import BotError, DatabaseUnavailable
from bot.ports import CaseStore, ChatFrontend, RunService, Clock, MailSender, MailSource, Notifier, SystemClock
from bot.services import Services
from bot.settings import Settings
from bot.store.holiday_copy import StoredHolidays
from bot.store.opening import open_store
from reminders.calendar import BusinessCalendar

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

# the longest IDLE (or poll wait) before a fresh fetch: a safety net for a change
# notification the server never sent, well inside IDLE's 29 minutes
MAIL_WAIT_SECONDS = 5 * 60
MAX_BACKOFF_SECONDS = 60.0
COMMAND_POLL_SECONDS = 0.2     # how soon `run` sees a command the command line left for it
MAILBOX_LOG_SECONDS = 300.0
LEAD_SECONDS = 1.0       # how often an instance tries to take over (or checks it still leads)
T = TypeVar("T")


@dataclass
class Bot:
    settings: Settings
    store: CaseStore
    services: Services
    mail: MailSource | None
    calendar: BusinessCalendar
    clock: Clock
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    frontends: list[RunService] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)
    leadership: Any = None        # bot.store.leader.Leadership with several instances (PostgreSQL)
    web_state: Any = None         # bot.web.auth.WebState the `webb` command issues links into

    def close(self) -> None:
        self.services.close()
        if self.web_state is not None:
            self.web_state.close()
        if self.leadership is not None:
            self.leadership.close()
        self.store.close()

    def as_leader(self, work: Callable[[], T], otherwise: T) -> T:
        """Mailbox and reminder-scan work: alone, always; among several instances on one
        database only on the leader, and fenced by its epoch so that a deposed leader's
        transactions are rolled back."""
        if self.leadership is None:
            return work()
        epoch = self.leadership.current()
        if epoch is None:
            return otherwise
        with getattr(self.store, "fenced")(epoch):
            return work()

    # ---------------------------------------------------------------- the run loop
    def poll_mailbox(self) -> list[dict[str, Any]]:
        """Fetch what waits, diarise it durably, then acknowledge it in the mailbox."""
        if self.mail is None:
            return []
        return self.as_leader(self._poll_mailbox, [])

    def _poll_mailbox(self) -> list[dict[str, Any]]:
        assert self.mail is not None
        from bot.mail.streaming import drain  # mailsec: one mail in memory at a time
        with self.metrics.mailbox_round(self.mail, self.clock.now()):   # ops: up, lag, last read
            results = drain(self.mail, self.services.ingest_many)  # mailsec: acknowledges after each durable group
        self.metrics.mail_outcomes(results)                               # ops: mails by outcome
        return results

    def serve_commands(self) -> int:
        """Changing commands the command line left for this running process (bot.commandbox)."""
        from bot import commandbox
        from bot.domain.access import Actor
        from bot.domain.case import CH_CLI
        from bot.texts import t

        def handle(person: str, text: str) -> tuple[bool, str]:
            reply = self.services.handle_command(Actor.person(person), text, CH_CLI)
            return reply.ok, reply.text

        def retry_outbox() -> tuple[bool, str, Any]:     # `outbox --retry` beside run
            counts = self.services.retry_outbox()
            return True, t(self.services.org.language, "cli_outbox_retried", **counts), counts
        return commandbox.serve(self.settings.data_dir, handle, {"outbox-retry": retry_outbox},
                                refused=t(self.services.org.language, "cli_command_refused"))

    async def _serve_commands(self, stop: asyncio.Event) -> None:
        import asyncio
        from bot import commandbox
        from bot.errors import StoreError
        from bot.texts import t
        try:
            await asyncio.to_thread(commandbox.answer_abandoned, self.settings.data_dir,
                                    t(self.services.org.language, "cli_command_abandoned"))
        except StoreError as exc:      # not our folder: refuse it once, at start
            log.error("kommandon från kommandoraden tas inte emot: %s", exc)
            return
        while not stop.is_set():
            try:
                if await asyncio.to_thread(self.serve_commands):
                    await asyncio.to_thread(self.services.deliver_outbox, wait=False)
            except DatabaseUnavailable:
                pass      # the store logs the outage once; the command is answered after it
            except Exception:
                log.exception("fel vid ett kommando från kommandoraden; försöker igen")
            await _pause(stop, COMMAND_POLL_SECONDS)

    async def run_forever(self, poll_seconds: float = 1.0, stop: asyncio.Event | None = None) -> None:
        """One event loop: the chat frontends, the mail watcher, the outbox and the reminder
        scan; blocking work (the store, IMAP, Graph) in threads."""
        import asyncio  # only `run` needs the event loop; read-only commands start faster
        stop = stop or asyncio.Event()
        url = self.settings.env.get("DATABASE_URL")
        if url and self.leadership is None:     # several instances may share the database
            from bot.store.leader import Leadership
            self.leadership = Leadership(url)
            await asyncio.to_thread(self.leadership.try_lead)
        from reminders.scheduler import start_scheduler
        scheduler = start_scheduler(self)
        for frontend in self.frontends:
            await frontend.start()
        log.info("avvikelsebot kör: källa=%s data=%s kanaler=%s", self.settings.mail_source,
                 self.settings.data_dir, ",".join(f.channel for f in self.frontends if getattr(f, "notifier", None)) or "konsol")
        tasks = [asyncio.create_task(self._watch_mailbox(poll_seconds, stop)),
                 asyncio.create_task(self._deliver_outbox(poll_seconds, stop)),
                 asyncio.create_task(self._serve_commands(stop))]
        if self.leadership is not None:
            tasks.append(asyncio.create_task(self._lead(stop)))
        try:
            await stop.wait()
        finally:
            interrupt = getattr(self.mail, "interrupt", None)
            if interrupt:
                interrupt()            # ends an IDLE at once
            await asyncio.gather(*tasks, return_exceptions=True)
            scheduler.shutdown(wait=False)
            for frontend in reversed(self.frontends):
                await frontend.stop()
            close = getattr(self.mail, "close", None)
            if close:
                await asyncio.to_thread(close)

    async def _lead(self, stop: asyncio.Event) -> None:
        """Keep (or take over) the leadership: every second, so a killed or frozen leader's
        mailbox and scan move to another instance within seconds (bot.store.leader)."""
        import asyncio
        from concurrent.futures import ThreadPoolExecutor
        # a thread of its own: the renewal never waits behind mailbox, outbox or chat work in
        # the shared pool (a lease not renewed for 5 s is taken over)
        renewal = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledarskap")
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                await loop.run_in_executor(renewal, self.leadership.try_lead)
                await _pause(stop, LEAD_SECONDS)
        finally:
            renewal.shutdown(wait=False)

    async def _watch_mailbox(self, poll_seconds: float, stop: asyncio.Event) -> None:
        """Fetch, diarise, acknowledge; then wait for the server to say there is more (IMAP
        IDLE) or for the poll interval. A mailbox that cannot be read is retried with
        back-off, and its health is reported to the registrator."""
        import asyncio
        failures, last_report = 0, 0.0
        wait_for_mail = getattr(self.mail, "wait_for_mail", None)
        while not stop.is_set():
            if self.leadership is not None and not self.leadership.is_leader:
                await _pause(stop, min(poll_seconds, LEAD_SECONDS))   # another instance reads
                continue
            try:
                results = await asyncio.to_thread(self.poll_mailbox)
                for result in results:
                    log.info("%s %s %s", result["outcome"], result["diary_number"] or "",
                             result["reason"])
                if results:    # claims at once; the sends go on in the outbox's own threads
                    await asyncio.to_thread(self.services.deliver_outbox, wait=False)
                if failures:
                    log.info("brevlådan går att läsa igen efter %d försök", failures)
                failures = 0
                await asyncio.to_thread(self.services.record_mailbox_health, True)
                last_report = self._log_mailbox(last_report)
                if wait_for_mail is not None:
                    await asyncio.to_thread(wait_for_mail, MAIL_WAIT_SECONDS)
                    continue
                delay = poll_seconds
            except DatabaseUnavailable:
                # the store said so once; the mailbox itself is fine, and its health is kept
                # in the database: nothing to record; the store paces the reconnects
                await _pause(stop, max(poll_seconds, LEAD_SECONDS))
                continue
            except Exception as exc:  # keep watching: the mail stays in the mailbox meanwhile
                if self.leadership is not None and not self.leadership.is_leader:
                    # a leader deposed in the middle (frozen, then replaced): its work was
                    # refused and the mail stays for the new leader; not the mailbox's fault
                    log.warning("brevlådan lämnad åt den nya ledaren: %s", exc)
                    continue
                failures += 1
                delay = min(poll_seconds * 2 ** failures, MAX_BACKOFF_SECONDS)
                if isinstance(exc, BotError):
                    log.warning("brevlådan: %s; nytt försök om %.1f s", exc, delay)
                else:
                    log.exception("fel i bevakningen; nytt försök om %.1f s", delay)
                try:
                    await asyncio.to_thread(self.services.record_mailbox_health, False,
                                            str(exc), self._mailbox_name())
                except Exception:
                    log.exception("kunde inte spara brevlådans hälsa")
            await _pause(stop, delay)

    async def _deliver_outbox(self, poll_seconds: float, stop: asyncio.Event) -> None:
        import asyncio
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.services.deliver_outbox, wait=False)
                await asyncio.to_thread(self.services.housekeep)   # every ten minutes
                if self.services.outlook is not None:   # automatic replies, issue 26
                    await asyncio.to_thread(self.as_leader, self.services.refresh_outlook, None)
            except DatabaseUnavailable:
                pass      # the store logs the outage once, when it starts and when it ends
            except Exception:
                log.exception("fel vid utskick; försöker igen")
            await _pause(stop, poll_seconds)

    def _mailbox_name(self) -> str:
        describe = getattr(self.mail, "describe", None)
        return str(describe().get("mailbox", "")) if describe else ""

    def _log_mailbox(self, last_report: float) -> float:
        """Every few minutes: source, cursor and lag, so an operator sees the watcher lives."""
        import time
        describe = getattr(self.mail, "describe", None)
        if describe is None or time.monotonic() - last_report < MAILBOX_LOG_SECONDS:
            return last_report
        info = describe()
        log.info("brevlåda %s: %s markör=%s eftersläpning=%ss", info.get("source"),
                 info.get("mailbox"), info.get("cursor"), info.get("lag_seconds"))
        return time.monotonic()


async def _pause(stop, seconds: float) -> None:
    """Sleep, but wake at once when the bot is told to stop."""
    import asyncio
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


def build(settings: Settings, *, mail: MailSource | None = None,
          notifiers: dict[str, Notifier] | None = None, store: CaseStore | None = None,
          clock: Clock | None = None, sender: MailSender | None = None, readonly: bool = False,
          command: str = "avvikelsebot", frontends: list[ChatFrontend] | None = None) -> Bot:
    """Wire the bot. Parts not passed in come from the settings: the mail source and sender
    of MAIL_SOURCE, and a chat frontend per configured channel (DESIGN §9)."""
    org = settings.org
    clock = clock or SystemClock()
    holidays = StoredHolidays(settings.data_dir)
    calendar = BusinessCalendar(org.timezone, org.office_hours.start, org.office_hours.end,
                                org.office_hours.closed_days, holiday_table=holidays)
    store = store or open_store(settings, readonly=readonly, command=command)
    if not readonly and settings.data_dir.is_dir():   # the copy short-lived readers use
        holidays.keep_current(calendar.local(clock.now()).year)
    from_settings = notifiers is None and not readonly
    if notifiers is None:
        notifiers = {"console": ConsoleNotifier(org)}
    if mail is None and not readonly:
        mail = _mail_source(settings)
    if sender is None and not readonly:
        sender = _mail_sender(settings)
    if sender is not None:
        from bot.chat.counterpart import CounterpartMailer
        notifiers.setdefault(CounterpartMailer.channel, CounterpartMailer(sender, store.read_raw))
    channels = {name: on for name, on in settings.channels().items() if name in notifiers}
    services = Services(org, store, calendar, clock, notifiers, channels, sender)
    frontends = list(frontends or [])
    if from_settings:
        frontends += _chat_frontends(settings, services)
        if settings.channels()["email"] and sender is not None:
            from bot.chat.email import EmailNotifier
            notifiers["email"] = EmailNotifier(org, sender)
            services.channels["email"] = True
    for frontend in frontends:
        notifiers[frontend.channel] = frontend.notifier
        services.channels[frontend.channel] = True
    if from_settings and settings.mail_source == "graph":   # the people's Outlook working hours
        from bot.mail.graph import GraphWorkingHours
        from bot.usecases.workhours import WorkingHoursRefresh
        services.working_hours = WorkingHoursRefresh(
            services.deps, GraphWorkingHours.from_settings(settings))
    metrics = Metrics()
    metered(notifiers, metrics, clock)
    bot = Bot(settings, store, services, mail, calendar, clock, notifiers, list(frontends), metrics)
    if settings.env.get("WEB_PORT"):      # `webb` in chat gives a personal sign-in link
        from bot.web.auth import LoginLinks
        bot.web_state = web_state(settings, command=command)
        links = LoginLinks(settings, tokens=bot.web_state.tokens)
        services.commands.login_link = lambda person, now, target=None: (
            links.issue_login_link(person, now, target), links.options.link_minutes)
        services.outbox.web_base = links.options.base_url   # a bundle links to its cases
        services.deps.web_url = links.options.base_url   # notifications link to their case
    if from_settings and org.outlook_absence and settings.mail_source == "graph":
        from bot.mail.graph import GraphAutomaticReplies      # issue 26
        services.use_outlook(GraphAutomaticReplies.from_settings(settings))
    if from_settings:
        from bot.ops.health import health_server
        health = health_server(bot, mail_wait_seconds=MAIL_WAIT_SECONDS)
        if health is not None:
            bot.frontends.append(health)
    return bot


def web_state(settings: Settings, options: Any = None, command: str = "web") -> Any:
    """The web's sign-in tokens, sessions, pending sign-in flows and read log
    (bot.web.auth.WebState): with DATABASE_URL in PostgreSQL, shared by every instance on the
    database (bot.store.web_state); else a token file and the read log's files in the state
    directory and sessions in this process's memory: one instance only."""
    from bot.store.postgres import is_database_url
    from bot.web.auth import WebOptions, WebState
    from bot.web.readlog import ReadLog
    options = options or WebOptions.from_settings(settings)
    url = settings.env.get("DATABASE_URL")
    if not url or not is_database_url(url):
        return WebState.local(options)
    from bot.store.web_state import PostgresWebState
    shared = PostgresWebState(url, link_minutes=options.link_minutes,
                              session_hours=options.session_hours, command=command,
                              older_readlog=ReadLog(options.state_dir))
    return WebState(shared.tokens, shared.sessions, shared.pending, shared.readlog,
                    close=shared.close, shared=True)


def _mail_source(settings: Settings) -> MailSource:
    if settings.mail_source == "imap":
        from bot.mail.imap import ImapMailSource
        return ImapMailSource.from_settings(settings)
    if settings.mail_source == "graph":
        from bot.mail.graph import GraphMailSource
        return GraphMailSource.from_settings(settings)
    return MaildirMailSource(settings.data_dir / "inbox")


def _mail_sender(settings: Settings) -> MailSender:
    """Send through the configured mailbox; without one, `skicka` fills a pickup folder."""
    if settings.mail_source == "graph":
        from bot.mail.graph import GraphMailSender
        return GraphMailSender.from_settings(settings)
    if settings.env.get("SMTP_HOST"):
        from bot.mail.smtp import SmtpMailSender
        return SmtpMailSender.from_settings(settings)
    return PickupFolderMailSender(settings.data_dir / "utkorg")


def _chat_frontends(settings: Settings, services: Services) -> list[ChatFrontend]:
    configured = settings.channels()
    frontends: list[ChatFrontend] = []
    if configured["slack"]:
        from handlers.slack import create_slack
        frontends.append(create_slack(settings, services))
    if configured["teams"]:
        from handlers.teams import create_teams
        frontends.append(create_teams(settings, services))
    return frontends
