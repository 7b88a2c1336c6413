"""Swedish business-day calendar for reminders and deadlines.

Which days count
----------------
A business day is Monday–Friday that is neither a Swedish holiday nor one of
the office's own configured closed days.

Holidays come from the ``holidays`` package with the categories
``("public", "de_facto")``.  The *public* category alone (the package default)
only has the statutory "helgdagar" of *lag (1989:253) om allmänna helgdagar*;
it does **not** contain midsommarafton, julafton or nyårsafton, because those
are legally ordinary weekdays.  In practice they are days off under virtually
all Swedish collective agreements (and treated as Sundays by
semesterlagen/arbetstidslagen), so a care office is closed and a reminder sent
on julafton would be wrong.  The ``de_facto`` category adds exactly those three
eves.  The ``bank`` and ``optional`` categories are deliberately *not* used:
they contain half days ("from 2pm") and squeeze days ("klämdagar") that are
normal working days for the office.

Weekends are decided by ``date.weekday()``, not by the holiday table (the
package's ``include_sundays`` option stays at its default ``False``), so
``holiday_name`` only names real holidays.

Time zones
----------
All dates are *local* dates in the organisation's time zone (default
Europe/Stockholm).  Naive datetimes are taken to be UTC.  Office hours are wall
clock times, so an office start of 08:00 is 07:00Z in winter (CET) and 06:00Z
in summer (CEST).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

__all__ = ["BusinessCalendar", "HolidayTable", "swedish_holidays", "holiday_source"]

# Which holidays for which years: date -> Swedish name.
HolidayTable = Callable[[Iterable[int]], Mapping[date, str]]

_CATEGORIES = ("public", "de_facto")
_END_OF_DAY = time(23, 59, 59)


def swedish_holidays(years: Iterable[int]) -> dict[date, str]:
    """The holidays package's Swedish public and de facto holidays, named in Swedish."""
    import holidays     # imported when first needed: it loads every country's module (0.1 s)
    table = holidays.Sweden(years=list(years), categories=_CATEGORIES, language="sv")
    return dict(table.items())


def holiday_source() -> str:
    """What a stored copy of `swedish_holidays` was made from (it is made anew when this
    changes)."""
    import holidays
    return f"holidays {holidays.__version__} SE {'+'.join(_CATEGORIES)} sv"


def _check_date(d: date) -> date:
    # datetime is a subclass of date, but datetime(2026, 12, 24) != date(2026, 12, 24)
    # and its calendar date depends on the time zone: make the caller say which.
    if isinstance(d, datetime):
        raise TypeError(
            "expected a date, got a datetime; use calendar.local(dt).date() first"
        )
    if not isinstance(d, date):
        raise TypeError(f"expected a date, got {type(d).__name__}")
    return d


class BusinessCalendar:
    """Swedish business days plus office hours in one time zone."""

    def __init__(
        self,
        timezone: str = "Europe/Stockholm",
        office_start: time = time(8, 0),
        office_end: time = time(16, 30),
        closed_days: Iterable[date] = (),
        holiday_table: HolidayTable = swedish_holidays,
    ) -> None:
        self.tz: ZoneInfo = ZoneInfo(timezone)
        if office_start.tzinfo is not None or office_end.tzinfo is not None:
            raise ValueError("office_start/office_end must be naive wall-clock times")
        if not office_start < office_end:
            raise ValueError(
                f"office_start ({office_start}) must be before office_end ({office_end})"
            )
        self.office_start_time: time = office_start
        self.office_end_time: time = office_end
        self.closed_days: frozenset[date] = frozenset(
            _check_date(d) for d in closed_days
        )

        self._holiday_table = holiday_table
        self._lock = threading.Lock()
        # Holiday table: date -> Swedish name for every year in self._years
        # (inclusive range, empty until first use).
        self._years: tuple[int, int] = (0, -1)
        self._names: dict[date, str] = {}
        self._business_memo: dict[date, bool] = {}

    # ------------------------------------------------------------------ holidays

    def _ensure_year(self, year: int) -> None:
        """Make sure ``self._names`` covers *year*; extend the range lazily.

        Only the missing years are built (walking 2000 -> 2100 one year at a
        time stays linear), then merged into a fresh dict that replaces the old
        one, so concurrent readers always see a complete table.
        """
        lo, hi = self._years
        if lo <= year <= hi:
            return
        with self._lock:
            lo, hi = self._years
            if lo <= year <= hi:
                return
            if lo > hi:
                # First use. Neighbouring years too: date arithmetic routinely
                # crosses New Year.
                missing, lo, hi = range(year - 1, year + 2), year - 1, year + 1
            elif year < lo:
                missing, lo = range(year, lo), year
            else:
                missing, hi = range(hi + 1, year + 1), year
            names = dict(self._names)
            names.update(self._holiday_table(missing))
            self._names = names
            # Publish the range last so readers never see it before the table.
            self._years = (lo, hi)

    def holiday_name(self, d: date) -> str | None:
        """Swedish name of the public or de facto holiday on *d*, else None.

        Holidays falling on a weekend are still named (e.g. Nationaldagen on a
        Saturday).  Configured closed days are not holidays and give None.
        """
        d = _check_date(d)
        self._ensure_year(d.year)
        return self._names.get(d)

    # ------------------------------------------------------------- business days

    def is_business_day(self, d: date) -> bool:
        """Mon–Fri, not a public or de facto Swedish holiday, not a closed day."""
        try:
            return self._business_memo[d]
        except KeyError:
            pass
        d = _check_date(d)
        self._ensure_year(d.year)
        result = (
            d.weekday() < 5 and d not in self._names and d not in self.closed_days
        )
        self._business_memo[d] = result
        return result

    def next_business_day(self, d: date) -> date:
        """First business day strictly after *d*."""
        d = _check_date(d) + timedelta(days=1)
        while not self.is_business_day(d):
            d += timedelta(days=1)
        return d

    def add_business_days(self, d: date, n: int) -> date:
        """The *n*-th business day after *d*.

        ``n == 0`` gives *d* itself if it is a business day, otherwise the next
        business day.  *d* itself need not be a business day for ``n >= 1``:
        Saturday + 1 is the following Monday (if that is a business day).
        """
        d = _check_date(d)
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n == 0:
            return d if self.is_business_day(d) else self.next_business_day(d)
        for _ in range(n):
            d = self.next_business_day(d)
        return d

    def business_days_between(self, start: date, end: date) -> int:
        """Number of business days in the half-open interval (start, end].

        0 when ``end <= start``.
        """
        start, end = _check_date(start), _check_date(end)
        count = 0
        d = start + timedelta(days=1)
        while d <= end:
            if self.is_business_day(d):
                count += 1
            d += timedelta(days=1)
        return count

    # ------------------------------------------------------------------ datetimes

    def local(self, dt: datetime) -> datetime:
        """*dt* converted to the organisation's time zone (naive input = UTC)."""
        if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.astimezone(self.tz)

    def _at(self, d: date, t: time) -> datetime:
        # Round trip through UTC so a wall time inside a DST gap is normalised
        # to a real instant (irrelevant for 08:00/16:30, but office hours are
        # configurable).
        naive = datetime.combine(_check_date(d), t)
        return naive.replace(tzinfo=self.tz).astimezone(timezone.utc).astimezone(self.tz)

    def office_start(self, d: date) -> datetime:
        """Aware datetime: *d* at the office start time, in the org time zone."""
        return self._at(d, self.office_start_time)

    def office_end(self, d: date) -> datetime:
        """Aware datetime: *d* at the office end time, in the org time zone."""
        return self._at(d, self.office_end_time)

    def deadline(self, start: datetime, n: int) -> datetime:
        """End of the *n*-th business day after *start*'s local date.

        Returns 23:59:59 local time on ``add_business_days(local(start).date(), n)``.
        """
        day = self.add_business_days(self.local(start).date(), n)
        return self._at(day, _END_OF_DAY)

    def in_office_hours(self, dt: datetime) -> bool:
        """True on a business day with office_start <= local time < office_end."""
        loc = self.local(dt)
        if not self.is_business_day(loc.date()):
            return False
        return self.office_start(loc.date()) <= loc < self.office_end(loc.date())

    def add_office_hours(self, start: datetime, hours: float) -> datetime:
        """The moment *hours* of office time after *start*: only office hours of business
        days count (a request that came in at 15:00 with office until 16:30 is two office
        hours old at 08:30 the next business day)."""
        left = timedelta(hours=hours)
        moment = self.local(start)
        if not self.in_office_hours(moment):
            moment = self.next_office_start(moment)
        for _ in range(10 * 366):          # office hours that never open: not forever
            end = self.office_end(moment.date())
            if moment + left <= end:
                return moment + left
            left -= max(end - moment, timedelta(0))
            moment = self.office_start(self.next_business_day(moment.date()))
        raise ValueError("office hours have no time in them")

    def next_office_start(self, dt: datetime) -> datetime:
        """The first office start of a business day at or after *dt*."""
        loc = self.local(dt)
        d = loc.date()
        if self.is_business_day(d):
            start = self.office_start(d)
            if start >= loc:
                return start
        return self.office_start(self.next_business_day(d))
