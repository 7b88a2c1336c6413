"""Absence and stand-ins (issue 16). Pure: the organisation, one person's recorded absence
and a day in, who should get that person's notifications out.

A manager away (`frånvaro <från> <till> [ersättare]`) has their notifications and
reminders go to the stand-in named then, else to the stand-in of a unit they manage
(`stand_in` in the organisation file); without one they keep getting them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

from bot.domain.org import Organisation
from bot.domain.zones import graph_zone

STATE_PREFIX = "absence:"


@dataclass(frozen=True)
class Absence:
    person: str
    start: date
    end: date                        # the last day away
    stand_in: str | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end

    def to_state(self) -> dict[str, Any]:
        return {"person": self.person, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "stand_in": self.stand_in}

    @classmethod
    def from_state(cls, data: dict[str, Any] | None) -> "Absence | None":
        if not data or data.get("cancelled") or "start" not in data:   # `frånvaro av` (issue 26)
            return None
        return cls(data["person"], date.fromisoformat(data["start"]),
                   date.fromisoformat(data["end"]), data.get("stand_in"))


def unit_stand_in(org: Organisation, person: str) -> str | None:
    """The stand-in the organisation file names for a unit the person manages."""
    for unit in org.units.values():
        if person in unit.managers and unit.stand_in and unit.stand_in != person:
            return unit.stand_in
    return None


def units_hidden_from(org: Organisation, person: str, deputy: str) -> list[str]:
    """The units whose cases `person` is told about that `deputy` may not open: a stand-in
    must be able to open every case the notifications they take over are about. Someone
    with oversight (registrator, MA, SAS) may be stood in for only by someone with oversight."""
    who, stand_in = org.people.get(person), org.people.get(deputy)
    if who is None or stand_in is None:
        return []
    if stand_in.has_oversight:
        return []
    if who.has_oversight:
        return ["*"]
    return [u for u in org.units_acted_for(person) if deputy not in org.acts_for(u)]


def stand_in_for(org: Organisation, person: str, absence: Absence | None, day: date) -> str | None:
    """Who gets the person's notifications on *day* instead of them, or None (themselves).
    Never someone who may not open those cases (the directory may have changed since the
    absence was recorded): then the person keeps getting them."""
    if absence is None or not absence.covers(day):
        return None
    deputy = absence.stand_in or unit_stand_in(org, person)
    if deputy is None or deputy == person or deputy not in org.people:
        return None
    if units_hidden_from(org, person, deputy):
        return None
    return deputy


# ---------------------------------------------------------------------------- issue 26
# Outlook's automatic replies (Graph automaticRepliesSetting, read by bot.usecases.outlook
# into the store state OUTLOOK_PREFIX + person, at most every OUTLOOK_EVERY) count as an
# absence with the unit's stand-in, for the period they are on. A manual `frånvaro` covering
# the day wins; `frånvaro av` during an Outlook period sets that period aside (`dismissed`).
OUTLOOK_PREFIX = "outlook:"
OUTLOOK_EVERY = timedelta(minutes=15)


def graph_moment(value: dict[str, Any] | None, default_zone: str) -> datetime | None:
    """A Graph dateTimeTimeZone ({"dateTime": "2026-11-16T08:00:00.0000000", "timeZone":
    "UTC"}) as an aware datetime; None when absent or unreadable. An unknown zone name is
    read as the organisation's zone."""
    if not isinstance(value, dict) or not value.get("dateTime"):
        return None
    text = str(value["dateTime"]).rstrip("Z")
    whole, _, fraction = text.partition(".")
    try:
        moment = datetime.fromisoformat(whole + (f".{fraction[:6]}" if fraction else ""))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        return moment
    zone = graph_zone(str(value.get("timeZone") or "UTC"), ZoneInfo(default_zone))
    return moment.replace(tzinfo=zone).astimezone(timezone.utc)


def outlook_period(replies: dict[str, Any] | None) -> str | None:
    """What identifies one period of automatic replies (so `frånvaro av` can set it aside)."""
    if not replies or replies.get("status") not in ("alwaysEnabled", "scheduled"):
        return None
    if replies["status"] == "alwaysEnabled":
        return "alwaysEnabled"
    start = (replies.get("scheduledStartDateTime") or {}).get("dateTime")
    end = (replies.get("scheduledEndDateTime") or {}).get("dateTime")
    return f"scheduled:{start}:{end}"


def outlook_absence(person: str, replies: dict[str, Any] | None, now: datetime,
                    local: Callable[[datetime], datetime], default_zone: str,
                    dismissed: str | None = None) -> Absence | None:
    """The absence Outlook's automatic replies say `person` has at `now`, or None: status
    alwaysEnabled (away from now until they are turned off), or scheduled with `now` in
    [start, end). The stand-in is the unit's (Absence.stand_in None)."""
    period = outlook_period(replies)
    if period is None or period == dismissed:
        return None
    assert replies is not None
    if replies["status"] == "alwaysEnabled":
        today = local(now).date()
        return Absence(person, today, today)
    start = graph_moment(replies.get("scheduledStartDateTime"), default_zone)
    end = graph_moment(replies.get("scheduledEndDateTime"), default_zone)
    if start is None or end is None or not start <= now < end:
        return None
    return Absence(person, local(start).date(), local(end - timedelta(microseconds=1)).date())


def effective_absence(person: str, manual: dict[str, Any] | None, outlook: dict[str, Any] | None,
                      now: datetime, local: Callable[[datetime], datetime],
                      default_zone: str) -> Absence | None:
    """The absence that routes `person`'s notifications at `now`: a manual `frånvaro`
    covering the day wins over Outlook; a cancelled one (`frånvaro av`) sets aside the
    Outlook period that was on when it was cancelled."""
    absence = Absence.from_state(manual)
    if absence is not None and absence.covers(local(now).date()):
        return absence
    dismissed = (manual or {}).get("dismissed_outlook")
    return outlook_absence(person, (outlook or {}).get("replies"), now, local, default_zone,
                           dismissed)
