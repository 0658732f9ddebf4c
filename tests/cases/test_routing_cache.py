"""Whom a case is routed to is kept per process until the routing version moves: every change
through the services moves it, so the next case follows at once; a write behind their back is
seen once something bumps the version (or after StaffMemo.TTL)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import delete, select

from gridgov.accounts.models import User
from gridgov.cases.routing import bump_routing
from gridgov.departments.models import AreaAssignment
from tests.cases.test_lifecycle import GRID, WORKER, item_at, point_in


@contextmanager
def assignment_behind_the_back(sessions, department_id: int, handler_id: int):
    """An area assignment written straight into the table, as another program would (no version
    bump); taken away again afterwards, through a bump, for the tests that follow."""
    with sessions() as db:
        db.add(AreaAssignment(department_id=department_id, handler_id=handler_id, region_code=GRID))
        db.commit()
    try:
        yield
    finally:
        with sessions() as db:
            db.execute(delete(AreaAssignment).where(AreaAssignment.department_id == department_id,
                                                    AreaAssignment.handler_id == handler_id,
                                                    AreaAssignment.region_code == GRID))
            bump_routing(db)
            db.commit()


@pytest.fixture
def setting(client, auth, sessions):
    """(item, the handler it goes to now, another handler of the same department, create())."""
    item = item_at(sessions, "district")
    lon, lat = point_in(sessions, GRID)

    def create() -> dict:
        r = client.post("/api/v1/cases", json={"description": "路由缓存测试", "lon": lon, "lat": lat,
                                               "item_code": item.code}, headers=auth(WORKER))
        assert r.status_code == 201, r.text
        return r.json()

    now = create()["handler"]["id"]
    with sessions() as db:
        other = db.scalar(select(User.id).where(User.department_id == item.department_id,
                                                User.role == "dept_handler", User.id != now,
                                                User.is_active.is_(True)).order_by(User.id))
    assert other is not None
    return item, now, other, create


def test_an_assignment_added_and_removed_through_the_api_routes_the_next_case(client, auth, setting):
    item, before, other, create = setting
    r = client.post(f"/api/v1/departments/{item.department_id}/assignments",
                    json={"handler_id": other, "region_code": GRID}, headers=auth("admin"))
    assert r.status_code == 201, r.text
    try:
        case = create()
        assert case["handler"]["id"] == other
        assert case["routing_rule"] == "area_assignment"
    finally:
        assert client.delete(f"/api/v1/departments/{item.department_id}/assignments/{r.json()['id']}",
                             headers=auth("admin")).status_code == 204
    assert create()["handler"]["id"] == before


def test_a_write_behind_the_services_back_waits_for_the_routing_version(sessions, setting):
    item, before, other, create = setting
    with assignment_behind_the_back(sessions, item.department_id, other):
        assert create()["handler"]["id"] == before  # the process still answers from what it read
        with sessions() as db:
            bump_routing(db)
            db.commit()
        assert create()["handler"]["id"] == other


def test_a_rolled_back_change_leaves_no_trace(sessions, setting):
    item, before, other, create = setting
    with sessions() as db:
        db.add(AreaAssignment(department_id=item.department_id, handler_id=other, region_code=GRID))
        bump_routing(db)
        db.flush()
        db.rollback()
    assert create()["handler"]["id"] == before



def test_a_dispatcher_added_or_deactivated_hears_of_the_next_triage_case_or_not(client, auth, sessions, backend):
    """Who sits at a desk is kept per process too (`holders.dispatchers`): a dispatcher added or
    deactivated through the API is told of the next triage case, or no longer."""
    from gridgov.notify.models import OutboxMessage

    lon, lat = point_in(sessions, GRID)

    def triage_case() -> int:
        r = client.post("/api/v1/cases", json={"description": "zzqx 无法识别的描述 qqq", "lon": lon, "lat": lat},
                        headers=auth(WORKER))
        assert r.status_code == 201 and r.json()["routing_rule"] == "triage_no_item", r.text
        return r.json()["id"]

    def told(case_id: int) -> set[int]:
        with sessions() as db:
            return set(db.scalars(select(OutboxMessage.user_id).where(OutboxMessage.topic == "case.triage",
                                                                      OutboxMessage.link == f"/cases/{case_id}")))

    desk = told(triage_case())  # read, and now kept
    assert desk
    r = client.post("/api/v1/users", headers=auth("admin"), json={
        "username": f"desk_{backend}", "display_name": "新调度员", "password": "a-long-password",
        "role": "district_dispatcher", "region_code": "430203"})
    assert r.status_code == 201, r.text
    newcomer = r.json()["id"]
    assert told(triage_case()) == desk | {newcomer}
    r = client.patch(f"/api/v1/users/{newcomer}", json={"is_active": False}, headers=auth("admin"))
    assert r.status_code == 200, r.text
    assert told(triage_case()) == desk


def test_a_write_behind_the_services_back_is_seen_after_the_ttl(monkeypatch, sessions, setting):
    from gridgov.cases import routing

    now = [1000.0]
    monkeypatch.setattr(routing, "_clock", lambda: now[0])
    monkeypatch.setattr(routing, "_candidates", routing.StaffMemo())  # filled by the real clock until now
    item, before, other, create = setting
    assert create()["handler"]["id"] == before  # read, and kept at t = 1000
    with assignment_behind_the_back(sessions, item.department_id, other):
        now[0] += routing.StaffMemo.TTL - 1
        assert create()["handler"]["id"] == before
        now[0] += 2
        assert create()["handler"]["id"] == other
