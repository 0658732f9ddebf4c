"""Engine, sessions and the declarative base.

Services receive a `Session` and never commit: the request (a view) or the job (a CLI
command) owns the transaction and commits once its work is whole.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, MetaData, Table, any_, create_engine, event, insert, inspect, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """Timestamps are stored in UTC and always come back timezone-aware, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    """hide_parameters: a failed statement's error, logged and sometimes shown, would otherwise
    quote its values, people's names and phone numbers among them (DESIGN §11)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    # As many pooled connections as request threads (anyio's default is 40), so a burst does not
    # open and close connections. Last in, first out: a steady load keeps reusing a few warm
    # connections (their prepared statements too) while the rest stay idle.
    engine = create_engine(url, pool_size=40, max_overflow=10, pool_recycle=1800, pool_use_lifo=True,
                           hide_parameters=True)
    _ping_when_idle(engine)
    return engine


IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Pre-ping, but only for a connection that sat in the pool longer than IDLE_PING_SECONDS: the
    one that may have been cut (a restarted or failed-over server, a firewall's idle timeout)
    without anyone noticing. SQLAlchemy's pool_pre_ping pings every checkout, one extra round trip
    per request. A connection checked in moments ago was working moments ago; should the server go
    away in that window, the statement fails, SQLAlchemy sees the disconnect and invalidates the
    whole pool, so one request errs and the next ones reconnect."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy) -> None:
        since = record.info.get("checked_in")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return  # new, or recently returned by a request that used it
        try:
            cur = dbapi_conn.cursor()
            try:
                cur.execute("SELECT 1")
            finally:
                cur.close()
            dbapi_conn.rollback()
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another one.
            raise DisconnectionError(f"idle connection is gone: {exc}") from exc


def one_of(db: Session, column, values: list):
    """`column IN values`, as one array parameter on PostgreSQL. Spelled as an IN list of hundreds
    of placeholders, it costs more to render than to run, and its plan is made once per connection
    and kept: during a bulk import into a table not yet analysed that plan was a sequential scan,
    and every batch got slower than the last."""
    if db.get_bind().dialect.name == "postgresql":
        return column == any_(literal(values, ARRAY(column.type)))
    return column.in_(values)


def insert_rows(db: Session, table: Table, rows: list[dict]) -> None:
    """Inserts many rows of one table (all with the same keys) in the session's transaction, at the
    driver's speed: COPY on PostgreSQL (a multi-row INSERT of 1,000 wide rows has tens of thousands
    of placeholders, and psycopg spends longer rewriting that text than the server spends on it);
    on SQLite the driver's executemany of one compiled statement (SQLAlchemy's own executemany
    spends longer preparing each row's parameters than SQLite spends inserting it). Values pass
    through each column's bind processor, as they would through SQLAlchemy."""
    if not rows:
        return
    conn = db.connection()
    dialect = conn.dialect
    columns = [table.c[key] for key in rows[0]]
    if dialect.name == "postgresql":
        # COPY adapts Python values itself; only JSON needs spelling out, and timestamps are aware.
        json_columns = {c.key for c in columns if isinstance(c.type, JSON)}
        raw = conn.connection.driver_connection
        names = ", ".join(f'"{c.name}"' for c in columns)
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([json.dumps(row[k], ensure_ascii=False) if k in json_columns else row[k]
                                for k in row])
        return
    compiled = insert(table).compile(dialect=dialect, column_keys=[c.key for c in columns])
    keys = list(compiled.positiontup)  # the statement's own order of placeholders
    processors = [table.c[key].type.bind_processor(dialect) for key in keys]
    params = [tuple(v if p is None else p(v) for p, v in zip(processors, map(row.__getitem__, keys), strict=True))
              for row in rows]
    conn.exec_driver_sql(compiled.string, params)


def dialect_insert(dialect: str):
    """The `insert` construct of the database's own dialect, for what plain `insert` cannot say
    (`on_conflict_do_nothing`): PostgreSQL's, or SQLite's."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


@functools.cache
def _insert_of(table: Table, returning: bool):
    stmt = insert(table)
    return stmt.returning(*table.primary_key.columns) if returning else stmt


@functools.cache
def _column_plan(mapper) -> tuple:
    """(attribute key, column key, is primary key, default) per column of a mapped class, in
    the mapper's order; default is (callable?, value) or None."""
    plan = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        default = column.default
        plan.append((prop.key, column.key, column.primary_key,
                     None if default is None else (default.is_callable, default.arg)))
    return tuple(plan)


def write_new(db: Session, obj, statement=None, **params) -> bool:
    """Writes a new mapped object with one Core INSERT in the session's transaction and adds it
    to the session as persistent, as if it had been loaded. The unit of work spends longer on
    one wide row (sorting, history, events) than the database spends on the INSERT; a hot path
    that has built the whole row can skip it. Unset columns first take their Python-side
    defaults, so the object is complete and nothing is read back; an unset primary key comes
    back from the INSERT. Not for objects whose relationships would need cascading, nor for
    tables with server-side defaults.

    `statement`, when given, is an INSERT of its own for this table (say, one that makes a column
    from the new id), run with the row's values by column key plus `params`; the columns it
    returns are set on the object. Such a statement may write nothing (ON CONFLICT DO NOTHING …
    RETURNING): then this returns False and the object stays out of the session."""
    values, missing_key = completed_row(obj)
    result = db.connection().execute(statement if statement is not None else _insert_of(obj.__table__, missing_key),
                                     {**values, **params})
    returned = {}
    if result.returns_rows:
        row = result.first()
        if row is None:
            return False
        returned = row._mapping
    attach_written(db, obj, returned)
    return True


def attach_written(db: Session, obj, returned) -> None:
    """Adds an object whose row has just been written by a statement of our own to the session, as
    if loaded: first the values the statement returned, by column key (columns of other tables
    it returned alongside are left alone)."""
    mapper = inspect(obj).mapper
    table = mapper.local_table
    for key, value in returned.items():
        if key in table.c:
            setattr(obj, mapper.get_property_by_column(table.c[key]).key, value)
    make_transient_to_detached(obj)
    db.add(obj)


def add_unique(db: Session, row) -> bool:
    """Adds a row that a unique key allows once and writes it now; False, and nothing written, when
    the key is taken. The caller looked first: this is for someone who added it since (two clicks
    at once), told then as the look would have told them. The row is added inside the savepoint:
    begin_nested() flushes what is pending before it opens one."""
    _open_transaction(db)
    try:
        with db.begin_nested():
            db.add(row)
            db.flush()
    except IntegrityError:
        return False
    return True


def _open_transaction(db: Session) -> None:
    """Python's sqlite3 begins a transaction only before an INSERT, UPDATE or DELETE: a SAVEPOINT
    sent first opens one of SQLite's own, and its RELEASE commits the row there and then, so a
    request that failed later would keep it. Begin the real transaction first."""
    conn = db.connection()
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN")


def completed_row(obj) -> tuple[dict, bool]:
    """A new mapped object's column values by column key, unset ones first set to their
    Python-side defaults; and whether its primary key is still to come from the database."""
    mapper = inspect(obj).mapper
    state = obj.__dict__
    values = {}
    missing_key = False
    for attr, column_key, primary_key, default in _column_plan(mapper):
        if attr not in state:
            if primary_key:
                missing_key = True
                continue
            setattr(obj, attr, None if default is None else default[1](None) if default[0] else default[1])
        values[column_key] = state[attr]
    return values, missing_key


_database_keys: dict[int, tuple[object, str]] = {}  # id(URL) → (the URL, kept so its id is not reused; its text)


def database_key(bind: Session | Engine) -> str:
    """The database a session or engine works on, as the key of a per-process cache. An engine's
    URL hashes by rendering itself as text on every lookup, and the intake path looks up half a
    dozen such caches per case; this renders each URL once."""
    url = (bind.get_bind() if isinstance(bind, Session) else bind).url
    held = _database_keys.get(id(url))
    if held is None:
        held = _database_keys[id(url)] = (url, url.render_as_string(hide_password=True))
    return held[1]


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that is rolled back unless its owner committed: for a view that opens its own
    rather than take the `DB` dependency (see `gridgov.core.deps.get_db`)."""
    db = factory()
    try:
        yield db
    finally:
        db.close()  # ends an open transaction with a rollback
