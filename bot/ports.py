"""The narrow ports between the core and its adapters."""
from __future__ import annotations

from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that only moves when told: tests and the demo's fast-forward."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment


class Notifier(Protocol):
    """Delivers one outbox notification; raises DeliveryError to be retried later."""
    channel: str

    def send(self, notification: dict[str, Any]) -> None: ...


class MailSender(Protocol):
    """Sends a mail the bot built (skicka); returns the Message-ID it went out with."""

    def send(self, message: EmailMessage) -> str: ...


class MailSource(Protocol):
    """A mailbox: new mails as (raw bytes, arrival time, source id, conversation id),
    acknowledged only after their outcome is durable."""

    def fetch(self) -> list[tuple[bytes, datetime, str, str | None]]: ...

    def acknowledge(self, source_id: str) -> None: ...


class ChatFrontend(Protocol):
    """A chat app served inside `run` (Slack, Teams). Its notifier delivers the outbox items
    of its channel; start/stop run on the one event loop of `run`."""
    channel: str
    notifier: Notifier

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
