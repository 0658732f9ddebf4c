from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from gridgov.workcal.calendar import UNITS
from gridgov.workcal.service import KIND_LABELS, NAME_LIMIT, SOURCE_LABELS, YearStatus


class DayIn(BaseModel):
    date: dt.date
    until: dt.date | None = Field(default=None, description="Last day of a range. A holiday range keeps only its "
                                                            "weekdays (the weekend is off anyway).")
    name: str = Field(default="", max_length=NAME_LIMIT)


class YearIn(BaseModel):
    holidays: list[DayIn] = Field(default_factory=list, description="Weekdays off (放假).")
    workdays: list[DayIn] = Field(default_factory=list, description="Weekend days worked (调休上班).")
    note: str = Field(default="", max_length=200)


class DayOut(BaseModel):
    date: dt.date
    weekday: int  # ISO: 1 = Monday … 7 = Sunday
    kind: str  # holiday | workday
    kind_label: str
    name: str
    source: str


class YearOut(BaseModel):
    year: int
    source: str  # chinesecalendar | admin | none
    source_label: str
    fallback: bool  # True: no data, working days are Monday–Friday
    known_by_package: bool
    note: str
    updated_by: str
    updated_at: dt.datetime | None
    holidays: int
    workdays: int
    days: list[DayOut]

    @classmethod
    def of(cls, status: YearStatus) -> YearOut:
        return cls(year=status.year, source=status.source, source_label=SOURCE_LABELS[status.source],
                   fallback=status.fallback, known_by_package=status.known_by_package, note=status.note,
                   updated_by=status.updated_by, updated_at=status.updated_at, holidays=len(status.holidays),
                   workdays=len(status.workdays),
                   days=[DayOut(date=d.day, weekday=d.day.isoweekday(), kind=d.kind, kind_label=KIND_LABELS[d.kind],
                                name=d.name, source=d.source) for d in status.days])


class DeadlineOut(BaseModel):
    start: dt.datetime  # as counted: rounded up to the whole minute
    amount: float
    unit: str
    unit_label: str
    deadline: dt.datetime  # UTC
    deadline_local: dt.datetime  # in the calendar's timezone
    timezone: str
    office_hours: str
    fallback_years: list[int]  # years counted as Monday–Friday for lack of data
    at: dt.datetime | None = None
    elapsed: float | None = None  # in the unit, at `at`
    fraction: float | None = None
    light: str | None = None  # green | yellow | red

    @staticmethod
    def unit_label_of(unit: str) -> str:
        return UNITS[unit]
