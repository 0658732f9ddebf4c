"""Delivered notifications leave the outbox `outbox_keep_days` after they were sent, in batches of
their own transaction; waiting and given-up messages stay, and so do the in-app notices users read.
On SQLite and PostgreSQL, at a fixed clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from typer.testing import CliRunner

from gridgov.core.config import Settings, settings_problems
from gridgov.core.db import utcnow
from gridgov.core.jobs import registered_jobs
from gridgov.notify import retention
from gridgov.notify.jobs import prune_outbox
from gridgov.notify.models import InboxItem, OutboxMessage
from gridgov.notify.service import CLAIM_LEASE_SECONDS, deliver_due, outbox_row
from tests.notify.test_delivery import Recorder
from tests.notify.worlds import World

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
KEEP = 30
PAST = NOW - timedelta(days=KEEP, minutes=1)  # sent just over the keeping time ago: goes
WITHIN = NOW - timedelta(days=KEEP) + timedelta(minutes=1)  # just under it: stays


def delivered(world: World, at: datetime, title: str, *users: int, webhook: bool = False) -> None:
    """Notices written at `at` and delivered then by the worker (with their SMS copies when
    `webhook`): sent inbox messages, each with its in-app notice, and sent webhook messages."""
    with world.sessions() as db:
        db.add_all(OutboxMessage(**outbox_row(u, "case.assigned", title, now=at)) for u in users)
        db.commit()
    report = deliver_due(world.sessions, world.with_webhook() if webhook else world.settings, now=at,
                         post=Recorder().post)
    assert report.sent == len(users) * (2 if webhook else 1)


def stuck(world: World, at: datetime, title: str, status: str, channel: str = "webhook") -> None:
    """A message written at `at` that was never delivered: waiting, being sent, or given up."""
    row = outbox_row(world.alice, "case.assigned", title, now=at) | {"channel": channel, "status": status}
    if status == "sending":
        row["next_attempt_at"] = at + timedelta(seconds=CLAIM_LEASE_SECONDS)
    if status == "dead":
        row |= {"attempts": 8, "last_error": "HTTP 500 from http://gateway.test/hook"}
    with world.sessions() as db:
        db.add(OutboxMessage(**row))
        db.commit()


def sent_rows(world: World, count: int, at: datetime, title: str = "old") -> None:
    """`count` sent webhook messages written, due and sent at the same instant (one notify() call to
    many people is like that): ties in the order a prune walks."""
    rows = [outbox_row(world.alice, "case.assigned", f"{title} {k}", now=at)
            | {"channel": "webhook", "status": "sent", "sent_at": at} for k in range(count)]
    with world.sessions() as db:
        db.add_all(OutboxMessage(**r) for r in rows)
        db.commit()


def outbox(world: World) -> list[tuple[str, str, str]]:
    with world.sessions() as db:
        return sorted(tuple(r) for r in db.execute(select(OutboxMessage.title, OutboxMessage.channel,
                                                         OutboxMessage.status)))


def notices(world: World) -> list[str]:
    with world.sessions() as db:
        return sorted(db.scalars(select(InboxItem.title)))


def prune(world: World, **kwargs) -> retention.PruneReport:
    kwargs.setdefault("resume", {})
    return prune_outbox(world.sessions, world.settings.model_copy(update={"outbox_keep_days": KEEP}), now=NOW,
                        **kwargs)


def test_sent_messages_past_the_keeping_time_go_and_everything_else_stays(world):
    delivered(world, PAST, "old", world.alice, world.bob, webhook=True)
    delivered(world, WITHIN, "recent", world.alice, webhook=True)
    long_ago = NOW - timedelta(days=400)
    with world.sessions() as db:  # sent once, long ago, and queued again: whether it is sent is its status
        db.add(OutboxMessage(**outbox_row(world.alice, "case.assigned", "queued again", now=long_ago)
                             | {"channel": "webhook", "sent_at": long_ago}))
        db.commit()
    stuck(world, long_ago, "waiting", "pending")
    stuck(world, long_ago, "being sent", "sending")
    stuck(world, long_ago, "given up", "dead")
    stuck(world, long_ago, "given up in-app", "dead", channel="inbox")
    before = outbox(world)
    assert notices(world) == ["old", "old", "recent"]

    report = prune(world)
    assert report.deleted == 4 and report.batches == 1 and not report.unfinished
    assert str(report).startswith("deleted 4 messages sent over 30 days ago")
    kept = outbox(world)
    assert before.count(("old", "webhook", "sent")) == 2 and before.count(("old", "inbox", "sent")) == 2
    assert kept == [t for t in before if t[0] != "old"]  # the two old in-app messages and their SMS copies
    never_by_age = {("waiting", "webhook", "pending"), ("being sent", "webhook", "sending"),
                    ("queued again", "webhook", "pending"), ("given up", "webhook", "dead"),
                    ("given up in-app", "inbox", "dead")}
    assert set(kept) == never_by_age | {("recent", "webhook", "sent"), ("recent", "inbox", "sent")}
    # The notices users read stay, no longer pointing at the messages they were made from.
    assert notices(world) == ["old", "old", "recent"]
    with world.sessions() as db:
        assert sorted(db.scalars(select(InboxItem.outbox_id).where(InboxItem.title == "old")),
                      key=str) == [None, None]

    again = prune(world)  # nothing left to do; the worker stays quiet
    assert again.deleted == 0 and not again


def test_a_run_deletes_in_batches_of_their_own_and_the_next_run_goes_on(world):
    sent_rows(world, 23, PAST)  # all at one instant: the batches split ties by id
    sent_rows(world, 3, WITHIN, "recent")
    stuck(world, NOW, "newest", "pending")

    ticks = iter([0.0])  # the run's clock: 0 when it starts, 5 s from then on: after one batch its time is up
    first = prune(world, batch=5, seconds=5.0, clock=lambda: next(ticks, 5.0), resume=(resume := {}))
    assert (first.deleted, first.batches, first.unfinished) == (5, 1, True)
    assert "more remain" in str(first)
    assert len(outbox(world)) == 18 + 3 + 1  # the first batch is committed on its own
    assert list(resume.values())[0].id > 0

    rest = prune(world, batch=5, resume=resume)
    assert (rest.deleted, rest.batches, rest.unfinished) == (18, 4, False)  # 5 + 5 + 5 + 3: the short one ends it
    assert resume == {}
    assert [t for t, _, _ in outbox(world)] == ["newest", "recent 0", "recent 1", "recent 2"]


def test_an_exact_multiple_of_the_batch_ends_with_an_empty_batch(world):
    sent_rows(world, 10, PAST)
    stuck(world, NOW, "newest", "pending")
    report = prune(world, batch=5)
    assert (report.deleted, report.batches) == (10, 3)
    assert outbox(world) == [("newest", "webhook", "pending")]


def test_the_newest_message_stays_so_its_id_is_never_handed_out_again(world):
    """SQLite numbers a new row after the highest present; a gateway deduplicates on message_id."""
    sent_rows(world, 3, PAST)
    report = prune(world)
    assert report.deleted == 2
    assert outbox(world) == [("old 2", "webhook", "sent")]


def test_a_message_sent_late_goes_by_when_it_was_sent_not_written(world):
    """Written long ago, delivered only recently (a gateway down for days): it is kept from its sending."""
    written = NOW - timedelta(days=KEEP + 5)
    with world.sessions() as db:
        db.add(OutboxMessage(**outbox_row(world.alice, "case.assigned", "late", now=written)
                             | {"channel": "webhook", "status": "sent", "sent_at": WITHIN}))
        db.add(OutboxMessage(**outbox_row(world.alice, "case.assigned", "newest", now=NOW)))
        db.commit()
    assert prune(world).deleted == 0
    assert ("late", "webhook", "sent") in outbox(world)


def test_two_runs_at_once_share_the_work(world):
    sent_rows(world, 60, PAST)
    stuck(world, NOW, "newest", "pending")
    reports, errors = [], []

    def run():
        try:
            reports.append(prune(world, batch=7))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(reports) == 2
    assert sum(r.deleted for r in reports) == 60
    assert outbox(world) == [("newest", "webhook", "pending")]


def test_an_empty_outbox_is_nothing_to_do(world):
    report = prune(world)
    assert (report.deleted, report.batches) == (0, 0)


# --- the job, the command line, the setting ---

def test_the_prune_runs_hourly_with_the_other_jobs():
    by_name = {j.name: j for j in registered_jobs()}
    assert by_name["notify.prune_outbox"].interval_seconds == 3600
    assert by_name["notify.prune_outbox"].fn is prune_outbox


def test_gridgov_worker_runs_the_prune_alone_and_prints_what_it_deleted(cli, world, monkeypatch):
    # The command runs at the real time: rows are placed days away from its keeping time.
    now = utcnow()
    sent_rows(world, 2, now - timedelta(days=9))
    sent_rows(world, 1, now - timedelta(days=3), "recent")
    with world.sessions() as db:  # waiting for delivery: must be left to the delivery job, which does not run
        db.add(OutboxMessage(**outbox_row(world.bob, "case.assigned", "newest", now=now)))
        db.commit()
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", world.url)
    monkeypatch.setenv("GRIDGOV_OUTBOX_KEEP_DAYS", "7")
    result = CliRunner().invoke(cli, ["worker", "--once", "--job", "notify.prune_outbox"])
    assert result.exit_code == 0, result.output
    assert "notify.prune_outbox" in result.output and "deleted 2 messages sent over 7 days ago" in result.output
    assert "notify.deliver" not in result.output
    assert outbox(world) == [("newest", "inbox", "pending"), ("recent 0", "webhook", "sent")]

    again = CliRunner().invoke(cli, ["worker", "--once", "--job", "notify.prune_outbox"])
    assert again.exit_code == 0 and "deleted 0 messages" in again.output  # asked by name: said even when nothing

    unknown = CliRunner().invoke(cli, ["worker", "--once", "--job", "notify.prune"])
    assert unknown.exit_code == 2 and "notify.prune_outbox" in unknown.output  # names the jobs there are


@pytest.mark.parametrize("days", [0, -1, 3651])
def test_the_keeping_time_must_be_a_sensible_number_of_days(days, tmp_path):
    with pytest.raises(ValidationError) as caught:
        Settings(var_dir=tmp_path, outbox_keep_days=days)
    (problem,) = settings_problems(caught.value)
    assert problem.startswith("GRIDGOV_OUTBOX_KEEP_DAYS：须为 1 到 3650 之间的天数") and "from 1 to 3650" in problem


def test_the_keeping_time_defaults_to_30_days_and_is_read_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("GRIDGOV_OUTBOX_KEEP_DAYS", raising=False)
    assert Settings(var_dir=tmp_path).outbox_keep_days == 30
    monkeypatch.setenv("GRIDGOV_OUTBOX_KEEP_DAYS", "90")
    assert Settings(var_dir=tmp_path).outbox_keep_days == 90
    monkeypatch.setenv("GRIDGOV_OUTBOX_KEEP_DAYS", "0")
    with pytest.raises(ValidationError):
        Settings(var_dir=tmp_path)


def test_nothing_is_deleted_by_a_run_that_rolls_back(world):
    """Each batch commits by itself: a failing batch leaves the earlier ones done and itself undone."""
    sent_rows(world, 12, PAST)
    stuck(world, NOW, "newest", "pending")
    calls = []
    real = retention.delete_delivered

    def fails_on_the_second(db, *args, **kwargs):
        calls.append(1)
        result = real(db, *args, **kwargs)
        if len(calls) == 2:
            raise RuntimeError("connection lost")
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(retention, "delete_delivered", fails_on_the_second)
        with pytest.raises(RuntimeError):
            prune(world, batch=5)
    assert len(outbox(world)) == 12 - 5 + 1
