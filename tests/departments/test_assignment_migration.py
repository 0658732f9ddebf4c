"""Migration 0012 on SQLite and PostgreSQL: the assignments left behind by earlier user changes go,
the ones that still stand stay; `login_failures` comes and goes with the revision."""

from __future__ import annotations

import sqlalchemy as sa

from gridgov.core import migrate
from gridgov.core.db import make_engine
from tests.rows import insert_full_row


def test_the_migration_drops_assignments_their_handlers_left_behind(backend, databases):
    engine = make_engine(databases.new(backend))
    try:
        migrate.upgrade(engine, "0011")
        meta = sa.MetaData()
        regions, departments, users, assignments = (sa.Table(n, meta, autoload_with=engine) for n in
                                                    ("regions", "departments", "users", "area_assignments"))
        people = {  # username → (role, department, active)
            "stays": ("dept_handler", "A", True), "admin_stays": ("dept_admin", "A", True),
            "moved": ("dept_handler", "B", True), "stopped": ("dept_handler", "A", False),
            "left": ("dept_handler", None, True), "now_mediator": ("mediator", None, True)}
        with engine.begin() as conn:
            insert_full_row(conn, regions, code="430203", level="district", path="/430203/")
            for code in ("A", "B"):
                insert_full_row(conn, departments, code=code, region_code="430203")
            dept = dict(conn.execute(sa.select(departments.c.code, departments.c.id)).all())
            for username, (role, code, active) in people.items():
                insert_full_row(conn, users, username=username, role=role, region_code="430203",
                                department_id=dept.get(code), is_active=active)
            uid = dict(conn.execute(sa.select(users.c.username, users.c.id)).all())
            for username in people:
                insert_full_row(conn, assignments, department_id=dept["A"], handler_id=uid[username],
                                region_code="430203")
            insert_full_row(conn, assignments, department_id=dept["B"], handler_id=uid["moved"],
                            region_code="430203")
        migrate.upgrade(engine, "0012")
        with engine.connect() as conn:
            kept = conn.execute(sa.select(users.c.username, departments.c.code)
                                .join(assignments, assignments.c.handler_id == users.c.id)
                                .join(departments, departments.c.id == assignments.c.department_id)
                                .order_by(users.c.username)).all()
            assert [tuple(r) for r in kept] == [("admin_stays", "A"), ("moved", "B"), ("stays", "A")]
            assert "login_failures" in sa.inspect(conn).get_table_names()
        migrate.downgrade(engine, "0011")
        with engine.connect() as conn:
            assert "login_failures" not in sa.inspect(conn).get_table_names()
        migrate.upgrade(engine)
    finally:
        engine.dispose()
