"""Rows written straight into a table, for migration tests that start from an older schema the
models no longer describe."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa


def filler(column: sa.Column):
    """A value of the column's type, for the NOT NULL columns a test row does not care about."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = str
    return {int: 0, float: 0.0, bool: False, bytes: b"x", datetime: datetime(2026, 11, 1, tzinfo=UTC),
            dict: {}}.get(kind, "x")


def insert_full_row(conn, table: sa.Table, **values) -> None:
    row = {c.name: filler(c) for c in table.columns
           if not c.nullable and c.name not in values and not (c.primary_key and c.autoincrement in (True, "auto"))}
    conn.execute(table.insert().values(**row, **values))
