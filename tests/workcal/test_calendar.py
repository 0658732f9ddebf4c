"""The in-memory working calendar: the examples of DESIGN §4, and properties against a
minute-by-minute count over the same calendar."""

from __future__ import annotations

import logging
import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov.catalog.models import TIME_UNITS
from gridgov.workcal.calendar import (
    UNIT_CODES,
    UNITS,
    WorkCalendar,
    clock_light,
    from_minute,
    parse_office_hours,
    to_minute,
    to_minutes,
    working_deadline,
    working_elapsed,
)
from tests.workcal.brute import ADMIN_2027, EPOCH, PACKAGE_YEARS, SHANGHAI, Brute, package_exceptions

PACKAGE = package_exceptions()
CAL = WorkCalendar(PACKAGE, PACKAGE_YEARS)  # 2027 and later: no data
CAL_2027 = WorkCalendar({**PACKAGE, **ADMIN_2027}, [*PACKAGE_YEARS, 2027])
BRUTE = {id(CAL): Brute(PACKAGE), id(CAL_2027): Brute({**PACKAGE, **ADMIN_2027})}
PER = {"work_hours": 60, "work_days": 480}


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def ceil_minute(moment: datetime) -> int:
    micro = (moment - EPOCH) // timedelta(microseconds=1)
    return -(-micro // 60_000_000)


def floor_minute(moment: datetime) -> int:
    return ((moment - EPOCH) // timedelta(microseconds=1)) // 60_000_000


@pytest.fixture
def warnings_seen():
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger = logging.getLogger("gridgov.workcal")
    handler, level = Keep(level=logging.WARNING), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


# --- the examples that must hold ---

def test_one_working_day_from_national_day_eve_ends_after_the_holiday():
    start = sh(2026, 9, 30, 17, 0)
    due = CAL.deadline(start, 1, "work_days")
    # chinesecalendar's 2026 schedule: 1–7 October off, so the next working day is the 8th.
    next_day = chinese_calendar.find_workday(1, date(2026, 9, 30))
    assert next_day == date(2026, 10, 8)
    assert all(not chinese_calendar.is_workday(date(2026, 10, d)) for d in range(1, 8))
    # 17:00–18:00 on the 30th is one hour; seven more: 08:00–12:00 and 14:00–17:00 on the 8th.
    assert due == datetime(next_day.year, next_day.month, next_day.day, 17, 0, tzinfo=SHANGHAI)
    assert due.tzinfo is UTC and due == datetime(2026, 10, 8, 9, 0, tzinfo=UTC)
    assert working_deadline(CAL, start, 1, "work_days") == due
    assert CAL.elapsed(start, due, "work_days") == 1.0
    assert working_elapsed(CAL, start, due, "work_hours") == 8.0
    assert CAL.missing_years(start, due) == set()


def test_a_deadline_in_2027_spring_festival_falls_back_then_moves_when_2027_is_entered(warnings_seen):
    start = sh(2027, 2, 4, 9, 0)  # a Thursday, the day before the (hypothetical) holiday
    # No 2027 data: Monday–Friday. Thu 7 h, Fri 8 h, Mon 8 h, then 1 h on Tuesday the 9th.
    fallback = WorkCalendar(PACKAGE, PACKAGE_YEARS)
    assert fallback.deadline(start, 3, "work_days") == sh(2027, 2, 9, 9, 0)
    assert fallback.missing_years(start, sh(2027, 2, 9, 9, 0)) == {2027}
    warned = [r for r in warnings_seen if "2027" in r.getMessage()]
    assert len(warned) == 1 and warned[0].fields == {"calendar_year": 2027}
    # With the admin's 2027 schedule (5 and 8–12 February off) it moves past the holiday.
    entered = WorkCalendar({**PACKAGE, **ADMIN_2027}, [*PACKAGE_YEARS, 2027])
    assert entered.deadline(start, 3, "work_days") == sh(2027, 2, 17, 9, 0)
    assert entered.missing_years(start, sh(2027, 2, 17, 9, 0)) == set()
    # A make-up Saturday counts: from Friday the 19th 17:00, one working hour ends Saturday 09:00.
    assert entered.deadline(sh(2027, 2, 19, 17, 0), 2, "work_hours") == sh(2027, 2, 20, 9, 0)
    assert fallback.deadline(sh(2027, 2, 19, 17, 0), 2, "work_hours") == sh(2027, 2, 22, 9, 0)


def test_missing_years_warn_once_per_year(warnings_seen):
    cal = WorkCalendar(PACKAGE, PACKAGE_YEARS)
    cal.deadline(sh(2026, 12, 30, 9, 0), 10, "work_days")  # runs into 2027
    cal.deadline(sh(2027, 3, 1, 9, 0), 2, "work_days")
    cal.elapsed(sh(2027, 3, 1, 9, 0), sh(2028, 3, 1, 9, 0), "work_hours")
    cal.deadline(sh(2026, 3, 2, 9, 0), 2, "work_days")  # 2026 has data: no warning
    cal.deadline(sh(2029, 3, 1, 9, 0), 2, "urgent_hours")  # round the clock: the calendar does not matter
    messages = [r.getMessage() for r in warnings_seen]
    assert len(messages) == 2, messages
    assert "2027" in messages[0] and "2028" in messages[1]
    assert all("周一至周五" in m for m in messages)
    assert cal.missing_years(sh(2026, 12, 1), sh(2028, 1, 1)) == {2027, 2028}
    assert cal.missing_years(sh(2028, 1, 1), sh(2026, 12, 1)) == {2027, 2028}  # either order
    assert cal.missing_years(sh(2025, 1, 1), sh(2026, 12, 31, 23, 59)) == set()
    # Local years: 2026-12-31 20:00 UTC is already 2027 in Shanghai.
    assert cal.missing_years(datetime(2026, 12, 31, 20, tzinfo=UTC), datetime(2026, 12, 31, 20, tzinfo=UTC)) == {2027}


# --- days and units ---

def test_working_days_follow_holidays_make_up_days_and_weekends():
    assert not CAL.is_working_day(date(2026, 10, 1))  # National Day, a Thursday
    assert not CAL.is_working_day(date(2026, 10, 3))  # a Saturday in the holiday
    assert CAL.is_working_day(date(2026, 10, 10))  # 调休: a Saturday worked
    assert CAL.is_working_day(date(2026, 9, 30))
    assert not CAL.is_working_day(date(2026, 9, 26))  # a plain Saturday
    assert CAL.is_working_day(date(2027, 2, 8))  # no 2027 data: a Monday works
    assert not CAL_2027.is_working_day(date(2027, 2, 8))
    assert CAL.exception(date(2026, 10, 10)) == "workday" and CAL.exception(date(2026, 10, 9)) is None


def test_units_are_the_catalog_units():
    assert UNITS == TIME_UNITS
    assert set(UNIT_CODES) == set(UNITS)


def test_round_the_clock_units():
    start = sh(2026, 9, 30, 17, 0)
    assert CAL.deadline(start, 2, "urgent_hours") == sh(2026, 9, 30, 19, 0)
    assert CAL.deadline(start, 1.5, "calendar_days") == sh(2026, 10, 2, 5, 0)
    assert CAL.elapsed(start, sh(2026, 10, 1, 5, 0), "urgent_hours") == 12.0
    assert CAL.elapsed(start, sh(2026, 10, 1, 5, 0), "calendar_days") == 0.5


def test_counting_starts_at_the_next_working_minute_and_ends_at_the_last_counted_minute():
    # Friday 9 October 2026, 19:00: the next working minute is the make-up Saturday, 08:00.
    assert CAL.deadline(sh(2026, 10, 9, 19, 0), 1, "work_hours") == sh(2026, 10, 10, 9, 0)
    assert CAL.next_working_minute(sh(2026, 10, 9, 19, 0)) == sh(2026, 10, 10, 8, 0)
    assert CAL.deadline(sh(2026, 10, 12, 12, 30), 1, "work_hours") == sh(2026, 10, 12, 15, 0)  # lunch skipped
    assert CAL.deadline(sh(2026, 10, 12, 8, 0), 4, "work_hours") == sh(2026, 10, 12, 12, 0)  # not 14:00
    assert CAL.deadline(sh(2026, 10, 12, 8, 0), 0.5, "work_days") == sh(2026, 10, 12, 12, 0)
    assert CAL.deadline(sh(2026, 10, 12, 8, 0), 0, "work_days") == sh(2026, 10, 12, 8, 0)
    assert CAL.elapsed(sh(2026, 10, 12, 11, 0), sh(2026, 10, 12, 15, 0), "work_hours") == 2.0
    assert CAL.elapsed(sh(2026, 10, 12, 15, 0), sh(2026, 10, 12, 11, 0), "work_hours") == 0.0


def test_sub_minute_starts_round_up_ends_round_down_and_part_minutes_round_up():
    start = sh(2026, 10, 12, 9, 0, 0, 1)  # one microsecond past 09:00 counts from 09:01
    assert CAL.deadline(start, 1, "work_hours") == sh(2026, 10, 12, 10, 1)
    assert CAL.deadline(start, 1, "urgent_hours") == sh(2026, 10, 12, 10, 1)
    assert CAL.elapsed(sh(2026, 10, 12, 9, 0), sh(2026, 10, 12, 9, 59, 59), "work_hours") == 59 / 60
    assert CAL.deadline(sh(2026, 10, 12, 9, 0), 0.01, "work_hours") == sh(2026, 10, 12, 9, 1)  # 0.6 min → 1
    assert CAL.deadline(sh(2026, 10, 12, 9, 0), 0.1, "work_hours") == sh(2026, 10, 12, 9, 6)  # float noise
    assert to_minute(sh(2026, 1, 1, 0, 0, 30)) == to_minute(sh(2026, 1, 1, 0, 1))
    assert to_minute(sh(2026, 1, 1, 0, 0, 30), up=False) == to_minute(sh(2026, 1, 1, 0, 0))
    assert from_minute(to_minute(sh(2026, 1, 1))) == sh(2026, 1, 1)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="时区"):
        CAL.deadline(datetime(2026, 10, 12, 9, 0), 1, "work_hours")
    for amount in (-1, float("nan"), float("inf"), "x"):
        with pytest.raises(ValueError):
            CAL.deadline(sh(2026, 10, 12), amount, "work_hours")
    with pytest.raises(ValueError, match="单位"):
        CAL.deadline(sh(2026, 10, 12), 1, "fortnights")
    with pytest.raises(ValueError, match="范围"):
        CAL.deadline(sh(2199, 12, 1), 100, "work_days")
    with pytest.raises(ValueError, match="范围"):
        CAL.deadline(sh(1969, 12, 1), 1, "work_days")


@pytest.mark.parametrize(("text", "spans"), [
    ("08:00-12:00,14:00-18:00", ((480, 720), (840, 1080))),
    (" 9:00 - 17:30 ", ((540, 1050),)),
    ("00:00-24:00", ((0, 1440),)),
])
def test_office_hours_parse(text, spans):
    assert parse_office_hours(text) == spans


@pytest.mark.parametrize("text", ["", "8-12", "12:00-08:00", "08:00-12:00,11:00-13:00", "14:00-18:00,08:00-12:00",
                                  "08:61-09:00", "08:00-25:00"])
def test_bad_office_hours_are_refused(text):
    with pytest.raises(ValueError, match="办公时间"):
        parse_office_hours(text)


def test_other_office_hours_change_the_length_of_a_working_day():
    cal = WorkCalendar(PACKAGE, PACKAGE_YEARS, office_hours="09:00-17:00")
    assert cal.day_minutes == 480
    assert cal.deadline(sh(2026, 10, 12, 9, 0), 1.5, "work_days") == sh(2026, 10, 13, 13, 0)


def test_long_spans_agree_with_a_count_of_working_days():
    start = sh(2025, 1, 2, 8, 0)  # a working Thursday
    brute = BRUTE[id(CAL)]
    for amount in (1, 37, 250, 1000):  # 1000 working days run through 2027–2028 without data
        day, left = date(2025, 1, 2), amount
        while True:
            if brute.working_day(day):
                left -= 1
                if left == 0:
                    break
            day += timedelta(days=1)
        assert CAL.deadline(start, amount, "work_days") == sh(day.year, day.month, day.day, 18, 0), amount
        assert CAL.elapsed(start, sh(day.year, day.month, day.day, 18, 0), "work_days") == amount


def test_far_years_grow_the_table():
    cal = WorkCalendar(PACKAGE, PACKAGE_YEARS)
    assert cal.deadline(sh(2150, 6, 1, 9, 0), 1, "work_days") == sh(2150, 6, 2, 9, 0)  # a Wednesday
    assert cal.deadline(sh(1990, 6, 1, 9, 0), 1, "work_days") == sh(1990, 6, 4, 9, 0)  # Friday → Monday
    assert cal.elapsed(sh(1990, 6, 1, 9, 0), sh(2150, 6, 2, 9, 0), "work_days") > 41_000


def test_clock_light():
    assert clock_light(0, 8) == "green"
    assert clock_light(6.39, 8) == "green"
    assert clock_light(6.4, 8) == "yellow"
    assert clock_light(8, 8) == "yellow"
    assert clock_light(8.01, 8) == "red"
    start = sh(2026, 9, 30, 17, 0)
    due = CAL.deadline(start, 1, "work_days")
    assert clock_light(CAL.elapsed(start, due, "work_days"), 1) == "yellow"
    assert clock_light(CAL.elapsed(start, due + timedelta(minutes=1), "work_days"), 1) == "red"


# --- properties against the minute-by-minute count ---

ANCHORS = [datetime(2026, 2, 13), datetime(2026, 9, 24), datetime(2026, 9, 30), datetime(2027, 2, 4),
           datetime(2027, 9, 30), datetime(2026, 12, 31), datetime(2025, 1, 27), datetime(2024, 9, 30),
           datetime(2027, 12, 31), datetime(2028, 2, 1), datetime(2026, 1, 1)]
starts = st.one_of(
    st.builds(lambda anchor, seconds: anchor.replace(tzinfo=SHANGHAI) + timedelta(seconds=seconds),
              st.sampled_from(ANCHORS), st.integers(-8 * 86400, 8 * 86400)),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(SHANGHAI)),
)
calendars = st.sampled_from([CAL, CAL_2027])
work_amounts = st.one_of(
    st.tuples(st.just("work_hours"), st.integers(0, 30 * 60).map(lambda m: m / 60)),
    st.tuples(st.just("work_days"), st.integers(0, 32).map(lambda q: q / 8)),
)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(cal=calendars, start=starts, unit_amount=work_amounts)
def test_deadline_matches_a_minute_by_minute_count(cal, start, unit_amount):
    unit, amount = unit_amount
    minutes = round(amount * PER[unit])
    expected = BRUTE[id(cal)].deadline(ceil_minute(start), minutes)
    due = cal.deadline(start, amount, unit)
    assert due.tzinfo is UTC
    assert due == EPOCH + timedelta(minutes=expected)
    assert cal.elapsed(start, due, unit) == pytest.approx(amount)
    if minutes:  # fallback years are the years of the counted minutes that lack data
        first = cal.next_working_minute(start)
        years = {y for y in range(first.astimezone(SHANGHAI).year,
                                  (due - timedelta(minutes=1)).astimezone(SHANGHAI).year + 1)}
        assert cal.missing_years(first, due - timedelta(minutes=1)) == {y for y in years if y not in cal.years}


@PROPERTY
@given(cal=calendars, start=starts, span=st.integers(0, 14 * 86400), unit=st.sampled_from(["work_hours", "work_days"]))
def test_elapsed_matches_a_minute_by_minute_count(cal, start, span, unit):
    end = start + timedelta(seconds=span)
    counted = BRUTE[id(cal)].count(ceil_minute(start), floor_minute(end))
    assert cal.elapsed(start, end, unit) == pytest.approx(counted / PER[unit])
    assert cal.working_minutes(start, end) == counted


@PROPERTY
@given(start=starts, amount=st.floats(0, 500, allow_nan=False), unit=st.sampled_from(["urgent_hours",
                                                                                      "calendar_days"]))
def test_round_the_clock_units_match_plain_arithmetic(start, amount, unit):
    per = {"urgent_hours": 60, "calendar_days": 1440}[unit]
    minutes = math.ceil(amount * per - 1e-6)
    due = CAL.deadline(start, amount, unit)
    assert due == EPOCH + timedelta(minutes=ceil_minute(start) + minutes)
    assert CAL.elapsed(start, due, unit) == pytest.approx(minutes / per)


BERLIN = ZoneInfo("Europe/Berlin")
# Clocks change on Sunday nights: make those weekends working days so the change is inside the count.
DST_WORKDAYS = {date(2026, 3, d): "workday" for d in (28, 29)} | {date(2026, 10, d): "workday" for d in (24, 25)}
DST_CALENDARS = [(WorkCalendar(DST_WORKDAYS, [2026], office_hours=hours, timezone="Europe/Berlin"),
                  Brute(DST_WORKDAYS, parse_office_hours(hours), BERLIN))
                 for hours in ("07:30-12:00,13:00-16:30", "01:00-05:00,20:00-24:00")]


@settings(max_examples=80, deadline=None)
@given(pair=st.sampled_from(DST_CALENDARS),
       start=st.builds(lambda anchor, seconds: anchor + timedelta(seconds=seconds),
                       st.sampled_from([datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)]),
                       st.integers(-4 * 86400, 3 * 86400)),
       hours=st.integers(0, 24 * 60).map(lambda m: m / 60))
def test_clock_changes_are_counted_in_local_time(pair, start, hours):
    cal, brute = pair
    due = cal.deadline(start, hours, "work_hours")
    assert due == EPOCH + timedelta(minutes=brute.deadline(ceil_minute(start), round(hours * 60)))
    end = start + timedelta(days=3)
    assert cal.working_minutes(start, end) == brute.count(ceil_minute(start), floor_minute(end))


# --- many at once ---

def test_vectorised_deadlines_and_elapsed_equal_the_single_calls():
    rng = np.random.default_rng(20261001)
    n = 20_000
    lo, hi = to_minute(sh(2024, 1, 1)), to_minute(sh(2029, 1, 1))
    starts = rng.integers(lo, hi, n)
    codes = rng.integers(0, 4, n)
    amounts = np.round(rng.uniform(0, 20, n), 2)
    amounts[:500] = 0
    names = np.array(list(UNITS))[codes]
    for cal in (CAL, CAL_2027):
        by_code = cal.deadlines(starts, amounts, codes)
        by_name = cal.deadlines(starts, amounts, names)
        assert np.array_equal(by_code, by_name)
        ends = starts + rng.integers(0, 40 * 1440, n)
        elapsed = cal.elapsed_many(starts, ends, codes)
        for i in range(0, n, 7):
            start = from_minute(starts[i])
            assert by_code[i] == to_minute(cal.deadline(start, float(amounts[i]), names[i])), i
            assert elapsed[i] == pytest.approx(cal.elapsed(start, from_minute(ends[i]), names[i])), i
        one_unit = cal.deadlines(starts, amounts, "work_hours")
        assert np.array_equal(one_unit[codes == UNIT_CODES["work_hours"]], by_code[codes == UNIT_CODES["work_hours"]])


def test_vectorised_input_is_checked(warnings_seen):
    cal = WorkCalendar(PACKAGE, PACKAGE_YEARS)
    start = np.array([to_minute(sh(2027, 2, 4, 9))])
    assert cal.deadlines(start, 3, "work_days")[0] == to_minute(sh(2027, 2, 9, 9))
    assert [r for r in warnings_seen if "2027" in r.getMessage()]
    assert cal.deadlines(np.array([], dtype=np.int64), 1, "work_days").shape == (0,)
    with pytest.raises(ValueError):
        cal.deadlines(start, -1, "work_days")
    with pytest.raises(ValueError):
        cal.deadlines(start, 1, np.array([9]))
    with pytest.raises(ValueError):
        cal.deadlines(start, 1, np.array([0, 1]))


def test_datetime64_arrays_convert_to_minutes_like_single_datetimes():
    moments = [sh(2026, 9, 30, 17, 0), sh(2026, 9, 30, 17, 0, 0, 1), sh(2026, 9, 30, 17, 0, 59), sh(1999, 1, 1)]
    utc = np.array([m.astimezone(UTC).replace(tzinfo=None) for m in moments], dtype="datetime64[us]")
    assert to_minutes(utc).tolist() == [to_minute(m) for m in moments]
    assert to_minutes(utc, up=False).tolist() == [to_minute(m, up=False) for m in moments]
    assert to_minutes(utc).astype("datetime64[m]")[0] == np.datetime64("2026-09-30T09:00")
