"""Fixtures for the notification tests."""

from __future__ import annotations

import pytest

from gridgov.core.db import make_engine, make_sessionmaker
from tests.conftest import migrated, settings_for
from tests.core.test_jobs import cli  # noqa: F401  (`gridgov worker`, for the prune job's tests)
from tests.notify.worlds import World, seed_users


@pytest.fixture(scope="module")
def notify_world(backend, databases, tmp_path_factory):
    url = databases.new(backend)
    migrated(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    alice, bob, carol = seed_users(sessions)
    settings = settings_for(url, tmp_path_factory.mktemp("notify")).model_copy(
        update={"worker_in_process": False})
    yield World(url, sessions, settings, alice, bob, carol)
    engine.dispose()


@pytest.fixture
def world(notify_world) -> World:
    """The module's database with an empty outbox and inbox."""
    notify_world.reset()
    return notify_world
