"""The engine as the app makes it (`gridgov.core.db.make_engine`), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gridgov.core.db import add_unique, make_engine, make_sessionmaker


class Base(DeclarativeBase):
    pass


class Name(Base):
    """A table of its own, with a unique key, for `add_unique`."""

    __tablename__ = "names"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20), unique=True)


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


def test_a_row_added_as_unique_first_in_its_transaction_goes_only_with_that_transaction(backend, databases):
    """`add_unique` writes through a savepoint; on SQLite, a savepoint that opened the connection's
    transaction committed the row on its release, so a request rolled back after it kept it."""
    engine = make_engine(databases.new(backend))
    try:
        Base.metadata.create_all(engine)
        sessions = make_sessionmaker(engine)
        with sessions() as db:
            assert add_unique(db, Name(name="甲")) is True
            db.rollback()  # the request failed after it
        with sessions() as db:
            assert db.scalar(select(func.count()).select_from(Name)) == 0
            assert add_unique(db, Name(name="乙")) is True
            assert add_unique(db, Name(name="乙")) is False  # taken: the caller's own refusal
            db.commit()
        with sessions() as db:
            assert db.scalars(select(Name.name)).all() == ["乙"]
    finally:
        engine.dispose()
