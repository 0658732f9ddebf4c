"""In-app notices go `inbox_keep_days` after they were read, in batches of their own transaction;
unread ones stay however old, and so does the newest notice. On SQLite and PostgreSQL, at a
fixed clock, through the job and through `gridgov worker`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from typer.testing import CliRunner

from gridgov.core.config import Settings, settings_problems
from gridgov.core.db import utcnow
from gridgov.core.jobs import registered_jobs
from gridgov.notify.jobs import prune_inbox
from gridgov.notify.models import InboxItem
from tests.notify.worlds import World

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
KEEP = 365
LONG_AGO = NOW - timedelta(days=KEEP, minutes=1)  # read just over the keeping time ago: goes
LATELY = NOW - timedelta(days=KEEP) + timedelta(minutes=1)  # just under it: stays


def notice(world: World, title: str, read_at: datetime | None, user: int | None = None,
           created_at: datetime | None = None) -> None:
    with world.sessions() as db:
        db.add(InboxItem(user_id=user or world.alice, topic="case.assigned", title=title,
                         created_at=created_at or (read_at or NOW) - timedelta(days=1), read_at=read_at))
        db.commit()


def titles(world: World) -> list[str]:
    with world.sessions() as db:
        return sorted(db.scalars(select(InboxItem.title)))


def prune(world: World, **kwargs):
    return prune_inbox(world.sessions, world.settings.model_copy(update={"inbox_keep_days": KEEP}), now=NOW,
                       **kwargs)


def test_read_long_ago_goes_unread_and_lately_read_stay(world):
    notice(world, "old read", LONG_AGO)
    notice(world, "old read, bob", LONG_AGO, user=world.bob)
    notice(world, "lately read", LATELY)
    notice(world, "never read, years old", None, created_at=NOW - timedelta(days=3 * KEEP))
    notice(world, "newest", None)
    report = prune(world)
    assert (report.deleted, report.unfinished) == (2, False)
    assert str(report) == f"deleted 2 notices read over {KEEP} days ago in 1 batches"
    assert titles(world) == ["lately read", "never read, years old", "newest"]
    assert prune(world).deleted == 0


def test_the_newest_notice_stays_even_when_read_long_ago(world):
    """SQLite would give its id to the next notice, and the inbox's "mark all read up to" counts on ids rising."""
    notice(world, "older", LONG_AGO - timedelta(days=1))
    notice(world, "newest", LONG_AGO)
    assert prune(world).deleted == 1
    assert titles(world) == ["newest"]


def test_batches_commit_on_their_own_and_a_run_stops_when_its_time_is_up(world):
    for n in range(7):
        notice(world, f"old {n}", LONG_AGO - timedelta(minutes=n))
    notice(world, "newest", None)
    ticks = iter(range(100))
    report = prune(world, batch=2, seconds=1.5, clock=lambda: next(ticks))  # two batches' worth of time
    assert (report.deleted, report.batches, report.unfinished) == (4, 2, True)
    assert len(titles(world)) == 4  # committed, not rolled back with the run
    rest = prune(world, batch=2)
    assert (rest.deleted, rest.unfinished) == (3, False)
    assert titles(world) == ["newest"]


def test_nothing_to_prune_asks_once(world):
    report = prune(world)
    assert (report.deleted, report.batches) == (0, 0)


def test_gridgov_worker_runs_it_by_name(cli, world, monkeypatch):
    now = utcnow()
    notice(world, "read 40 days ago", now - timedelta(days=40))
    notice(world, "read 10 days ago", now - timedelta(days=10))
    notice(world, "unread", None, created_at=now)
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", world.url)
    monkeypatch.setenv("GRIDGOV_INBOX_KEEP_DAYS", "30")
    result = CliRunner().invoke(cli, ["worker", "--once", "--job", "notify.prune_inbox"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 notices read over 30 days ago" in result.output
    assert titles(world) == ["read 10 days ago", "unread"]
    assert {j.name: j.interval_seconds for j in registered_jobs()}["notify.prune_inbox"] == 3600


@pytest.mark.parametrize("days", [0, -5, 3651])
def test_the_keeping_time_must_be_a_sensible_number_of_days(days, tmp_path):
    with pytest.raises(ValidationError) as caught:
        Settings(var_dir=tmp_path, inbox_keep_days=days)
    (problem,) = settings_problems(caught.value)
    assert problem.startswith("GRIDGOV_INBOX_KEEP_DAYS：须为 1 到 3650 之间的天数（站内通知读过后保留多久")
    assert Settings(var_dir=tmp_path).inbox_keep_days == 365
