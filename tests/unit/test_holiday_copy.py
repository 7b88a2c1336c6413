"""The writer keeps a copy of the Swedish holiday table beside the diary, so that a reader
(`status` on the command line) need not load the holidays package; the copy only ever makes
things faster, never different, and a missing or broken copy is never an error."""
from __future__ import annotations

from datetime import date

import pytest

from bot.store.holiday_copy import FILE, StoredHolidays
from reminders.calendar import BusinessCalendar, swedish_holidays


def _refuse(years):
    raise AssertionError(f"the holidays package was asked for {list(years)}")


def test_a_reader_takes_the_days_from_the_writers_copy(tmp_path):
    StoredHolidays(tmp_path).keep_current(2026)
    reader = BusinessCalendar(holiday_table=StoredHolidays(tmp_path, compute=_refuse))
    assert reader.holiday_name(date(2026, 12, 24)) == "Julafton"
    assert not reader.is_business_day(date(2026, 6, 19))         # midsommarafton
    assert reader.is_business_day(date(2026, 12, 23))
    from_package = BusinessCalendar()
    for year in (2007, 2018, 2026, 2036):
        first = date(year, 1, 1).toordinal()
        for day in map(date.fromordinal, range(first, date(year, 12, 31).toordinal() + 1)):
            assert reader.is_business_day(day) == from_package.is_business_day(day), day


def test_years_outside_the_copy_come_from_the_package(tmp_path):
    StoredHolidays(tmp_path).keep_current(2026)
    asked = []

    def package(years):
        asked.append(list(years))
        return swedish_holidays(years)

    calendar = BusinessCalendar(holiday_table=StoredHolidays(tmp_path, compute=package))
    assert calendar.holiday_name(date(1990, 12, 25)) == "Juldagen"
    assert asked and 1990 in asked[0]


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"first": 2000}', b'{"days": []}'])
def test_a_broken_copy_is_read_past(tmp_path, content):
    (tmp_path / FILE).write_bytes(content)
    calendar = BusinessCalendar(holiday_table=StoredHolidays(tmp_path))
    assert calendar.holiday_name(date(2026, 1, 6)) == "Trettondedag jul"
    StoredHolidays(tmp_path).keep_current(2026)        # the writer makes it anew
    reader = BusinessCalendar(holiday_table=StoredHolidays(tmp_path, compute=_refuse))
    assert reader.holiday_name(date(2026, 1, 6)) == "Trettondedag jul"


def test_the_copy_is_made_anew_when_it_no_longer_reaches_around_this_year(tmp_path):
    StoredHolidays(tmp_path).keep_current(2026)
    before = (tmp_path / FILE).read_bytes()
    StoredHolidays(tmp_path).keep_current(2026)
    assert (tmp_path / FILE).read_bytes() == before        # current: left alone
    StoredHolidays(tmp_path).keep_current(2040)
    reader = BusinessCalendar(holiday_table=StoredHolidays(tmp_path, compute=_refuse))
    assert reader.holiday_name(date(2049, 12, 25)) == "Juldagen"
    assert (tmp_path / FILE).stat().st_mode & 0o777 == 0o600
