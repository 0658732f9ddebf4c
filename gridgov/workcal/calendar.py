"""The working calendar (DESIGN §4 "Time limits"): pure, in memory, and fast.

A `WorkCalendar` knows the office hours of a working day, the timezone, the exception days
(a weekday off: "holiday"; a weekend day worked, 调休: "workday") and the years whose schedule
is known. A year without data falls back to Monday–Friday: deadlines are still computed, and
`missing_years` (plus one warning per year on the "gridgov.workcal" logger) says so.

Four units, as in the catalog:

* ``urgent_hours`` 紧急工作时 — hours round the clock;
* ``work_hours`` 工作时 — minutes inside the office hours of working days only;
* ``work_days`` 工作日 — amount × the length of a working day (480 minutes by default), counted
  like work hours, so half a day is half a working day's minutes;
* ``calendar_days`` 自然日 — plain days of 24 hours round the clock.

Time is counted in whole minutes since 1970-01-01T00:00Z ("epoch minutes"). A start that is not a
whole minute is rounded *up* (08:00:30 starts at 08:01: a limit is never shortened), an end given
to `elapsed` is rounded *down* (only whole minutes count), and an amount that is not a whole number
of minutes is rounded up to the next minute. Deadlines are therefore whole minutes, returned as
UTC-aware datetimes. A deadline is the end of the last counted minute: 4 working hours from 08:00
end at 12:00, not at 14:00. A start outside office hours counts from the next working minute.

How it stays fast: every office-hours span of every working day in a range of years is laid out
once as sorted UTC minute intervals with the cumulative working minutes before each one. The
working minutes before any instant are then one binary search away, and so is the instant at
which a given count is reached, so a deadline costs the same for an hour as for a year. Spans are
converted from local wall-clock time with zoneinfo, so a timezone with daylight saving time is
handled too. The table grows (whole years, within 1970–2199) when a computation leaves it.
`deadlines` / `elapsed_many` do the same with numpy over arrays of epoch minutes (`to_minutes`
converts datetime64 arrays) for sweeps over very many open cases: about 0.2 s per million deadlines,
against several µs per single call (see bench/calendar.py).
"""

from __future__ import annotations

import logging
import math
import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

log = logging.getLogger("gridgov.workcal")

UNITS: dict[str, str] = {"urgent_hours": "紧急工作时", "work_hours": "工作时", "work_days": "工作日",
                         "calendar_days": "自然日"}
UNIT_CODES: dict[str, int] = {name: code for code, name in enumerate(UNITS)}  # for `deadlines(..., unit=int array)`
WORKING_UNITS = frozenset({"work_hours", "work_days"})
DEFAULT_OFFICE_HOURS = "08:00-12:00,14:00-18:00"
DEFAULT_TIMEZONE = "Asia/Shanghai"
KINDS = ("holiday", "workday")
MIN_YEAR, MAX_YEAR = 1970, 2199
YELLOW_FROM = 0.8  # 黄灯预警 from 80 % of a limit; 红灯超时 past 100 %

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ONE_DAY = timedelta(days=1)
_HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_EPSILON = 1e-6  # float noise tolerated when turning an amount into whole minutes


# --- minutes and datetimes ---

def to_minute(moment: datetime, *, up: bool = True) -> int:
    """Epoch minutes of an aware datetime; a part minute is rounded up (default) or down."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("时间必须带时区")
    delta = moment - EPOCH
    minutes, rest = divmod(delta.seconds, 60)
    whole = delta.days * 1440 + minutes
    return whole + 1 if up and (rest or delta.microseconds) else whole


def from_minute(minute: int) -> datetime:
    """The UTC-aware datetime of an epoch minute."""
    return EPOCH + timedelta(minutes=int(minute))


def to_minutes(values, *, up: bool = True) -> np.ndarray:
    """Epoch minutes (int64) of an array of UTC instants as numpy datetime64 (numpy has no zones:
    give UTC values); a part minute is rounded up (default) or down, as in `to_minute`."""
    micros = np.asarray(values, dtype="datetime64[us]").astype(np.int64)
    return -(-micros // 60_000_000) if up else micros // 60_000_000


def parse_office_hours(text: str | Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """"08:00-12:00,14:00-18:00" → ((480, 720), (840, 1080)): minutes of the local day, sorted,
    not overlapping, within 00:00–24:00. Raises ValueError with a Chinese message."""
    if not isinstance(text, str):
        spans = tuple((int(a), int(b)) for a, b in text)
    else:
        spans = []
        for part in text.split(","):
            if not part.strip():
                continue
            m = _HHMM.match(part)
            if not m:
                raise ValueError(f"办公时间格式不正确：{part.strip()}（应为 HH:MM-HH:MM）")
            h1, m1, h2, m2 = (int(g) for g in m.groups())
            if m1 > 59 or m2 > 59:
                raise ValueError(f"办公时间格式不正确：{part.strip()}")
            spans.append((h1 * 60 + m1, h2 * 60 + m2))
        spans = tuple(spans)
    if not spans:
        raise ValueError("办公时间不能为空")
    previous_end = 0
    for a, b in spans:
        if not (0 <= a < b <= 1440):
            raise ValueError(f"办公时间段不正确：{_hhmm(a)}-{_hhmm(b)}")
        if a < previous_end:
            raise ValueError("办公时间段必须按时间先后排列且不能重叠")
        previous_end = b
    return spans


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_office_hours(spans: Sequence[tuple[int, int]]) -> str:
    return ",".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in spans)


def clock_light(elapsed: float, limit: float) -> str:
    """green below 80 % of the limit, yellow from 80 % up to the limit, red past it."""
    if limit <= 0:
        return "red" if elapsed > 0 else "yellow"
    fraction = elapsed / limit
    if fraction > 1:
        return "red"
    return "yellow" if fraction >= YELLOW_FROM else "green"


def amount_minutes(amount: float, per: int) -> int:
    """Whole minutes of `amount` units of `per` minutes, rounded up; ValueError when not ≥ 0."""
    try:
        value = float(amount)
    except (TypeError, ValueError):
        raise ValueError("时限必须是不小于 0 的数") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError("时限必须是不小于 0 的数")
    return max(0, math.ceil(value * per - _EPSILON))


# --- the span table ---

@dataclass(frozen=True, eq=False)
class _Table:
    """Working spans of the years first..last as UTC epoch-minute intervals."""

    first: int
    last: int
    lo: int  # epoch minute of local 1 January of `first`
    hi: int  # epoch minute of local 1 January of `last + 1`
    starts: list[int]
    ends: list[int]
    before: list[int]  # working minutes before span i
    upto: list[int]  # working minutes up to the end of span i
    year_starts: list[int]  # epoch minute of local 1 January of first..last+1
    np_starts: np.ndarray
    np_lengths: np.ndarray
    np_before: np.ndarray
    np_upto: np.ndarray
    np_year_starts: np.ndarray

    @property
    def total(self) -> int:
        return self.upto[-1] if self.upto else 0

    def worked(self, t: int) -> int:
        """Working minutes in the table before epoch minute t (lo ≤ t ≤ hi)."""
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return 0
        return self.before[i] + min(t - self.starts[i], self.ends[i] - self.starts[i])

    def instant(self, k: int) -> int:
        """The end of the k-th working minute of the table (1 ≤ k ≤ total)."""
        i = bisect_left(self.upto, k)
        return self.starts[i] + (k - self.before[i])

    def year_of(self, t: int) -> int:
        return self.first + bisect_right(self.year_starts, t) - 1

    def worked_many(self, t: np.ndarray) -> np.ndarray:
        i = np.searchsorted(self.np_starts, t, side="right") - 1
        if not len(self.np_starts):
            return np.zeros_like(t)
        j = np.maximum(i, 0)
        inside = np.clip(t - self.np_starts[j], 0, self.np_lengths[j])
        return np.where(i < 0, 0, self.np_before[j] + inside)

    def instant_many(self, k: np.ndarray) -> np.ndarray:
        i = np.minimum(np.searchsorted(self.np_upto, k, side="left"), len(self.np_upto) - 1)
        return self.np_starts[i] + (k - self.np_before[i])

    def years_of(self, t: np.ndarray) -> np.ndarray:
        return self.first + np.searchsorted(self.np_year_starts, t, side="right") - 1


class WorkCalendar:
    """Working time over office hours, exception days and the years that have data.

    `exceptions` maps a date to "holiday" (a weekday off) or "workday" (a weekend day worked);
    `years` are the years whose schedule is known (the others fall back to Monday–Friday).
    Instances are immutable for their users; the internal table only grows, under a lock.
    """

    def __init__(self, exceptions: Mapping[date, str] | None = None, years: Iterable[int] = (),
                 office_hours: str | Sequence[tuple[int, int]] = DEFAULT_OFFICE_HOURS,
                 timezone: str | ZoneInfo = DEFAULT_TIMEZONE) -> None:
        self.spans = parse_office_hours(office_hours)
        self.tz = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
        self.day_minutes = sum(b - a for a, b in self.spans)  # one 工作日 in working minutes
        exceptions = dict(exceptions or {})
        for day, kind in exceptions.items():
            if kind not in KINDS:
                raise ValueError(f"未知的日期类型 {kind}（{day}）")
        self._holidays = frozenset(d for d, k in exceptions.items() if k == "holiday")
        self._workdays = frozenset(d for d, k in exceptions.items() if k == "workday")
        self.years = frozenset(int(y) for y in years)
        self._per = {"urgent_hours": 60, "work_hours": 60, "work_days": self.day_minutes, "calendar_days": 1440}
        self._limit_lo = self._local_midnight(date(MIN_YEAR, 1, 1))
        self._limit_hi = self._local_midnight(date(MAX_YEAR + 1, 1, 1))
        self._warned: set[int] = set()
        self._lock = threading.Lock()
        this_year = datetime.now(self.tz).year
        first = max(MIN_YEAR, min([this_year - 2, *self.years]))
        last = min(MAX_YEAR, max([this_year + 5, *self.years]))
        self._table = self._build(first, last)

    @classmethod
    def from_settings(cls, settings, exceptions: Mapping[date, str] | None = None,
                      years: Iterable[int] = ()) -> WorkCalendar:
        return cls(exceptions, years, office_hours=settings.office_hours, timezone=settings.timezone)

    # --- days ---

    def is_working_day(self, day: date) -> bool:
        if day in self._holidays:
            return False
        if day in self._workdays:
            return True
        return day.weekday() < 5

    def exception(self, day: date) -> str | None:
        if day in self._holidays:
            return "holiday"
        return "workday" if day in self._workdays else None

    def missing_years(self, start: datetime, end: datetime) -> set[int]:
        """The years between two instants (local dates, both included, either order) that have no
        data, so counting there fell back to Monday–Friday."""
        a, b = sorted((start.astimezone(self.tz).year, end.astimezone(self.tz).year))
        return {y for y in range(a, b + 1) if y not in self.years}

    def minutes_per(self, unit: str) -> int:
        try:
            return self._per[unit]
        except KeyError:
            raise ValueError(f"未知的时限单位 {unit}") from None

    # --- one at a time ---

    def deadline(self, start: datetime, amount: float, unit: str) -> datetime:
        """When `amount` `unit`s starting at `start` run out (UTC-aware, a whole minute)."""
        per = self.minutes_per(unit)
        s = to_minute(start)
        m = amount_minutes(amount, per)
        if unit not in WORKING_UNITS:
            return from_minute(self._checked(s + m))
        return from_minute(self._working_deadline(s, m))

    def elapsed(self, start: datetime, end: datetime, unit: str) -> float:
        """How much of `unit` has passed from `start` to `end` (0 when end is not after start)."""
        per = self.minutes_per(unit)
        s, e = to_minute(start), to_minute(end, up=False)
        if e <= s:
            return 0.0
        if unit not in WORKING_UNITS:
            return (e - s) / per
        table = self._covering(s, e)
        self._note_years(table.year_of(s), table.year_of(e - 1))
        return (table.worked(e) - table.worked(s)) / per

    def working_minutes(self, start: datetime, end: datetime) -> int:
        """Working minutes from `start` (rounded up) to `end` (rounded down)."""
        s, e = to_minute(start), to_minute(end, up=False)
        if e <= s:
            return 0
        table = self._covering(s, e)
        return table.worked(e) - table.worked(s)

    def next_working_minute(self, moment: datetime) -> datetime:
        """The start of the first working minute at or after `moment`."""
        s = to_minute(moment)
        return from_minute(self._working_deadline(s, 1) - 1)

    def _working_deadline(self, s: int, m: int) -> int:
        if m == 0:
            return self._checked(s)
        table = self._covering(s, s)
        k = table.worked(s) + m
        while k > table.total:
            table = self._grow_forward(table, k)
            k = table.worked(s) + m
        t = table.instant(k)
        self._note_years(table.year_of(s), table.year_of(t - 1))
        return t

    # --- many at once (numpy) ---

    def deadlines(self, starts: np.ndarray, amounts: np.ndarray | float, unit: str | np.ndarray) -> np.ndarray:
        """Deadlines for arrays of start epoch minutes (int64, see `to_minute`) and amounts.

        `unit` is one unit name for all, or an array of unit names or of `UNIT_CODES`. Returns
        int64 epoch minutes (`from_minute` or `.astype("datetime64[m]")` turns them into times)."""
        starts = np.asarray(starts, dtype=np.int64)
        amounts = np.broadcast_to(np.asarray(amounts, dtype=np.float64), starts.shape)
        if isinstance(unit, str):
            return self._deadlines_one(starts, amounts, unit)
        out = np.empty(starts.shape, dtype=np.int64)
        for name, mask in self._unit_masks(unit, starts.shape):
            out[mask] = self._deadlines_one(starts[mask], amounts[mask], name)
        return out

    def elapsed_many(self, starts: np.ndarray, ends: np.ndarray, unit: str | np.ndarray) -> np.ndarray:
        """`elapsed` for arrays of start and end epoch minutes (float64, in the unit)."""
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.broadcast_to(np.asarray(ends, dtype=np.int64), starts.shape)
        if isinstance(unit, str):
            return self._elapsed_one(starts, ends, unit)
        out = np.empty(starts.shape, dtype=np.float64)
        for name, mask in self._unit_masks(unit, starts.shape):
            out[mask] = self._elapsed_one(starts[mask], ends[mask], name)
        return out

    def _unit_masks(self, unit: np.ndarray, shape) -> list[tuple[str, np.ndarray]]:
        unit = np.asarray(unit)
        if unit.shape != shape:
            raise ValueError("时限单位数组与开始时间数组长度不一致")
        names = list(UNITS)
        seen = np.zeros(shape, dtype=bool)
        masks = []
        for code, name in enumerate(names):
            mask = unit == code if unit.dtype.kind in "iu" else unit == name
            if mask.any():
                masks.append((name, mask))
                seen |= mask
        if not seen.all():
            bad = unit[~seen][0]
            raise ValueError(f"未知的时限单位 {bad}")
        return masks

    def _minutes_many(self, amounts: np.ndarray, per: int) -> np.ndarray:
        if amounts.size and (not np.isfinite(amounts).all() or (amounts < 0).any()):
            raise ValueError("时限必须是不小于 0 的数")
        return np.maximum(np.ceil(amounts * per - _EPSILON), 0).astype(np.int64)

    def _deadlines_one(self, starts: np.ndarray, amounts: np.ndarray, unit: str) -> np.ndarray:
        per = self.minutes_per(unit)
        m = self._minutes_many(amounts, per)
        if not starts.size:
            return np.empty(0, dtype=np.int64)
        if unit not in WORKING_UNITS:
            out = starts + m
            self._checked(int(starts.min()))
            self._checked(int(out.max()))
            return out
        table = self._covering(int(starts.min()), int(starts.max()))
        while True:
            k = table.worked_many(starts) + m
            top = int(k.max())
            if top <= table.total:
                break
            table = self._grow_forward(table, top)
        out = np.where(m == 0, starts, table.instant_many(k))
        self._note_years_many(table, table.years_of(starts), table.years_of(np.maximum(out - 1, starts)))
        return out

    def _elapsed_one(self, starts: np.ndarray, ends: np.ndarray, unit: str) -> np.ndarray:
        per = self.minutes_per(unit)
        if not starts.size:
            return np.empty(0, dtype=np.float64)
        ends = np.maximum(ends, starts)
        if unit not in WORKING_UNITS:
            return (ends - starts) / per
        table = self._covering(int(starts.min()), int(ends.max()))
        self._note_years_many(table, table.years_of(starts), table.years_of(np.maximum(ends - 1, starts)))
        return (table.worked_many(ends) - table.worked_many(starts)) / per

    # --- missing years ---

    def _note_years(self, first: int, last: int) -> None:
        if first == last and first in self.years:
            return
        for year in range(first, last + 1):
            if year not in self.years:
                self._warn(year)

    def _note_years_many(self, table: _Table, first: np.ndarray, last: np.ndarray) -> None:
        if not first.size:
            return
        lo, hi = int(first.min()), int(last.max())
        for year in range(lo, hi + 1):
            if year in self.years or year in self._warned:
                continue
            if ((first <= year) & (last >= year)).any():
                self._warn(year)

    def _warn(self, year: int) -> None:
        if year in self._warned:
            return
        self._warned.add(year)
        log.warning("工作日历缺少 %s 年数据，按周一至周五计算工作日 (no calendar data for %s: counting "
                    "Monday–Friday)", year, year, extra={"fields": {"calendar_year": year}})

    # --- the table ---

    def _checked(self, t: int) -> int:
        if not (self._limit_lo <= t <= self._limit_hi):
            raise ValueError(f"时间超出工作日历支持的范围（{MIN_YEAR}–{MAX_YEAR} 年）")
        return t

    def _covering(self, lo: int, hi: int) -> _Table:
        table = self._table
        if table.lo <= lo and hi <= table.hi:
            return table
        self._checked(lo)
        self._checked(hi)
        first = min(table.first, from_minute(lo).astimezone(self.tz).year)
        last = max(table.last, from_minute(hi).astimezone(self.tz).year)
        return self._regrow(first, last)

    def _grow_forward(self, table: _Table, k: int) -> _Table:
        if table.last >= MAX_YEAR:
            raise ValueError(f"时间超出工作日历支持的范围（{MIN_YEAR}–{MAX_YEAR} 年）")
        missing = k - table.total
        years = max(5, math.ceil(missing / (max(self.day_minutes, 1) * 200)) + 1)
        return self._regrow(table.first, min(MAX_YEAR, table.last + years))

    def _regrow(self, first: int, last: int) -> _Table:
        with self._lock:
            table = self._table
            if table.first <= first and last <= table.last:
                return table
            table = self._build(min(first, table.first), max(last, table.last))
            self._table = table
            return table

    def _offset(self, day: date) -> int:
        """UTC offset in minutes at local noon of `day`."""
        return int(datetime(day.year, day.month, day.day, 12, tzinfo=self.tz).utcoffset().total_seconds()) // 60

    def _local_minute(self, day: date, minute_of_day: int) -> int:
        # Naive arithmetic is wall-clock arithmetic: 24:00 is the next day's midnight.
        wall = datetime(day.year, day.month, day.day) + timedelta(minutes=minute_of_day)
        return to_minute(wall.replace(tzinfo=self.tz))

    def _local_midnight(self, day: date) -> int:
        return to_minute(datetime(day.year, day.month, day.day, tzinfo=self.tz))

    def _build(self, first: int, last: int) -> _Table:
        starts: list[int] = []
        ends: list[int] = []
        day = date(first, 1, 1)
        stop = date(last, 12, 31)
        previous = self._offset(day - _ONE_DAY)
        offset = self._offset(day)
        while day <= stop:
            following = self._offset(day + _ONE_DAY)
            if self.is_working_day(day):
                if previous == offset == following:  # no clock change near this day
                    base = (day.toordinal() - _EPOCH_ORDINAL) * 1440 - offset
                    for a, b in self.spans:
                        starts.append(base + a)
                        ends.append(base + b)
                else:  # a clock change: convert each wall-clock boundary on its own
                    for a, b in self.spans:
                        s, e = self._local_minute(day, a), self._local_minute(day, b)
                        if e > s:
                            starts.append(s)
                            ends.append(e)
            previous, offset = offset, following
            day += _ONE_DAY
        lengths = [e - s for s, e in zip(starts, ends, strict=True)]
        upto = list(np.cumsum(lengths, dtype=np.int64).tolist()) if lengths else []
        before = [u - n for u, n in zip(upto, lengths, strict=True)]
        year_starts = [self._local_midnight(date(y, 1, 1)) for y in range(first, last + 2)]
        return _Table(first=first, last=last, lo=year_starts[0], hi=year_starts[-1], starts=starts, ends=ends,
                      before=before, upto=upto, year_starts=year_starts,
                      np_starts=np.asarray(starts, dtype=np.int64), np_lengths=np.asarray(lengths, dtype=np.int64),
                      np_before=np.asarray(before, dtype=np.int64), np_upto=np.asarray(upto, dtype=np.int64),
                      np_year_starts=np.asarray(year_starts, dtype=np.int64))


def working_deadline(cal: WorkCalendar, start: datetime, amount: float, unit: str) -> datetime:
    return cal.deadline(start, amount, unit)


def working_elapsed(cal: WorkCalendar, start: datetime, end: datetime, unit: str) -> float:
    return cal.elapsed(start, end, unit)
