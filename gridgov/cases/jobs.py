"""The deadline sweep and the recount after a calendar change, as background jobs (in-process by
default, or `gridgov worker`)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from gridgov.cases.recount import RecountReport, recount_clocks
from gridgov.cases.sweep import SweepReport, sweep_until_done
from gridgov.core.config import Settings
from gridgov.core.jobs import Job, register


def sweep(sessions: sessionmaker[Session], settings: Settings) -> SweepReport:
    return sweep_until_done(sessions)


def recount(sessions: sessionmaker[Session], settings: Settings) -> RecountReport:
    return recount_clocks(sessions, settings)


register(Job("cases.sweep", 60, sweep))
register(Job("cases.recount", 10, recount))  # one meta read when nothing changed
