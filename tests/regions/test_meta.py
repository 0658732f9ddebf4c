"""Versions in `meta`: read once per transaction, shared by the process for META_CHECK_SECONDS;
a bump is seen by its own session at once, by this process when it commits, never when it is
rolled back."""

from __future__ import annotations

import pytest
from sqlalchemy import event, update

from gridgov.regions import service
from gridgov.regions.models import MetaValue
from gridgov.regions.service import GRID_LAYER, bump_grid_layer, grid_layer_version, meta_snapshot, meta_version
from tests.conftest import hand_clock


@pytest.fixture
def clock(monkeypatch):
    return hand_clock(monkeypatch, service, "_shared_meta")


@pytest.fixture
def meta_reads(app):
    """How many times the app's engine has read the `meta` table."""
    seen = [0]

    def count(_conn, _cursor, statement, *_args):
        if "FROM meta" in statement:
            seen[0] += 1

    event.listen(app.state.engine, "before_cursor_execute", count)
    yield seen
    event.remove(app.state.engine, "before_cursor_execute", count)


def test_transactions_within_the_second_share_one_read(sessions, clock, meta_reads):
    with sessions() as db:
        meta_snapshot(db)  # may read (what the process held may be older than a second)
    clock[0] += 2
    with sessions() as db:
        first = grid_layer_version(db)
        grid_layer_version(db)
    assert meta_reads[0] >= 1
    before = meta_reads[0]
    clock[0] += 0.5
    with sessions() as db:
        assert grid_layer_version(db) == first
    assert meta_reads[0] == before


def counter(db) -> int:
    return meta_version(db, GRID_LAYER)[0]


def test_a_change_the_process_did_not_make_is_seen_within_the_second(sessions, clock):
    with sessions() as db:
        before = counter(db)
    with sessions() as db:  # as another process would write it: not through bump_grid_layer
        db.execute(update(MetaValue).where(MetaValue.key == GRID_LAYER).values(counter=MetaValue.counter + 1))
        db.commit()
    try:
        clock[0] += 0.5
        with sessions() as db:
            assert counter(db) == before
        clock[0] += 0.6
        with sessions() as db:
            assert counter(db) == before + 1
    finally:
        with sessions() as db:
            db.execute(update(MetaValue).where(MetaValue.key == GRID_LAYER).values(counter=before))
            bump_grid_layer(db)  # and past any layer a locator built meanwhile
            db.commit()


def test_a_bump_is_the_bumper_s_alone_until_it_commits(sessions, clock):
    with sessions() as db:
        before = grid_layer_version(db)
    bumper = sessions()
    try:
        bump_grid_layer(bumper)
        rolled_back = grid_layer_version(bumper)
        assert rolled_back[0] == before[0] + 1
        with sessions() as db:  # not committed: nobody else sees it, and it is not shared
            assert grid_layer_version(db) == before
        bumper.rollback()
        with sessions() as db:
            assert grid_layer_version(db) == before

        bump_grid_layer(bumper)
        bumper.commit()
        with sessions() as db:  # within the same second: the commit dropped what the process held
            after = grid_layer_version(db)
        assert after[0] == before[0] + 1
        assert after != rolled_back  # the same counter, but not the version a rolled-back bump showed
    finally:
        bumper.close()


def test_an_answer_read_before_this_process_s_bump_committed_is_not_shared_after_it(app, sessions, clock):
    """A reader whose query ran before a bump in this process committed holds the old versions;
    it keeps them for its own transaction but must not hand them to the transactions after."""
    with sessions() as db:
        before = grid_layer_version(db)
    clock[0] += 2  # what the process held has run out: the reader below asks

    bumped = []

    def bump_meanwhile(_conn, _cursor, statement, *_args):
        if "FROM meta" in statement and not bumped:
            bumped.append(True)
            with sessions() as other:
                bump_grid_layer(other)
                other.commit()

    event.listen(app.state.engine, "after_cursor_execute", bump_meanwhile)
    try:
        with sessions() as reader:
            assert grid_layer_version(reader) == before  # its query ran before the bump committed
    finally:
        event.remove(app.state.engine, "after_cursor_execute", bump_meanwhile)
    assert bumped
    with sessions() as db:  # within the same second
        assert grid_layer_version(db)[0] == before[0] + 1


def test_two_first_bumps_of_a_key_at_once_both_count(sessions, backend):
    # Neither sees the key's row, both insert it: the second waits for the first to commit, then
    # moves the row on instead of failing on the duplicate key.
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: the second bump waits before it looks")
    import threading
    import uuid

    key = f"test.first-bump.{uuid.uuid4().hex[:8]}"
    first, second = sessions(), sessions()
    service.bump_meta(first, key)
    outcome: list = []

    def other() -> None:
        try:
            service.bump_meta(second, key)
            second.commit()
            outcome.append("ok")
        except Exception as exc:  # the failure this test is about
            outcome.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(0.5)
    assert outcome == []  # waiting on the first one's insert
    first.commit()
    thread.join(10)
    first.close()
    second.close()
    assert outcome == ["ok"]
    with sessions() as db:
        assert db.get(MetaValue, key).counter == 2
