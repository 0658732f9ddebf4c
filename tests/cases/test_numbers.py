"""A case's readable number: SJ + the day (Asia/Shanghai) + the id, padded to six digits."""

from __future__ import annotations

from sqlalchemy import insert, select, text

from gridgov.accounts.models import User
from gridgov.accounts.service import principal_of
from gridgov.cases import service
from gridgov.cases.models import Case
from tests.cases.test_lifecycle import GRID, WORKER, point_in


def test_case_numbers_pad_the_id_to_six_digits_and_grow_past_them(app, sessions):
    """PostgreSQL makes the number inside the INSERT, SQLite after it: both as prefix + the id
    padded to six digits, and a seventh digit once the ids get there (in a transaction that is
    rolled back, the sequence set back)."""
    ctx = service.CaseContext(settings=app.state.settings, locator=app.state.locator, borders=app.state.borders)
    lon, lat = point_in(sessions, GRID)
    with sessions() as db:
        who = principal_of(db.scalar(select(User).where(User.username == WORKER)))
        postgres = db.get_bind().dialect.name == "postgresql"
        if postgres:
            last = db.scalar(text("SELECT last_value FROM cases_id_seq"))
            db.execute(text("SELECT setval('cases_id_seq', 999998)"))
        else:
            table = Case.__table__  # SQLite's next id is one past the largest: a filler row there
            row = dict(db.execute(select(table).limit(1)).one()._mapping)
            db.execute(insert(table).values({**row, "id": 999_998, "number": "filler"}))
        try:
            numbers = [service.create_case(db, ctx, who, service.NewCase(description="编号测试：路边暴露垃圾",
                                                                          lon=lon, lat=lat))[0].number
                       for _ in range(2)]
            assert [n[10:] for n in numbers] == ["999999", "1000000"]
            assert all(n.startswith("SJ") and n[2:10].isdigit() for n in numbers)
            assert db.scalar(select(Case.number).where(Case.id == 1_000_000)) == numbers[1]
        finally:
            db.rollback()
            if postgres:
                db.execute(text("SELECT setval('cases_id_seq', :last)"), {"last": last})
                db.commit()
