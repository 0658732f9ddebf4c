"""Migrations that change what is stored on cases, with data in them, on SQLite and PostgreSQL:
each upgrade carries the old rows over and each downgrade brings them back."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gridgov.cases.service import REPORTER_PHONE_CONTEXT
from gridgov.core import migrate
from gridgov.core.crypto import cipher_for
from gridgov.core.db import make_engine
from tests.conftest import TEST_DATA_KEY
from tests.rows import insert_full_row

GRID = "43020300100101"


def test_the_migration_encrypts_stored_numbers_and_the_downgrade_restores_them(backend, databases):
    engine = make_engine(databases.new(backend))
    try:
        migrate.upgrade(engine, "0008")
        meta = sa.MetaData()
        regions, cases = (sa.Table(n, meta, autoload_with=engine) for n in ("regions", "cases"))
        with engine.begin() as conn:
            insert_full_row(conn, regions, code=GRID, level="grid", path=f"/{GRID}/")
            for n, phone in enumerate([" 13912345678 ", "", "免提电话"]):
                insert_full_row(conn, cases, number=f"SJ{n}", grid_code=GRID, reporter_phone=phone)
        migrate.upgrade(engine, data_key=TEST_DATA_KEY)
        cipher = cipher_for(TEST_DATA_KEY)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT number, reporter_phone_cipher, reporter_phone_masked FROM cases "
                                        "ORDER BY number")).all()
        assert [(n, m) for n, _, m in rows] == [("SJ0", "139****5678"), ("SJ1", ""), ("SJ2", "****")]
        assert cipher.decrypt(bytes(rows[0][1]), REPORTER_PHONE_CONTEXT) == "13912345678"
        assert rows[1][1] is None
        assert cipher.decrypt(bytes(rows[2][1]), REPORTER_PHONE_CONTEXT) == "免提电话"
        migrate.downgrade(engine, "0008", data_key=TEST_DATA_KEY)
        with engine.connect() as conn:
            back = conn.execute(sa.text("SELECT number, reporter_phone FROM cases ORDER BY number")).all()
        assert [tuple(r) for r in back] == [("SJ0", "13912345678"), ("SJ1", ""), ("SJ2", "免提电话")]
    finally:
        engine.dispose()


def test_idempotency_keys_move_onto_their_cases_and_back(backend, databases):
    engine = make_engine(databases.new(backend))
    try:
        migrate.upgrade(engine, "0009")
        meta = sa.MetaData()
        regions, cases, keys = (sa.Table(n, meta, autoload_with=engine)
                                for n in ("regions", "cases", "idempotency_keys"))
        with engine.begin() as conn:
            insert_full_row(conn, regions, code=GRID, level="grid", path=f"/{GRID}/")
            for n in range(3):
                insert_full_row(conn, cases, number=f"SJ{n}", grid_code=GRID)
            ids = dict(conn.execute(sa.select(cases.c.number, cases.c.id)).all())
            insert_full_row(conn, keys, scope="user:7", key="k-1", case_id=ids["SJ0"])
            insert_full_row(conn, keys, scope="open311:2", key="k-1", case_id=ids["SJ2"])
        migrate.upgrade(engine, "0010")
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT number, idempotency_scope, idempotency_key FROM cases "
                                        "ORDER BY number")).all()
            assert [tuple(r) for r in rows] == [("SJ0", "user:7", "k-1"), ("SJ1", None, None),
                                                ("SJ2", "open311:2", "k-1")]
            assert "idempotency_keys" not in sa.inspect(conn).get_table_names()
        after = sa.Table("cases", sa.MetaData(), autoload_with=engine)
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # a key belongs to one case
            insert_full_row(conn, after, number="SJ9", grid_code=GRID,
                             idempotency_scope="user:7", idempotency_key="k-1")
        migrate.downgrade(engine, "0009")
        with engine.connect() as conn:
            back = conn.execute(sa.text("SELECT c.number, k.scope, k.key FROM idempotency_keys k "
                                        "JOIN cases c ON c.id = k.case_id ORDER BY c.number")).all()
            assert [tuple(r) for r in back] == [("SJ0", "user:7", "k-1"), ("SJ2", "open311:2", "k-1")]
            assert "idempotency_key" not in {c["name"] for c in sa.inspect(conn).get_columns("cases")}
    finally:
        engine.dispose()


def test_rebuilding_the_cases_table_keeps_what_refers_to_it(backend, databases):
    """SQLite rebuilds a table to alter it (copy, drop, rename): the drop must not take the case's
    events and photos with it by cascade. Through every later revision and back, on both databases."""
    engine = make_engine(databases.new(backend))
    try:
        migrate.upgrade(engine, "0008")
        meta = sa.MetaData()
        regions, cases, events, photos = (sa.Table(n, meta, autoload_with=engine)
                                          for n in ("regions", "cases", "case_events", "case_attachments"))
        with engine.begin() as conn:
            insert_full_row(conn, regions, code=GRID, level="grid", path=f"/{GRID}/")
            insert_full_row(conn, cases, number="SJ1", grid_code=GRID)
            case_id = conn.execute(sa.select(cases.c.id)).scalar_one()
            insert_full_row(conn, events, case_id=case_id, action="report")
            insert_full_row(conn, photos, case_id=case_id, filename="scene.png")

        def counts() -> tuple[int, int]:
            with engine.connect() as conn:
                return (conn.execute(sa.text("SELECT count(*) FROM case_events")).scalar_one(),
                        conn.execute(sa.text("SELECT count(*) FROM case_attachments")).scalar_one())

        migrate.upgrade(engine, data_key=TEST_DATA_KEY)
        assert counts() == (1, 1)
        migrate.downgrade(engine, "0008", data_key=TEST_DATA_KEY)
        assert counts() == (1, 1)
        if backend == "sqlite":  # and the pooled connection has its foreign keys back on
            with engine.connect() as conn:
                assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        engine.dispose()
