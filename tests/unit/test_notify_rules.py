"""Issue 24: when a notice is delivered under the person's preference (bot.domain.notify),
pure: the preference, the working hours, urgent or not, `now` and the business calendar."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.commands import parse
from bot.domain.notify import (ALWAYS, BATCHED, IMMEDIATE, QUIET, Preference, WorkingHours,
                               delivery_time, parse_preference, working_hours_from_graph,
                               with_change, preference_for)
from reminders.calendar import BusinessCalendar

STOCKHOLM = ZoneInfo("Europe/Stockholm")
CALENDAR = BusinessCalendar("Europe/Stockholm", time(8, 0), time(16, 30),
                            closed_days=[date(2026, 12, 23)])
OFFICE = WorkingHours.office(CALENDAR)
NOW_ = Preference(IMMEDIATE)
AT_15 = Preference(BATCHED, time(15, 0))
QUIET_ = Preference(QUIET)
ANY_HOUR = Preference(ALWAYS)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=STOCKHOLM)


MON, TUE, FRI, SAT = date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 20), date(2026, 11, 21)


def when(preference, now, *, urgent=False, hours=OFFICE):
    return delivery_time(preference, hours, urgent, now, CALENDAR)


def test_immediate_is_now_in_office_hours():
    assert when(NOW_, local(MON, 10)) == local(MON, 10)


def test_immediate_in_the_evening_waits_for_the_next_morning():
    assert when(NOW_, local(MON, 19)) == local(TUE, 8)
    assert when(NOW_, local(TUE, 6, 15)) == local(TUE, 8)
    assert when(NOW_, local(MON, 16, 30)) == local(TUE, 8)        # the end is outside


def test_immediate_at_the_weekend_waits_for_monday():
    assert when(NOW_, local(FRI, 17)) == local(date(2026, 11, 23), 8)
    assert when(NOW_, local(SAT, 11)) == local(date(2026, 11, 23), 8)


def test_holidays_and_closed_days_are_skipped():
    # julafton, juldagen, annandag jul are holidays, 23 December a closed day of the office
    assert when(NOW_, local(date(2026, 12, 22), 17)) == local(date(2026, 12, 28), 8)
    assert when(AT_15, local(date(2026, 12, 22), 15, 1)) == local(date(2026, 12, 28), 15)


def test_batched_waits_for_the_time_on_a_business_day():
    assert when(AT_15, local(MON, 9)) == local(MON, 15)
    assert when(AT_15, local(MON, 15)) == local(MON, 15)             # at the minute: now
    assert when(AT_15, local(MON, 15, 1)) == local(TUE, 15)
    assert when(AT_15, local(FRI, 16)) == local(date(2026, 11, 23), 15)
    assert when(AT_15, local(SAT, 9)) == local(date(2026, 11, 23), 15)


def test_round_the_clock_is_at_once_at_any_hour():
    """`dygnet runt`: an office with staff round the clock gets everything at once."""
    for moment in (local(SAT, 22), local(MON, 3), local(date(2026, 12, 24), 12), local(MON, 10)):
        assert when(ANY_HOUR, moment) == moment
    assert ANY_HOUR.word() == "dygnet runt"
    assert Preference.from_state(ANY_HOUR.to_state()) == ANY_HOUR


def test_quiet_is_not_sent_by_chat():
    assert when(QUIET_, local(MON, 10)) is None


@pytest.mark.parametrize("preference", [NOW_, AT_15, QUIET_, ANY_HOUR, None])
def test_red_and_lex_always_at_once(preference):
    for moment in (local(SAT, 3), local(MON, 22), local(MON, 10)):
        assert when(preference, moment, urgent=True) == moment


def test_no_preference_is_immediate_in_working_hours():
    assert when(None, local(MON, 19)) == local(TUE, 8)


def test_outlook_hours_decide_for_the_person():
    graph = {"daysOfWeek": ["monday", "tuesday", "wednesday", "thursday"],
             "startTime": "07:00:00.0000000", "endTime": "13:00:00.0000000",
             "timeZone": {"name": "W. Europe Standard Time"}}
    hours = working_hours_from_graph(graph, OFFICE)
    assert hours.source == "outlook" and hours.days == frozenset({0, 1, 2, 3})
    assert when(NOW_, local(MON, 7, 30), hours=hours) == local(MON, 7, 30)   # before the office
    assert when(NOW_, local(MON, 14), hours=hours) == local(TUE, 7)
    assert when(NOW_, local(date(2026, 11, 19), 14), hours=hours) == local(date(2026, 11, 23), 7)
    # 15:00 is after her day: the collection comes at the start of her next working day
    assert when(AT_15, local(MON, 9), hours=hours) == local(TUE, 7)


def test_unreadable_outlook_hours_are_the_offices():
    for data in (None, {}, {"daysOfWeek": [], "startTime": "08:00:00", "endTime": "16:00:00"},
                 {"daysOfWeek": ["monday"], "startTime": "17:00:00", "endTime": "08:00:00"},
                 {"daysOfWeek": ["monday"], "startTime": "x", "endTime": "16:00:00"}):
        assert working_hours_from_graph(data, OFFICE) == OFFICE
    odd_zone = working_hours_from_graph({"daysOfWeek": ["friday"], "startTime": "08:00:00",
                                         "endTime": "12:00:00",
                                         "timeZone": {"name": "Customized Time Zone"}}, OFFICE)
    assert odd_zone.tz == OFFICE.tz and odd_zone.days == frozenset({4})


def test_the_words_people_type():
    assert parse_preference("omedelbart") == NOW_
    assert parse_preference("samlat 15:00") == AT_15 == parse_preference("samlat 15.00")
    assert parse_preference("tyst") == QUIET_
    for any_hour in ("dygnet runt", "Dygnet  Runt", "alltid", "any hour", "always"):
        assert parse_preference(any_hour) == ANY_HOUR
    for wrong in ("samlat", "samlat 25:00", "ibland", "tyst nu", "dygnet", "runt", ""):
        assert parse_preference(wrong) is None


def test_the_grammar(org):
    command = parse("avisering slack samlat 15:00", org)
    assert command.name == "notify" and command.args == {"channel": "slack", "preference": AT_15}
    assert parse("avisering tyst", org).args == {"channel": None, "preference": QUIET_}
    assert parse("avisering e-post omedelbart", org).args["channel"] == "email"
    assert parse("avisering", org).args == {"channel": None, "preference": None}
    late = parse("avisering samlat 20:00", org)
    assert late.name == "help" and "utanför kontorstiden 08:00–16:30" in (late.error or "")
    wrong = parse("avisering ibland", org)
    assert wrong.name == "help" and "omedelbart, samlat TT:MM, tyst eller dygnet runt" in (wrong.error or "")
    assert parse("avisering teams dygnet runt", org).args == {"channel": "teams", "preference": ANY_HOUR}


def test_a_change_is_kept_with_its_history():
    at = datetime(2026, 11, 16, 9, tzinfo=timezone.utc)
    state = with_change(None, "anna", "slack", AT_15, "anna", "slack", at)
    state = with_change(state, "anna", "slack", QUIET_, "anna", "email", at)
    assert preference_for(state, "slack") == QUIET_ and preference_for(state, "teams") is None
    assert [(h["old"], h["new"], h["via"]) for h in state["history"]] == [
        ("standard", "samlat 15:00", "slack"), ("samlat 15:00", "tyst", "email")]
