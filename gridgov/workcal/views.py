"""The working calendar over HTTP: read a year, enter a year (admins), compute a deadline, and
the admin page that shows a year and lets an admin add or remove its days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from gridgov.core.deps import DB, Who
from gridgov.core.errors import AppError, FieldProblem, ValidationFailed
from gridgov.web.render import render
from gridgov.workcal import service
from gridgov.workcal.calendar import MAX_YEAR, MIN_YEAR, UNITS, WORKING_UNITS, clock_light, format_office_hours
from gridgov.workcal.schemas import DayIn, DeadlineOut, YearIn, YearOut

router = APIRouter(tags=["calendar"])
PERMISSION = "calendar.manage"
Unit = Literal["urgent_hours", "work_hours", "work_days", "calendar_days"]
MAX_AMOUNT = 100_000


def _aware(moment: datetime, tz: ZoneInfo) -> datetime:
    """A time without an offset is read in the calendar's timezone."""
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def compute_deadline(db: Session, settings, start: datetime, amount: float, unit: str,
                     at: datetime | None = None) -> DeadlineOut:
    cal = service.calendar_for(db, settings)
    start = _aware(start, cal.tz)
    at = _aware(at, cal.tz) if at is not None else None
    # A time outside the calendar's years is that time's fault; past them, only the amount can be.
    lo, hi = datetime(MIN_YEAR, 1, 1, tzinfo=cal.tz), datetime(MAX_YEAR + 1, 1, 1, tzinfo=cal.tz)
    for name, moment in (("start", start), ("at", at)):
        if moment is not None and not lo <= moment <= hi:
            raise ValidationFailed({name: FieldProblem("超出工作日历支持的范围（{lo}–{hi} 年）",
                                                       lo=MIN_YEAR, hi=MAX_YEAR)})
    try:
        deadline = cal.deadline(start, amount, unit)
        elapsed = cal.elapsed(start, at, unit) if at is not None else None
    except ValueError:
        raise ValidationFailed({"amount": FieldProblem("超出工作日历支持的范围（{lo}–{hi} 年）",
                                                       lo=MIN_YEAR, hi=MAX_YEAR)}) from None
    counted = cal.next_working_minute(start) if unit in WORKING_UNITS and amount > 0 else start
    last = max(counted, deadline - timedelta(minutes=1))  # the last counted minute
    if at is not None:  # the elapsed time is counted up to `at`, which may lie past the deadline
        last = max(last, at - timedelta(minutes=1))
    fallback = sorted(cal.missing_years(counted, last)) if unit in WORKING_UNITS else []
    out = DeadlineOut(start=start, amount=amount, unit=unit, unit_label=UNITS[unit], deadline=deadline,
                      deadline_local=deadline.astimezone(cal.tz), timezone=cal.tz.key,
                      office_hours=format_office_hours(cal.spans), fallback_years=fallback)
    if at is not None:
        out.at = at
        out.elapsed = elapsed
        out.fraction = elapsed / amount if amount > 0 else None
        out.light = clock_light(elapsed, amount)
    return out


def _check_year(year: int) -> None:
    if not (MIN_YEAR <= year <= MAX_YEAR):
        raise ValidationFailed({"year": FieldProblem("年份必须在 {lo}–{hi} 之间", lo=MIN_YEAR, hi=MAX_YEAR)})


def _entries(kind: str, items: list[DayIn]) -> list[tuple[date, str]]:
    out = []
    for item in items:
        out.extend((d, item.name) for d in service.expand(kind, item.date, item.until))
    return out


# --- API ---

@router.get("/api/v1/calendar/deadline", response_model=DeadlineOut)
def deadline(request: Request, db: DB, who: Who, start: datetime, unit: Unit,
             amount: Annotated[float, Query(ge=0, le=MAX_AMOUNT)], at: datetime | None = None):
    """The deadline of a limit started at `start` (a time without offset is read in the calendar's
    timezone); `fallback_years` lists the years counted as Monday–Friday for lack of data. With
    `at`, also how much of the limit has elapsed and its light (green / yellow ≥ 80 % / red > 100 %)."""
    return compute_deadline(db, request.app.state.settings, start, amount, unit, at)


@router.get("/api/v1/calendar/{year}", response_model=YearOut)
def get_year(db: DB, who: Who, year: int):
    _check_year(year)
    return YearOut.of(service.year_status(db, year))


@router.put("/api/v1/calendar/{year}", response_model=YearOut)
def put_year(db: DB, who: Who, year: int, body: YearIn):
    """Replace a year's holidays and make-up workdays (admins). The year's source becomes "admin"
    and seeding from the chinesecalendar package leaves it alone from then on."""
    who.require(PERMISSION)
    status = service.set_year(db, year, _entries("holiday", body.holidays), _entries("workday", body.workdays),
                              actor=who.username, note=body.note)
    db.commit()
    return YearOut.of(status)


# --- pages ---

def _page_context(request: Request, db: Session, year: int, **extra) -> dict:
    settings = request.app.state.settings
    tz = ZoneInfo(settings.timezone)
    cal = service.calendar_for(db, settings)
    ctx = {
        "year": year, "status": service.year_status(db, year), "years": service.years_with_data(db),
        "this_year": datetime.now(tz).year, "units": UNITS, "office_hours": format_office_hours(cal.spans),
        "day_minutes": cal.day_minutes, "timezone": tz.key, "tzinfo": tz, "source_labels": service.SOURCE_LABELS,
        "errors": {}, "values": {}, "result": None, "calc": {}, "calc_error": None, "saved": False,
    }
    ctx.update(extra)
    return ctx


@router.get("/admin/calendar", include_in_schema=False)
def calendar_page(request: Request, db: DB, who: Who,
                  year: Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR)] = None, saved: int = 0,
                  start: str | None = None, amount: str | None = None, unit: str | None = None):
    tz = ZoneInfo(request.app.state.settings.timezone)
    year = year or datetime.now(tz).year
    calc = {"start": start or "", "amount": amount or "", "unit": unit or "work_days"}
    result, calc_error = None, None
    if start and amount and unit:
        try:
            when = datetime.fromisoformat(start)
            value = float(amount)
            if unit not in UNITS or not (0 <= value <= MAX_AMOUNT):
                raise ValueError(unit)
        except ValueError:
            calc_error = "请填写开始时间、不小于 0 的时限和单位"
        else:
            try:
                result = compute_deadline(db, request.app.state.settings, when, value, unit)
            except AppError as exc:
                calc_error = next(iter(exc.body(request.state.lang)["error"]["fields"].values()), exc.message)
    return render(request, "workcal/calendar.html",
                  **_page_context(request, db, year, saved=bool(saved), result=result, calc=calc,
                                  calc_error=calc_error))


@router.post("/admin/calendar/{year}", include_in_schema=False)
async def calendar_change(request: Request, db: DB, who: Who, year: int):
    who.require(PERMISSION)
    _check_year(year)
    form = await request.form()
    action = str(form.get("action") or "")
    try:
        if action == "clear":
            service.clear_year(db, year)
        elif action == "add":
            kind = str(form.get("kind") or "")
            until = _form_date(form, "until") if str(form.get("until") or "").strip() else None
            service.add_days(db, year, kind, _form_date(form, "date"), until, str(form.get("name") or "").strip(),
                             actor=who.username, note=_note(form))
        elif action == "remove":
            service.remove_day(db, year, _form_date(form, "day"), actor=who.username, note=_note(form))
        elif action == "confirm":  # record the year as entered (plain Monday–Friday if empty)
            service.confirm_year(db, year, actor=who.username, note=_note(form))
        else:
            raise ValidationFailed({"action": FieldProblem("必须是以下之一：{expected}",
                                                           expected="add, remove, clear, confirm")})
    except ValidationFailed as exc:
        db.rollback()
        errors = {k: v.render(request.state.lang) for k, v in exc.fields.items()} or {"_": exc.message}
        ctx = _page_context(request, db, year, errors=errors, values=dict(form))
        return render(request, "workcal/calendar.html", status_code=422, **ctx)
    db.commit()
    return RedirectResponse(f"/admin/calendar?year={year}&saved=1", status_code=303)


def _note(form) -> str | None:
    """The page's forms carry no note: None keeps the one entered with the year (its notice number)."""
    return str(form.get("note") or "") if "note" in form else None


def _form_date(form, key: str) -> date:
    text = str(form.get(key) or "").strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed({key: FieldProblem("日期格式不正确：{value}", value=text or "—")}) from None
