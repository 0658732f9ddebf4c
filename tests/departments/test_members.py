"""Department members through the API and the department page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gridgov.accounts.models import User
from gridgov.departments.models import AreaAssignment, Department
from tests.accounts.test_auth import csrf_of, new_user, page_login


def dept_id(sessions, code: str) -> int:
    with sessions() as db:
        return db.scalar(select(Department.id).where(Department.code == code))


def test_admin_adds_a_handler_and_removing_them_drops_their_assignments(client, auth, sessions, request):
    cgj = dept_id(sessions, "CGJ")
    _, uid = new_user(request, "dept_handler", "430203", department_id=dept_id(sessions, "JYJ"))
    r = client.post(f"/api/v1/departments/{cgj}/members", json={"user_id": uid}, headers=auth("admin"))
    assert r.status_code == 201, r.text
    assert r.json()["department_id"] == cgj
    r = client.post(f"/api/v1/departments/{cgj}/assignments", json={"handler_id": uid, "region_code": "430203002"},
                    headers=auth("admin"))
    assert r.status_code == 201
    r = client.delete(f"/api/v1/departments/{cgj}/members/{uid}", headers=auth("admin"))
    assert r.status_code == 204
    with sessions() as db:
        assert db.get(User, uid).department_id is None
        assert db.scalar(select(AreaAssignment.id).where(AreaAssignment.handler_id == uid)) is None


def test_only_department_roles_join_and_only_account_managers_add(client, auth, sessions, request):
    cgj = dept_id(sessions, "CGJ")
    _, worker = new_user(request, "grid_worker", "43020300100101")
    r = client.post(f"/api/v1/departments/{cgj}/members", json={"user_id": worker}, headers=auth("admin"))
    assert r.status_code == 422
    assert r.json()["error"]["fields"]["user_id"] == "只有部门负责人或部门管理员可以加入部门"
    _, handler = new_user(request, "dept_handler", "430203", department_id=dept_id(sessions, "JYJ"))
    r = client.post(f"/api/v1/departments/{cgj}/members", json={"user_id": handler}, headers=auth("bmcgj00"))
    assert r.status_code == 403  # a department admin manages assignments, not who belongs
    r = client.delete(f"/api/v1/departments/{cgj}/members/{handler}", headers=auth("admin"))
    assert r.status_code == 404  # not a member of CGJ


def test_member_form_on_the_department_page(client, sessions, request):
    jyj = dept_id(sessions, "JYJ")
    username, uid = new_user(request, "dept_handler", "430203", department_id=dept_id(sessions, "SFJ"))
    page_login(client, "admin")
    page = client.get(f"/departments/{jyj}", headers={"Accept": "text/html"})
    assert 'data-testid="member-form"' in page.text and username in page.text
    r = client.post(f"/departments/{jyj}/members", data={"user_id": uid, "csrf_token": csrf_of(page.text)},
                    headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303
    with sessions() as db:
        assert db.get(User, uid).department_id == jyj
    page = client.get(f"/departments/{jyj}", headers={"Accept": "text/html"})
    r = client.post(f"/departments/{jyj}/members/{uid}/delete", data={"csrf_token": csrf_of(page.text)},
                    headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303
    with sessions() as db:
        assert db.get(User, uid).department_id is None


def test_a_tampered_form_value_is_refused_not_a_server_error(client, sessions):
    cgj = dept_id(sessions, "CGJ")
    page_login(client, "admin")
    page = client.get(f"/departments/{cgj}", headers={"Accept": "text/html"})
    r = client.post(f"/departments/{cgj}/assignments",
                    data={"handler_id": "1; DROP TABLE users", "region_code": "430203",
                          "csrf_token": csrf_of(page.text)},
                    headers={"Accept": "text/html"})
    assert r.status_code == 422
    assert "处理人必须是本部门成员" in r.text


# --- a handler who can no longer take the department's cases loses the areas they answered for ---

def _changes(client, auth, sessions, dept: int, uid: int, change: str):
    """The four ways a handler stops being one of the department's: each through the real API."""
    if change == "moved":
        other = dept_id(sessions, "JYJ" if dept != dept_id(sessions, "JYJ") else "SFJ")
        return client.patch(f"/api/v1/users/{uid}", json={"department_id": other}, headers=auth("admin"))
    if change == "stopped":
        return client.patch(f"/api/v1/users/{uid}", json={"is_active": False}, headers=auth("admin"))
    if change == "no_longer_a_handler":
        return client.patch(f"/api/v1/users/{uid}", json={"role": "mediator"}, headers=auth("admin"))
    return client.delete(f"/api/v1/departments/{dept}/members/{uid}", headers=auth("admin"))


@pytest.mark.parametrize("change", ["moved", "stopped", "no_longer_a_handler", "removed"])
def test_a_handler_who_leaves_loses_the_areas_and_the_next_case_goes_to_another(client, auth, sessions, request,
                                                                               change):
    from tests.cases.test_lifecycle import GRID, WORKER, item_at, point_in

    item = item_at(sessions, "district")
    dept = item.department_id
    _, uid = new_user(request, "dept_handler", "430203", department_id=dept)
    r = client.post(f"/api/v1/departments/{dept}/assignments", json={"handler_id": uid, "region_code": GRID},
                    headers=auth("admin"))
    assert r.status_code == 201, r.text
    assignment = r.json()["id"]
    lon, lat = point_in(sessions, GRID)

    def new_case() -> dict:
        r = client.post("/api/v1/cases", json={"description": f"分派规则测试：{change}", "lon": lon, "lat": lat,
                                               "item_code": item.code}, headers=auth(WORKER))
        assert r.status_code == 201, r.text
        return r.json()

    first = new_case()
    assert (first["handler"]["id"], first["routing_rule"]) == (uid, "area_assignment")  # the grid's own rule

    r = _changes(client, auth, sessions, dept, uid, change)
    assert r.status_code in (200, 204), r.text

    shown = client.get(f"/api/v1/departments/{dept}", headers=auth("admin")).json()
    assert uid not in [a["handler_id"] for a in shown["assignments"]]
    assert shown["assignment_count"] == len(shown["assignments"])
    listed = {d["id"]: d for d in client.get("/api/v1/departments", headers=auth("admin")).json()}
    assert listed[dept]["assignment_count"] == len(shown["assignments"])
    with sessions() as db:
        assert db.scalars(select(AreaAssignment.id).where(AreaAssignment.handler_id == uid)).all() == []

    case = new_case()
    assert case["handler"] is not None and case["handler"]["id"] != uid
    assert case["routing_rule"] in ("area_assignment", "least_loaded", "department_admin"), case
    with sessions() as db:
        handler = db.get(User, case["handler"]["id"])
        assert (handler.department_id, handler.is_active) == (dept, True)

    page_login(client, "admin")  # the department's page no longer offers the rule either
    page = client.get(f"/departments/{dept}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert f"/departments/{dept}/assignments/{assignment}/delete" not in page.text


def test_a_handler_taken_back_does_not_find_the_old_areas_again(client, auth, sessions, request):
    """Before, a handler moved away and back answered again for the areas of before, unseen by
    whoever moved them: a move takes the areas away for good."""
    cgj, jyj = dept_id(sessions, "CGJ"), dept_id(sessions, "JYJ")
    _, uid = new_user(request, "dept_handler", "430203", department_id=cgj)
    r = client.post(f"/api/v1/departments/{cgj}/assignments", json={"handler_id": uid, "region_code": "430203002"},
                    headers=auth("admin"))
    assert r.status_code == 201, r.text
    for dept in (jyj, cgj):
        r = client.patch(f"/api/v1/users/{uid}", json={"department_id": dept}, headers=auth("admin"))
        assert r.status_code == 200, r.text
    shown = client.get(f"/api/v1/departments/{cgj}", headers=auth("admin")).json()
    assert uid in [m["id"] for m in shown["members"]]
    assert uid not in [a["handler_id"] for a in shown["assignments"]]


def test_a_handler_who_stays_in_the_department_keeps_the_areas(client, auth, sessions, request):
    """Only what stops someone taking the department's cases takes the areas: a new name, a new
    jurisdiction or becoming the department's admin does not."""
    cgj = dept_id(sessions, "CGJ")
    _, uid = new_user(request, "dept_handler", "430203", department_id=cgj)
    r = client.post(f"/api/v1/departments/{cgj}/assignments", json={"handler_id": uid, "region_code": "430203002"},
                    headers=auth("admin"))
    assert r.status_code == 201, r.text
    for change in ({"display_name": "改名"}, {"region_code": "430203002"}, {"role": "dept_admin"},
                   {"department_id": cgj}):
        r = client.patch(f"/api/v1/users/{uid}", json=change, headers=auth("admin"))
        assert r.status_code == 200, r.text
    shown = client.get(f"/api/v1/departments/{cgj}", headers=auth("admin")).json()
    assert [a["region"]["code"] for a in shown["assignments"] if a["handler_id"] == uid] == ["430203002"]
