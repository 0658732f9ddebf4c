"""The job runner: due jobs run, a failing job is logged and survives, the in-process runner starts
with the app and stops with it, and `gridgov worker --once` drains the outbox."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

import gridgov.models  # noqa: F401  (every table)
from gridgov.core import jobs
from gridgov.core.db import make_engine, make_sessionmaker
from gridgov.core.jobs import Job, JobRunner, install_in_process, register, registered_jobs, worker_command
from gridgov.core.logs import JsonFormatter
from gridgov.notify.models import InboxItem
from gridgov.notify.service import notify
from tests.conftest import migrated, settings_for
from tests.notify.worlds import seed_users


def wait_for(condition, seconds: float = 20.0) -> bool:
    """A bounded poll for something a thread does; never a timing assertion."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def json_log():
    """The job logger's records, formatted as the app formats them."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Keep()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("gridgov.jobs")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


# --- the runner ---

def test_run_once_runs_what_is_due_and_survives_a_failing_job(json_log):
    calls: list[str] = []

    def counts(sessions, settings):
        calls.append("counts")
        return len(calls)

    def breaks(sessions, settings):
        calls.append("breaks")
        raise RuntimeError("gateway down")

    clock = Clock()
    runner = JobRunner(None, None, [Job("a.counts", 10, counts), Job("b.breaks", 60, breaks)], clock=clock)
    first = runner.run_once()
    assert [(r.job, r.ok) for r in first] == [("a.counts", True), ("b.breaks", False)]
    assert first[0].result == 1
    assert first[1].error == "RuntimeError: gateway down"
    failure = [json.loads(line) for line in json_log if '"level": "error"' in line]
    assert len(failure) == 1
    assert failure[0]["job"] == "b.breaks" and failure[0]["error"] == "RuntimeError: gateway down"
    assert "RuntimeError" in failure[0]["exc"]

    clock.now += 5
    assert runner.run_once() == []  # nothing due
    assert runner.seconds_until_due() == 5
    clock.now += 5
    assert [r.job for r in runner.run_once()] == ["a.counts"]
    clock.now += 50
    assert [(r.job, r.ok) for r in runner.run_once()] == [("a.counts", True), ("b.breaks", False)]
    assert calls == ["counts", "breaks", "counts", "counts", "breaks"]


def test_run_forever_stops_when_told(json_log):
    stop = threading.Event()
    calls = []

    def job(sessions, settings):
        calls.append(1)
        if len(calls) == 3:
            stop.set()

    runner = JobRunner(None, None, [Job("tick", 0.01, job)])
    thread = threading.Thread(target=runner.run_forever, args=(stop,), daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive()
    assert len(calls) == 3


def test_start_in_thread_and_stop():
    ran = threading.Event()
    runner = JobRunner(None, None, [Job("tick", 0.01, lambda s, c: ran.set())])
    thread = runner.start_in_thread()
    assert thread.daemon and runner.running
    assert runner.start_in_thread() is thread  # already running: the same thread
    assert ran.wait(20)
    assert runner.stop() is True
    assert not thread.is_alive() and not runner.running


# --- the registry ---

def test_the_outbox_delivery_job_is_registered():
    by_name = {j.name: j for j in registered_jobs()}
    assert by_name["notify.deliver"].interval_seconds == 5


def test_register_replaces_a_job_of_the_same_name(monkeypatch):
    monkeypatch.setattr(jobs, "_REGISTRY", {})
    register(Job("x.one", 5, lambda s, c: 1))
    register(Job("x.one", 7, lambda s, c: 2))
    assert [(j.name, j.interval_seconds) for j in registered_jobs() if j.name == "x.one"] == [("x.one", 7)]
    with pytest.raises(ValueError):
        register(Job("x.bad", 0, lambda s, c: None))


# --- in-process, with the app ---

@pytest.fixture
def only_notify(monkeypatch):
    """The registered jobs, but only ours: other domains' jobs are tested where they live."""
    mine = [j for j in registered_jobs() if j.name == "notify.deliver"]
    monkeypatch.setattr(jobs, "registered_jobs", lambda: mine)

@pytest.fixture
def fresh_db(backend, databases):
    url = databases.new(backend)
    migrated(url)
    return url


def app_for(url, tmp_path, in_process: bool):
    from gridgov.app import create_app

    settings = settings_for(url, tmp_path).model_copy(update={"worker_in_process": in_process})
    return create_app(settings)


def test_the_app_runs_jobs_in_process_from_startup_to_shutdown(fresh_db, tmp_path):
    app = app_for(fresh_db, tmp_path, in_process=True)
    ran = threading.Event()
    install_in_process(app)
    install_in_process(app, jobs=[Job("probe", 0.05, lambda sessions, settings: ran.set())])  # only the jobs change
    assert app.state.job_runner is None  # nothing runs before start-up
    with TestClient(app):
        runner = app.state.job_runner
        assert runner is not None and runner.running
        assert [j.name for j in runner.jobs] == ["probe"]
        assert [t.name for t in threading.enumerate()].count("gridgov-jobs") == 1
        assert ran.wait(20)
        assert runner.sessions is app.state.sessions
    assert app.state.job_runner is None
    assert not runner.running
    app.state.engine.dispose()


def test_no_thread_when_the_setting_is_off(fresh_db, tmp_path):
    app = app_for(fresh_db, tmp_path, in_process=False)
    install_in_process(app, jobs=[Job("probe", 0.05, lambda sessions, settings: pytest.fail("must not run"))])
    with TestClient(app) as client:
        assert app.state.job_runner is None
        assert client.get("/healthz").status_code == 200
    assert not any(t.name == "gridgov-jobs" and t.is_alive() for t in threading.enumerate())
    app.state.engine.dispose()


def test_in_process_runner_delivers_the_outbox(fresh_db, tmp_path, only_notify):
    app = app_for(fresh_db, tmp_path, in_process=True)
    install_in_process(app)  # the registered jobs
    sessions = app.state.sessions
    alice, *_ = seed_users(sessions)
    with sessions() as db:
        notify(db, [alice], "case.assigned", "事件已派给您")
        db.commit()

    def delivered() -> list[str]:
        with sessions() as db:
            return list(db.scalars(select(InboxItem.title).where(InboxItem.user_id == alice)))

    with TestClient(app):
        assert wait_for(lambda: delivered() == ["事件已派给您"])
    assert delivered() == ["事件已派给您"]
    app.state.engine.dispose()


# --- `gridgov worker` ---

@pytest.fixture
def cli(monkeypatch, tmp_path):
    app = typer.Typer()
    app.command("worker")(worker_command)
    app.command("noop", hidden=True)(lambda: None)  # two commands, so "worker" is a sub-command
    monkeypatch.setenv("GRIDGOV_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("GRIDGOV_LOG_LEVEL", "WARNING")
    root = logging.getLogger("gridgov")
    handlers = root.handlers[:]
    yield app
    root.handlers[:] = handlers  # the command pointed them at the runner's captured stderr


def test_worker_once_drains_the_outbox(cli, fresh_db, monkeypatch, only_notify):
    engine = make_engine(fresh_db)
    sessions = make_sessionmaker(engine)
    alice, bob, _ = seed_users(sessions)
    with sessions() as db:
        notify(db, [alice, bob], "case.assigned", "事件已派给您")
        db.commit()
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", fresh_db)
    result = CliRunner().invoke(cli, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "notify.deliver" in result.output and "sent 2" in result.output
    with sessions() as db:
        assert sorted(db.scalars(select(InboxItem.user_id))) == sorted([alice, bob])
    result = CliRunner().invoke(cli, ["worker", "--once"])
    assert result.exit_code == 0 and "notify.deliver" not in result.output  # nothing to do: quiet
    result = CliRunner().invoke(cli, ["worker", "--once", "--verbose"])
    assert "sent 0" in result.output
    engine.dispose()


def test_worker_refuses_an_unmigrated_database(cli, databases, backend, monkeypatch):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", databases.new(backend))
    result = CliRunner().invoke(cli, ["worker", "--once"])
    assert result.exit_code == 2
    assert "gridgov migrate" in result.output
