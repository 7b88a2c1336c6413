"""Issue 26, the pure part: Graph's dateTimeTimeZone and the automatic replies as an absence."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from bot.domain.absence import effective_absence, graph_moment, outlook_absence

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def local(moment: datetime) -> datetime:
    return moment.astimezone(STOCKHOLM)


def scheduled(start: str, end: str, zone: str = "UTC") -> dict:
    return {"status": "scheduled", "scheduledStartDateTime": {"dateTime": start, "timeZone": zone},
            "scheduledEndDateTime": {"dateTime": end, "timeZone": zone}}


def test_graph_moments_in_utc_windows_and_iana_zones():
    assert graph_moment({"dateTime": "2026-11-17T07:00:00.0000000", "timeZone": "UTC"},
                        "Europe/Stockholm") == datetime(2026, 11, 17, 7, tzinfo=timezone.utc)
    assert graph_moment({"dateTime": "2026-11-17T08:00:00.0000000", "timeZone": "W. Europe Standard Time"},
                        "Europe/Stockholm") == datetime(2026, 11, 17, 7, tzinfo=timezone.utc)
    assert graph_moment({"dateTime": "2026-07-01T08:00:00", "timeZone": "Europe/Stockholm"},
                        "UTC") == datetime(2026, 7, 1, 6, tzinfo=timezone.utc)      # summer time
    # a zone nobody knows is read as the organisation's
    assert graph_moment({"dateTime": "2026-11-17T08:00:00", "timeZone": "Mars Standard Time"},
                        "Europe/Stockholm") == datetime(2026, 11, 17, 7, tzinfo=timezone.utc)
    assert graph_moment(None, "UTC") is None
    assert graph_moment({"dateTime": "i morgon", "timeZone": "UTC"}, "UTC") is None


def test_scheduled_replies_are_an_absence_from_start_up_to_end():
    replies = scheduled("2026-11-17T07:00:00.0000000", "2026-11-19T16:00:00.0000000")
    at = lambda *a: datetime(*a, tzinfo=timezone.utc)   # noqa: E731
    assert outlook_absence("anna", replies, at(2026, 11, 17, 6, 59), local, "UTC") is None
    away = outlook_absence("anna", replies, at(2026, 11, 17, 7), local, "UTC")
    assert away is not None and (away.start, away.end, away.stand_in) == \
        (date(2026, 11, 17), date(2026, 11, 19), None)
    assert outlook_absence("anna", replies, at(2026, 11, 19, 16), local, "UTC") is None
    assert outlook_absence("anna", {"status": "disabled"}, at(2026, 11, 18, 9), local, "UTC") is None
    assert outlook_absence("anna", None, at(2026, 11, 18, 9), local, "UTC") is None


def test_a_manual_absence_wins_and_a_cancelled_one_sets_the_outlook_period_aside():
    now = datetime(2026, 11, 18, 9, tzinfo=timezone.utc)
    outlook = {"replies": {"status": "alwaysEnabled"}}
    manual = {"person": "anna", "start": "2026-11-16", "end": "2026-11-20", "stand_in": "sven"}
    assert effective_absence("anna", manual, outlook, now, local, "UTC").stand_in == "sven"
    assert effective_absence("anna", None, outlook, now, local, "UTC").stand_in is None
    cancelled = {"person": "anna", "cancelled": now.isoformat(), "dismissed_outlook": "alwaysEnabled"}
    assert effective_absence("anna", cancelled, outlook, now, local, "UTC") is None
    other = {"replies": scheduled("2026-11-18T00:00:00", "2026-11-19T00:00:00")}
    assert effective_absence("anna", cancelled, other, now, local, "UTC") is not None
