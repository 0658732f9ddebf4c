"""The deadline sweep: turns lights yellow (80% of the limit used) and red (past it), tells
the holder, and puts a yellow card (黄牌督办) on cases that went red.

Deadlines and warning times are stored when a step starts, so finding what changed is two
indexed range queries, however many cases are open. On PostgreSQL the rows are claimed with
SKIP LOCKED, so several workers can sweep at once without doing anything twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from gridgov.cases.lifecycle import STATES
from gridgov.cases.models import Case, CaseEvent
from gridgov.core.db import utcnow

TIMED = [s for s, (_, step) in STATES.items() if step is not None]
BATCH = 5_000


@dataclass
class SweepReport:
    yellow: list[int] = field(default_factory=list)
    red: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:  # the worker reports runs that changed something
        return bool(self.yellow or self.red)


def _claim(db: Session, condition, limit: int) -> list[int]:
    q = (select(Case.id).where(condition, Case.state.in_(TIMED), Case.paused_at.is_(None))
         .order_by(Case.id).limit(limit))
    if db.bind.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    return list(db.scalars(q))


def sweep_lights(db: Session, now: datetime | None = None, limit: int = BATCH) -> SweepReport:
    """One pass; the caller commits. Call again while it reports a full batch."""
    from gridgov.cases.service import holder_ids, notify_case

    now = now or utcnow()
    report = SweepReport()
    report.red = _claim(db, (Case.light != "red") & (Case.deadline <= now), limit)
    report.yellow = _claim(db, (Case.light == "green") & (Case.warn_at <= now) & (Case.deadline > now), limit)
    if report.red:
        db.execute(update(Case).where(Case.id.in_(report.red)).values(light="red"),
                   execution_options={"synchronize_session": False})
        # A red case without a stronger card gets 黄牌督办 automatically.
        carded = list(db.scalars(select(Case.id).where(Case.id.in_(report.red), Case.supervision.in_(["", "normal"]))))
        if carded:
            db.execute(update(Case).where(Case.id.in_(carded)).values(supervision="yellow"),
                       execution_options={"synchronize_session": False})
        rows = db.execute(select(Case.id, Case.state).where(Case.id.in_(report.red))).all()
        db.execute(insert(CaseEvent), [
            {"case_id": cid, "actor_id": None, "action": "overdue", "from_state": state, "to_state": state,
             "comment": "已超时（红灯）" + ("，自动黄牌督办" if cid in set(carded) else ""),
             "data": {"light": "red", "auto_supervision": cid in set(carded)}, "created_at": now}
            for cid, state in rows])
    if report.yellow:
        db.execute(update(Case).where(Case.id.in_(report.yellow)).values(light="yellow"),
                   execution_options={"synchronize_session": False})
    for cid in report.red + report.yellow:
        case = db.get(Case, cid)
        db.refresh(case)
        word = "已超时" if case.light == "red" else "即将超时（已用 80% 时限）"
        notify_case(db, holder_ids(db, case), case, f"light_{case.light}", f"事件 {case.number} {word}")
    return report


def sweep_until_done(sessions, now: datetime | None = None) -> SweepReport:
    total = SweepReport()
    while True:
        with sessions() as db:
            report = sweep_lights(db, now)
            db.commit()
        total.yellow += report.yellow
        total.red += report.red
        if len(report.red) < BATCH and len(report.yellow) < BATCH:
            return total
