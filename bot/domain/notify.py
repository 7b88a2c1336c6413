"""Notification preferences per person and channel (issue 24). Pure: a preference, the
person's working hours, whether the notice is urgent, `now` and the business calendar in;
when the notice should be delivered out.

    avisering omedelbart      at once within the person's working hours, else at the start
                              of the next working period (a business day, the person's hours)
    avisering samlat 15:00    everything at the next 15:00 on a business day the person works
                              (the outbox then gives all of it as one message)
    avisering dygnet runt     at once at any hour (offices with staff round the clock; also
                              what no preference and no configured default means)
    avisering tyst            nothing by chat: the notice is still recorded (state `muted`,
                              visible in `outbox` and on the case) and the weekly digest still
                              comes (it is the summary a quiet person gets)

Red cases and Lex Maria/Sarah assessment requests are always delivered at once, whatever the
preference and the hour.

A preference is kept in the store's state under PREFIX + person id, with its history (who,
when, through which channel, old → new): the audit trail of the setting, on both stores.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from bot.domain.zones import graph_zone

if TYPE_CHECKING:  # the calendar type only for hints: the rule never builds one
    from reminders.calendar import BusinessCalendar

PREFIX = "notify:"                 # store state: a person's preferences and their history
HOURS_PREFIX = "workhours:"        # store state: a person's Outlook working hours (cached)

IMMEDIATE, BATCHED, QUIET, ALWAYS = "immediate", "batched", "quiet", "always"
MODES = (IMMEDIATE, BATCHED, QUIET, ALWAYS)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SEARCH_DAYS = 40                  # a working day is found within this (holidays, closures)


@dataclass(frozen=True)
class Preference:
    mode: str = IMMEDIATE
    at: time | None = None         # BATCHED: the local time of day

    def word(self) -> str:
        """As typed in the command (the same in both languages)."""
        if self.mode == BATCHED and self.at is not None:
            return f"samlat {self.at:%H:%M}"
        return {IMMEDIATE: "omedelbart", QUIET: "tyst", ALWAYS: "dygnet runt"}.get(
            self.mode, "omedelbart")

    def to_state(self) -> dict[str, Any]:
        return {"mode": self.mode, "at": f"{self.at:%H:%M}" if self.at else None}

    @classmethod
    def from_state(cls, data: dict[str, Any] | None) -> "Preference | None":
        if not data or data.get("mode") not in MODES:
            return None
        at = parse_clock(data["at"]) if data.get("at") else None
        if data["mode"] == BATCHED and at is None:
            return None
        return cls(data["mode"], at)


_CLOCK = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")


def parse_clock(text: str) -> time | None:
    m = _CLOCK.match(text.strip())
    return time(int(m[1]), int(m[2])) if m else None


def parse_preference(text: str) -> Preference | None:
    """`omedelbart` | `samlat HH:MM` | `tyst` | `dygnet runt` (English aliases), else None."""
    if " ".join(text.split()).casefold() in ("dygnet runt", "alltid", "any hour", "always"):
        return Preference(ALWAYS)
    word, _, rest = text.strip().partition(" ")
    word = word.casefold()
    if word in ("omedelbart", "direkt", "immediate", "immediately", "now") and not rest.strip():
        return Preference(IMMEDIATE)
    if word in ("tyst", "quiet", "mute", "muted") and not rest.strip():
        return Preference(QUIET)
    if word in ("samlat", "samla", "batched", "batch", "daily"):
        at = parse_clock(rest) if rest.strip() else None
        return Preference(BATCHED, at) if at is not None else None
    return None


@dataclass(frozen=True)
class WorkingHours:
    """When a person works: weekdays (0 = Monday), a start and end time, a time zone.
    A day must also be a business day of the office (holidays, closed days)."""
    days: frozenset[int]
    start: time
    end: time
    tz: tzinfo
    source: str = "office"         # "office" | "outlook"

    @classmethod
    def office(cls, calendar: "BusinessCalendar") -> "WorkingHours":
        return cls(frozenset(range(5)), calendar.office_start_time, calendar.office_end_time,
                   calendar.tz)

    def at(self, day: date, moment: time) -> datetime:
        # through UTC, so a wall time in a DST gap becomes a real instant
        from datetime import timezone
        naive = datetime.combine(day, moment)
        return naive.replace(tzinfo=self.tz).astimezone(timezone.utc).astimezone(self.tz)


def _works(day: date, hours: WorkingHours, calendar: "BusinessCalendar") -> bool:
    return day.weekday() in hours.days and calendar.is_business_day(day)


def delivery_time(preference: Preference | None, hours: WorkingHours, urgent: bool,
                  now: datetime, calendar: "BusinessCalendar") -> datetime | None:
    """When a notice should go out (`now` or later), or None: not by chat at all (tyst).
    No preference is `omedelbart`; `dygnet runt` is at once at any hour."""
    if urgent or (preference is not None and preference.mode == ALWAYS):
        return now
    preference = preference or Preference(IMMEDIATE)
    if preference.mode == QUIET:
        return None
    local = now.astimezone(hours.tz)
    if preference.mode == BATCHED and preference.at is not None:
        # the collection time inside the person's day (their Outlook hours may differ from
        # the office's, which the command checked): else the start of that day
        moment = preference.at if hours.start <= preference.at < hours.end else hours.start
        for offset in range(_SEARCH_DAYS):
            day = local.date() + timedelta(days=offset)
            if _works(day, hours, calendar) and hours.at(day, moment) >= local:
                return hours.at(day, moment)
        return calendar.next_office_start(now)
    for offset in range(_SEARCH_DAYS):
        day = local.date() + timedelta(days=offset)
        if not _works(day, hours, calendar):
            continue
        start, end = hours.at(day, hours.start), hours.at(day, hours.end)
        if offset == 0 and start <= local < end:
            return now
        if start >= local:
            return start
    return calendar.next_office_start(now)


# ---------------------------------------------------------------------- Outlook working hours


def working_hours_from_graph(data: dict[str, Any] | None, office: WorkingHours) -> WorkingHours:
    """Graph's `mailboxSettings/workingHours` (daysOfWeek, startTime "08:00:00.0000000",
    endTime, timeZone.name) as WorkingHours; what is missing or unreadable: the office's."""
    if not data:
        return office
    days = frozenset(WEEKDAYS.index(d.casefold()) for d in data.get("daysOfWeek") or ()
                     if isinstance(d, str) and d.casefold() in WEEKDAYS)
    start, end = _graph_time(data.get("startTime")), _graph_time(data.get("endTime"))
    if not days or start is None or end is None or not start < end:
        return office
    tz = graph_zone((data.get("timeZone") or {}).get("name"), office.tz)
    return WorkingHours(days, start, end, tz, "outlook")


def _graph_time(value: object) -> time | None:
    if not isinstance(value, str):
        return None
    m = re.match(r"^(\d{2}):(\d{2})(?::(\d{2}))?", value)
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        return None
    return time(int(m[1]), int(m[2]), int(m[3] or 0))


def hours_to_state(hours: WorkingHours) -> dict[str, Any]:
    return {"days": sorted(hours.days), "start": hours.start.isoformat(),
            "end": hours.end.isoformat(), "tz": str(hours.tz)}


def hours_from_state(data: dict[str, Any] | None, office: WorkingHours) -> WorkingHours:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    if not data or not data.get("hours"):
        return office
    saved = data["hours"]
    try:
        return WorkingHours(frozenset(saved["days"]), time.fromisoformat(saved["start"]),
                            time.fromisoformat(saved["end"]), ZoneInfo(saved["tz"]), "outlook")
    except (KeyError, ValueError, TypeError, ZoneInfoNotFoundError):
        return office


# ---------------------------------------------------------------------- the stored setting
def preference_for(state: dict[str, Any] | None, channel: str) -> Preference | None:
    """The person's preference on `channel`, or None (the organisation's default)."""
    channels = (state or {}).get("channels") or {}
    return Preference.from_state(channels.get(channel))


DEFAULT_WORD = "standard"          # the history's "old" before anything was set


def with_change(state: dict[str, Any] | None, person: str, channel: str,
                preference: Preference, by: str, via: str, now: datetime) -> dict[str, Any]:
    """The state after the person set `preference` for `channel`, the change appended to its
    history (who, when, through which channel, old → new)."""
    state = {"person": person, "channels": {}, "history": [], **(state or {})}
    old = preference_for(state, channel)
    channels = {**state["channels"], channel: preference.to_state()}
    history = list(state["history"]) + [{
        "at": now.isoformat(), "by": by, "via": via, "channel": channel,
        "old": old.word() if old else DEFAULT_WORD, "new": preference.word()}]
    return {**state, "channels": channels, "history": history}
