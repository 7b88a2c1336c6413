"""Absence and stand-ins (issue 16). Pure: the organisation, one person's recorded absence
and a day in, who should get that person's notifications out.

A manager away (`frånvaro <från> <till> [ersättare]`) has their notifications and
reminders go to the stand-in named then, else to the stand-in of a unit they manage
(`stand_in` in the organisation file); without one they keep getting them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.domain.org import Organisation

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
        if not data:
            return None
        return cls(data["person"], date.fromisoformat(data["start"]),
                   date.fromisoformat(data["end"]), data.get("stand_in"))


def unit_stand_in(org: Organisation, person: str) -> str | None:
    """The stand-in the organisation file names for a unit the person manages."""
    for unit in org.units.values():
        if person in unit.managers and unit.stand_in and unit.stand_in != person:
            return unit.stand_in
    return None


def stand_in_for(org: Organisation, person: str, absence: Absence | None, day: date) -> str | None:
    """Who gets the person's notifications on *day* instead of them, or None (themselves)."""
    if absence is None or not absence.covers(day):
        return None
    deputy = absence.stand_in or unit_stand_in(org, person)
    if deputy is None or deputy == person or deputy not in org.people:
        return None
    return deputy
