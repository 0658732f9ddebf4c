"""Department members through the API and the department page."""

from __future__ import annotations

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
