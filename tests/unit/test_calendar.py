"""BusinessCalendar against the real Swedish calendar for 2026 and 2027.

Every expected value below is written by hand (Easter 2026-04-05, Easter
2027-03-28; midsommarafton = the Friday in 19–25 June; Kristi himmelsfärd =
Easter + 39 days) and was cross-checked against holidays.Sweden(...,
categories=("public", "de_facto")).

Stockholm DST: 2026-03-29 and 2027-03-28 CET(+01)->CEST(+02) at 01:00Z;
2026-10-25 and 2027-10-31 CEST->CET at 01:00Z.
"""

from __future__ import annotations

import time as _time
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from reminders.calendar import BusinessCalendar

STHLM = ZoneInfo("Europe/Stockholm")
UTC = timezone.utc
CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))


def D(s: str) -> date:
    return date.fromisoformat(s)


def Z(s: str) -> datetime:
    """UTC instant from 'YYYY-MM-DDTHH:MM[:SS]'."""
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def L(s: str) -> datetime:
    """Stockholm wall-clock time."""
    return datetime.fromisoformat(s).replace(tzinfo=STHLM)


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return BusinessCalendar()


@pytest.fixture(scope="module")
def cal_closed_23dec() -> BusinessCalendar:
    return BusinessCalendar(closed_days=[D("2026-12-23")])


# --------------------------------------------------------------- is_business_day

IS_BUSINESS_DAY = [
    # date, expected, why
    ("2026-06-19", False, "midsommarafton (Fri) - de facto"),
    ("2027-06-25", False, "midsommarafton (Fri) - de facto"),
    ("2026-06-18", True, "day before midsommarafton (Thu)"),
    ("2026-06-22", True, "Monday after midsommar"),
    ("2026-12-23", True, "Wed before julafton (no closed days configured)"),
    ("2026-12-24", False, "julafton (Thu) - de facto"),
    ("2026-12-25", False, "juldagen (Fri)"),
    ("2026-12-26", False, "annandag jul (Sat)"),
    ("2026-12-28", True, "Monday in romjulen"),
    ("2026-12-31", False, "nyårsafton (Thu) - de facto"),
    ("2027-01-01", False, "nyårsdagen (Fri)"),
    ("2026-01-01", False, "nyårsdagen (Thu)"),
    ("2026-01-06", False, "trettondedag jul (Tue)"),
    ("2027-01-06", False, "trettondedag jul (Wed)"),
    ("2027-01-07", True, "Thursday after trettondagen"),
    ("2026-05-14", False, "Kristi himmelsfärdsdag (Thu)"),
    ("2027-05-06", False, "Kristi himmelsfärdsdag (Thu)"),
    ("2026-05-15", True, "klämdag after Kristi himmelsfärd is a working day"),
    ("2026-06-06", False, "nationaldagen on a Saturday - just a weekend"),
    ("2027-06-06", False, "nationaldagen on a Sunday - just a weekend"),
    ("2025-06-06", False, "nationaldagen on a Friday"),
    ("2026-06-05", True, "Friday before nationaldagen 2026"),
    ("2026-04-02", True, "skärtorsdag is a working day"),
    ("2026-04-03", False, "långfredagen"),
    ("2026-04-06", False, "annandag påsk"),
    ("2026-04-07", True, "Tuesday after påsk"),
    ("2027-03-26", False, "långfredagen"),
    ("2027-03-29", False, "annandag påsk"),
    ("2026-05-01", False, "första maj (Fri)"),
    ("2027-05-01", False, "första maj (Sat)"),
    ("2026-04-30", True, "valborgsmässoafton is a working day"),
    ("2026-05-25", True, "annandag pingst is no longer a holiday (since 2005)"),
    ("2026-10-30", True, "Friday before alla helgons dag"),
    ("2026-10-31", False, "alla helgons dag (Sat)"),
    ("2026-03-11", True, "ordinary Wednesday"),
    ("2027-09-15", True, "ordinary Wednesday"),
    ("2026-03-14", False, "ordinary Saturday"),
    ("2026-03-15", False, "ordinary Sunday"),
]


@pytest.mark.parametrize(
    "day, expected, why", IS_BUSINESS_DAY, ids=[f"{d}-{w}" for d, _, w in IS_BUSINESS_DAY]
)
def test_is_business_day(cal, day, expected, why):
    assert cal.is_business_day(D(day)) is expected, why


@pytest.mark.parametrize(
    "day, expected",
    [
        ("2026-12-23", False),  # configured closed day
        ("2026-12-22", True),
        ("2026-12-24", False),
        ("2026-12-28", True),
    ],
)
def test_is_business_day_with_closed_day(cal_closed_23dec, day, expected):
    assert cal_closed_23dec.is_business_day(D(day)) is expected


# All weekday holidays (public + de facto), written by hand.
WEEKDAY_HOLIDAYS = {
    2026: [
        "2026-01-01", "2026-01-06", "2026-04-03", "2026-04-06", "2026-05-01",
        "2026-05-14", "2026-06-19", "2026-12-24", "2026-12-25", "2026-12-31",
    ],
    2027: [
        "2027-01-01", "2027-01-06", "2027-03-26", "2027-03-29", "2027-05-06",
        "2027-06-25", "2027-12-24", "2027-12-31",
    ],
}


@pytest.mark.parametrize("year", [2026, 2027])
def test_non_business_weekdays_are_exactly_the_hand_written_holidays(cal, year):
    d, found = date(year, 1, 1), []
    while d.year == year:
        if d.weekday() < 5 and not cal.is_business_day(d):
            found.append(d.isoformat())
        d += timedelta(days=1)
    assert found == WEEKDAY_HOLIDAYS[year]


@pytest.mark.parametrize(
    "day, name",
    [
        ("2026-06-19", "Midsommarafton"),
        ("2026-06-20", "Midsommardagen"),
        ("2026-12-24", "Julafton"),
        ("2026-12-25", "Juldagen"),
        ("2026-12-26", "Annandag jul"),
        ("2026-12-31", "Nyårsafton"),
        ("2027-01-01", "Nyårsdagen"),
        ("2026-01-06", "Trettondedag jul"),
        ("2026-04-03", "Långfredagen"),
        ("2026-04-06", "Annandag påsk"),
        ("2026-05-01", "Första maj"),
        ("2026-05-14", "Kristi himmelsfärdsdag"),
        ("2026-06-06", "Nationaldagen"),  # named even on a Saturday
        ("2026-12-28", None),
        ("2026-03-15", None),  # plain Sunday is not a "holiday"
        ("2026-05-15", None),  # klämdag
    ],
)
def test_holiday_name(cal, day, name):
    assert cal.holiday_name(D(day)) == name


def test_closed_day_is_not_named_a_holiday(cal_closed_23dec):
    assert cal_closed_23dec.holiday_name(D("2026-12-23")) is None


@pytest.mark.parametrize(
    "day, expected",
    [
        ("2000-06-12", False),  # annandag pingst still a holiday in 2000
        ("2005-05-16", True),  # ... abolished from 2005
        ("2005-06-06", False),  # nationaldagen (Mon), first year as holiday
        ("2004-06-07", True),  # 6 June 2004 was a Sunday; no substitute day
        ("2100-12-24", False),  # julafton (Fri)
        ("2100-06-25", False),  # midsommarafton (Fri)
        ("2100-12-27", True),
    ],
)
def test_any_year_2000_2100(day, expected):
    cal = BusinessCalendar()
    assert cal.is_business_day(D("2026-01-01")) is False  # start in the middle
    assert cal.is_business_day(D(day)) is expected


def test_loops_are_fast():
    cal = BusinessCalendar()
    days = [date(2000, 1, 1) + timedelta(days=i * 7) for i in range(5000)]  # ~2000-2095
    t0 = _time.perf_counter()
    for _ in range(20):
        for d in days:
            cal.is_business_day(d)
    assert _time.perf_counter() - t0 < 2.0


def test_datetime_is_rejected_where_a_date_is_expected(cal):
    with pytest.raises(TypeError):
        cal.is_business_day(datetime(2026, 12, 24, 12, 0))


def test_office_hours_must_be_ordered():
    with pytest.raises(ValueError):
        BusinessCalendar(office_start=time(17, 0), office_end=time(8, 0))


# ------------------------------------------------------------ add_business_days

ADD_BUSINESS_DAYS = [
    # start, n, expected
    ("2026-12-22", 3, "2026-12-29"),  # julen: 23, 28, 29
    ("2026-12-22", 1, "2026-12-23"),
    ("2026-12-23", 1, "2026-12-28"),
    ("2026-12-26", 1, "2026-12-28"),  # from a non-business day
    ("2026-12-30", 1, "2027-01-04"),  # nyår
    ("2026-12-30", 3, "2027-01-07"),  # 4, 5, (6 trettondagen), 7
    ("2026-04-02", 1, "2026-04-07"),  # påsk 2026
    ("2026-04-01", 2, "2026-04-07"),
    ("2027-03-25", 1, "2027-03-30"),  # påsk 2027
    ("2026-05-13", 1, "2026-05-15"),  # Kristi himmelsfärd 2026
    ("2026-05-13", 2, "2026-05-18"),
    ("2027-05-05", 1, "2027-05-07"),  # Kristi himmelsfärd 2027
    ("2026-06-18", 1, "2026-06-22"),  # midsommar 2026
    ("2027-06-24", 1, "2027-06-28"),  # midsommar 2027
    ("2026-03-11", 5, "2026-03-18"),  # ordinary week
    ("2026-03-11", 0, "2026-03-11"),  # n=0 on a business day: itself
    ("2026-12-24", 0, "2026-12-28"),  # n=0 on a holiday: next business day
    ("2026-03-14", 0, "2026-03-16"),  # n=0 on a Saturday
]


@pytest.mark.parametrize("start, n, expected", ADD_BUSINESS_DAYS)
def test_add_business_days(cal, start, n, expected):
    assert cal.add_business_days(D(start), n) == D(expected)


@pytest.mark.parametrize(
    "start, n, expected",
    [
        ("2026-12-22", 3, "2026-12-30"),  # 23 closed: 28, 29, 30
        ("2026-12-22", 1, "2026-12-28"),
        ("2026-12-23", 0, "2026-12-28"),
    ],
)
def test_add_business_days_with_closed_day(cal_closed_23dec, start, n, expected):
    assert cal_closed_23dec.add_business_days(D(start), n) == D(expected)


def test_add_business_days_negative_n_rejected(cal):
    with pytest.raises(ValueError):
        cal.add_business_days(D("2026-03-11"), -1)


@pytest.mark.parametrize(
    "day, expected",
    [
        ("2026-12-23", "2026-12-28"),
        ("2026-12-22", "2026-12-23"),
        ("2026-04-02", "2026-04-07"),
        ("2026-03-13", "2026-03-16"),  # Fri -> Mon
        ("2026-03-14", "2026-03-16"),  # Sat -> Mon
        ("2027-12-23", "2027-12-27"),  # julafton 2027 is a Friday
        ("2027-12-30", "2028-01-03"),  # nyårsafton Fri; 2028-01-01 Sat
    ],
)
def test_next_business_day(cal, day, expected):
    assert cal.next_business_day(D(day)) == D(expected)


# ------------------------------------------------------------------- deadline

DEADLINE = [
    # start (aware), n, expected deadline (aware, explicit offset)
    (L("2026-12-22T10:00"), 3, datetime(2026, 12, 29, 23, 59, 59, tzinfo=CET)),
    # 23:30Z on the 22nd is already 00:30 on the 23rd in Stockholm
    (Z("2026-12-22T23:30"), 3, datetime(2026, 12, 30, 23, 59, 59, tzinfo=CET)),
    (L("2026-04-02T15:00"), 1, datetime(2026, 4, 7, 23, 59, 59, tzinfo=CEST)),
    (Z("2026-05-13T09:00"), 1, datetime(2026, 5, 15, 23, 59, 59, tzinfo=CEST)),
    (L("2027-05-05T08:00"), 2, datetime(2027, 5, 10, 23, 59, 59, tzinfo=CEST)),
    # across the DST changes: the deadline takes the offset of its own day
    (L("2026-03-27T12:00"), 1, datetime(2026, 3, 30, 23, 59, 59, tzinfo=CEST)),
    (L("2026-10-23T12:00"), 1, datetime(2026, 10, 26, 23, 59, 59, tzinfo=CET)),
    (L("2026-03-11T12:00"), 0, datetime(2026, 3, 11, 23, 59, 59, tzinfo=CET)),
]


@pytest.mark.parametrize("start, n, expected", DEADLINE)
def test_deadline(cal, start, n, expected):
    got = cal.deadline(start, n)
    assert got == expected
    assert got.utcoffset() == expected.utcoffset()
    assert got.tzinfo == STHLM
    assert (got.hour, got.minute, got.second) == (23, 59, 59)


def test_deadline_with_closed_day(cal_closed_23dec):
    got = cal_closed_23dec.deadline(L("2026-12-22T10:00"), 3)
    assert got == datetime(2026, 12, 30, 23, 59, 59, tzinfo=CET)


def test_deadline_naive_start_is_utc(cal):
    # naive 22:30 = 22:30Z = 00:30 CEST on 2026-06-18; +1 skips midsommarafton
    got = cal.deadline(datetime(2026, 6, 17, 22, 30), 1)
    assert got == datetime(2026, 6, 22, 23, 59, 59, tzinfo=CEST)


# ---------------------------------------------------------------- local time

@pytest.mark.parametrize(
    "dt, expected_local",
    [
        (datetime(2026, 1, 15, 12, 0), "2026-01-15T13:00:00+01:00"),  # naive = UTC
        (Z("2026-07-15T12:00"), "2026-07-15T14:00:00+02:00"),
        (Z("2026-03-29T00:59"), "2026-03-29T01:59:00+01:00"),
        (Z("2026-03-29T01:00"), "2026-03-29T03:00:00+02:00"),
        (Z("2026-10-25T00:30"), "2026-10-25T02:30:00+02:00"),
        (Z("2026-10-25T01:30"), "2026-10-25T02:30:00+01:00"),
    ],
)
def test_local(cal, dt, expected_local):
    got = cal.local(dt)
    assert got.isoformat() == expected_local
    assert got.tzinfo == STHLM


# --------------------------------------------------------- DST: office_start

OFFICE_START_DST = [
    # day, expected office start in UTC
    ("2026-03-27", "2026-03-27T07:00"),  # Fri before spring change: CET
    ("2026-03-29", "2026-03-29T06:00"),  # the change day itself
    ("2026-03-30", "2026-03-30T06:00"),  # Monday after: CEST
    ("2026-10-23", "2026-10-23T06:00"),  # Fri before autumn change: CEST
    ("2026-10-25", "2026-10-25T07:00"),
    ("2026-10-26", "2026-10-26T07:00"),  # Monday after: CET
    ("2027-03-29", "2027-03-29T06:00"),  # Monday after (annandag påsk)
    ("2027-03-30", "2027-03-30T06:00"),
    ("2027-11-01", "2027-11-01T07:00"),  # Monday after 2027-10-31
    ("2026-12-28", "2026-12-28T07:00"),
    ("2026-07-01", "2026-07-01T06:00"),
]


@pytest.mark.parametrize("day, expected_utc", OFFICE_START_DST)
def test_office_start_utc_offset(cal, day, expected_utc):
    got = cal.office_start(D(day))
    assert got.tzinfo == STHLM
    assert (got.hour, got.minute) == (8, 0)
    assert got.date() == D(day)
    assert got == Z(expected_utc)


@pytest.mark.parametrize(
    "day, expected_utc",
    [
        ("2026-03-30", "2026-03-30T14:30"),
        ("2026-10-26", "2026-10-26T15:30"),
    ],
)
def test_office_end_utc_offset(cal, day, expected_utc):
    got = cal.office_end(D(day))
    assert (got.hour, got.minute) == (16, 30)
    assert got == Z(expected_utc)


# ---------------------------------------------------------- in_office_hours

IN_OFFICE_HOURS = [
    # ordinary winter Wednesday (CET)
    (L("2026-03-11T07:59"), False),
    (L("2026-03-11T08:00"), True),
    (L("2026-03-11T16:29"), True),
    (L("2026-03-11T16:29:59"), True),
    (L("2026-03-11T16:30"), False),
    (Z("2026-03-11T06:59"), False),
    (Z("2026-03-11T07:00"), True),
    (Z("2026-03-11T15:29"), True),
    (Z("2026-03-11T15:30"), False),
    # ordinary summer Wednesday (CEST)
    (L("2026-08-12T07:59"), False),
    (L("2026-08-12T08:00"), True),
    (L("2026-08-12T16:29"), True),
    (L("2026-08-12T16:30"), False),
    # holidays / weekend at 10:00
    (L("2026-12-24T10:00"), False),
    (L("2026-06-19T10:00"), False),
    (L("2026-05-14T10:00"), False),
    (L("2026-03-14T10:00"), False),
    # spring change 2026: Fri CET, Mon CEST
    (Z("2026-03-27T06:59"), False),  # 07:59 CET
    (Z("2026-03-27T07:00"), True),  # 08:00 CET
    (Z("2026-03-29T01:00"), False),  # the change itself, Sunday
    (Z("2026-03-30T05:59"), False),  # 07:59 CEST
    (Z("2026-03-30T06:00"), True),  # 08:00 CEST
    (Z("2026-03-30T07:00"), True),
    (Z("2026-03-30T14:29"), True),  # 16:29 CEST
    (Z("2026-03-30T14:30"), False),  # 16:30 CEST
    (Z("2026-03-30T15:00"), False),  # 17:00 CEST (would be 16:00 in CET)
    # autumn change 2026: Fri CEST, Mon CET
    (Z("2026-10-23T06:00"), True),  # 08:00 CEST
    (Z("2026-10-23T14:30"), False),  # 16:30 CEST
    (Z("2026-10-25T01:30"), False),  # second 02:30, Sunday
    (Z("2026-10-26T06:00"), False),  # 07:00 CET (would be 08:00 in CEST)
    (Z("2026-10-26T06:59"), False),
    (Z("2026-10-26T07:00"), True),  # 08:00 CET
    (Z("2026-10-26T15:29"), True),  # 16:29 CET
    (Z("2026-10-26T15:30"), False),
    # 2027 changes
    (Z("2027-03-29T06:00"), False),  # Monday after is annandag påsk
    (Z("2027-03-30T05:59"), False),
    (Z("2027-03-30T06:00"), True),
    (Z("2027-11-01T06:59"), False),
    (Z("2027-11-01T07:00"), True),
    # naive = UTC
    (datetime(2026, 3, 30, 6, 0), True),
    (datetime(2026, 3, 30, 5, 59), False),
]


@pytest.mark.parametrize("dt, expected", IN_OFFICE_HOURS, ids=[d.isoformat() for d, _ in IN_OFFICE_HOURS])
def test_in_office_hours(cal, dt, expected):
    assert cal.in_office_hours(dt) is expected


def test_in_office_hours_closed_day(cal_closed_23dec):
    assert cal_closed_23dec.in_office_hours(L("2026-12-23T10:00")) is False
    assert cal_closed_23dec.in_office_hours(L("2026-12-22T10:00")) is True


# --------------------------------------------------------- next_office_start

NEXT_OFFICE_START = [
    # dt, expected next office start (UTC)
    # Friday evening before the spring change -> Monday 08:00 CEST
    (L("2026-03-27T18:00"), "2026-03-30T06:00"),
    (Z("2026-03-27T17:00"), "2026-03-30T06:00"),
    (Z("2026-03-29T01:30"), "2026-03-30T06:00"),  # just after the change
    # Friday evening before the autumn change -> Monday 08:00 CET
    (L("2026-10-23T18:00"), "2026-10-26T07:00"),
    (Z("2026-10-25T00:30"), "2026-10-26T07:00"),  # first 02:30
    (Z("2026-10-25T01:30"), "2026-10-26T07:00"),  # second 02:30
    # 2027 spring change is Easter weekend: Thu evening -> Tue 08:00 CEST
    (L("2027-03-25T18:00"), "2027-03-30T06:00"),
    (L("2027-03-26T18:00"), "2027-03-30T06:00"),  # långfredag evening
    # 2027 autumn change: Fri evening -> Mon 2027-11-01 08:00 CET
    (L("2027-10-29T18:00"), "2027-11-01T07:00"),
    # same day, before / exactly at / after office start
    (L("2026-03-11T07:00"), "2026-03-11T07:00"),
    (L("2026-03-11T08:00"), "2026-03-11T07:00"),  # exactly at start -> itself
    (L("2026-03-11T08:00:01"), "2026-03-12T07:00"),
    (L("2026-03-11T12:00"), "2026-03-12T07:00"),
    (L("2026-03-11T00:00"), "2026-03-11T07:00"),
    # julen / nyår
    (L("2026-12-23T17:00"), "2026-12-28T07:00"),
    (L("2026-12-30T17:00"), "2027-01-04T07:00"),
    (L("2026-06-18T17:00"), "2026-06-22T06:00"),  # midsommar
    # naive = UTC: 06:30Z on 2026-03-30 is 08:30 CEST, after the start
    (datetime(2026, 3, 30, 6, 30), "2026-03-31T06:00"),
]


@pytest.mark.parametrize(
    "dt, expected_utc", NEXT_OFFICE_START, ids=[d.isoformat() for d, _ in NEXT_OFFICE_START]
)
def test_next_office_start(cal, dt, expected_utc):
    got = cal.next_office_start(dt)
    assert got == Z(expected_utc)
    assert got.tzinfo == STHLM
    assert (got.hour, got.minute, got.second) == (8, 0, 0)
    assert cal.is_business_day(got.date())


def test_next_office_start_with_closed_day(cal_closed_23dec):
    got = cal_closed_23dec.next_office_start(L("2026-12-22T17:00"))
    assert got == Z("2026-12-28T07:00")


# ---------------------------------------------------- business_days_between

BUSINESS_DAYS_BETWEEN = [
    # (start, end], expected
    ("2026-12-22", "2026-12-31", 4),  # 23, 28, 29, 30
    ("2026-12-31", "2027-01-08", 4),  # 4, 5, 7, 8
    ("2026-04-02", "2026-04-07", 1),  # only 7
    ("2026-05-11", "2026-05-15", 3),  # 12, 13, 15
    ("2026-06-17", "2026-06-22", 2),  # 18, 22
    ("2026-03-09", "2026-03-16", 5),  # ordinary week, Mon -> Mon
    ("2026-03-13", "2026-03-15", 0),  # Fri -> Sun
    ("2026-03-11", "2026-03-11", 0),  # empty interval
    ("2026-03-11", "2026-03-12", 1),
    ("2026-03-12", "2026-03-11", 0),  # end before start
    ("2025-12-31", "2026-12-31", 251),  # all of 2026: 261 weekdays - 10 holidays
    ("2026-12-31", "2027-12-31", 253),  # all of 2027: 261 weekdays - 8 holidays
]


@pytest.mark.parametrize("start, end, expected", BUSINESS_DAYS_BETWEEN)
def test_business_days_between(cal, start, end, expected):
    assert cal.business_days_between(D(start), D(end)) == expected


def test_business_days_between_with_closed_day(cal_closed_23dec):
    assert cal_closed_23dec.business_days_between(D("2026-12-22"), D("2026-12-31")) == 3


@pytest.mark.parametrize("start, n", [("2026-12-22", 3), ("2026-04-01", 2), ("2027-03-25", 4)])
def test_between_and_add_agree(cal, start, n):
    end = cal.add_business_days(D(start), n)
    assert cal.business_days_between(D(start), end) == n
    assert cal.business_days_between(D(start), end - timedelta(days=1)) == n - 1
