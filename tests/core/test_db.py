"""The engine as the app makes it (`gridgov.core.db.make_engine`), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from gridgov.core.db import make_engine


def test_a_failed_statement_does_not_quote_its_values(backend, databases):
    """Its error is logged, and some reach a user: the values (a name, a phone) stay out of it."""
    engine = make_engine(databases.new(backend))
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(20), phone VARCHAR(20))"))
        with pytest.raises(IntegrityError) as failed, engine.begin() as conn:
            for _ in range(2):
                conn.execute(text("INSERT INTO people (id, name, phone) VALUES (:id, :name, :phone)"),
                             {"id": 1, "name": "测试张三", "phone": "13800138000"})
        assert "测试张三" not in str(failed.value) and "13800138000" not in str(failed.value)
        assert "INSERT INTO people" in str(failed.value)  # the statement itself is still told
    finally:
        engine.dispose()
