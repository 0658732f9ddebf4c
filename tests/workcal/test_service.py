"""The calendar in the database, on SQLite and PostgreSQL: seeding from chinesecalendar, admin
entry, the per-process cache, and the 2027 Spring Festival example end to end."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select, update

from gridgov.core.config import Settings
from gridgov.core.db import make_engine, make_sessionmaker
from gridgov.core.errors import ValidationFailed
from gridgov.workcal import service
from gridgov.workcal.models import CalendarDay, CalendarYear
from tests.conftest import migrated
from tests.workcal.brute import ADMIN_2027, SHANGHAI


@pytest.fixture
def fresh(backend, databases):
    """A migrated, empty database of its own."""
    url = databases.new(backend)
    migrated(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def settings(tmp_path):
    return Settings(database_url="sqlite://", var_dir=tmp_path)


def admin_2027() -> tuple[list[tuple[date, str]], list[tuple[date, str]]]:
    holidays = [(d, "春节" if d.month == 2 else "国庆节") for d, k in sorted(ADMIN_2027.items()) if k == "holiday"]
    workdays = [(d, "调休") for d, k in sorted(ADMIN_2027.items()) if k == "workday"]
    return holidays, workdays


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def days_of(db, year: int) -> dict[date, tuple[str, str, str]]:
    rows = db.scalars(select(CalendarDay).where(CalendarDay.day >= date(year, 1, 1),
                                                CalendarDay.day <= date(year, 12, 31)))
    return {r.day: (r.kind, r.name, r.source) for r in rows}


def test_seed_writes_the_package_schedule_once(fresh):
    years = service.package_years()
    assert 2026 in years and 2027 not in years
    with fresh() as db:
        written = service.seed_from_chinesecalendar(db)
        db.commit()
    with fresh() as db:
        assert written == db.scalar(select(func.count()).select_from(CalendarDay)) > 400
        year_rows = db.scalars(select(CalendarYear)).all()
        assert sorted(r.year for r in year_rows) == list(years)
        assert {r.source for r in year_rows} == {"chinesecalendar"}
        d2026 = days_of(db, 2026)
        assert d2026[date(2026, 10, 1)] == ("holiday", "国庆节", "chinesecalendar")
        assert d2026[date(2026, 10, 10)] == ("workday", "国庆节调休", "chinesecalendar")
        assert d2026[date(2026, 2, 16)][:2] == ("holiday", "春节")
        assert date(2026, 10, 3) not in d2026  # a Saturday in the holiday is off anyway
        assert {k for k, _, _ in d2026.values()} == {"holiday", "workday"}
        assert all((d.weekday() < 5) == (k == "holiday") for d, (k, _, _) in d2026.items())
        for year in (2004, 2015, 2020, 2026):
            assert {d: k for d, (k, _, _) in days_of(db, year).items()} == {
                d: k for d, (k, _) in service.package_schedule(year).items()}
        version = service.calendar_version(db)
    with fresh() as db:
        assert service.seed_from_chinesecalendar(db) == 0  # idempotent
        db.commit()
    with fresh() as db:
        assert service.calendar_version(db) == version  # nothing changed, caches stay valid
        # A tampered row is put back, and only that one.
        db.execute(update(CalendarDay).where(CalendarDay.day == date(2026, 10, 1)).values(name="x"))
        db.delete(db.get(CalendarDay, date(2026, 10, 2)))
        db.commit()
    with fresh() as db:
        assert service.seed_from_chinesecalendar(db) == 2
        db.commit()
        assert days_of(db, 2026)[date(2026, 10, 1)][1] == "国庆节"
        assert date(2026, 10, 2) in days_of(db, 2026)


def test_seed_never_overwrites_a_year_an_admin_entered(fresh):
    with fresh() as db:
        service.set_year(db, 2026, [(date(2026, 10, 1), "国庆")], [], actor="admin", note="测试")
        db.commit()
    with fresh() as db:
        service.seed_from_chinesecalendar(db)
        db.commit()
    with fresh() as db:
        assert days_of(db, 2026) == {date(2026, 10, 1): ("holiday", "国庆", "admin")}
        row = db.get(CalendarYear, 2026)
        assert (row.source, row.updated_by, row.note) == ("admin", "admin", "测试")
        assert days_of(db, 2025)[date(2025, 10, 1)][0] == "holiday"
        status = service.year_status(db, 2026)
        assert (status.source, status.fallback, status.known_by_package) == ("admin", False, True)


def test_2027_spring_festival_falls_back_until_an_admin_enters_2027(fresh, settings):
    start = sh(2027, 2, 4, 9, 0)
    with fresh() as db:
        service.seed_from_chinesecalendar(db)
        db.commit()
    with fresh() as db:
        status = service.year_status(db, 2027)
        assert (status.source, status.fallback, status.days, status.known_by_package) == ("none", True, [], False)
        cal = service.calendar_for(db, settings)
        due = cal.deadline(start, 3, "work_days")
        assert due == sh(2027, 2, 9, 9, 0)
        assert cal.missing_years(start, due) == {2027}
        # The National Day example holds with the seeded database too.
        assert cal.deadline(sh(2026, 9, 30, 17, 0), 1, "work_days") == sh(2026, 10, 8, 17, 0)
    with fresh() as db:
        holidays, workdays = admin_2027()
        status = service.set_year(db, 2027, holidays, workdays, actor="admin")
        assert (status.source, len(status.holidays), len(status.workdays)) == ("admin", 11, 3)
        db.commit()
    with fresh() as db:
        moved = service.calendar_for(db, settings)
        assert moved is not cal
        assert moved.deadline(start, 3, "work_days") == sh(2027, 2, 17, 9, 0)
        assert moved.missing_years(start, sh(2027, 2, 17, 9, 0)) == set()
        assert service.seed_from_chinesecalendar(db) == 0
        db.commit()
        assert service.year_status(db, 2027).source == "admin"


def test_set_year_refuses_nonsense_and_writes_nothing(fresh):
    cases = [
        ([(date(2027, 2, 13), "春节")], [], "holidays", "2027-02-13 是周末"),  # a Saturday
        ([], [(date(2027, 2, 8), "调休")], "workdays", "2027-02-08 是周一至周五"),
        ([(date(2026, 12, 31), "元旦")], [], "holidays", "2026-12-31 不在 2027 年内"),
        ([(date(2027, 2, 8), "春节")], [(date(2027, 2, 8), "x")], "workdays", "2027-02-08"),
        ([(date(2027, 2, 8), "春" * 41)], [], "holidays", "40"),
    ]
    with fresh() as db:
        for holidays, workdays, field, text in cases:
            with pytest.raises(ValidationFailed) as caught:
                service.set_year(db, 2027, holidays, workdays, actor="admin")
            assert text in caught.value.fields[field].render("zh"), (field, text)
        with pytest.raises(ValidationFailed) as caught:
            service.set_year(db, 1900, [], [], actor="admin")
        assert "year" in caught.value.fields
        assert db.scalar(select(func.count()).select_from(CalendarYear)) == 0
        assert db.scalar(select(func.count()).select_from(CalendarDay)) == 0


def test_set_year_replaces_and_clear_year_falls_back(fresh):
    with fresh() as db:
        service.set_year(db, 2030, [(date(2030, 2, 4), "春节"), (date(2030, 2, 5), "春节")],
                         [(date(2030, 2, 9), "春节调休")], actor="admin")
        db.commit()
        service.set_year(db, 2030, [(date(2030, 10, 1), "国庆节")], [], actor="leader")
        db.commit()
        assert days_of(db, 2030) == {date(2030, 10, 1): ("holiday", "国庆节", "admin")}
        assert db.get(CalendarYear, 2030).updated_by == "leader"
        empty = service.set_year(db, 2031, [], [], actor="admin")  # "Monday–Friday, confirmed"
        assert (empty.source, empty.fallback, empty.days) == ("admin", False, [])
        db.commit()
        assert service.clear_year(db, 2030) is True
        assert service.clear_year(db, 2032) is False
        db.commit()
        assert service.year_status(db, 2030).fallback
        assert days_of(db, 2030) == {}


def test_the_cached_calendar_is_shared_rebuilt_on_change_and_not_poisoned_by_a_rollback(fresh, settings):
    with fresh() as db:
        first = service.calendar_for(db, settings)
        assert service.calendar_for(db, settings) is first
        assert first.is_working_day(date(2033, 2, 1))
    with fresh() as db:  # a change rolled back after a calendar was built from it
        service.set_year(db, 2033, [(date(2033, 2, 1), "春节")], [], actor="admin")
        uncommitted = service.calendar_for(db, settings)
        assert not uncommitted.is_working_day(date(2033, 2, 1))
        db.rollback()
    with fresh() as db:
        again = service.calendar_for(db, settings)
        assert again.is_working_day(date(2033, 2, 1))
        service.set_year(db, 2033, [(date(2033, 2, 2), "春节")], [], actor="admin")
        db.commit()
    with fresh() as db:
        later = service.calendar_for(db, settings)
        assert not later.is_working_day(date(2033, 2, 2)) and later.is_working_day(date(2033, 2, 1))
        assert 2033 in later.years
    other = Settings(database_url="sqlite://", office_hours="09:00-17:00")
    with fresh() as db:
        assert service.calendar_for(db, other).day_minutes == 480
        assert service.calendar_for(db, other).spans == ((540, 1020),)


def test_parse_days_expands_ranges():
    days = service.parse_days("holiday", ["2027-02-11..2027-02-17:春节", "2027-10-01"], default_name="假")
    assert days == [(date(2027, 2, d), "春节") for d in (11, 12, 15, 16, 17)] + [(date(2027, 10, 1), "假")]
    assert service.parse_days("workday", ["2027-02-06..2027-02-07: 调休 "]) == [
        (date(2027, 2, 6), "调休"), (date(2027, 2, 7), "调休")]
    for bad in ["2027-02-30", "2027-02-17..2027-02-11", "2027/02/11", "2027-01-01..2028-06-01"]:
        with pytest.raises(ValidationFailed) as caught:
            service.parse_days("holiday", [bad])
        assert bad in caught.value.fields["holidays"].render("zh")


def test_two_admins_adding_a_day_each_to_the_same_year_lose_neither(fresh, backend):
    # The page adds a day by reading the year and writing it back: without a lock the second
    # admin's write, read before the first committed, would drop the first admin's day.
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time anyway")
    import threading

    with fresh() as db:  # as `gridgov migrate` leaves it: the calendar's version row exists
        service.seed_from_chinesecalendar(db)
        db.commit()
    first, second = fresh(), fresh()
    service.add_days(first, 2033, "holiday", date(2033, 2, 1), None, "春节", actor="a")
    done = threading.Event()

    def other() -> None:
        service.add_days(second, 2033, "holiday", date(2033, 2, 2), None, "春节", actor="b")
        second.commit()
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    assert not done.wait(0.5)  # waits for the first admin's transaction
    first.commit()
    thread.join(10)
    assert done.is_set()
    first.close()
    second.close()
    with fresh() as db:
        assert set(days_of(db, 2033)) == {date(2033, 2, 1), date(2033, 2, 2)}


def test_add_and_remove_keep_the_rest_of_the_year_and_its_note(fresh):
    with fresh() as db:
        service.set_year(db, 2033, [(date(2033, 1, 31), "春节")], [(date(2033, 2, 5), "春节调休")], actor="a",
                         note="国办发明电〔2032〕1号")
        service.add_days(db, 2033, "holiday", date(2033, 2, 1), date(2033, 2, 6), "春节", actor="b")
        status = service.remove_day(db, 2033, date(2033, 2, 5), actor="b")
        assert [(d.day.day, d.kind) for d in status.days] == [(31, "holiday"), (1, "holiday"), (2, "holiday"),
                                                               (3, "holiday"), (4, "holiday")]
        assert (status.note, status.updated_by) == ("国办发明电〔2032〕1号", "b")
        with pytest.raises(ValidationFailed) as caught:
            service.remove_day(db, 2033, date(2033, 2, 5), actor="b")
        assert caught.value.fields["day"].render("zh") == "2033-02-05 不是 2033 年登记的放假日或调休上班日"
        with pytest.raises(ValidationFailed) as caught:
            service.add_days(db, 2033, "weekend", date(2033, 2, 5), None, "", actor="b")
        assert "kind" in caught.value.fields
