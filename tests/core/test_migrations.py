"""Migrations against the models, on SQLite and PostgreSQL: empty → head → base → head, no
drift between the two, and the commands and readiness check that guard an old schema."""

from __future__ import annotations

import pytest
import uvicorn
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect
from typer.testing import CliRunner

from gridgov.app import create_app
from gridgov.cli import app as cli_app
from gridgov.core import migrate
from gridgov.core.config import Settings
from gridgov.core.db import make_engine
from gridgov.models import Base

MODEL_TABLES = set(Base.metadata.tables)


@pytest.fixture
def fresh(backend, databases):
    """An empty database and an engine on it."""
    url = databases.new(backend)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


def tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def drift(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def cli(url, tmp_path, *args):
    return CliRunner().invoke(cli_app, list(args),
                              env={"GRIDGOV_DATABASE_URL": url, "GRIDGOV_VAR_DIR": str(tmp_path / "var")})


def test_the_models_have_tables_to_migrate():
    assert {"regions", "meta", "users", "auth_tokens", "departments", "area_assignments"} <= MODEL_TABLES


def test_upgrade_from_empty_creates_every_model_table(fresh):
    _, engine = fresh
    assert tables(engine) == set()
    assert migrate.current_revision(engine) is None
    assert not migrate.is_current(engine)
    migrate.upgrade(engine)
    assert tables(engine) == MODEL_TABLES | {"alembic_version"}
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
    assert migrate.is_current(engine)


def test_migrations_and_models_do_not_drift(fresh):
    _, engine = fresh
    migrate.upgrade(engine)
    assert drift(engine) == []


def test_the_drift_check_sees_a_missing_table(fresh):
    """The comparison above is not vacuous: an empty database differs from the models."""
    _, engine = fresh
    diff = drift(engine)
    added = {d[1].name for d in diff if isinstance(d, tuple) and d[0] == "add_table"}
    assert added == MODEL_TABLES


def test_downgrade_to_base_removes_everything_and_upgrade_works_again(fresh):
    _, engine = fresh
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert tables(engine) - {"alembic_version"} == set()
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert tables(engine) == MODEL_TABLES | {"alembic_version"}
    assert drift(engine) == []


def test_each_revision_downgrades_and_upgrades_one_step(fresh):
    """Walk the whole history down one step at a time and back up."""
    from alembic.script import ScriptDirectory

    _, engine = fresh
    script = ScriptDirectory.from_config(migrate.alembic_config(engine))
    revisions = [r.revision for r in script.walk_revisions()]  # head first
    migrate.upgrade(engine)
    for rev in revisions:
        assert migrate.current_revision(engine) == rev
        migrate.downgrade(engine, "-1")
    assert migrate.current_revision(engine) is None
    for rev in reversed(revisions):
        migrate.upgrade(engine, "+1")
        assert migrate.current_revision(engine) == rev


def test_cli_migrate_twice(fresh, tmp_path):
    url, engine = fresh
    first = cli(url, tmp_path, "migrate")
    assert first.exit_code == 0, first.output
    head = migrate.head_revision(engine)
    assert f"从 空库 升级到 {head}" in first.stdout
    second = cli(url, tmp_path, "migrate")
    assert second.exit_code == 0, second.output
    assert f"数据库已是最新版本 {head}" in second.stdout
    assert tables(engine) == MODEL_TABLES | {"alembic_version"}


def test_serve_refuses_an_unmigrated_database(fresh, tmp_path, monkeypatch):
    url, engine = fresh

    def must_not_start(*_a, **_kw):
        raise AssertionError("uvicorn was started on an unmigrated database")

    monkeypatch.setattr(uvicorn, "run", must_not_start)
    result = cli(url, tmp_path, "serve", "--port", "8999")
    assert result.exit_code == 2, result.output
    assert "gridgov migrate" in result.stderr
    assert tables(engine) == set()  # and it did not migrate on its own


@pytest.mark.parametrize("command", [["demo"], ["grids", "export"], ["grids", "import", "__FILE__"],
                                     ["users", "add", "--username", "x", "--name", "某某", "--role", "admin",
                                      "--region", "430200", "--password", "a-long-password"]])
def test_other_commands_refuse_an_unmigrated_database(fresh, tmp_path, command):
    url, engine = fresh
    layer = tmp_path / "layer.geojson"
    layer.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    result = cli(url, tmp_path, *[str(layer) if c == "__FILE__" else c for c in command])
    assert result.exit_code == 2, result.output
    assert "gridgov migrate" in result.stderr
    assert tables(engine) == set()


def test_readyz_on_an_unmigrated_database_is_503(fresh, tmp_path):
    url, engine = fresh
    application = create_app(Settings(database_url=url, var_dir=tmp_path / "var", secret_key="x",
                                         warm_up=False))
    try:
        with TestClient(application) as c:
            r = c.get("/readyz")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["migrations"] != "ok"
        assert migrate.head_revision(engine) in body["checks"]["migrations"]
        # Migrating makes the same app ready, without a restart.
        migrate.upgrade(engine)
        with TestClient(application) as c:
            r = c.get("/readyz")
        assert r.status_code == 200
        assert r.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}
    finally:
        application.state.engine.dispose()


def test_readyz_on_the_demo_app_is_200(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}
