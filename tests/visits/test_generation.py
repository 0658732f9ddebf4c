"""Due visits from tag frequencies: dates across month and year ends and leap days (local dates,
Asia/Shanghai), idempotent and concurrent runs, removed tags, the worker the visit goes to, a visit
done early, a person who moves to another grid."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from gridgov.accounts.access import Principal
from gridgov.accounts.models import User
from gridgov.people.models import Resident, ResidentTag
from gridgov.people.tagging import sync_active_tags
from gridgov.regions.models import Region
from gridgov.visits import service
from gridgov.visits.models import Visit
from tests.visits.conftest import GRID, OTHER_GRID_WORKER, WORKER


def _due(sessions, resident_id: int) -> list[tuple[str, date, str]]:
    with sessions() as db:
        rows = db.scalars(select(Visit).where(Visit.resident_id == resident_id).order_by(Visit.due_date)).all()
        return [(v.tag_code, v.due_date, v.status) for v in rows]


def _generate(sessions, today: date, horizon: int = 14) -> service.GenerationReport:
    with sessions() as db:
        path = db.scalar(select(Resident.region_path).where(Resident.grid_code == GRID).limit(1))
        report = service.generate_due_visits(db, today, "Asia/Shanghai", horizon, region_path=path)
        db.commit()
        return report


def _worker(sessions) -> Principal:
    with sessions() as db:
        user = db.scalar(select(User).where(User.username == "wg43020300200301"))
        return Principal(user.id, user.username, user.display_name, user.role, user.region_code, user.region.path,
                         None)


def test_weekly_visits_cross_the_month_end_and_follow_the_last_visit_done(app, sessions, resident):
    # Added at 01:00 on 28 January in Shanghai, which is still 27 January in UTC: the local date counts.
    rid = resident("周跨月", tags={"living_alone": datetime(2026, 1, 27, 17, 0, tzinfo=UTC)})
    _generate(sessions, date(2026, 1, 20))  # 4 February is beyond a 14-day horizon from 20 January
    assert _due(sessions, rid) == []
    _generate(sessions, date(2026, 1, 28))
    assert _due(sessions, rid) == [("living_alone", date(2026, 2, 4), "due")]
    again = _generate(sessions, date(2026, 1, 28))
    assert _due(sessions, rid) == [("living_alone", date(2026, 2, 4), "due")] and again.created == 0
    with sessions() as db:
        visit = db.scalar(select(Visit).where(Visit.resident_id == rid))
        done_at = datetime(2026, 2, 5, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai, a day late
        service.record_visit(db, _worker(sessions), visit.id, visit.version,
                             service.VisitRecord(met="本人", place="家中"), now=done_at)
        db.commit()
    _generate(sessions, date(2026, 2, 5))
    assert _due(sessions, rid) == [("living_alone", date(2026, 2, 4), "done"),
                                   ("living_alone", date(2026, 2, 12), "due")]


@pytest.mark.parametrize(("added", "tag", "expected"), [
    (datetime(2028, 2, 22, 4, tzinfo=UTC), "living_alone", date(2028, 2, 29)),  # leap day
    (datetime(2026, 12, 28, 4, tzinfo=UTC), "community_correction", date(2027, 1, 4)),  # year end
    (datetime(2027, 1, 31, 4, tzinfo=UTC), "mental_disorder", date(2027, 3, 2)),  # 30 days over February
    (datetime(2027, 12, 31, 16, 30, tzinfo=UTC), "living_alone", date(2028, 1, 8)),  # 00:30 on 1 Jan locally
])
def test_due_dates_over_leap_days_and_year_ends(app, sessions, resident, added, tag, expected):
    rid = resident("日期边界", tags={tag: added})
    _generate(sessions, expected)
    assert _due(sessions, rid) == [(tag, expected, "due")]


def test_overdue_visits_stay_single_and_removed_tags_drop_their_due_visit(app, sessions, resident):
    rid = resident("逾期", tags={"living_alone": datetime(2026, 3, 1, 4, tzinfo=UTC),
                               "disabled": datetime(2026, 3, 1, 4, tzinfo=UTC)})
    _generate(sessions, date(2026, 3, 8))
    _generate(sessions, date(2026, 5, 20))  # weeks later, nothing done: still one due visit per tag
    assert _due(sessions, rid) == [("living_alone", date(2026, 3, 8), "due"), ("disabled", date(2026, 5, 30), "due")]
    with sessions() as db:
        tag = db.scalar(select(ResidentTag).where(ResidentTag.resident_id == rid, ResidentTag.tag_code == "disabled"))
        tag.status = "removed"
        sync_active_tags(db, [rid])
        db.commit()
    report = _generate(sessions, date(2026, 5, 20))
    assert report.dropped >= 1
    assert _due(sessions, rid) == [("living_alone", date(2026, 3, 8), "due")]


def test_the_visit_goes_to_the_grids_worker(app, sessions, resident):
    rid = resident("派给网格员", tags={"living_alone": datetime(2026, 5, 1, 4, tzinfo=UTC)})
    _generate(sessions, date(2026, 5, 8))
    with sessions() as db:
        visit = db.scalar(select(Visit).where(Visit.resident_id == rid))
        workers = db.scalars(select(User.id).where(User.role == "grid_worker", User.region_code == GRID,
                                                   User.is_active.is_(True))).all()
        assert visit.worker_id == min(workers) and visit.grid_code == GRID


def test_concurrent_runs_make_each_visit_once(app, sessions, resident):
    rids = [resident(f"并发{i}", tags={"living_alone": datetime(2026, 6, 1, 4, tzinfo=UTC)}) for i in range(5)]
    barrier = threading.Barrier(3)
    errors = []

    def run():
        try:
            barrier.wait()
            _generate(sessions, date(2026, 6, 8))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for rid in rids:
        assert _due(sessions, rid) == [("living_alone", date(2026, 6, 8), "due")]


def test_a_visit_done_on_the_day_it_was_generated_is_followed_by_the_next_one(app, sessions, resident):
    # The tag is added and the person visited the same day (the worker tags them during the visit):
    # the next visit falls on the date the visit just done was due, which that row holds already.
    rid = resident("当天走访", tags={"living_alone": datetime(2026, 7, 1, 2, tzinfo=UTC)})
    _generate(sessions, date(2026, 7, 1))
    assert _due(sessions, rid) == [("living_alone", date(2026, 7, 8), "due")]
    with sessions() as db:
        visit = db.scalar(select(Visit).where(Visit.resident_id == rid))
        service.record_visit(db, _worker(sessions), visit.id, visit.version,
                             service.VisitRecord(met="本人", place="家中"), now=datetime(2026, 7, 1, 6, tzinfo=UTC))
        db.commit()
    _generate(sessions, date(2026, 7, 1))
    _generate(sessions, date(2026, 7, 2))
    # Still visited weekly: due the day before the date the early visit keeps.
    assert _due(sessions, rid) == [("living_alone", date(2026, 7, 7), "due"),
                                   ("living_alone", date(2026, 7, 8), "done")]


def test_a_person_who_moves_takes_their_due_visit_to_the_new_grid(app, client, auth, sessions, resident):
    rid = resident("搬家", tags={"living_alone": datetime(2026, 8, 1, 4, tzinfo=UTC)})
    _generate(sessions, date(2026, 8, 8))
    new_grid = OTHER_GRID_WORKER.removeprefix("wg")
    with sessions() as db:
        grid = db.get(Region, new_grid)
        person = db.get(Resident, rid)
        person.grid_code, person.region_path = grid.code, grid.path  # as the register's edit does
        db.commit()
        report = service.generate_due_visits(db, date(2026, 8, 20), "Asia/Shanghai", region_path=grid.path)
        db.commit()
        visit = db.scalar(select(Visit).where(Visit.resident_id == rid))
        new_worker = db.scalar(select(User.id).where(User.username == OTHER_GRID_WORKER))
        assert (visit.grid_code, visit.region_path, visit.worker_id) == (grid.code, grid.path, new_worker)
        assert report.assigned >= 1
    assert _due(sessions, rid) == [("living_alone", date(2026, 8, 8), "due")]  # still the one visit, overdue
    assert client.get(f"/api/v1/visits/{visit.id}", headers=auth(WORKER)).status_code == 404
    mine = client.get("/api/v1/visits", params={"status": "overdue", "mine": "true"},
                      headers=auth(OTHER_GRID_WORKER)).json()
    assert visit.id in [i["id"] for i in mine["items"]]
