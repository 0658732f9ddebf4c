"""Running clocks counted again when the working calendar changes.

A step's deadline and warning time are computed once, when the step starts (clock.py), from the
calendar of that moment. The calendar changes afterwards: every November the State Council
publishes next year's holidays and an admin enters them (until then that year is counted
Monday–Friday), an admin corrects a year, a chinesecalendar release seeds one, or the office
hours setting changes. A case counted through a year before its holidays were known would fall
due in the middle of the Spring Festival.

So a job compares the calendar (its version in `meta`, the office hours, the time zone) with
the one the clocks were last counted with. When it differs, every running clock of a
working-time unit is counted again from its own start, in batches; where the deadline or the
warning time moved they are written, with a timeline event that says from what to what, and the
holders are told when a deadline came closer. A light the new times no longer justify is eased
(red back to yellow or green); one that should get more severe is left to the sweep, which writes
the events and notifications of that. A case is written only if no action touched it since it was
read (every action moves its `version`) and only if its times still differ: a user acting on the
case meanwhile wins, and a second worker recounting the same cases writes nothing twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np
from sqlalchemy import Row, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from gridgov.cases.clock import clock_amounts, running_light
from gridgov.cases.holders import holders as holders_for
from gridgov.cases.models import Case, CaseEvent
from gridgov.cases.sweep import RETURNED, TIMED
from gridgov.core.db import add_unique, insert_rows, utcnow
from gridgov.notify.models import OutboxMessage
from gridgov.notify.service import outbox_row
from gridgov.regions.models import MetaValue
from gridgov.workcal.calendar import WORKING_UNITS, from_minute, to_minutes
from gridgov.workcal.service import calendar_for, calendar_version

COUNTED_KEY = "cases.clocks_counted"  # in `meta`: the calendar the running clocks were counted with
BATCH = 5_000
SEVERITY = {"green": 0, "yellow": 1, "red": 2}
BUDGET_SECONDS = 10.0  # per run: the jobs share one thread, and the outbox is delivered every 5 s
_READ = (Case.id, Case.version, Case.step_started_at, Case.limit_amount, Case.carried_amount, Case.time_unit,
         Case.deadline, Case.warn_at, Case.light)


@dataclass
class RecountReport:
    checked: int = 0
    moved: list[int] = field(default_factory=list)  # cases whose deadline or warning time moved
    skipped: bool = False  # the clocks were already counted with this calendar

    def __bool__(self) -> bool:  # the worker reports runs that changed something
        return bool(self.moved)


def calendar_mark(db: Session, settings) -> str:
    counter, token = calendar_version(db)
    return f"{counter}:{token}|{settings.office_hours}|{settings.timezone}"


def _running(after: int, limit: int):
    return (select(*_READ).where(Case.id > after, Case.state.in_(TIMED), Case.paused_at.is_(None),
                                 Case.deadline.is_not(None), Case.step_started_at.is_not(None),
                                 Case.time_unit.in_(sorted(WORKING_UNITS)))
            .order_by(Case.id).limit(limit))


def _utc64(values: list[datetime]) -> np.ndarray:
    return np.array([v.astimezone(UTC).replace(tzinfo=None) for v in values], dtype="datetime64[us]")


class _Moved(NamedTuple):
    read: Row  # the case as read (columns `_READ`)
    deadline: datetime
    warn_at: datetime
    eased: str  # the light to set ("" to keep it): only ever a milder one
    deadline_min: int  # the same two times in epoch minutes, for PostgreSQL's arrays
    warn_min: int


def recount_batch(db: Session, cal, rows, now: datetime, mark: str) -> list[int]:
    """Counts the clocks of `rows` (columns `_READ`) again with `cal`; writes those that moved."""
    if not rows:
        return []
    starts = to_minutes(_utc64([r.step_started_at for r in rows]))
    left, warn_left = clock_amounts(np.array([r.limit_amount for r in rows], dtype=np.float64),
                                    np.array([r.carried_amount for r in rows], dtype=np.float64))
    units = np.array([r.time_unit for r in rows])
    due, warn = cal.deadlines(starts, left, units), cal.deadlines(starts, warn_left, units)
    changes: dict[int, _Moved] = {}
    for r, d, w in zip(rows, due.tolist(), warn.tolist(), strict=True):
        deadline, warn_at = from_minute(d), from_minute(w)
        if deadline == r.deadline and warn_at == r.warn_at:
            continue
        light = running_light(now, deadline, warn_at)
        changes[r.id] = _Moved(r, deadline, warn_at, light if SEVERITY[light] < SEVERITY.get(r.light, 0) else "",
                               d, w)
    written = _write(db, list(changes.values()))
    events, closer = [], []
    for got in written:
        r, deadline, warn_at = changes[got.id][:3]
        events.append({
            "case_id": r.id, "actor_id": None, "action": "recount", "from_state": got.state, "to_state": got.state,
            "comment": f"工作日历变更，办理期限由 {_local(cal, r.deadline)} 调整为 {_local(cal, deadline)}",
            "data": {"deadline_before": r.deadline.isoformat(), "deadline": deadline.isoformat(),
                     "warn_at": warn_at.isoformat(), "calendar": mark}, "created_at": now})
        if deadline < r.deadline:
            closer.append((got, deadline))
    insert_rows(db, CaseEvent.__table__, events)
    if closer:
        holders = holders_for(db, [c for c, _ in closer])
        insert_rows(db, OutboxMessage.__table__, [
            outbox_row(uid, "case.deadline_moved", f"事件 {c.number} 办理期限提前到 {_local(cal, d)}",
                       "工作日历变更后重新计算", f"/cases/{c.id}", {"case_id": c.id, "number": c.number}, now)
            for c, d in closer for uid in holders.get(c.id, [])])
    return sorted(got.id for got in written)


# PostgreSQL: the whole batch in one statement, the new times passed as arrays of epoch minutes
# (psycopg dumps a list of datetimes many times slower). A row is written only if no action has
# touched the case since it was read (every action moves `version`, and only actions change a
# clock) and only if it still differs: a second worker recounting the same batch writes nothing.
_BULK = text("""
UPDATE cases AS c
   SET deadline = v.deadline, warn_at = v.warn_at, updated_at = :now,
       light = CASE WHEN v.eased <> '' THEN v.eased ELSE c.light END
  FROM (SELECT id, version, eased, TIMESTAMPTZ 'epoch' + deadline_min * INTERVAL '1 minute' AS deadline,
               TIMESTAMPTZ 'epoch' + warn_min * INTERVAL '1 minute' AS warn_at
          FROM unnest(CAST(:ids AS integer[]), CAST(:versions AS integer[]), CAST(:deadlines AS bigint[]),
                      CAST(:warns AS bigint[]), CAST(:eased AS text[]))
               AS u(id, version, deadline_min, warn_min, eased)) AS v
 WHERE c.id = v.id AND c.version = v.version AND c.paused_at IS NULL
   AND (c.deadline IS DISTINCT FROM v.deadline OR c.warn_at IS DISTINCT FROM v.warn_at)
RETURNING c.id, c.number, c.state, c.light, c.description, c.level, c.region_path, c.grid_code, c.handler_id
""")


def _write(db: Session, changes: list[_Moved]) -> list[Row]:
    if not changes:
        return []
    if db.get_bind().dialect.name == "postgresql":
        return db.connection().execute(_BULK, {
            "now": utcnow(), "ids": [m.read.id for m in changes], "versions": [m.read.version for m in changes],
            "deadlines": [m.deadline_min for m in changes], "warns": [m.warn_min for m in changes],
            "eased": [m.eased for m in changes]}).all()
    written = []
    for m in changes:  # SQLite: one UPDATE each (the embedded, smaller case)
        values = {"deadline": m.deadline, "warn_at": m.warn_at, "updated_at": utcnow()}
        if m.eased:
            values["light"] = m.eased
        got = db.connection().execute(
            update(Case.__table__).where(Case.id == m.read.id, Case.version == m.read.version,
                                         Case.paused_at.is_(None),
                                         (Case.deadline != m.deadline) | (Case.warn_at != m.warn_at))
            .values(**values).returning(*RETURNED)).first()
        if got is not None:
            written.append(got)
    return written


def _local(cal, moment: datetime) -> str:
    return moment.astimezone(cal.tz).strftime("%Y-%m-%d %H:%M")


def recount_clocks(sessions: sessionmaker[Session], settings, now: datetime | None = None,
                   budget_seconds: float = BUDGET_SECONDS) -> RecountReport:
    """One job run: nothing unless the calendar differs from the one last counted with. Batches
    until done or until `budget_seconds` have passed; the next run goes on from where this one
    stopped (the position is committed with each batch)."""
    report = RecountReport()
    started = time.monotonic()
    while True:
        with sessions() as db:
            mark = calendar_mark(db, settings)
            progress = db.get(MetaValue, COUNTED_KEY)
            done, after = _progress(progress.value if progress else "", mark)
            if done:
                report.skipped = not report.checked
                return report
            cal = calendar_for(db, settings)
            rows = db.execute(_running(after, BATCH)).all()
            report.moved += recount_batch(db, cal, rows, now or utcnow(), mark)
            report.checked += len(rows)
            _keep_progress(db, progress, f"done {mark}" if len(rows) < BATCH else f"after {rows[-1].id} {mark}")
            db.commit()
        if len(rows) >= BATCH and time.monotonic() - started >= budget_seconds:
            return report


def _progress(value: str, mark: str) -> tuple[bool, int]:
    """(done, the last case id counted) with the calendar `mark`, from the value kept in `meta`."""
    if value == f"done {mark}":
        return True, 0
    word, _, rest = value.partition(" ")
    last, _, counted_with = rest.partition(" ")
    if word == "after" and counted_with == mark and last.isdigit():
        return False, int(last)
    return False, 0  # never counted, or counted with another calendar: from the start


def _keep_progress(db: Session, row: MetaValue | None, value: str) -> None:
    if row is not None:
        row.value = value
    elif not add_unique(db, MetaValue(key=COUNTED_KEY, value=value, counter=0)):
        db.get(MetaValue, COUNTED_KEY).value = value  # another worker wrote it first
