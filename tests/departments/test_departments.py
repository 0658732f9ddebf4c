"""Departments, members and area assignments: the API and the pages.

The database is shared by the session, so tests that add an assignment remove it again, and
departments made here get unique codes.
"""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import delete, func, select

from gridgov.accounts.models import User
from gridgov.departments.models import AreaAssignment, Department
from tests.accounts.test_auth import PASSWORD, csrf_of, new_user, page_login

DEMO_CODES = {"CGJ", "ZJJ", "HBJ", "SJJ", "YJJ", "GAJ", "MZJ", "RSJ", "WJJ", "JYJ", "JTJ", "SLJ", "ZRJ", "SFJ",
              "NYJ", "GDS", "SWS"}
STREETS = ["430203001", "430203002", "430203003", "430203004", "430203005", "430203006", "430203007", "430203100"]


def ids(sessions) -> dict[str, int]:
    with sessions() as db:
        return dict(db.execute(select(Department.code, Department.id)).all())


def uid(sessions, username: str) -> int:
    with sessions() as db:
        return db.scalar(select(User.id).where(User.username == username))


def fresh_code(request) -> str:
    """A unique department code; the department (if the test makes one) is removed when the test ends."""
    code = "T" + uuid.uuid4().hex[:6].upper()
    sessions = request.getfixturevalue("sessions")

    def forget() -> None:
        with sessions() as db:
            db.execute(delete(Department).where(Department.code == code))
            db.commit()

    request.addfinalizer(forget)
    return code


def assignment_rows(sessions, dept: int) -> set[tuple[int, str]]:
    with sessions() as db:
        rows = db.execute(select(AreaAssignment.handler_id, AreaAssignment.region_code)
                          .where(AreaAssignment.department_id == dept)).all()
    return {tuple(r) for r in rows}


def create_department(client, auth, request, **body):
    payload = {"code": fresh_code(request), "name": "测试部门", "level": "street_office", "region_code": "430203002",
               **body}
    return client.post("/api/v1/departments", json=payload, headers=auth("admin"))


# --- reading ---

def test_district_dispatcher_lists_the_17_demo_departments(client, auth, sessions):
    r = client.get("/api/v1/departments", headers=auth("dispatcher"))
    assert r.status_code == 200
    rows = {d["code"]: d for d in r.json()}
    assert set(rows) >= DEMO_CODES
    assert len([c for c in rows if c in DEMO_CODES]) == 17
    jyj = rows["JYJ"]
    assert (jyj["name"], jyj["level"], jyj["level_label"]) == ("芦淞区教育局", "district_bureau", "区直部门")
    assert jyj["region"] == {"code": "430203", "name": "芦淞区", "level": "district"}
    # HBJ (a "half" department: admin, a district handler, two half-district handlers) is left alone here.
    assert (rows["HBJ"]["member_count"], rows["HBJ"]["assignment_count"]) == (4, 9)
    with sessions() as db:
        members = dict(db.execute(select(User.department_id, func.count()).group_by(User.department_id)).all())
        rules = dict(db.execute(select(AreaAssignment.department_id, func.count())
                                .group_by(AreaAssignment.department_id)).all())
    for d in r.json():
        assert (d["member_count"], d["assignment_count"]) == (members.get(d["id"], 0), rules.get(d["id"], 0))
    assert rows["GDS"]["level_label"] == "公共事业单位"
    codes = [d["code"] for d in r.json()]
    assert codes == sorted(codes)


def test_a_street_sees_the_district_bureaus_but_not_another_streets_office(client, auth, request):
    r = create_department(client, auth, request, region_code="430203002")
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    seen_by_001 = {d["code"] for d in client.get("/api/v1/departments", headers=auth("jd430203001")).json()}
    seen_by_002 = {d["code"] for d in client.get("/api/v1/departments", headers=auth("jd430203002")).json()}
    assert seen_by_001 >= DEMO_CODES
    assert seen_by_002 >= DEMO_CODES
    assert code in seen_by_002
    assert code not in seen_by_001
    r = client.get(f"/api/v1/departments/{r.json()['id']}", headers=auth("jd430203001"))
    assert r.status_code == 404


def test_department_detail_has_members_and_assignments(client, auth, sessions):
    dept = ids(sessions)["CGJ"]
    r = client.get(f"/api/v1/departments/{dept}", headers=auth("dispatcher"))
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == "CGJ"
    members = [m["username"] for m in body["members"]]
    assert {f"bmcgj{n:02d}" for n in range(10)} <= set(members)
    assert members == sorted(members)
    roles = {m["username"]: m["role"] for m in body["members"]}
    assert (roles["bmcgj00"], roles["bmcgj01"]) == ("dept_admin", "dept_handler")
    by_handler = {(a["handler_id"], a["region"]["code"]) for a in body["assignments"]}
    assert (uid(sessions, "bmcgj01"), "430203") in by_handler
    for n, street in enumerate(STREETS, start=2):
        assert (uid(sessions, f"bmcgj{n:02d}"), street) in by_handler
    assert body["member_count"] == len(body["members"])
    assert body["assignment_count"] == len(body["assignments"])


def test_unknown_department_is_404(client, auth):
    r = client.get("/api/v1/departments/999999", headers=auth("dispatcher"))
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "找不到部门 999999"


def test_those_without_the_permission_cannot_list_departments(client, auth):
    for username in ("wg43020300100101", "sq430203001001"):
        assert client.get("/api/v1/departments", headers=auth(username)).status_code == 403


# --- creating departments ---

def test_admin_creates_a_department(client, auth, sessions, request):
    code = fresh_code(request)
    r = create_department(client, auth, request, code=f" {code.lower()} ", name="建设街道城管中队",
                          level="street_office")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["code"] == code
    assert (body["name"], body["level_label"], body["member_count"], body["assignment_count"]) == (
        "建设街道城管中队", "街道办事处", 0, 0)
    assert body["region"]["code"] == "430203002"
    assert ids(sessions)[code] == body["id"]


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"code": "bad-code"}, "code", "部门代码只能是 2–10 位大写字母或数字"),
    ({"code": "CGJ"}, "code", "部门代码已存在"),
    ({"code": "cgj"}, "code", "部门代码已存在"),
    ({"level": "ministry"}, "level", "未知部门级别 ministry"),
    ({"region_code": "999999"}, "region_code", "区划不存在"),
    ({"code": "X"}, "code", "部门代码只能是 2–10 位大写字母或数字"),
])
def test_invalid_department_is_a_422_naming_the_field(client, auth, sessions, changes, field, message, request):
    before = len(ids(sessions))
    r = create_department(client, auth, request, **changes)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_error"
    assert r.json()["error"]["fields"][field] == message
    assert len(ids(sessions)) == before


def test_department_validation_in_english(client, auth):
    r = client.post("/api/v1/departments", json={"code": "CGJ", "name": "重复", "level": "ministry",
                                                 "region_code": "430203"},
                    headers={**auth("admin"), "Accept-Language": "en"})
    assert r.json()["error"]["fields"] == {"code": "this department code is taken",
                                           "level": "unknown department level ministry"}


@pytest.mark.parametrize("username", ["dispatcher", "bmcgj00", "bmcgj01", "leader"])
def test_only_admins_create_departments(client, auth, sessions, username, request):
    code = fresh_code(request)
    r = client.post("/api/v1/departments", json={"code": code, "name": "越权部门", "level": "utility",
                                                 "region_code": "430203"}, headers=auth(username))
    assert r.status_code == 403
    assert code not in ids(sessions)


# --- area assignments ---

def test_dept_admin_adds_and_removes_an_assignment(client, auth, sessions):
    dept, handler = ids(sessions)["CGJ"], uid(sessions, "bmcgj01")
    r = client.post(f"/api/v1/departments/{dept}/assignments",
                    json={"handler_id": handler, "region_code": "430203005001"}, headers=auth("bmcgj00"))
    assert r.status_code == 201, r.text
    row = r.json()
    assert row["handler_id"] == handler
    assert row["region"]["code"] == "430203005001"
    assert row["region"]["level"] == "community"
    assert (handler, "430203005001") in assignment_rows(sessions, dept)
    detail = client.get(f"/api/v1/departments/{dept}", headers=auth("bmcgj00")).json()
    assert row["id"] in {a["id"] for a in detail["assignments"]}

    r = client.delete(f"/api/v1/departments/{dept}/assignments/{row['id']}", headers=auth("bmcgj00"))
    assert r.status_code == 204
    assert r.content == b""
    assert (handler, "430203005001") not in assignment_rows(sessions, dept)
    r = client.delete(f"/api/v1/departments/{dept}/assignments/{row['id']}", headers=auth("bmcgj00"))
    assert r.status_code == 404


def test_dept_admin_cannot_touch_another_department(client, auth, sessions):
    codes = ids(sessions)
    zjj, handler = codes["ZJJ"], uid(sessions, "bmzjj01")
    before = assignment_rows(sessions, zjj)
    r = client.post(f"/api/v1/departments/{zjj}/assignments",
                    json={"handler_id": handler, "region_code": "430203005001"}, headers=auth("bmcgj00"))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    with sessions() as db:
        theirs = db.scalar(select(AreaAssignment.id).where(AreaAssignment.department_id == zjj))
    r = client.delete(f"/api/v1/departments/{zjj}/assignments/{theirs}", headers=auth("bmcgj00"))
    assert r.status_code == 403
    # Nor through its own department's address.
    r = client.delete(f"/api/v1/departments/{codes['CGJ']}/assignments/{theirs}", headers=auth("bmcgj00"))
    assert r.status_code == 404
    assert assignment_rows(sessions, zjj) == before


def test_a_handler_may_not_manage_assignments(client, auth, sessions):
    dept = ids(sessions)["CGJ"]
    r = client.post(f"/api/v1/departments/{dept}/assignments",
                    json={"handler_id": uid(sessions, "bmcgj01"), "region_code": "430203005001"},
                    headers=auth("bmcgj01"))
    assert r.status_code == 403


def test_only_members_can_be_assigned(client, auth, sessions):
    dept = ids(sessions)["CGJ"]
    for outsider in ("bmzjj01", "wg43020300100101"):
        r = client.post(f"/api/v1/departments/{dept}/assignments",
                        json={"handler_id": uid(sessions, outsider), "region_code": "430203005"},
                        headers=auth("bmcgj00"))
        assert r.status_code == 422
        assert r.json()["error"]["fields"] == {"handler_id": "处理人必须是本部门成员"}


def test_assignment_region_must_lie_inside_the_department(client, auth, sessions):
    dept = ids(sessions)["CGJ"]
    body = {"handler_id": uid(sessions, "bmcgj01")}
    r = client.post(f"/api/v1/departments/{dept}/assignments", json={**body, "region_code": "430200"},
                    headers=auth("bmcgj00"))
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {"region_code": "超出您的管辖范围"}
    r = client.post(f"/api/v1/departments/{dept}/assignments", json={**body, "region_code": "000000"},
                    headers=auth("bmcgj00"))
    assert r.json()["error"]["fields"] == {"region_code": "区划不存在"}


def test_a_duplicate_assignment_is_409(client, auth, sessions):
    dept = ids(sessions)["CGJ"]
    before = assignment_rows(sessions, dept)
    r = client.post(f"/api/v1/departments/{dept}/assignments",
                    json={"handler_id": uid(sessions, "bmcgj02"), "region_code": "430203001"},
                    headers=auth("bmcgj00"))
    assert r.status_code == 409
    assert r.json()["error"] == {"code": "duplicate_assignment", "message": "该分派规则已存在", "fields": {}}
    assert assignment_rows(sessions, dept) == before


def test_admin_manages_any_department(client, auth, sessions):
    dept, handler = ids(sessions)["SFJ"], uid(sessions, "bmsfj01")
    r = client.post(f"/api/v1/departments/{dept}/assignments",
                    json={"handler_id": handler, "region_code": "430203007"}, headers=auth("admin"))
    assert r.status_code == 201, r.text
    r = client.delete(f"/api/v1/departments/{dept}/assignments/{r.json()['id']}", headers=auth("admin"))
    assert r.status_code == 204


# --- pages ---

def test_department_pages_for_a_dispatcher(client, sessions, request):
    dispatcher, _ = new_user(request, "district_dispatcher", "430203")
    page_login(client, dispatcher, PASSWORD)
    r = client.get("/departments")
    assert r.status_code == 200
    assert "芦淞区城市管理和综合执法局" in r.text
    assert 'data-testid="department-form"' not in r.text  # no departments.create
    r = client.get(f"/departments/{ids(sessions)['CGJ']}")
    assert r.status_code == 200
    assert "<code>bmcgj00</code>" in r.text
    assert 'data-testid="assignment-form"' not in r.text  # may read, may not manage


def test_dept_admin_manages_assignments_through_the_page(client, sessions):
    dept, handler = ids(sessions)["CGJ"], uid(sessions, "bmcgj03")
    assert page_login(client, "bmcgj00").status_code == 303
    page = client.get(f"/departments/{dept}")
    assert 'data-testid="assignment-form"' in page.text
    token = csrf_of(page.text)

    data = {"handler_id": str(handler), "region_code": "430203006002"}
    assert client.post(f"/departments/{dept}/assignments", data=data, follow_redirects=False).status_code == 403
    r = client.post(f"/departments/{dept}/assignments", data={**data, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/departments/{dept}"
    with sessions() as db:
        row = db.scalar(select(AreaAssignment.id).where(AreaAssignment.department_id == dept,
                                                        AreaAssignment.handler_id == handler,
                                                        AreaAssignment.region_code == "430203006002"))
    assert row is not None
    assert "<code>430203006002</code>" in client.get(f"/departments/{dept}").text

    r = client.post(f"/departments/{dept}/assignments", data={**data, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 409
    assert re.search(r'<p class="alert" role="alert">\s*该分派规则已存在', r.text)

    r = client.post(f"/departments/{dept}/assignments/{row}/delete", data={"csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    assert (handler, "430203006002") not in assignment_rows(sessions, dept)


def test_assignment_form_error_names_the_problem(client, sessions):
    dept = ids(sessions)["CGJ"]
    page_login(client, "bmcgj00")
    token = csrf_of(client.get(f"/departments/{dept}").text)
    r = client.post(f"/departments/{dept}/assignments", data={"csrf_token": token, "region_code": "430203006",
                                                             "handler_id": str(uid(sessions, "bmzjj01"))})
    assert r.status_code == 422
    assert "处理人必须是本部门成员" in r.text


def test_admin_creates_a_department_through_the_page(client, sessions, request):
    admin, _ = new_user(request, "admin", "430200")
    page_login(client, admin, PASSWORD)
    page = client.get("/departments")
    assert 'data-testid="department-form"' in page.text
    code = fresh_code(request)
    data = {"csrf_token": csrf_of(page.text), "code": code, "name": "枫溪街道综治办", "level": "street_office",
            "region_code": "430203006"}
    r = client.post("/departments", data=data, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/departments/{ids(sessions)[code]}"

    r = client.post("/departments", data={**data, "code": "bad code!"}, follow_redirects=False)
    assert r.status_code == 422
    assert '<span class="field-error">部门代码只能是 2–10 位大写字母或数字</span>' in r.text
    assert 'value="bad code!"' in r.text


def test_a_street_level_dept_admin_assigns_only_inside_the_street(client, sessions, request):
    """A department admin whose jurisdiction is one street may route that street, not the district
    above it (which the admin may only read) and not the street next door."""
    dept = ids(sessions)["CGJ"]
    admin, _ = new_user(request, "dept_admin", "430203001", department_id=dept)
    headers = {"Authorization": "Bearer " + client.post("/api/v1/auth/token", data={
        "username": admin, "password": PASSWORD}).json()["access_token"]}
    handler = uid(sessions, "bmcgj04")  # answers for 430203003 only: no duplicate hides the check
    before = assignment_rows(sessions, dept)
    for region in ("430203", "430203002"):
        r = client.post(f"/api/v1/departments/{dept}/assignments", json={"handler_id": handler, "region_code": region},
                        headers=headers)
        assert r.status_code == 422, region
        assert r.json()["error"]["fields"] == {"region_code": "超出您的管辖范围"}
    assert assignment_rows(sessions, dept) == before

    with sessions() as db:
        district_wide = db.scalar(select(AreaAssignment.id).where(AreaAssignment.department_id == dept,
                                                                  AreaAssignment.region_code == "430203"))
    r = client.delete(f"/api/v1/departments/{dept}/assignments/{district_wide}", headers=headers)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "outside_jurisdiction"
    assert assignment_rows(sessions, dept) == before

    r = client.post(f"/api/v1/departments/{dept}/assignments",
                    json={"handler_id": handler, "region_code": "430203001004"}, headers=headers)
    assert r.status_code == 201
    r = client.delete(f"/api/v1/departments/{dept}/assignments/{r.json()['id']}", headers=headers)
    assert r.status_code == 204


def test_a_department_outside_the_admins_jurisdiction_is_refused(client, sessions, request):
    admin, _ = new_user(request, "admin", "430203001")
    token = client.post("/api/v1/auth/token", data={"username": admin, "password": PASSWORD}).json()["access_token"]
    code = fresh_code(request)
    r = client.post("/api/v1/departments", json={"code": code, "name": "越界部门", "level": "street_office",
                                                 "region_code": "430203002"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {"region_code": "超出您的管辖范围"}
    assert code not in ids(sessions)


def test_a_blank_name_is_refused_naming_the_field(client, auth, sessions, request):
    # Two spaces pass the schema's length, and the page posts its form without the schema at all.
    before = len(ids(sessions))
    r = create_department(client, auth, request, name="   ")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["fields"] == {"name": "长度不能少于 2"}
    assert len(ids(sessions)) == before


@pytest.mark.parametrize(("name", "message"), [("", "长度不能少于 2"), ("办 ", "长度不能少于 2"),
                                               ("办" * 101, "长度不能超过 100")])
def test_the_page_checks_the_department_name_too(client, sessions, request, name, message):
    admin, _ = new_user(request, "admin", "430200")
    page_login(client, admin, PASSWORD)
    page = client.get("/departments")
    code = fresh_code(request)
    data = {"csrf_token": csrf_of(page.text), "code": code, "name": name, "level": "street_office",
            "region_code": "430203006"}
    r = client.post("/departments", data=data, follow_redirects=False)
    assert r.status_code == 422, r.text
    assert f'<span class="field-error">{message}</span>' in r.text
    assert code not in ids(sessions)


def test_who_leaves_a_department_stops_seeing_its_cases_at_once(client, auth, sessions, request):
    """The log-in cache keeps a principal for a moment: moving someone out of a department must
    not leave them its cases for that moment."""
    from gridgov.catalog.models import CatalogItem
    from tests.cases.test_lifecycle import GRID, WORKER, point_in

    dept = ids(sessions)["CGJ"]
    username, user_id = new_user(request, role="dept_handler", region="430203", department_id=dept)
    with sessions() as db:
        code = db.scalar(select(CatalogItem.code).where(CatalogItem.department_id == dept,
                                                        CatalogItem.handling_level == "district")
                         .order_by(CatalogItem.code))
    lon, lat = point_in(sessions, GRID)
    case = client.post("/api/v1/cases", json={"description": "离开部门测试", "lon": lon, "lat": lat,
                                              "item_code": code}, headers=auth(WORKER)).json()
    token = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD}).json()
    mine = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get(f"/api/v1/cases/{case['id']}", headers=mine).status_code == 200
    r = client.delete(f"/api/v1/departments/{dept}/members/{user_id}", headers=auth("admin"))
    assert r.status_code == 204, r.text
    assert client.get(f"/api/v1/cases/{case['id']}", headers=mine).status_code == 404
