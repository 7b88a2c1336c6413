"""The bot's Prometheus metrics, in a registry of its own (not prometheus_client's global
one, so two bots in one test process never share a counter).

Importing this module starts nothing and registers nothing; a `Metrics()` is made by the
composition root (bot/app.py) and fed from the run loop: `mail_outcome`, `mailbox_round`,
`delivered`/`delivery_failed` (through `MeteredNotifier`), `reminder_scan`. The outbox
gauges are set when someone asks (`set_outbox`, called by the health server on a scrape).
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest)

from bot.domain.redact import redact
from bot.errors import Unreachable

log = logging.getLogger(__name__)

OUTCOMES = ("new_case", "added_to_case", "duplicate", "ignored", "triage", "command")
# seconds from a notification's creation to its delivery: 1.5 s is the product's target for
# IMAP → Slack, 15 s + 1 s for Graph polling; hours mean a channel was down
LATENCY_BUCKETS = (0.25, 0.5, 1.0, 1.5, 2.5, 5.0, 10.0, 16.0, 30.0, 60.0, 300.0, 900.0,
                   3600.0, 4 * 3600.0, 24 * 3600.0)


@dataclass
class MailboxWatch:
    """What the last mailbox rounds said, for /readyz."""
    rounds: int = 0
    last_success: datetime | None = None
    failing_since: datetime | None = None
    error: str = ""
    lag_seconds: float = 0.0


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.mailbox = MailboxWatch()
        r = self.registry
        self.mails = Counter("avvikelsebot_mails", "Mails from the watched mailbox, by outcome",
                             ["outcome"], registry=r)
        for outcome in OUTCOMES:
            self.mails.labels(outcome)
        self.deliveries = Counter("avvikelsebot_deliveries",
                                  "Notification delivery attempts, by channel and result "
                                  "(sent, error, unreachable)", ["channel", "result"], registry=r)
        self.latency = Histogram("avvikelsebot_delivery_latency_seconds",
                                 "From a notification's creation to its delivery", ["channel"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.outbox = Gauge("avvikelsebot_outbox_notifications",
                            "Notifications in the outbox, by state (pending, failed; overdue: "
                            "pending longer than the mailbox alert time)", ["state"],
                            registry=r)
        self.outbox_oldest = Gauge("avvikelsebot_outbox_oldest_pending_seconds",
                                   "Age of the oldest notification not delivered yet", registry=r)
        self.mailbox_lag = Gauge("avvikelsebot_mailbox_lag_seconds",
                                 "Age of the oldest mail seen in the mailbox but not yet diarised",
                                 registry=r)
        self.mailbox_up = Gauge("avvikelsebot_mailbox_up",
                                "1 when the last mailbox round succeeded, else 0", registry=r)
        self.last_poll = Gauge("avvikelsebot_mailbox_last_success_timestamp_seconds",
                               "When the mailbox was last read successfully (Unix time)",
                               registry=r)
        self.reminder_scans = Counter("avvikelsebot_reminder_scans",
                                      "Reminder scans run, by result (ok, error)", ["result"],
                                      registry=r)

    # ------------------------------------------------------------------ the run loop's events
    def mail_outcome(self, outcome: str) -> None:
        self.mails.labels(outcome).inc()

    def mail_outcomes(self, results: list[dict[str, Any]]) -> None:
        for result in results:
            self.mail_outcome(result["outcome"])

    @contextlib.contextmanager
    def mailbox_round(self, mail: Any, now: datetime) -> Iterator[None]:
        """Around one read of the mailbox: success (and the source's lag) or the failure."""
        watch = self.mailbox
        watch.rounds += 1
        try:
            yield
        except Exception as exc:
            watch.failing_since = watch.failing_since or now
            watch.error = redact(str(exc))[:200]
            self.mailbox_up.set(0)
            raise
        watch.last_success, watch.failing_since, watch.error = now, None, ""
        describe = getattr(mail, "describe", None)
        lag = (describe() or {}).get("lag_seconds") if describe else None
        watch.lag_seconds = float(lag or 0.0)
        self.mailbox_up.set(1)
        self.last_poll.set(now.timestamp())
        self.mailbox_lag.set(watch.lag_seconds)

    def delivered(self, channel: str, latency_seconds: float) -> None:
        self.deliveries.labels(channel, "sent").inc()
        self.latency.labels(channel).observe(max(latency_seconds, 0.0))

    def delivery_failed(self, channel: str, unreachable: bool = False) -> None:
        self.deliveries.labels(channel, "unreachable" if unreachable else "error").inc()

    def reminder_scan(self, ok: bool = True) -> None:
        self.reminder_scans.labels("ok" if ok else "error").inc()

    def set_outbox(self, pending: int, failed: int, overdue: int = 0,
                   oldest_seconds: float = 0.0) -> None:
        self.outbox.labels("pending").set(pending)
        self.outbox.labels("failed").set(failed)
        self.outbox.labels("overdue").set(overdue)
        self.outbox_oldest.set(oldest_seconds)

    # ------------------------------------------------------------------ exposition
    def exposition(self) -> tuple[bytes, str]:
        """The text format Prometheus scrapes, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class ChannelWatch:
    """Whether a chat channel delivers: one log line when it stops, one when it works again,
    however many notifications are retried in between (an operator reads the outage, not
    every attempt). A recipient the channel cannot reach (Unreachable) is not an outage.
    The outbox sends to a channel's recipients in parallel threads: the state is locked, and a
    send that started before the channel was seen working again does not reopen the outage."""

    def __init__(self, channel: str):
        self.channel = channel
        self.down_since: datetime | None = None
        self.failures = 0
        self._recovered = float("-inf")      # monotonic time the channel last worked again
        self._lock = threading.Lock()

    def failed(self, error: BaseException, now: datetime, started: float) -> None:
        with self._lock:
            if started < self._recovered:
                return                       # an attempt older than the recovery
            self.failures += 1
            if self.down_since is not None:
                return
            self.down_since = now
            log.warning("%s: leveranserna misslyckas (%s); utkorgen försöker igen med ökande "
                        "väntetid", self.channel, redact(str(error))[:200])

    def worked(self, now: datetime) -> None:
        with self._lock:
            if self.down_since is None:
                return
            minutes = max(int((now - self.down_since).total_seconds() // 60), 0)
            log.info("%s: leveranserna fungerar igen efter %d min (%d misslyckade försök)",
                     self.channel, minutes, self.failures)
            self.down_since, self.failures = None, 0
            self._recovered = time.monotonic()


class MeteredNotifier:
    """A notifier that counts what it delivers and how late, and says once when its channel
    goes down and once when it is back; everything else is the inner notifier's (attributes
    pass through, so code that reads `.sent` or `.client` still works)."""

    def __init__(self, inner: Any, metrics: Metrics, clock: Any):
        self.inner, self.metrics, self.clock = inner, metrics, clock
        self.channel = inner.channel
        self.watch = ChannelWatch(self.channel)

    def send(self, notification: dict[str, Any]) -> Any:
        started = time.monotonic()
        try:
            delivery = self.inner.send(notification)
        except Unreachable:
            self.metrics.delivery_failed(self.channel, unreachable=True)
            raise
        except Exception as exc:
            self.metrics.delivery_failed(self.channel)
            self.watch.failed(exc, self.clock.now(), started)
            raise
        self.watch.worked(self.clock.now())
        # a held item (`avisering samlat`) is late from when it became due (issue 24)
        self.metrics.delivered(self.channel, _age(notification.get("held_until")
                                                  or notification.get("created"), self.clock.now()))
        return delivery

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def metered(notifiers: dict[str, Any], metrics: Metrics, clock: Any) -> None:
    """Wrap every notifier of the dict in place (once)."""
    for name, notifier in list(notifiers.items()):
        if not isinstance(notifier, MeteredNotifier):
            notifiers[name] = MeteredNotifier(notifier, metrics, clock)


def unwrapped(notifier: Any) -> Any:
    return notifier.inner if isinstance(notifier, MeteredNotifier) else notifier


def _age(created: str | None, now: datetime) -> float:
    try:
        return (now - datetime.fromisoformat(created)).total_seconds() if created else 0.0
    except (TypeError, ValueError):
        return 0.0
