"""The step clock of a case: deadline, the 80% warning time, pauses and extensions.

Both times are computed when a step starts (or resumes, or is extended), so the sweep that
turns lights yellow and red compares two indexed columns with the time instead of
re-running the working calendar over every open case.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from gridgov.cases.lifecycle import STATES
from gridgov.cases.models import Case
from gridgov.catalog.models import CatalogItem
from gridgov.workcal.calendar import WORKING_UNITS

WARN_FRACTION = 0.8
DEFAULT_LIMITS = {  # when a case has no catalog item yet (triage)
    "register": (1.0, "work_hours"), "dispatch": (1.0, "work_hours"), "sign": (2.0, "work_hours"),
    "handle": (3.0, "work_days"), "verify": (4.0, "work_hours"), "close": (2.0, "work_hours"),
}


def step_limit(item: CatalogItem | None, step: str, urgent: bool) -> tuple[float, str]:
    limit = (item.time_limits or {}).get(step) if item is not None else None
    amount, unit = (float(limit["amount"]), limit["unit"]) if limit else DEFAULT_LIMITS[step]
    if urgent and unit == "work_hours":
        return amount, "urgent_hours"
    if urgent and unit == "work_days":
        return amount * 8, "urgent_hours"
    return amount, unit


def clock_amounts(limit, carried):
    """(left until the deadline, left until the 80 % warning) of a step whose clock has already
    run `carried` of its `limit`: floats, or numpy arrays for many clocks at once (recount.py)."""
    return np.maximum(limit - carried, 0.0), np.maximum(limit * WARN_FRACTION - carried, 0.0)


def _schedule(case: Case, cal, run_start: datetime) -> None:
    remaining, warn_left = clock_amounts(case.limit_amount, case.carried_amount)
    case.deadline = cal.deadline(run_start, float(remaining), case.time_unit)
    case.warn_at = cal.deadline(run_start, float(warn_left), case.time_unit)


def fallback_years(case: Case, cal) -> list[int]:
    """The years without calendar data that the running step's deadline was counted through, on
    Monday–Friday: the page says so beside the deadline (recount.py counts it again once entered)."""
    if case.deadline is None or case.step_started_at is None or case.time_unit not in WORKING_UNITS:
        return []
    return sorted(cal.missing_years(case.step_started_at, case.deadline))


def light_at(case: Case, now: datetime) -> str:
    if case.deadline is None or case.paused_at is not None:
        return case.light
    return running_light(now, case.deadline, case.warn_at)


def running_light(now: datetime, deadline: datetime, warn_at: datetime | None) -> str:
    """The light of a running clock: red past 100 % (as workcal.calendar.clock_light and the
    sweep), yellow from the warning time."""
    if now > deadline:
        return "red"
    return "yellow" if warn_at is not None and now >= warn_at else "green"


def start_step(case: Case, item: CatalogItem | None, cal, now: datetime) -> None:
    """Called on entering a state: starts that state's timed step, or stops the clock."""
    step = STATES[case.state][1]
    case.step = step
    case.paused_at = None
    case.carried_amount = 0.0
    case.extension_requested = False
    if step is None:
        case.step_started_at = case.deadline = case.warn_at = None
        case.time_unit = case.limit_amount = None
        case.light = "green"
        return
    case.limit_amount, case.time_unit = step_limit(item, step, case.urgency == "urgent")
    case.step_started_at = now
    _schedule(case, cal, now)
    case.light = light_at(case, now)


def pause(case: Case, cal, now: datetime) -> None:
    if case.step_started_at is not None and case.time_unit:
        case.carried_amount += cal.elapsed(case.step_started_at, now, case.time_unit)
    case.paused_at = now


def resume(case: Case, cal, now: datetime) -> None:
    case.paused_at = None
    if case.time_unit is None:
        return
    case.step_started_at = now
    _schedule(case, cal, now)
    case.light = light_at(case, now)


def extend(case: Case, cal, amount: float, now: datetime) -> None:
    """Moves the deadline by `amount` of the step's own unit."""
    case.carried_amount += cal.elapsed(case.step_started_at, now, case.time_unit)
    case.limit_amount += amount
    case.step_started_at = now
    _schedule(case, cal, now)
    case.light = light_at(case, now)
