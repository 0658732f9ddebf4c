"""The notification worker job: drain the outbox every few seconds."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.config import Settings
from gridgov.core.jobs import Job, register
from gridgov.notify.service import DeliveryReport, deliver_due

BATCH = 100
MAX_BATCHES_PER_RUN = 10


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


register(Job("notify.deliver", 5, deliver))
