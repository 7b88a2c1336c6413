"""Bundling notifications (issue 24): which outbox items may wait and go as one message. Pure.

A manager with 40 overdue cases gets one message listing them, not 40. The rule:

* **bundled** (held up to ``[notifications] bundle_minutes``, default 10): reminders,
  escalations and the weekly digest (it joins Monday's reminders), and every kännedom copy to a
  person (a notification whose role is ``info``; a unit's team-channel post is not a person's
  and goes as before). Kännedom copies and routine follow-up work (``ROUTINE_EVENTS``: a unit's
  response for the registrator to send on, a counterpart's response to enter and close, a
  supplement: days to do it, not a new case) are moreover held to the next of
  ``[notifications] info_at`` (local times on business days, default 08:00 and 13:00), so an
  MA/SAS who follows every unit, or a registrator with 25 responses a day, gets them two or
  three times a day;
* **at once**, never held: anything about a red case, a Lex Maria / Lex Sarah assessment
  request (``lex_requested``), and every new case to act on (a new deviation to register or
  send, a unit to pick, a case moved to a unit), a triage, a failed send, notices to the
  registrator.

At claim time the outbox groups the waiting bundlable items per (recipient, channel): the
group goes when its first item has been sendable (``next_attempt``: now, an info time, or a
person's chosen time) for the window; then every sendable bundlable item of the pair goes in
the same message, however many. ``bundle_minutes = 0`` turns all of it off.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from bot.domain.case import iso
from bot.domain.org import Notifications

BUNDLED_EVENTS = frozenset({"reminder", "escalation", "digest"})
# follow-up work with days to do it, not a new case: gathered like kännedom copies (to the
# info times): a unit's response for the registrator to send on, a counterpart's response
# for the manager to enter and close, a supplement to read
ROUTINE_EVENTS = frozenset({"response_incoming", "response_outgoing", "supplement"})
AT_ONCE_EVENTS = frozenset({"lex_requested"})
BUNDLE_ROWS = 15          # rows shown in one message; the rest as "… och 37 till" and a link


class Calendar(Protocol):
    tz: Any

    def local(self, moment: datetime) -> datetime: ...

    def is_business_day(self, day: date) -> bool: ...


def bundlable(event: str, role: str | None, red: bool, rules: Notifications) -> bool:
    """May this notification wait for a bundle?"""
    if rules.bundle_minutes <= 0 or red or event in AT_ONCE_EVENTS:
        return False
    return event in BUNDLED_EVENTS or event in ROUTINE_EVENTS or role == "info"


def held_until(now: datetime, event: str, role: str | None, rules: Notifications,
               calendar: Calendar) -> datetime:
    """When a bundlable item becomes sendable: now, or for a kännedom copy the next
    configured info time on a business day (at or after now)."""
    if not (role == "info" or event in ROUTINE_EVENTS) or event in BUNDLED_EVENTS \
            or not rules.info_at:
        return now
    local = calendar.local(now)
    day = local.date()
    for _ in range(60):
        if calendar.is_business_day(day):
            for moment in sorted(rules.info_at):
                at = datetime.combine(day, moment, tzinfo=calendar.tz)
                if at >= local:
                    return at.astimezone(now.tzinfo)
        day += timedelta(days=1)
    return now


def due_bundles(waiting: Iterable[dict[str, Any]], now: datetime,
                window: timedelta) -> list[list[dict[str, Any]]]:
    """The bundles to send at `now`, from the pending bundlable items not yet in a bundle:
    per (recipient, channel) every item whose `next_attempt` has come, once the first of them
    has been sendable for `window`. Items in order of creation; a pair not due yet is left."""
    stamp = iso(now)            # as the outbox stores times: UTC, whole seconds
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in waiting:
        if item["next_attempt"] <= stamp:
            groups.setdefault((item["recipient"], item["channel"]), []).append(item)
    due = []
    for items in groups.values():
        opened = min(max(i["created"], i["next_attempt"]) for i in items)
        if datetime.fromisoformat(opened) + window <= now:
            due.append(sorted(items, key=lambda i: (i["created"], i["id"])))
    return due


def waiting_since(item: dict[str, Any], window: timedelta) -> datetime:
    """Since when an outbox item is late in going out: its creation, or for a bundlable
    item not tried yet the moment its bundle may go (a kännedom copy held to 13:00 is not
    a backlog at 11:00; /readyz and the outbox metrics ask this)."""
    created = datetime.fromisoformat(item["created"])
    if not item.get("bundlable") or item.get("attempts") or item.get("state") != "pending":
        return created
    return max(created, datetime.fromisoformat(item["next_attempt"])) + window


def bundle_id(items: list[dict[str, Any]], claimed_at: str) -> str:
    """The one idempotency key of a bundle (its Slack metadata and e-mail Message-ID): fixed
    in the claim, kept on every member until the bundle is recorded."""
    first = items[0]
    return f"bundle:{first['recipient']}:{first['channel']}:{claimed_at}:{first['id']}"


__all__ = ["AT_ONCE_EVENTS", "BUNDLED_EVENTS", "ROUTINE_EVENTS", "BUNDLE_ROWS", "bundlable", "bundle_id",
           "due_bundles", "held_until", "waiting_since"]
