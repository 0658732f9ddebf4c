"""The audit log is append-only and hash-chained: the database refuses edits, and an edit made
with the owner's rights anyway (triggers dropped) is found by `gridgov audit verify`."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from gridgov.cli import app as gridgov_cli
from gridgov.core import audit
from gridgov.core.config import Settings
from gridgov.core.crypto import data_cipher
from gridgov.core.db import make_engine, make_sessionmaker
from gridgov.regions.models import MetaValue
from tests.conftest import TEST_DATA_KEY, migrated

ACTOR = audit.Actor(7, "测试员（tester）")


@pytest.fixture
def chain(backend, databases, tmp_path, monkeypatch):
    """A fresh migrated database with five entries, and the CLI pointed at it."""
    url = databases.new(backend)
    migrated(url)
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", url)
    monkeypatch.setenv("GRIDGOV_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GRIDGOV_DATA_KEY", TEST_DATA_KEY)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    cipher = data_cipher(Settings(database_url=url, data_key=TEST_DATA_KEY, var_dir=tmp_path / "var"))
    with sessions() as db:
        for n in range(5):
            audit.record(db, cipher, ACTOR, "reveal", object_type="resident", object_id=n, subject=f"居民{n}",
                         reason=f"核实第{n}件事", data={"fields": ["id_number"], "n": n})
        db.commit()
    yield engine, sessions, cipher, backend
    engine.dispose()


def verify_cli(code: int) -> str:
    result = CliRunner().invoke(gridgov_cli, ["audit", "verify"])
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def tamper(engine, backend, statement: str) -> None:
    """What someone with the database owner's rights could do: drop the guard, change a row."""
    with engine.begin() as conn:
        if backend == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(text(statement))
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(text(statement))


def test_intact_chain_verifies(chain):
    engine, sessions, cipher, _ = chain
    with sessions() as db:
        report = audit.verify_chain(db, cipher)
    assert report.ok and report.entries == 5
    assert "共 5 条记录" in verify_cli(0)


def test_the_database_refuses_update_and_delete(chain):
    engine, *_ = chain
    for statement in ("UPDATE audit_log SET reason = 'x' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 2"):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text(statement))


def test_an_edited_entry_is_named(chain):
    engine, sessions, cipher, backend = chain
    tamper(engine, backend, "UPDATE audit_log SET reason = '随便看看' WHERE seq = 3")
    with sessions() as db:
        report = audit.verify_chain(db, cipher)
    assert not report.ok and report.problem.seq == 3 and "修改" in report.problem.reason
    out = verify_cli(1)
    assert "#3" in out and "已被篡改" in out


def test_a_deleted_entry_is_named(chain):
    engine, sessions, cipher, backend = chain
    tamper(engine, backend, "DELETE FROM audit_log WHERE seq = 2")
    with sessions() as db:
        report = audit.verify_chain(db, cipher)
    assert report.problem.seq == 2 and "删除" in report.problem.reason
    assert "#2" in verify_cli(1)


def test_a_cut_tail_is_found(chain):
    engine, sessions, cipher, backend = chain
    tamper(engine, backend, "DELETE FROM audit_log WHERE seq = 5")
    with sessions() as db:
        report = audit.verify_chain(db, cipher)
    assert report.problem.seq == 5 and "链尾" in report.problem.reason


def test_a_recomputed_entry_without_the_key_is_found(chain):
    """Rewriting an entry and its stored MAC with a plain hash does not pass: the MAC is keyed."""
    import hashlib

    engine, sessions, cipher, backend = chain
    fake = hashlib.sha256(b"forged").hexdigest()
    tamper(engine, backend, f"UPDATE audit_log SET reason = '伪造', mac = '{fake}' WHERE seq = 5")
    with engine.begin() as conn:
        conn.execute(text("UPDATE meta SET value = :v WHERE key = 'audit_head'"), {"v": fake})
    with sessions() as db:
        assert audit.verify_chain(db, cipher).problem.seq == 5


def test_concurrent_writers_never_fork_the_chain(chain):
    engine, sessions, cipher, _ = chain
    errors: list[Exception] = []

    def write(n: int) -> None:
        try:
            for i in range(5):
                with sessions() as db:
                    audit.record(db, cipher, ACTOR, "export", object_type="resident", object_id=f"{n}-{i}")
                    db.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with sessions() as db:
        report = audit.verify_chain(db, cipher)
    assert report.ok and report.entries == 25


def test_verifying_leaves_the_callers_own_objects_in_its_session(chain):
    """Verifying reads the chain in batches and lets go of what it read, only that: an object the
    caller loaded before still belongs to its session, and a change to it is saved."""
    _, sessions, cipher, _ = chain
    with sessions() as db:
        db.add(MetaValue(key="probe", counter=0, value="before"))
        db.commit()
        probe = db.get(MetaValue, "probe")
        assert audit.verify_chain(db, cipher).ok
        probe.value = "after"
        db.commit()
    with sessions() as db:
        assert db.get(MetaValue, "probe").value == "after"
