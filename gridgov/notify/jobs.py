"""The notification jobs: drain the outbox every few seconds; hourly, delete what was delivered long
ago and the in-app notices read long ago."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.config import Settings
from gridgov.core.db import database_key, utcnow
from gridgov.core.jobs import Job, register
from gridgov.notify import retention
from gridgov.notify.models import InboxItem, OutboxMessage
from gridgov.notify.retention import Position, PruneReport
from gridgov.notify.service import DeliveryReport, deliver_due

log = logging.getLogger("gridgov.notify")

BATCH = 100
MAX_BATCHES_PER_RUN = 10
PRUNE_BATCH = 5000  # rows deleted per transaction
# A run stops after this long and the next one goes on: jobs take turns in one thread (in-process, or
# `gridgov worker`), and a first run over a year of messages must not hold up delivery for minutes.
PRUNE_SECONDS = 20.0
# Where an unfinished run stopped, per database, so the next run goes on from there rather than walk
# again what it kept. Cleared when a run gets to the end: a message that became old behind the mark
# meanwhile is then reached by the following run, later but never missed.
_prune_resume: dict[str, Position] = {}


def deliver(sessions: sessionmaker[Session], settings: Settings) -> DeliveryReport:
    """Delivers what is due, a batch at a time, until the outbox has nothing due (or ten batches)."""
    total = DeliveryReport()
    for _ in range(MAX_BATCHES_PER_RUN):
        report = deliver_due(sessions, settings, batch=BATCH)
        total.sent += report.sent
        total.retried += report.retried
        total.dead += report.dead
        total.skipped += report.skipped
        if report.total + report.skipped < BATCH:
            break
    return total


def prune_outbox(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None,
                 batch: int = PRUNE_BATCH, seconds: float = PRUNE_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 resume: dict[str, Position] | None = None) -> PruneReport:
    """Deletes the messages sent more than `settings.outbox_keep_days` before `now`, `batch` at a
    time, each batch committed on its own, for up to `seconds` (see `gridgov.notify.retention`)."""
    resume = _prune_resume if resume is None else resume
    before = retention.cutoff(now or utcnow(), settings.outbox_keep_days)
    report = PruneReport(settings.outbox_keep_days)
    with sessions() as db:
        where = database_key(db)
        newest = db.scalar(select(func.max(OutboxMessage.id)))
    if newest is None:
        return report
    position = resume.pop(where, None)

    def one_batch() -> tuple[int, bool]:
        nonlocal position
        with sessions() as db:
            deleted, position = retention.delete_delivered(db, before, below_id=newest, after=position, batch=batch)
            db.commit()
        return deleted, position is not None

    _in_batches(report, one_batch, seconds, clock)
    if report.unfinished:
        resume[where] = position
    _log_pruned("delivered notifications pruned", report)
    return report


def prune_inbox(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None,
                batch: int = PRUNE_BATCH, seconds: float = PRUNE_SECONDS,
                clock: Callable[[], float] = time.monotonic) -> PruneReport:
    """Deletes the in-app notices read more than `settings.inbox_keep_days` before `now`, `batch`
    at a time, each batch committed on its own, for up to `seconds`; unread ones stay."""
    before = retention.cutoff(now or utcnow(), settings.inbox_keep_days)
    report = PruneReport(settings.inbox_keep_days, kind="notices read")
    with sessions() as db:
        newest = db.scalar(select(func.max(InboxItem.id)))
    if newest is None:
        return report

    def one_batch() -> tuple[int, bool]:
        with sessions() as db:
            deleted = retention.delete_read_notices(db, before, below_id=newest, batch=batch)
            db.commit()
        return deleted, deleted == batch

    _in_batches(report, one_batch, seconds, clock)
    _log_pruned("read notices pruned", report)
    return report


def _in_batches(report: PruneReport, one_batch: Callable[[], tuple[int, bool]], seconds: float,
                clock: Callable[[], float]) -> None:
    """Runs `one_batch` (a batch in a transaction of its own: (deleted, more may remain)) until
    nothing remains or `seconds` have passed; then the report says the next run goes on."""
    started = clock()
    while True:
        deleted, more = one_batch()
        report.deleted += deleted
        report.batches += 1
        if not more:
            return
        if clock() - started >= seconds:
            report.unfinished = True
            return


def _log_pruned(message: str, report: PruneReport) -> None:
    if report.deleted:
        log.info(message, extra={"fields": {"deleted": report.deleted, "batches": report.batches,
                                            "keep_days": report.keep_days, "unfinished": report.unfinished}})


register(Job("notify.deliver", 5, deliver))
register(Job("notify.prune_outbox", 3600, prune_outbox))
register(Job("notify.prune_inbox", 3600, prune_inbox))
