"""Running clocks counted again after the working calendar changes (`gridgov.cases.recount`):
the Spring Festival entered after cases were already counted through it on Monday–Friday.

The year is 2033, which no other test and no chinesecalendar release covers: until the admin
enters it through the API it falls back to Monday–Friday. Its 春节 here is invented for the test:
Monday 31 January to Friday 4 February off, Saturday 5 February worked (调休)."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import shapely
from sqlalchemy import func, select

from gridgov.cases.models import Case, CaseEvent
from gridgov.cases.recount import COUNTED_KEY, calendar_mark, recount_clocks
from gridgov.catalog.models import CatalogItem
from gridgov.core.jobs import registered_jobs
from gridgov.notify.models import OutboxMessage
from gridgov.regions.models import MetaValue, Region
from gridgov.workcal.service import calendar_for, clear_year

WORKER, GRID = "wg43020300200301", "43020300200301"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SPRING_FESTIVAL_2033 = {"holidays": [{"date": "2033-01-31", "until": "2033-02-04", "name": "春节"}],
                        "workdays": [{"date": "2033-02-05", "name": "春节调休"}], "note": "测试用"}


def forget_2033(sessions) -> None:
    with sessions() as db:
        clear_year(db, 2033)
        db.commit()


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def shown(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


@pytest.fixture
def clocked_case(client, auth, sessions, app):
    """A case in hand whose work_days clock started at `start` (local), counted with the calendar
    as it is now; its columns are set as clock.start_step would have set them then."""
    with sessions() as db:
        geom = shapely.from_geojson(db.get(Region, GRID).geometry)
        code = db.scalars(select(CatalogItem.code).where(CatalogItem.handling_level == "district")
                          .order_by(CatalogItem.code)).first()
    point = shapely.Polygon(geom.exterior).buffer(-0.0004).representative_point()

    def make(start: datetime, days: float, **columns) -> int:
        r = client.post("/api/v1/cases", json={"description": f"期限重算测试 {uuid.uuid4().hex[:6]}", "lon": point.x,
                                               "lat": point.y, "item_code": code}, headers=auth(WORKER))
        assert r.status_code == 201, r.text
        with sessions() as db:
            cal = calendar_for(db, app.state.settings)
            case = db.get(Case, r.json()["id"])
            case.state, case.step, case.time_unit, case.limit_amount, case.carried_amount = (
                "handling", "handle", "work_days", days, 0.0)
            case.step_started_at, case.paused_at, case.light = start, None, "green"
            case.deadline = cal.deadline(start, days, "work_days")
            case.warn_at = cal.deadline(start, days * 0.8, "work_days")
            for key, value in columns.items():
                setattr(case, key, value)
            db.commit()
            return case.id

    return make


def test_the_spring_festival_entered_later_moves_the_deadlines_counted_through_it(client, auth, sessions, app,
                                                                                 clocked_case):
    settings = app.state.settings
    later = clocked_case(local("2033-01-28T10:00"), 3)  # Friday, three working days
    sooner = clocked_case(local("2033-02-05T09:00"), 1)  # the Saturday that becomes a working day
    paused = clocked_case(local("2033-01-28T10:00"), 3, state="deferred", paused_state="handling",
                          paused_at=local("2033-01-28T11:00"))
    with sessions() as db:
        before = {c.id: c.deadline for c in db.scalars(select(Case).where(Case.id.in_([later, sooner, paused])))}
    # Counted Monday–Friday: Friday 6 h, Monday 8 h, Tuesday 8 h, then 2 h of Wednesday.
    assert (shown(before[later]), shown(before[sooner])) == ("2033-02-02 10:00", "2033-02-07 18:00")
    recount_clocks(sessions, settings)  # the calendar the clocks were counted with, marked as such

    from tests.web.test_pages import PAGE_HEADERS, login

    login(client, "dispatcher")  # the case page says the deadline was counted without 2033's holidays
    note = "2033 年节假日安排尚未录入，按周一至周五计算；录入后自动重算"
    assert note in client.get(f"/cases/{later}", headers=PAGE_HEADERS).text
    r = client.put("/api/v1/calendar/2033", json=SPRING_FESTIVAL_2033, headers=auth("admin"))
    assert r.status_code == 200, r.text
    try:
        assert note not in client.get(f"/cases/{later}", headers=PAGE_HEADERS).text
        report = recount_clocks(sessions, settings)
        assert {later, sooner} <= set(report.moved) and paused not in report.moved
        with sessions() as db:
            cases = {c.id: c for c in db.scalars(select(Case).where(Case.id.in_([later, sooner, paused])))}
            cal = calendar_for(db, settings)
            # Friday 6 h, the make-up Saturday 8 h, Monday 8 h, then 2 h of Tuesday 8 February.
            assert shown(cases[later].deadline) == "2033-02-08 10:00"
            assert cases[later].deadline == cal.deadline(local("2033-01-28T10:00"), 3, "work_days")
            assert cases[later].warn_at == cal.deadline(local("2033-01-28T10:00"), 2.4, "work_days")
            assert shown(cases[sooner].deadline) == "2033-02-07 09:00"  # Saturday 7 h, then 1 h of Monday
            assert cases[paused].deadline == before[paused]  # counted again when it resumes
            events = {e.case_id: e for e in db.scalars(select(CaseEvent).where(
                CaseEvent.case_id.in_([later, sooner, paused]), CaseEvent.action == "recount"))}
            assert set(events) == {later, sooner}
            assert events[later].comment == "工作日历变更，办理期限由 2033-02-02 10:00 调整为 2033-02-08 10:00"
            assert events[later].actor_id is None
            told = db.scalars(select(OutboxMessage.link).where(OutboxMessage.topic == "case.deadline_moved")).all()
            assert f"/cases/{sooner}" in told and f"/cases/{later}" not in told  # only a deadline that came closer

        again = recount_clocks(sessions, settings)
        assert again.skipped and not again.moved
        page = client.get(f"/api/v1/cases/{later}/events", headers=auth("dispatcher")).json()
        assert [e["action"] for e in page][-1] == "recount"
    finally:
        forget_2033(sessions)


def test_a_red_light_the_new_deadline_no_longer_justifies_is_eased(client, auth, sessions, app, clocked_case):
    settings = app.state.settings
    recount_clocks(sessions, settings)
    start = local("2033-01-28T10:00")
    case_id = clocked_case(start, 3, light="red")
    r = client.put("/api/v1/calendar/2033", json=SPRING_FESTIVAL_2033, headers=auth("admin"))
    assert r.status_code == 200, r.text
    try:
        # As if it were Wednesday 2 February 11:00: past the Monday–Friday deadline, not past the new one.
        recount_clocks(sessions, settings, now=local("2033-02-02T11:00"))
        with sessions() as db:
            case = db.get(Case, case_id)
            assert (shown(case.deadline), case.light) == ("2033-02-08 10:00", "green")
    finally:
        forget_2033(sessions)


def test_a_case_acted_on_since_its_clock_was_read_is_left_to_the_action(sessions, app, clocked_case):
    from gridgov.cases import recount

    settings = app.state.settings
    recount_clocks(sessions, settings)
    case_id = clocked_case(local("2033-01-28T10:00"), 3)
    with sessions() as db:
        cal_before = calendar_for(db, settings)
        rows = db.execute(recount._running(case_id - 1, 1)).all()
        # Meanwhile the handler was granted two more days: the clock the recount read is gone.
        case = db.get(Case, case_id)
        case.limit_amount = 5.0
        db.commit()
    with sessions() as db:
        fake = type("Shifted", (), {"deadlines": lambda self, s, a, u: cal_before.deadlines(s, a, u) + 60,
                                    "tz": SHANGHAI})()
        assert recount.recount_batch(db, fake, rows, local("2033-01-28T12:00"), "test") == []
        db.commit()
        assert db.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                  CaseEvent.action == "recount")).all() == []


def test_the_recount_is_a_registered_job_that_marks_the_calendar_it_counted_with(sessions, app):
    assert {j.name: j.interval_seconds for j in registered_jobs()}["cases.recount"] == 10
    recount_clocks(sessions, app.state.settings)
    with sessions() as db:
        mark = db.get(MetaValue, COUNTED_KEY).value
    assert app.state.settings.office_hours in mark and app.state.settings.timezone in mark
    assert recount_clocks(sessions, app.state.settings).skipped
    shifted = app.state.settings.model_copy(update={"office_hours": "09:00-12:00,13:30-17:30"})
    with sessions() as db:
        assert calendar_mark(db, shifted) != mark  # other office hours: the clocks are counted again


def test_a_long_recount_stops_at_its_budget_and_the_next_run_goes_on_from_there(sessions, app, clocked_case,
                                                                               monkeypatch):
    from gridgov.cases import recount

    settings = app.state.settings
    recount_clocks(sessions, settings)
    cases = [clocked_case(local("2033-01-28T10:00"), 3) for _ in range(3)]
    with sessions() as db:
        clear_year(db, 2033)  # a change of calendar (nothing to clear: the version moves all the same)
        from gridgov.workcal.service import set_year

        set_year(db, 2033, [(local("2033-01-31T00:00").date(), "春节")], [], actor="tests")
        db.commit()
    monkeypatch.setattr(recount, "BATCH", 1)  # one case a batch
    try:
        first = recount_clocks(sessions, settings, budget_seconds=0)  # one batch, then it gives the thread back
        assert first.checked == 1 and not first.skipped
        with sessions() as db:
            assert db.get(MetaValue, COUNTED_KEY).value.startswith("after ")
        counted = first.checked
        moved = set(first.moved)
        while True:
            run = recount_clocks(sessions, settings, budget_seconds=0)
            if run.skipped:
                break
            counted += run.checked
            moved |= set(run.moved)
        assert set(cases) <= moved  # each counted once, in later runs, from where the last one stopped
        with sessions() as db:
            assert db.get(MetaValue, COUNTED_KEY).value.startswith("done ")
            assert counted == db.scalar(select(func.count()).select_from(recount._running(0, 10 ** 9).subquery()))
    finally:
        forget_2033(sessions)
