"""The nightly tagging rules as a background job (in-process by default, or `gridgov worker`)."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.config import Settings
from gridgov.core.jobs import Job, register
from gridgov.people.imports import lock_for_writing, purge_import_files
from gridgov.people.rules import run_rules
from gridgov.people.service import people_context

log = logging.getLogger("gridgov.people")
LOCK = 4302_0001  # PostgreSQL advisory lock: one run at a time across workers


def auto_tags(sessions: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    with sessions() as db:
        # Proposals are written as imports write tags: one at a time (else both add the same tag).
        lock_for_writing(db)
        if db.bind.dialect.name == "postgresql" and not db.scalar(text(f"SELECT pg_try_advisory_xact_lock({LOCK})")):
            return {}
        made = run_rules(db)
        db.commit()
    if any(made.values()):
        log.info("auto-tag proposals", extra={"proposals": made})
    return made


def purge_imports(sessions: sessionmaker[Session], settings: Settings):
    """Error workbooks past their retention, and stray files, out of var/imports."""
    with sessions() as db:
        purged = purge_import_files(db, people_context(settings))
        db.commit()
    if purged.error_files or purged.stray_files:
        log.info("import files purged", extra={"fields": {"error_files": purged.error_files,
                                                          "stray_files": purged.stray_files}})
    return purged


register(Job("people.auto_tags", 24 * 3600, auto_tags))
register(Job("people.purge_imports", 3600, purge_imports))
