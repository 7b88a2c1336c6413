"""/healthz, /readyz and /metrics inside `run`, on HEALTH_BIND:HEALTH_PORT (127.0.0.1:9464
by default; HEALTH_PORT=off turns the listener off).

- /healthz: 200 while the process's event loop answers (the server runs on that loop).
- /readyz: 200 when the mailbox was read recently, the registrator has not been alerted that
  it cannot be read, the oldest mail waiting in it is not late, the outbox has no failed
  notification and none waiting longer than the mailbox alert time
  (organisation.mailbox_alert_minutes), and the diary (the database) answers; 503 otherwise.
  Either way a JSON body says why; never 500, whatever fails while it looks.
- /metrics: the Prometheus text format of bot/ops/metrics.py's registry (200 also while the
  database is down: the outbox gauges then keep their last values).

Importing this module starts nothing. The server is a frontend-like object with async
start()/stop(), so `run` starts and stops it with the chat frontends.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from aiohttp import web

from bot.domain.bundling import waiting_since
from bot.domain.health import HEALTH_KEY
from bot.domain.redact import redact
from bot.errors import StoreError
from bot.ops.metrics import Metrics
from bot.texts import t

log = logging.getLogger(__name__)

DEFAULT_PORT = 9464                 # the port Prometheus exporters of this kind commonly use
OFF_WORDS = frozenset({"off", "av", "nej", "no", "false"})
LOCK_WAIT_SECONDS = 2.0             # a long transaction may hold the store; readiness does not wait long
WAITING = ("pending", "sending")    # not delivered yet: due, backing off, or in flight


@dataclass(frozen=True)
class HealthConfig:
    host: str
    port: int


def health_config(settings) -> HealthConfig | None:
    """None when HEALTH_PORT says off."""
    if (settings.env.get("HEALTH_PORT") or "").strip().lower() in OFF_WORDS:
        return None
    return HealthConfig(settings.bind("HEALTH_BIND"), settings.port("HEALTH_PORT", DEFAULT_PORT))


# ---------------------------------------------------------------------------- readiness
class BotProbe:
    """Reads what /readyz reports from a running Bot: the mailbox rounds seen by the
    metrics, the source's own lag, and the outbox in the store."""

    def __init__(self, bot, stale_after_seconds: float):
        self.bot = bot
        self.stale_after = stale_after_seconds
        self._outbox_seen: dict[str, Any] | None = None
        self._alert_seen: str | None = None

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Blocking (reads the store): call it in a worker thread."""
        bot = self.bot
        lang, now = bot.settings.org.language, bot.clock.now()
        reasons: list[str] = []
        mailbox = self._mailbox(now, lang, reasons)
        database: dict[str, Any] = {"ok": True, "error": None}
        try:
            outbox = self._outbox(now, lang, reasons)
        except StoreError as exc:      # the database is down or restarting
            database = {"ok": False, "error": redact(str(exc))[:200]}
            reasons.append(t(lang, "ready_database_down", error=database["error"]))
            outbox = dict(self._outbox_seen or {"ok": True, "pending": None, "failed": None})
            outbox["stale"] = True
        body = {"ready": not reasons, "checked": self._local(now),
                "checks": {"mailbox": mailbox, "outbox": outbox, "database": database},
                "reasons": reasons}
        return not reasons, body

    def _mailbox(self, now: datetime, lang: str, reasons: list[str]) -> dict[str, Any]:
        watch = self.bot.metrics.mailbox
        describe = getattr(self.bot.mail, "describe", None)
        info = describe() if describe else {}
        result: dict[str, Any] = {
            "source": self.bot.settings.mail_source,
            "mailbox": self._maildir() or info.get("mailbox"),
            "last_success": self._local(watch.last_success), "failing_since": self._local(watch.failing_since),
            "error": self._without_paths(watch.error) or None,
            "lag_seconds": round(watch.lag_seconds, 1)}
        problem: str | None
        if watch.last_success is None:
            problem = (t(lang, "ready_mailbox_failing", since=self._local(watch.failing_since),
                         error=self._without_paths(watch.error)) if watch.failing_since
                       else t(lang, "ready_mailbox_never"))
        elif (now - watch.last_success).total_seconds() > self.stale_after:
            problem = (t(lang, "ready_mailbox_failing", since=self._local(watch.failing_since),
                         error=self._without_paths(watch.error)) if watch.failing_since
                       else t(lang, "ready_mailbox_stale", since=self._local(watch.last_success)))
        elif watch.lag_seconds > self.stale_after:
            problem = t(lang, "ready_mailbox_lag", minutes=int(watch.lag_seconds // 60))
        else:
            problem = self._alerted(lang)
        result["ok"] = problem is None
        if problem:
            reasons.append(problem)
        return result

    def _alerted(self, lang: str) -> str | None:
        """Not ready from the moment the registrator is told the mailbox cannot be read: the
        same durable record that decided the alert (bot.services.record_mailbox_health),
        so /readyz never lags it (issue 22 item 9)."""
        lock = self.bot.store.lock
        if not lock.acquire(timeout=LOCK_WAIT_SECONDS):
            return self._alert_seen
        try:
            state = self.bot.store.get_state(HEALTH_KEY) or {}
        finally:
            lock.release()
        self._alert_seen = None
        if state.get("alerted"):
            since = state.get("failing_since")
            self._alert_seen = t(lang, "ready_mailbox_alerted",
                                 error=self._without_paths(state.get("error")) or "",
                                 since=self._local(datetime.fromisoformat(since)) if since else "–")
        return self._alert_seen

    def _maildir(self) -> str | None:
        """Named inside the data directory: any local caller may ask /readyz, and where the
        diary lives on disk is none of its business."""
        return "inbox" if self.bot.settings.mail_source == "maildir" else None

    def _without_paths(self, error: str | None) -> str | None:
        """An error text (an OSError names its file) with the data directory left out."""
        if not error:
            return error
        return error.replace(str(self.bot.settings.data_dir.resolve()), "<data>").replace(
            str(self.bot.settings.data_dir), "<data>")

    def _outbox(self, now: datetime, lang: str, reasons: list[str]) -> dict[str, Any]:
        items = self._outbox_items()
        if items is None:        # the store is busy delivering: report what was seen last
            result = dict(self._outbox_seen or {"ok": True, "pending": None, "failed": None})
            result["stale"] = True
            return result
        pending = [n for n in items if n.get("state") in WAITING]
        failed = sum(1 for n in items if n.get("state") == "failed")
        # an item held by its recipient's preference (`avisering samlat 15:00`) waits from
        # the moment it became due, and one held for its person's bundle (bot.domain.bundling)
        # from when the bundle may go: held is not late (issue 24)
        window = timedelta(minutes=self.bot.settings.org.notifications.bundle_minutes)
        waiting = [w for w in (_waiting_since(n, window) for n in pending)
                   if w is not None and w <= now]
        oldest_at = min(waiting, default=None)
        oldest = oldest_at.isoformat() if oldest_at else None
        age = (now - oldest_at).total_seconds() if oldest_at else 0.0
        overdue_before = now - timedelta(seconds=self.stale_after)
        overdue = sum(1 for w in waiting if w < overdue_before)
        self.bot.metrics.set_outbox(len(pending), failed, overdue, age)
        # not ready while anything failed, until it is delivered or re-queued (issue 22)
        result = {"ok": age <= self.stale_after and not failed, "pending": len(pending),
                  "failed": failed,
                  "oldest_pending": self._local(datetime.fromisoformat(oldest)) if oldest else None,
                  "oldest_pending_seconds": round(age, 1)}
        if age > self.stale_after:
            reasons.append(t(lang, "ready_outbox_backlog", count=len(pending),
                             since=result["oldest_pending"]))
        if failed:
            reasons.append(t(lang, "ready_outbox_failed", count=failed))
        self._outbox_seen = result
        return result

    def _outbox_items(self) -> list[dict[str, Any]] | None:
        lock = self.bot.store.lock
        if not lock.acquire(timeout=LOCK_WAIT_SECONDS):
            return None
        try:
            return self.bot.store.outbox()
        finally:
            lock.release()

    def _local(self, moment: datetime | None) -> str | None:
        """Admin output in one time zone: the organisation's, with its offset."""
        if moment is None:
            return None
        return self.bot.calendar.local(moment).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------- the server
class HealthServer:
    """The frontend-like listener `run` starts beside Slack and Teams. Not a chat channel:
    it has no notifier."""
    channel = "health"
    notifier = None

    def __init__(self, config: HealthConfig, metrics: Metrics,
                 readiness: Callable[[], tuple[bool, dict[str, Any]]]):
        self.config, self.metrics, self.readiness = config, metrics, readiness
        self.host, self.port = config.host, config.port
        self._runner: web.AppRunner | None = None
        self._failing: str | None = None     # why the last readiness check itself failed

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self) -> None:
        """A port already taken is one error line, not the end of `run`: the bot's work
        (diarising, notifying) matters more than its monitoring, and the monitoring will
        notice the missing endpoint."""
        runner = web.AppRunner(self.web_app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            log.error("hälsa: kan inte lyssna på %s:%s (%s); /healthz, /readyz och /metrics saknas",
                      self.host, self.port, exc.strerror or type(exc).__name__)
            return
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("hälsa: http://%s:%s/healthz /readyz /metrics", _url_host(self.host), self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def listening(self) -> bool:
        return self._runner is not None

    async def _check(self) -> tuple[bool, dict[str, Any]] | None:
        """The readiness, or None when finding it out failed: a monitor gets 503 and a
        reason, never 500, and the log one line when it starts failing and one when it
        works again, not a traceback per request."""
        try:
            checked = await asyncio.to_thread(self.readiness)
        except Exception as exc:
            problem = redact(f"{type(exc).__name__}: {exc}")[:200]
            if self._failing is None:
                log.warning("hälsa: beredskapen kan inte avgöras (%s)", problem)
            self._failing = problem
            return None
        if self._failing is not None:
            log.info("hälsa: beredskapen går att avgöra igen")
            self._failing = None
        return checked

    async def _healthz(self, request: web.Request) -> web.Response:
        return _json(200, {"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        checked = await self._check()
        if checked is None:
            return _json(503, {"ready": False, "reasons": [self._failing]})
        ready, body = checked
        return _json(200 if ready else 503, body)

    async def _metrics(self, request: web.Request) -> web.Response:
        await self._check()      # the outbox gauges as of now (or as last seen)
        payload, content_type = self.metrics.exposition()
        response = web.Response(body=payload)
        response.headers["Content-Type"] = content_type
        return response


def health_server(bot, *, mail_wait_seconds: float) -> HealthServer | None:
    """The server of the settings, or None when HEALTH_PORT=off. A mailbox is stale after
    the organisation's alert time, but never sooner than two idle waits (IMAP IDLE reads
    again at least every `mail_wait_seconds`)."""
    config = health_config(bot.settings)
    if config is None:
        return None
    stale_after = max(bot.settings.org.mailbox_alert_minutes * 60.0, 2 * mail_wait_seconds)
    return HealthServer(config, bot.metrics, BotProbe(bot, stale_after).readiness)


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, text=json.dumps(body, ensure_ascii=False, indent=1),
                        content_type="application/json")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _waiting_since(item: dict[str, Any], window: timedelta) -> datetime | None:
    """Since when a notification has been due: its creation, the end of its hold, or for a
    bundlable item not tried yet the moment its bundle may go."""
    if not item.get("created"):
        return None
    if item.get("bundlable"):
        return waiting_since(item, window)
    return datetime.fromisoformat(item.get("held_until") or item["created"])
