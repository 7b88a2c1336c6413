"""Mailbox health (issue 4): when to tell the registrator that the mailbox cannot be read,
and that it can again. Pure: the last state, this round's result and `now`."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

HEALTH_KEY = "health:mailbox"   # where the store keeps it (the alert and /readyz read the same)


@dataclass(frozen=True)
class MailboxHealth:
    failing_since: str | None = None   # ISO time of the first failed round
    error: str = ""
    alerted: bool = False              # the registrator was told it is down

    @classmethod
    def from_dict(cls, data: dict | None) -> "MailboxHealth":
        return cls(**data) if data else cls()

    def to_dict(self) -> dict:
        return {"failing_since": self.failing_since, "error": self.error, "alerted": self.alerted}


def next_health(health: MailboxHealth, *, ok: bool, error: str, now: datetime,
                alert_after: timedelta) -> tuple[MailboxHealth, str | None]:
    """(the new state, "mailbox_down" | "mailbox_up" | None). Told once when an outage has
    lasted `alert_after`, and once when it ends; a short blip tells nobody."""
    if ok:
        if health.failing_since is None:
            return health, None
        return MailboxHealth(), ("mailbox_up" if health.alerted else None)
    if health.failing_since is None:
        return MailboxHealth(failing_since=now.isoformat(), error=error), None
    health = replace(health, error=error)
    since = datetime.fromisoformat(health.failing_since or now.isoformat())
    if not health.alerted and now - since >= alert_after:
        return replace(health, alerted=True), "mailbox_down"
    return health, None
