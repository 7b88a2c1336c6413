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
