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

from gridgov.cases.holders import holders as holders_for
from gridgov.cases.lifecycle import STATES
from gridgov.cases.models import Case, CaseEvent
from gridgov.core.db import utcnow
from gridgov.notify.models import OutboxMessage

TIMED = [s for s, (_, step) in STATES.items() if step is not None]
BATCH = 5_000


@dataclass
class SweepReport:
    yellow: list[int] = field(default_factory=list)
    red: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:  # the worker reports runs that changed something
        return bool(self.yellow or self.red)


def _claim(db: Session, condition, order_by, limit: int) -> list[int]:
    # The condition matches a partial index (ix_cases_due_red / ix_cases_due_yellow) and the
    # order follows it, so a sweep with nothing due reads nothing.
    q = (select(Case.id).where(condition, Case.paused_at.is_(None), Case.state.in_(TIMED))
         .order_by(order_by).limit(limit))
    if db.bind.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    return list(db.scalars(q))


def sweep_lights(db: Session, now: datetime | None = None, limit: int = BATCH) -> SweepReport:
    """One pass; the caller commits. Call again while it reports a full batch."""
    now = now or utcnow()
    report = SweepReport()
    report.red = _claim(db, (Case.light != "red") & (Case.deadline <= now), Case.deadline, limit)
    report.yellow = _claim(db, (Case.light == "green") & (Case.warn_at <= now) & (Case.deadline > now),
                           Case.warn_at, limit)
    changed = report.red + report.yellow
    if not changed:
        return report
    carded: set[int] = set()
    if report.red:
        db.execute(update(Case).where(Case.id.in_(report.red)).values(light="red"),
                   execution_options={"synchronize_session": False})
        # A red case without a stronger card gets 黄牌督办 automatically.
        carded = set(db.scalars(select(Case.id).where(Case.id.in_(report.red), Case.supervision.in_(["", "normal"]))))
        if carded:
            db.execute(update(Case).where(Case.id.in_(carded)).values(supervision="yellow"),
                       execution_options={"synchronize_session": False})
    if report.yellow:
        db.execute(update(Case).where(Case.id.in_(report.yellow)).values(light="yellow"),
                   execution_options={"synchronize_session": False})
    cases = list(db.scalars(select(Case).where(Case.id.in_(changed)).execution_options(populate_existing=True)))
    if report.red:
        db.execute(insert(CaseEvent), [
            {"case_id": c.id, "actor_id": None, "action": "overdue", "from_state": c.state, "to_state": c.state,
             "comment": "已超时（红灯）" + ("，自动黄牌督办" if c.id in carded else ""),
             "data": {"light": "red", "auto_supervision": c.id in carded}, "created_at": now}
            for c in cases if c.light == "red"])
    holders = holders_for(db, cases)
    messages = []
    for c in cases:
        word = "已超时" if c.light == "red" else "即将超时（已用 80% 时限）"
        messages += [{"topic": f"case.light_{c.light}", "channel": "inbox", "user_id": uid,
                      "title": f"事件 {c.number} {word}", "body": c.description[:200], "link": f"/cases/{c.id}",
                      "payload": {"case_id": c.id, "number": c.number, "state": c.state}, "status": "pending",
                      "attempts": 0, "next_attempt_at": now, "last_error": "", "created_at": now}
                     for uid in holders.get(c.id, [])]
    if messages:
        db.execute(insert(OutboxMessage), messages)  # the same outbox rows notify() writes, in one statement
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
