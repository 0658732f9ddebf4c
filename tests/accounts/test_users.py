"""User management: the API, the admin pages and `gridgov users add`."""

from __future__ import annotations

import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gridgov.accounts import service
from gridgov.accounts.models import User
from gridgov.cli import app as cli
from gridgov.core.crypto import data_cipher
from gridgov.departments.models import Department
from tests.accounts.test_auth import (
    PASSWORD,
    csrf_of,
    forget_later,
    new_user,
    page_login,
    stored_user,
    token_for,
)

GRID, COMMUNITY, STREET = "43020300100101", "430203001001", "430203001"


def fresh_name(request) -> str:
    """A unique username, whose account (if the test makes one) is removed when the test ends."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    forget_later(request, name)
    return name


def user_body(request, **changes) -> dict:
    return {"username": fresh_name(request), "display_name": "李四", "password": PASSWORD, "role": "grid_worker",
            "region_code": GRID, **changes}


def dept_id(sessions, code: str) -> int:
    with sessions() as db:
        return db.scalar(select(Department.id).where(Department.code == code))


def bearer(client, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = token_for(client, username, password)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


# --- API: create ---

def test_admin_creates_a_user_who_can_then_log_in(client, auth, sessions, request):
    body = user_body(request, username=fresh_name(request).upper())
    r = client.post("/api/v1/users", json=body, headers=auth("admin"))
    assert r.status_code == 201, r.text
    out = r.json()
    username = body["username"].lower()
    assert out["username"] == username
    assert (out["display_name"], out["role"], out["role_label"]) == ("李四", "grid_worker", "网格员")
    assert out["region"]["code"] == GRID
    assert out["is_active"] is True
    assert "password" not in out and "password_hash" not in out

    me = client.get("/api/v1/me", headers=bearer(client, username))
    assert me.json()["id"] == out["id"]
    assert me.json()["region"]["code"] == GRID
    assert stored_user(sessions, username).password_hash.startswith("$argon2id$")


def test_admin_creates_a_department_handler(client, auth, sessions, request):
    body = user_body(request, role="dept_handler", region_code="430203", department_id=dept_id(sessions, "CGJ"))
    r = client.post("/api/v1/users", json=body, headers=auth("admin"))
    assert r.status_code == 201, r.text
    assert r.json()["department_id"] == body["department_id"]


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"username": "bad name"}, "username", "只能包含字母、数字、下划线和点，3–40 位"),
    ({"username": "admin"}, "username", "用户名已存在"),
    ({"username": "ADMIN"}, "username", "用户名已存在"),
    ({"password": "short"}, "password", "密码至少 8 位"),
    ({"role": "janitor"}, "role", "未知角色 janitor"),
    ({"region_code": STREET}, "region_code", "网格员 的管辖区划必须是网格"),
    ({"region_code": "999999999"}, "region_code", "区划不存在"),
    ({"role": "dept_handler", "region_code": "430203"}, "department_id", "该角色必须属于一个部门"),
    ({"department_id": 999999}, "department_id", "部门不存在"),
])
def test_invalid_user_is_a_422_naming_the_field(client, auth, sessions, changes, field, message, request):
    body = user_body(request, **changes)
    r = client.post("/api/v1/users", json=body, headers=auth("admin"))
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert err["message"] == "请求参数有误"
    assert err["fields"][field] == message
    if body["username"].startswith("t_"):
        assert stored_user(sessions, body["username"]) is None


def _both_past_the_look(monkeypatch):
    """Holds each of two requests at `create_user`'s password hashing, which comes after its look for
    the username, until both have come that far: both found the name free, as two admins do who
    press "create" at the same moment."""
    real, barrier, held = service.hash_password, threading.Barrier(2, timeout=20), threading.local()

    def wrapper(password: str) -> str:
        if not getattr(held, "done", False):
            held.done = True
            barrier.wait()
        return real(password)

    monkeypatch.setattr(service, "hash_password", wrapper)


def test_one_username_created_twice_at_once_is_one_user_and_the_same_refusal(client, auth, sessions, monkeypatch,
                                                                               request):
    headers = auth("admin")  # logged in before the two requests are held
    body = user_body(request)
    _both_past_the_look(monkeypatch)
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: client.post("/api/v1/users", json=body, headers=headers), range(2)))
    monkeypatch.undo()
    assert sorted(r.status_code for r in answers) == [201, 422], [r.text for r in answers]
    refused = next(r for r in answers if r.status_code == 422)
    # Word for word what a duplicate sent a moment later is told.
    later = client.post("/api/v1/users", json=body, headers=headers)
    assert refused.json() == later.json() == {"error": {"code": "validation_error", "message": "请求参数有误",
                                                        "fields": {"username": "用户名已存在"}}}
    created = next(r for r in answers if r.status_code == 201).json()
    with sessions() as db:
        assert db.scalars(select(User.id).where(User.username == body["username"])).all() == [created["id"]]
    assert token_for(client, body["username"]).status_code == 200


def test_a_created_user_is_written_only_with_its_transaction(sessions, request):
    """The insert's savepoint must sit inside the request's transaction: on SQLite a savepoint that
    begins the transaction commits it when released, and a request that failed afterwards would
    leave the account behind."""
    from tests.accounts.test_auth import ROOT

    username = fresh_name(request)
    with sessions() as db:
        service.create_user(db, ROOT, username=username, display_name="回滚", password=PASSWORD,
                            role="grid_worker", region_code=GRID,
                            cipher=data_cipher(request.getfixturevalue("app").state.settings))
        db.rollback()
    assert stored_user(sessions, username) is None


def test_all_problems_are_reported_at_once(client, auth, request):
    r = client.post("/api/v1/users", json=user_body(request, username="admin", role="janitor"), headers=auth("admin"))
    assert set(r.json()["error"]["fields"]) == {"username", "role"}


def test_validation_messages_in_english(client, auth, request):
    r = client.post("/api/v1/users", json=user_body(request, username="admin", region_code="999999999"),
                    headers={**auth("admin"), "Accept-Language": "en"})
    assert r.json()["error"] == {"code": "validation_error", "message": "Invalid request",
                                 "fields": {"username": "this username is taken", "region_code": "no such region"}}


def test_role_and_level_names_are_translated_too(client, auth, request):
    r = client.post("/api/v1/users", json=user_body(request, region_code=STREET),
                    headers={**auth("admin"), "Accept-Language": "en"})
    assert r.json()["error"]["fields"] == {"region_code": "the jurisdiction of a Grid worker must be a Grid"}
    r = client.post("/api/v1/users", json=user_body(request, role="dept_handler", region_code=GRID, department_id=1),
                    headers={**auth("admin"), "Accept-Language": "en"})
    assert r.json()["error"]["fields"] == {
        "region_code": "the jurisdiction of a Department handler must be a District or Street/town"}
    r = client.post("/api/v1/users", json=user_body(request, role="dept_handler", region_code=GRID, department_id=1),
                    headers=auth("admin"))
    assert r.json()["error"]["fields"] == {"region_code": "部门负责人 的管辖区划必须是区县、街道乡镇"}


@pytest.mark.parametrize("username", ["dispatcher", "jd430203001", "bmcgj00", "leader"])
def test_only_user_managers_may_create_or_change_users(client, auth, sessions, username, request):
    body = user_body(request)
    r = client.post("/api/v1/users", json=body, headers=auth(username))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    assert stored_user(sessions, body["username"]) is None
    _, victim = new_user(request)
    r = client.patch(f"/api/v1/users/{victim}", json={"role": "admin", "region_code": "430200"},
                     headers=auth(username))
    assert r.status_code in (403, 404)
    with sessions() as db:
        assert db.get(User, victim).role == "grid_worker"


def test_an_admin_of_a_district_cannot_grant_above_it(client, sessions, request):
    admin, _ = new_user(request, "admin", "430203")
    headers = bearer(client, admin)
    r = client.post("/api/v1/users", json=user_body(request, role="leader", region_code="430200"), headers=headers)
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {"region_code": "不能把账户授权到您管辖范围之外"}
    with sessions() as db:
        city_admin = db.scalar(select(User.id).where(User.username == "admin"))
    assert client.get(f"/api/v1/users/{city_admin}", headers=headers).status_code == 404


# --- API: change ---

def test_patch_moves_a_user_and_the_jurisdictions_follow(client, auth, request):
    username, uid = new_user(request)
    assert client.get(f"/api/v1/users/{uid}", headers=auth("jd430203001")).status_code == 200

    r = client.patch(f"/api/v1/users/{uid}", json={"role": "community_admin", "region_code": "430203002001"},
                     headers=auth("admin"))
    assert r.status_code == 200, r.text
    assert (r.json()["role"], r.json()["role_label"]) == ("community_admin", "社区管理员")
    assert r.json()["region"]["code"] == "430203002001"
    assert client.get(f"/api/v1/users/{uid}", headers=auth("jd430203001")).status_code == 404
    assert client.get(f"/api/v1/users/{uid}", headers=auth("jd430203002")).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(client, username)).json()["permissions"] == [
        "calendar.read", "cases.create", "cases.dispatch", "cases.read", "cases.reveal", "catalog.read",
        "grids.locate", "missing.read", "missing.report", "people.export", "people.manage", "people.read",
        "people.reveal", "regions.read", "users.read", "visits.log"]


def test_invalid_patch_changes_nothing(client, auth, sessions, request):
    username, uid = new_user(request)
    r = client.patch(f"/api/v1/users/{uid}", json={"region_code": STREET, "display_name": "新名字"},
                     headers=auth("admin"))
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {"region_code": "网格员 的管辖区划必须是网格"}
    user = stored_user(sessions, username)
    assert (user.region_code, user.display_name) == (GRID, "测试用户")

    r = client.patch(f"/api/v1/users/{uid}", json={"password": "short"}, headers=auth("admin"))
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {"password": "密码至少 8 位"}
    assert token_for(client, username).status_code == 200


def test_patch_cannot_strip_a_handler_of_the_department(client, auth, sessions, request):
    _, uid = new_user(request, "dept_handler", "430203", department_id=dept_id(sessions, "CGJ"))
    r = client.patch(f"/api/v1/users/{uid}", json={"department_id": None}, headers=auth("admin"))
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {"department_id": "该角色必须属于一个部门"}


def test_only_department_roles_belong_to_a_department(client, auth, sessions, request):
    """A department is a grant too (the police department's members see a missing person's contacts in
    full): a role without departments neither gets one nor keeps it when it stops being a handler."""
    gaj = dept_id(sessions, "GAJ")
    r = client.post("/api/v1/users", json=user_body(request, department_id=gaj), headers=auth("admin"))
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {"department_id": "该角色不属于任何部门"}

    _, uid = new_user(request, "dept_handler", "430203", department_id=gaj)
    r = client.patch(f"/api/v1/users/{uid}", json={"role": "grid_worker", "region_code": GRID}, headers=auth("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["department_id"] is None
    assert stored_user(sessions, r.json()["username"]).department_id is None


def test_patch_unknown_user_is_404(client, auth):
    r = client.patch("/api/v1/users/999999999", json={"display_name": "x"}, headers=auth("admin"))
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "找不到用户 999999999"


def test_a_deactivated_user_cannot_log_in_and_loses_the_token(client, auth, request):
    username, uid = new_user(request)
    old = bearer(client, username)
    assert client.get("/api/v1/me", headers=old).status_code == 200  # now remembered by the process
    r = client.patch(f"/api/v1/users/{uid}", json={"is_active": False}, headers=auth("admin"))
    assert r.status_code == 200
    assert r.json()["is_active"] is False
    assert client.get("/api/v1/me", headers=old).status_code == 401
    r = token_for(client, username)
    assert r.status_code == 401
    assert r.json()["error"] == {"code": "account_disabled", "message": "账户已停用", "fields": {}}

    client.patch(f"/api/v1/users/{uid}", json={"is_active": True}, headers=auth("admin"))
    assert token_for(client, username).status_code == 200
    # Taken back into service, the account does not bring its old log-ins back with it.
    assert client.get("/api/v1/me", headers=old).status_code == 401


def test_a_password_change_revokes_tokens_and_lifts_a_lock(client, auth, request):
    username, uid = new_user(request)
    old = bearer(client, username)
    assert client.get("/api/v1/me", headers=old).status_code == 200  # now remembered by the process
    for n in range(5):
        token_for(client, username, f"wrong-{n}")
    assert token_for(client, username).status_code == 423

    r = client.patch(f"/api/v1/users/{uid}", json={"password": "a-new-passw0rd"}, headers=auth("admin"))
    assert r.status_code == 200
    assert r.json()["locked_until"] is None
    assert client.get("/api/v1/me", headers=old).status_code == 401
    assert token_for(client, username).status_code == 401
    assert token_for(client, username, "a-new-passw0rd").status_code == 200


# --- admin pages ---

@pytest.fixture
def admin_page(client, request):
    """A client logged in through the form as a fresh city admin."""
    admin, _ = new_user(request, "admin", "430200")
    assert page_login(client, admin, PASSWORD).status_code == 303
    return client


def test_users_page_filters(admin_page):
    r = admin_page.get("/admin/users", params={"q": "wg430203001001", "role": "grid_worker"})
    assert r.status_code == 200
    assert "共 4 条" in r.text
    listed = re.findall(r"<code>([a-z0-9_.]+)</code></a>", r.text)
    assert listed == [f"wg{COMMUNITY}0{n}" for n in range(1, 5)]

    r = admin_page.get("/admin/users", params={"q": "430203001", "role": "community_admin"})
    assert "共 9 条" in r.text
    assert re.findall(r"<code>([a-z0-9_.]+)</code></a>", r.text) == [f"sq{STREET}{n:03d}" for n in range(1, 10)]


def test_users_page_needs_a_login(client):
    r = client.get("/admin/users", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/admin/users"


def test_create_user_through_the_form(admin_page, sessions, request):
    form_page = admin_page.get("/admin/users/new")
    assert form_page.status_code == 200
    username = fresh_name(request)
    data = {"csrf_token": csrf_of(form_page.text), "username": username, "display_name": "王五",
            "password": PASSWORD, "role": "street_dispatcher", "region_code": STREET, "department_id": ""}
    r = admin_page.post("/admin/users", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    user = stored_user(sessions, username)
    assert r.headers["location"] == f"/admin/users/{user.id}?saved=1"
    assert (user.role, user.region_code, user.department_id) == ("street_dispatcher", STREET, None)
    shown = admin_page.get(r.headers["location"])
    assert "已保存" in shown.text
    assert f"<code>{username}</code>" in shown.text


def test_form_errors_rerender_with_the_field_message(admin_page):
    token = csrf_of(admin_page.get("/admin/users/new").text)
    data = {"csrf_token": token, "username": "admin", "display_name": "赵六", "password": "short",
            "role": "grid_worker", "region_code": GRID}
    r = admin_page.post("/admin/users", data=data, follow_redirects=False)
    assert r.status_code == 422
    assert '<span class="field-error" role="alert">用户名已存在</span>' in r.text
    assert '<span class="field-error" role="alert">密码至少 8 位</span>' in r.text
    assert 'value="赵六"' in r.text  # what was typed is kept


def test_form_without_csrf_is_refused(admin_page, sessions, request):
    username = fresh_name(request)
    r = admin_page.post("/admin/users", data={"username": username, "display_name": "x", "password": PASSWORD,
                                              "role": "grid_worker", "region_code": GRID}, follow_redirects=False)
    assert r.status_code == 403
    assert stored_user(sessions, username) is None


def test_edit_user_through_the_form(admin_page, sessions, request):
    username, uid = new_user(request)
    page = admin_page.get(f"/admin/users/{uid}")
    assert page.status_code == 200
    base = {"csrf_token": csrf_of(page.text), "display_name": "改过的名字", "role": "grid_worker",
            "region_code": GRID, "department_id": "", "password": "", "is_active": "1"}
    r = admin_page.post(f"/admin/users/{uid}", data={**base, "region_code": STREET}, follow_redirects=False)
    assert r.status_code == 422
    assert "网格员 的管辖区划必须是网格" in r.text
    assert stored_user(sessions, username).display_name == "测试用户"

    r = admin_page.post(f"/admin/users/{uid}", data={**base, "region_code": "43020300100102"},
                        follow_redirects=False)
    assert r.status_code == 303
    user = stored_user(sessions, username)
    assert (user.display_name, user.region_code, user.is_active) == ("改过的名字", "43020300100102", True)


def test_a_reader_sees_users_but_cannot_post_the_form(client, sessions, request):
    reader, _ = new_user(request, "street_dispatcher", STREET)
    page_login(client, reader, PASSWORD)
    r = client.get("/admin/users")
    assert r.status_code == 200
    assert "新建用户" not in r.text
    token = csrf_of(r.text)
    username = fresh_name(request)
    r = client.post("/admin/users", data={"csrf_token": token, "username": username, "display_name": "x",
                                          "password": PASSWORD, "role": "grid_worker", "region_code": GRID})
    assert r.status_code == 403
    assert stored_user(sessions, username) is None


# --- the command line ---

def run_users_add(demo_url, tmp_path, *args: str):
    env = {"GRIDGOV_DATABASE_URL": demo_url, "GRIDGOV_VAR_DIR": str(tmp_path)}
    return CliRunner().invoke(cli, ["users", "add", *args], env=env)


def test_cli_adds_a_user_who_can_log_in(client, demo_url, tmp_path, sessions, request):
    username = fresh_name(request)
    result = run_users_add(demo_url, tmp_path, "--username", username, "--name", "孙七", "--role", "dept_handler",
                           "--region", "430203", "--department", "cgj", "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert f"已创建账户 {username}" in result.stdout
    user = stored_user(sessions, username)
    assert (user.display_name, user.role, user.department_id) == ("孙七", "dept_handler", dept_id(sessions, "CGJ"))
    assert token_for(client, username).status_code == 200


def test_cli_refuses_an_invalid_user_in_chinese(demo_url, tmp_path, sessions, request):
    username = fresh_name(request)
    result = run_users_add(demo_url, tmp_path, "--username", username, "--name", "周八", "--role", "grid_worker",
                           "--region", STREET, "--password", PASSWORD)
    assert result.exit_code == 1
    assert "请求参数有误" in result.stderr
    assert "region_code: 网格员 的管辖区划必须是网格" in result.stderr
    assert stored_user(sessions, username) is None


def test_cli_refuses_an_unknown_department(demo_url, tmp_path, sessions, request):
    username = fresh_name(request)
    result = run_users_add(demo_url, tmp_path, "--username", username, "--name", "吴九", "--role", "dept_handler",
                           "--region", "430203", "--department", "NOPE", "--password", PASSWORD)
    assert result.exit_code == 1
    assert "部门 NOPE 不存在" in result.stderr
    assert stored_user(sessions, username) is None
