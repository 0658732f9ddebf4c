"""The deadline sweep: turns lights yellow (80% of the limit used) and red (past it), tells
the holder, and puts a yellow card (黄牌督办) on cases that went red.

Deadlines and warning times are stored when a step starts, so finding what changed is two
indexed range queries, however many cases are open. On PostgreSQL the rows are claimed with
SKIP LOCKED, so several workers can sweep at once without doing anything twice.

What changed is handled in Core, not through the ORM: each case is updated once and the UPDATE
returns what the events and notifications need; those are written with COPY on PostgreSQL
(`insert_rows`). Loading 10,000 changed cases as objects and inserting their rows through
SQLAlchemy's executemany cost more than the rest of a sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from gridgov.cases.holders import holders as holders_for
from gridgov.cases.lifecycle import STATES
from gridgov.cases.models import Case, CaseEvent
from gridgov.core.db import insert_rows, one_of, utcnow
from gridgov.notify.models import OutboxMessage
from gridgov.notify.service import outbox_row

TIMED = [s for s, (_, step) in STATES.items() if step is not None]
BATCH = 5_000
WEAK_CARDS = ("", "normal")  # a red case with one of these gets 黄牌督办; yellow and red are stronger
# What the events, the notifications and `holders` read of a changed case, as the UPDATE leaves it.
RETURNED = (Case.id, Case.number, Case.state, Case.light, Case.description, Case.level, Case.region_path,
            Case.grid_code, Case.handler_id)


@dataclass
class SweepReport:
    yellow: list[int] = field(default_factory=list)
    red: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:  # the worker reports runs that changed something
        return bool(self.yellow or self.red)


def _due_red(now: datetime):
    return (Case.light != "red") & (Case.deadline < now) & Case.paused_at.is_(None) & Case.state.in_(TIMED)


def _due_yellow(now: datetime):
    return ((Case.light == "green") & (Case.warn_at <= now) & (Case.deadline >= now) & Case.paused_at.is_(None)
            & Case.state.in_(TIMED))


def _claim(db: Session, due, order_by, limit: int) -> list[int]:
    # The condition matches a partial index (ix_cases_due_red / ix_cases_due_yellow) and the
    # order follows it, so a sweep with nothing due reads nothing.
    q = select(Case.id).where(due).order_by(order_by).limit(limit)
    if db.bind.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    return list(db.scalars(q))


def _set(db: Session, ids: list[int], due, *condition, **values) -> list[Row]:
    """Updates those of the claimed cases that are still due. On PostgreSQL the claim holds them,
    so all are; SQLite's claim locks nothing, and in between another sweep may have turned them
    or a user acted on them (deferred, moved to the next step): those are left alone."""
    if not ids:
        return []
    # updated_at as an ORM UPDATE would set it (its onupdate: the wall clock, not the sweep's `now`).
    stmt = (update(Case.__table__).where(one_of(db, Case.id, ids), due, *condition)
            .values(updated_at=utcnow(), **values).returning(*RETURNED))
    return db.connection().execute(stmt).all()


def _expire_loaded(db: Session, ids: set[int]) -> None:
    """Cases the caller's session already holds read the new light and card on next access (the
    UPDATEs went past the session). Found by identity key: reading `id` of an expired object
    would load it."""
    for (cls, key, *_), obj in list(db.identity_map.items()):
        if cls is Case and key[0] in ids:
            db.expire(obj, ["light", "supervision", "updated_at"])


def sweep_lights(db: Session, now: datetime | None = None, limit: int = BATCH) -> SweepReport:
    """One pass; the caller commits. Call again while it reports a full batch."""
    now = now or utcnow()
    claimed_red = _claim(db, _due_red(now), Case.deadline, limit)
    claimed_yellow = _claim(db, _due_yellow(now), Case.warn_at, limit)
    if not (claimed_red or claimed_yellow):
        return SweepReport()
    # Every claimed case is updated by at most one statement, so which statement returned a red
    # case tells whether it got the automatic card; the stronger cards are updated first, so the
    # carding statement cannot see them as weak.
    red_kept = _set(db, claimed_red, _due_red(now), Case.supervision.not_in(WEAK_CARDS), light="red")
    red_carded = _set(db, claimed_red, _due_red(now), Case.supervision.in_(WEAK_CARDS), light="red",
                      supervision="yellow")
    yellow = _set(db, claimed_yellow, _due_yellow(now), light="yellow")
    _expire_loaded(db, set(claimed_red) | set(claimed_yellow))
    carded = {c.id for c in red_carded}
    red = sorted(red_kept + red_carded, key=lambda c: c.id)
    # What this sweep turned: all it claimed, unless (SQLite) something else got there first.
    report = SweepReport(yellow=sorted(c.id for c in yellow), red=[c.id for c in red])
    insert_rows(db, CaseEvent.__table__, [
        {"case_id": c.id, "actor_id": None, "action": "overdue", "from_state": c.state, "to_state": c.state,
         "comment": "已超时（红灯）" + ("，自动黄牌督办" if c.id in carded else ""),
         "data": {"light": "red", "auto_supervision": c.id in carded}, "created_at": now}
        for c in red])
    cases = red + sorted(yellow, key=lambda c: c.id)
    holders = holders_for(db, cases)
    messages = []
    for c in cases:
        word = "已超时" if c.light == "red" else "即将超时（已用 80% 时限）"
        messages += [outbox_row(uid, f"case.light_{c.light}", f"事件 {c.number} {word}", c.description[:200],
                                f"/cases/{c.id}", {"case_id": c.id, "number": c.number, "state": c.state}, now)
                     for uid in holders.get(c.id, [])]
    insert_rows(db, OutboxMessage.__table__, messages)
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
