"""The deadline sweep as a background job (in-process by default, or `gridgov worker`)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from gridgov.cases.sweep import SweepReport, sweep_until_done
from gridgov.core.config import Settings
from gridgov.core.jobs import Job, register


def sweep(sessions: sessionmaker[Session], settings: Settings) -> SweepReport:
    return sweep_until_done(sessions)


register(Job("cases.sweep", 60, sweep))
