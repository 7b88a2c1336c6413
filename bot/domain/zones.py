"""Time zones as Microsoft Graph names them. Pure.

Exchange writes dateTimeTimeZone and workingHours with Windows zone names ("W. Europe
Standard Time"), sometimes with IANA names; these are the ones of this region and its
neighbours (CLDR's windowsZones), anything else is tried as an IANA name, then the fallback.
"""
from __future__ import annotations

from datetime import tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WINDOWS_ZONES = {
    "W. Europe Standard Time": "Europe/Stockholm",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "Romance Standard Time": "Europe/Paris",
    "FLE Standard Time": "Europe/Helsinki",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "Coordinated Universal Time": "UTC",
    "UTC": "UTC",
}


def graph_zone(name: str | None, fallback: tzinfo) -> tzinfo:
    """The zone Graph names (Windows or IANA), else `fallback`."""
    name = (name or "").strip()
    if not name:
        return fallback
    try:
        return ZoneInfo(WINDOWS_ZONES.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        return fallback
