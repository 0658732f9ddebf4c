"""Open311 API keys: only a hash is stored, the demo client is idempotent, and
`gridgov open311 add-client` prints a working key once."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gridgov.core.db import make_engine, make_sessionmaker
from gridgov.open311 import service
from gridgov.open311.cli import open311_app
from gridgov.open311.models import Open311Client
from tests.conftest import migrated


@pytest.fixture
def fresh(backend, databases, tmp_path, monkeypatch):
    """A migrated, empty database that the CLI (which reads GRIDGOV_* settings) also uses."""
    url = databases.new(backend)
    migrated(url)
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", url)
    monkeypatch.setenv("GRIDGOV_VAR_DIR", str(tmp_path))
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_only_the_sha256_of_a_key_is_stored(fresh):
    with fresh() as db:
        client, key = service.create_client(db, "市民通")
        db.commit()
        assert len(key) >= 32
        row = db.get(Open311Client, client.id)
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert key not in (row.name, row.key_hash)
        assert service.client_for_key(db, key).id == client.id
        assert service.client_for_key(db, key + "x") is None
        assert service.client_for_key(db, "") is None and service.client_for_key(db, None) is None
        other, other_key = service.create_client(db, "另一个")
        assert other_key != key and other.id != client.id
        with pytest.raises(ValueError):
            service.create_client(db, "重复密钥", key=key)
        with pytest.raises(ValueError):
            service.create_client(db, "  ")


def test_a_disabled_client_has_no_access(fresh):
    with fresh() as db:
        client, key = service.create_client(db, "将被停用")
        service.set_client_active(db, client.id, False)
        assert service.client_for_key(db, key) is None
        assert service.set_client_active(db, 999999, False) is None


def test_the_demo_client_is_created_once_with_the_published_key(fresh):
    with fresh() as db:
        first = service.ensure_demo_client(db)
        db.commit()
        again = service.ensure_demo_client(db)
        db.commit()
        assert first.id == again.id
        assert db.scalar(select(func.count()).select_from(Open311Client)) == 1
        assert service.client_for_key(db, "demo-open311-key").id == first.id


def test_cli_add_client_prints_a_working_key_once(fresh):
    runner = CliRunner()
    result = runner.invoke(open311_app, ["add-client", "市民通 App"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    with fresh() as db:
        client = service.client_for_key(db, key)
        assert client is not None and client.name == "市民通 App"
    listed = runner.invoke(open311_app, ["list-clients"])
    assert listed.exit_code == 0 and "市民通" in listed.output and key not in listed.output
    disabled = runner.invoke(open311_app, ["disable-client", str(client.id)])
    assert disabled.exit_code == 0, disabled.output
    with fresh() as db:
        assert service.client_for_key(db, key) is None
    assert runner.invoke(open311_app, ["disable-client", "999999"]).exit_code == 1
    assert runner.invoke(open311_app, ["add-client", " "]).exit_code == 1
