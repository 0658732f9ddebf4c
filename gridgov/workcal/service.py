"""The working calendar in the database: seeding, admin entry, status, and the cached calendar.

A year has data when it has a `CalendarYear` row: "chinesecalendar" (seeded from the package) or
"admin" (entered by an administrator, e.g. next year's schedule published in November). Its
`CalendarDay` rows are the exceptions to Monday–Friday. A year without a row falls back to
Monday–Friday. Services never commit; the caller owns the transaction.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from gridgov.core.db import database_key, utcnow
from gridgov.core.errors import FieldProblem, ValidationFailed
from gridgov.workcal.calendar import MAX_YEAR, MIN_YEAR, WorkCalendar
from gridgov.workcal.models import CalendarDay, CalendarYear

CHINESECALENDAR = "chinesecalendar"
ADMIN = "admin"
NONE = "none"
CALENDAR_KEY = "calendar"
NAME_LIMIT = 40
RANGE_LIMIT = 366
SOURCE_LABELS = {CHINESECALENDAR: "国务院安排（chinesecalendar 数据包）", ADMIN: "管理员录入",
                 NONE: "无数据，按周一至周五"}
KIND_LABELS = {"holiday": "放假", "workday": "调休上班"}
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
HOLIDAY_NAMES = {  # chinesecalendar's English names → the names on the State Council notice
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "National Day": "国庆节", "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}
_SPEC = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*(?:\.\.\s*(\d{4}-\d{2}-\d{2}))?\s*(?::\s*(.*?))?\s*$")


# --- what the package knows ---

def package_years() -> range:
    """The years the installed chinesecalendar package has schedules for."""
    from chinese_calendar import constants

    return range(min(constants.holidays).year, max(constants.holidays).year + 1)


def package_version() -> str:
    try:
        from importlib.metadata import version

        return version("chinesecalendar")
    except Exception:  # pragma: no cover - metadata missing in odd installs
        return "?"


def package_schedule(year: int) -> dict[date, tuple[str, str]]:
    """The package's exceptions to Monday–Friday for a year: {day: (kind, Chinese name)}.

    Holidays that fall on a weekend are rest days anyway and are left out; so are "workdays"
    that are weekdays (the package lists only weekend make-up days, but be sure)."""
    from chinese_calendar import constants

    out: dict[date, tuple[str, str]] = {}
    for day, name in constants.holidays.items():
        if day.year == year and day.weekday() < 5:
            out[day] = ("holiday", HOLIDAY_NAMES.get(str(name), str(name))[:NAME_LIMIT])
    for day, name in constants.workdays.items():
        if day.year == year and day.weekday() >= 5:
            out[day] = ("workday", (HOLIDAY_NAMES.get(str(name), str(name)) + "调休")[:NAME_LIMIT])
    return out


# --- the version that tells cached calendars to rebuild ---

def calendar_version(db: Session) -> tuple[int, str]:
    from gridgov.regions.service import meta_version  # read with the grid layer's, once per transaction

    return meta_version(db, CALENDAR_KEY)


def bump_calendar(db: Session) -> None:
    from gridgov.regions.service import bump_meta

    bump_meta(db, CALENDAR_KEY)


# --- seeding ---

def seed_from_chinesecalendar(db: Session) -> int:
    """Write the package's schedule for every year it knows; returns how many day rows were added,
    changed or removed (0 when already in step). Years entered by an admin are left alone."""
    years = package_years()
    year_rows = {r.year: r for r in db.scalars(select(CalendarYear).where(CalendarYear.year.in_(list(years))))}
    have: dict[int, dict[date, CalendarDay]] = {}
    q = select(CalendarDay).where(CalendarDay.day >= date(years.start, 1, 1),
                                  CalendarDay.day <= date(years.stop - 1, 12, 31))
    for row in db.scalars(q):
        have.setdefault(row.day.year, {})[row.day] = row
    changed = 0
    touched = False
    note = f"chinesecalendar {package_version()}"
    for year in years:
        year_row = year_rows.get(year)
        if year_row is not None and year_row.source != CHINESECALENDAR:
            continue
        wanted = package_schedule(year)
        existing = have.get(year, {})
        for day, row in existing.items():
            if day not in wanted:
                db.delete(row)
                changed += 1
        for day, (kind, name) in sorted(wanted.items()):
            row = existing.get(day)
            if row is None:
                db.add(CalendarDay(day=day, kind=kind, name=name, source=CHINESECALENDAR))
                changed += 1
            elif (row.kind, row.name, row.source) != (kind, name, CHINESECALENDAR):
                row.kind, row.name, row.source = kind, name, CHINESECALENDAR
                changed += 1
        if year_row is None:
            db.add(CalendarYear(year=year, source=CHINESECALENDAR, note=note, updated_by="seed", updated_at=utcnow()))
            touched = True
    if changed or touched:
        db.flush()
        bump_calendar(db)
    return changed


# --- admin entry ---

def expand(kind: str, first: date, last: date | None = None, field_name: str = "") -> list[date]:
    """The days of a range: for holidays only its weekdays (a published 'Feb 11–17 off' includes
    the weekend, which is off anyway); for workdays every day (each must then be a weekend day).
    A range backwards, longer than a year, or of holidays with no weekday in it is refused."""
    key = field_name or kind + "s"
    last = last or first
    if last < first or (last - first).days >= RANGE_LIMIT:
        raise ValidationFailed({key: FieldProblem("日期范围不正确：{first}..{last}（结束日期不能早于开始日期，"
                                                  "范围不能超过 {limit} 天）", first=first.isoformat(),
                                                  last=last.isoformat(), limit=RANGE_LIMIT)})
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    if kind == "holiday" and last != first:
        days = [d for d in days if d.weekday() < 5]
        if not days:  # said, not saved as an empty entry (which would confirm a plain Monday–Friday year)
            raise ValidationFailed({key: FieldProblem("{first}..{last} 都是周六、周日，本来就休息，没有要登记的放假日",
                                                      first=first.isoformat(), last=last.isoformat())})
    return days


def parse_days(kind: str, specs: Iterable[str], default_name: str = "") -> list[tuple[date, str]]:
    """"2027-02-11..2027-02-17:春节", "2027-02-07:春节调休" or "2027-02-07" → [(day, name)]."""
    out: list[tuple[date, str]] = []
    field_name = kind + "s"
    for spec in specs:
        m = _SPEC.match(spec or "")
        try:
            if not m:
                raise ValueError(spec)
            first = date.fromisoformat(m.group(1))
            last = date.fromisoformat(m.group(2)) if m.group(2) else None
        except ValueError:
            raise ValidationFailed({field_name: FieldProblem("日期格式不正确：{value}（应为 YYYY-MM-DD 或 "
                                                             "YYYY-MM-DD..YYYY-MM-DD，可加 :名称）",
                                                             value=spec)}) from None
        days = expand(kind, first, last)
        name = (m.group(3) or default_name).strip()
        out.extend((d, name) for d in days)
    return out


def _check_year(year: int) -> None:
    if not (MIN_YEAR <= year <= MAX_YEAR):
        raise ValidationFailed({"year": FieldProblem("年份必须在 {lo}–{hi} 之间", lo=MIN_YEAR, hi=MAX_YEAR)})


def set_year(db: Session, year: int, holidays: Sequence[tuple[date, str]], workdays: Sequence[tuple[date, str]],
             actor: str, note: str = "") -> YearStatus:
    """Replace a year's exceptions with an admin's entry; the year's source becomes "admin", so a
    later seed leaves it alone. An empty entry records a year that is plain Monday–Friday."""
    _check_year(year)
    problems: dict[str, FieldProblem] = {}
    rows: dict[date, tuple[str, str]] = {}
    for kind, entries in (("holiday", holidays), ("workday", workdays)):
        key = kind + "s"
        for day, name in entries:
            name = (name or "").strip()
            if key in problems:
                break
            if not isinstance(day, date) or isinstance(day, datetime):
                problems[key] = FieldProblem("日期格式不正确：{value}", value=str(day))
            elif day.year != year:
                problems[key] = FieldProblem("{day} 不在 {year} 年内", day=day.isoformat(), year=year)
            elif kind == "holiday" and day.weekday() >= 5:
                problems[key] = FieldProblem("{day} 是周末，本来就休息，不能设为放假日（只需登记周一至周五放假的日子）",
                                             day=day.isoformat())
            elif kind == "workday" and day.weekday() < 5:
                problems[key] = FieldProblem("{day} 是周一至周五，本来就上班，调休上班日必须是周六或周日",
                                             day=day.isoformat())
            elif len(name) > NAME_LIMIT:
                problems[key] = FieldProblem("名称不能超过 {limit} 个字", limit=NAME_LIMIT)
            elif day in rows and rows[day][0] != kind:
                problems[key] = FieldProblem("{day} 不能既放假又调休上班", day=day.isoformat())
            else:
                rows[day] = (kind, name)
    if len(note or "") > 200:
        problems["note"] = FieldProblem("长度不能超过 {limit}", limit=200)
    if problems:
        raise ValidationFailed(problems)
    db.execute(delete(CalendarDay).where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)))
    if rows:
        db.execute(insert(CalendarDay), [{"day": d, "kind": k, "name": n, "source": ADMIN}
                                         for d, (k, n) in sorted(rows.items())])
    year_row = db.get(CalendarYear, year)
    if year_row is None:
        year_row = CalendarYear(year=year)
        db.add(year_row)
    year_row.source = ADMIN
    year_row.note = (note or "").strip()
    year_row.updated_by = (actor or "")[:40]
    year_row.updated_at = utcnow()
    db.flush()
    bump_calendar(db)
    return year_status(db, year)


def clear_year(db: Session, year: int) -> bool:
    """Forget a year's data (it falls back to Monday–Friday again); True when there was any."""
    _check_year(year)
    days = db.execute(delete(CalendarDay).where(CalendarDay.day >= date(year, 1, 1),
                                                CalendarDay.day <= date(year, 12, 31))).rowcount
    years = db.execute(delete(CalendarYear).where(CalendarYear.year == year)).rowcount
    if days or years:
        bump_calendar(db)
    return bool(days or years)


def _entered(db: Session, year: int) -> dict[date, tuple[str, str]]:
    """A year's days as they are now, read after taking the calendar's lock: the version row, which
    every change moves, so two admins editing the same year one day each do not lose one."""
    _check_year(year)
    bump_calendar(db)  # an UPDATE of one row: held until this transaction ends
    return {d.day: (d.kind, d.name) for d in db.scalars(
        select(CalendarDay).where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)))}


def _save(db: Session, year: int, days: dict[date, tuple[str, str]], actor: str, note: str | None) -> YearStatus:
    row = db.get(CalendarYear, year)
    kept = row.note if row is not None else ""
    return set_year(db, year, [(d, n) for d, (k, n) in sorted(days.items()) if k == "holiday"],
                    [(d, n) for d, (k, n) in sorted(days.items()) if k == "workday"], actor=actor,
                    note=kept if note is None else note)


def add_days(db: Session, year: int, kind: str, first: date, last: date | None, name: str, actor: str,
             note: str | None = None) -> YearStatus:
    """Adds a day or a range (a holiday range keeps its weekdays) to a year, replacing what those
    days were; the rest of the year stays. `note` None keeps the year's note."""
    if kind not in KIND_LABELS:
        raise ValidationFailed({"kind": FieldProblem("必须是以下之一：{expected}", expected="holiday, workday")})
    new = expand(kind, first, last, field_name="date")
    days = _entered(db, year)
    days.update({d: (kind, name) for d in new})
    return _save(db, year, days, actor, note)


def remove_day(db: Session, year: int, day: date, actor: str, note: str | None = None) -> YearStatus:
    """Takes one day off a year's list; a day the year does not list is refused (a page shown
    before another admin removed it, or another year's day), never saved as a change."""
    days = _entered(db, year)
    if day not in days:
        raise ValidationFailed({"day": FieldProblem("{day} 不是 {year} 年登记的放假日或调休上班日",
                                                    day=day.isoformat(), year=year)})
    del days[day]
    return _save(db, year, days, actor, note)


def confirm_year(db: Session, year: int, actor: str, note: str | None = None) -> YearStatus:
    """Records a year as entered, as it is (a year without data: plain Monday–Friday, confirmed)."""
    return _save(db, year, _entered(db, year), actor, note)


# --- status ---

@dataclass(frozen=True)
class DayInfo:
    day: date
    kind: str
    name: str
    source: str

    @property
    def weekday(self) -> str:
        return WEEKDAYS[self.day.weekday()]

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


@dataclass(frozen=True)
class YearStatus:
    year: int
    source: str  # chinesecalendar | admin | none
    note: str = ""
    updated_by: str = ""
    updated_at: datetime | None = None
    days: list[DayInfo] = field(default_factory=list)
    known_by_package: bool = False

    @property
    def fallback(self) -> bool:
        return self.source == NONE

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS[self.source]

    @property
    def holidays(self) -> list[DayInfo]:
        return [d for d in self.days if d.kind == "holiday"]

    @property
    def workdays(self) -> list[DayInfo]:
        return [d for d in self.days if d.kind == "workday"]


def year_status(db: Session, year: int) -> YearStatus:
    _check_year(year)
    row = db.get(CalendarYear, year)
    days = [DayInfo(d.day, d.kind, d.name, d.source) for d in db.scalars(
        select(CalendarDay).where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
        .order_by(CalendarDay.day))]
    known = year in package_years()
    if row is None:
        return YearStatus(year=year, source=NONE, days=days, known_by_package=known)
    return YearStatus(year=year, source=row.source, note=row.note, updated_by=row.updated_by,
                      updated_at=row.updated_at, days=days, known_by_package=known)


def years_with_data(db: Session) -> list[tuple[int, str]]:
    return [tuple(r) for r in db.execute(select(CalendarYear.year, CalendarYear.source).order_by(CalendarYear.year))]


# --- the cached calendar ---

_cache: dict[tuple[str, str, str], tuple[tuple[int, str], WorkCalendar]] = {}
_cache_lock = threading.Lock()


def load_calendar(db: Session, office_hours: str, timezone: str) -> WorkCalendar:
    exceptions = dict(db.execute(select(CalendarDay.day, CalendarDay.kind)).all())
    years = db.scalars(select(CalendarYear.year)).all()
    return WorkCalendar(exceptions, years, office_hours=office_hours, timezone=timezone)


def calendar_for(db: Session, settings) -> WorkCalendar:
    """The working calendar of this database, built once per process and rebuilt when the
    calendar's version changes (any seed, set_year or clear_year, in any process)."""
    version = calendar_version(db)  # read first: the days read next are at least this new
    key = (database_key(db), settings.office_hours, settings.timezone)
    hit = _cache.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        calendar = load_calendar(db, settings.office_hours, settings.timezone)
        _cache[key] = (version, calendar)
        return calendar
