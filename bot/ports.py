"""The narrow ports between the core and its adapters."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator, Protocol

if TYPE_CHECKING:
    from email.message import EmailMessage

    from bot.domain.case import Case
    from bot.domain.diary import DiaryNumber
    from bot.domain.org import Subscription


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
    """Delivers one outbox notification; raises DeliveryError to be retried later. Returns
    where the message went (e.g. a Slack channel and ts), kept to update it later."""
    channel: str

    def send(self, notification: dict[str, Any]) -> dict[str, Any] | None: ...


class Reconciling(Protocol):
    """A notifier that can tell whether an item found in flight after a crash was delivered:
    the delivery when it finds one, None when it certainly was not (then it is sent)."""

    def delivered(self, notification: dict[str, Any]) -> dict[str, Any] | None: ...


class CaseStore(Protocol):
    """The store the use cases depend on (TinyDB embedded; PostgreSQL later). Every change
    is made inside a unit of work (bot.usecases.uow) and becomes durable at its commit."""
    lock: Any

    # transactions (only the unit of work calls these)
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def savepoint(self) -> Any: ...
    def restore(self, savepoint: Any) -> None: ...
    def housekeep(self, now: datetime) -> dict[str, int]: ...
    def close(self) -> None: ...

    # cases
    def next_number(self, year: int) -> "DiaryNumber": ...
    def put_case(self, case: "Case") -> None: ...
    def get_case(self, number: "DiaryNumber") -> "Case | None": ...
    def get_case_by_text(self, number: str) -> "Case | None": ...
    def open_cases(self) -> list["Case"]: ...
    def all_cases(self, year: int | None = None) -> Iterator["Case"]: ...
    def archive_years(self) -> list[int]: ...
    def cull_case(self, number: "DiaryNumber") -> bool: ...

    # the mail index
    def mail_seen(self, duplicate_key: str) -> dict[str, Any] | None: ...
    def case_for_message_id(self, message_id: str) -> str | None: ...
    def case_for_conversation(self, conversation_id: str) -> str | None: ...
    def record_mail(self, record: dict[str, Any]) -> None: ...
    def triage_record(self, triage_id: str) -> dict[str, Any] | None: ...
    def keep_raw(self, raw: bytes, sha: str, arrived: datetime) -> str: ...
    def read_raw(self, relative: str) -> bytes: ...

    # the outbox
    def add_notification(self, notification: dict[str, Any]) -> bool: ...
    def update_notification(self, notification_id: str, fields: dict[str, Any]) -> None: ...
    def outbox(self, state: str | None = None) -> list[dict[str, Any]]: ...
    def notification(self, notification_id: str) -> dict[str, Any] | None: ...
    def outbox_history(self) -> Iterator[dict[str, Any]]: ...

    # reminder markers, adapter state, chat-made subscriptions
    def reminder_sent(self, slot: str, day: str) -> bool: ...
    def mark_reminder(self, slot: str, day: str, at: str) -> None: ...
    def get_state(self, key: str) -> dict[str, Any] | None: ...
    def set_state(self, key: str, value: dict[str, Any]) -> None: ...
    def states(self, prefix: str = "") -> dict[str, dict[str, Any]]: ...
    def subscriptions(self) -> tuple["Subscription", ...]: ...
    def subscription_overrides(self) -> dict[tuple[str, str], dict[str, Any]]: ...
    def subscribe(self, person: str, unit: str) -> bool: ...
    def unsubscribe(self, person: str, unit: str, *, pause: bool = False) -> bool: ...


class WorkingHoursSource(Protocol):
    """A person's working hours where the mail lives (Graph: Outlook's mailboxSettings)."""

    def working_hours(self, address: str) -> dict[str, Any] | None: ...

    def close(self) -> None: ...


class MailSender(Protocol):
    """Sends a mail the bot built (skicka); returns the Message-ID it went out with."""

    def send(self, message: EmailMessage) -> str: ...


class MailSource(Protocol):
    """A mailbox: new mails as (raw bytes, arrival time, source id, conversation id),
    acknowledged only after their outcome is durable."""

    def fetch(self) -> list[tuple[bytes, datetime | None, str, str | None]]: ...

    def acknowledge(self, source_id: str) -> None: ...


@dataclass(frozen=True)
class Waiting:
    """A mail waiting in the mailbox, its bytes not read yet (a Maildir file name, an IMAP
    uid, a Graph message id): cheap to hold for a whole backlog."""
    source_id: str
    arrived: datetime | None
    conversation_id: str | None = None


class StreamingMailSource(MailSource, Protocol):
    """A MailSource that hands out one mail's bytes at a time, so memory is bounded by one
    mail, not by the backlog (bot.mail.streaming.drain uses it)."""

    def waiting(self) -> Iterator[Waiting]: ...

    def read(self, waiting: Waiting) -> bytes | None:
        """The raw bytes, or None when the mail is gone or cannot be read (the source logs
        that once, and the mail is skipped until it can be read)."""
        ...


class RunService(Protocol):
    """Something `run` starts and stops on its one event loop (a chat app, the health
    endpoints)."""
    channel: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ChatFrontend(Protocol):
    """A chat app served inside `run` (Slack, Teams). Its notifier delivers the outbox items
    of its channel; start/stop run on the one event loop of `run`."""
    channel: str

    @property
    def notifier(self) -> Notifier: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
