"""Test fixtures: every test that takes `backend` (directly or through `app`/`client`) runs on
SQLite and on PostgreSQL. Each run gets databases of its own, dropped at the end.

PostgreSQL is found at GRIDGOV_TEST_PG (default: the local server, trust auth). When it is
unreachable its half skips, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gridgov.core.config import Settings
from gridgov.core.db import make_engine, make_sessionmaker

CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN = os.environ.get("GRIDGOV_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]
DEMO_HISTORY = 40  # past cases in the test demo: enough to exercise the generator, quick to build
# `gridgov demo` run through the CLI in tests builds the same small history, not the 3,000 of a real demo.
os.environ.setdefault("GRIDGOV_DEMO_CASES", str(DEMO_HISTORY))
DEMO_RESIDENTS = 400  # the test demo's population: every tag kind and household shape, quick to build
os.environ.setdefault("GRIDGOV_DEMO_RESIDENTS", str(DEMO_RESIDENTS))
_pg_state: dict[str, bool] = {}
# One personal-data key for every test database and app, so what the demo encrypts the app can read.
TEST_DATA_KEY = "Z3JpZGdvdi10ZXN0LWRhdGEta2V5LTMyLWJ5dGVzISE="


def pg_reachable() -> bool:
    if "ok" not in _pg_state:
        try:
            with create_engine(PG_ADMIN).connect() as conn:
                conn.execute(text("SELECT 1"))
            _pg_state["ok"] = True
        except Exception:
            _pg_state["ok"] = False
    return _pg_state["ok"]


def require_backend(backend: str) -> None:
    if backend == "postgresql" and not pg_reachable():
        if CI:
            pytest.fail(f"PostgreSQL is required under CI=true but {PG_ADMIN} is unreachable")
        pytest.skip("PostgreSQL not reachable (set GRIDGOV_TEST_PG); its half of the suite is skipped")


class Databases:
    """Creates throw-away databases and drops them when the session ends."""

    def __init__(self, tmp_dir) -> None:
        self.tmp_dir = tmp_dir
        self.pg_names: list[str] = []

    def new(self, backend: str) -> str:
        require_backend(backend)
        name = f"gridgov_test_{uuid.uuid4().hex[:12]}"
        if backend == "sqlite":
            return f"sqlite:///{self.tmp_dir / (name + '.db')}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self.pg_names.append(name)
        return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.pg_names:
            return
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self.pg_names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("db"))
    yield dbs
    dbs.drop_all()


def hand_clock(monkeypatch, module, memory: str) -> list[float]:
    """Gives a module that keeps things in memory by time (`module._clock`) a clock moved by hand,
    `now[0] += seconds`, and empties its memory (`module.<memory>`), which the real clock filled."""
    now = [1000.0]
    monkeypatch.setattr(module, "_clock", lambda: now[0])
    monkeypatch.setattr(module, memory, {})
    return now


def settings_for(url: str, var_dir) -> Settings:
    return Settings(database_url=url, var_dir=var_dir, secret_key="test-secret-key", data_key=TEST_DATA_KEY,
                    log_json=True, log_level="WARNING", worker_in_process=False, warm_up=False)


def migrated(url: str) -> None:
    from gridgov.core import migrate

    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    require_backend(request.param)
    return request.param


@pytest.fixture(scope="session")
def demo_url(backend, databases) -> str:
    """A migrated database holding the demo district, shared by the tests of a session."""
    from gridgov.demo.service import build_demo

    url = databases.new(backend)
    migrated(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        build_demo(db, settings=settings_for(url, databases.tmp_dir), history=DEMO_HISTORY,
                   residents=DEMO_RESIDENTS)
        db.commit()
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def app(demo_url, tmp_path_factory):
    from gridgov.app import create_app

    application = create_app(settings_for(demo_url, tmp_path_factory.mktemp("var")))
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, headers={"Accept-Language": "zh-CN"}) as c:
        yield c


@pytest.fixture
def sessions(app):
    return app.state.sessions


_tokens: dict[tuple[int, str], str] = {}


@pytest.fixture
def auth(client, app):
    """`auth("wg43020300100101")` → headers carrying a bearer token for that demo account."""

    def headers(username: str, password: str = "demo-2026") -> dict[str, str]:
        key = (id(app), username)
        if key not in _tokens:
            r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
            assert r.status_code == 200, r.text
            _tokens[key] = r.json()["access_token"]
        return {"Authorization": f"Bearer {_tokens[key]}"}

    return headers


# --- browser tests: the app on a real port, and Debian's chromium through Playwright ---

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(app):
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if CI:
            pytest.fail("chromium is required under CI=true (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()
