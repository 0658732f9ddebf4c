"""Logging in through the real app: bearer tokens, lock-out, page log-in with CSRF, log-out.

Lock-out and wrong-password tests use fresh accounts (uuid usernames): the demo accounts are
shared by every test of the session and must never collect failures or be locked.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from gridgov.accounts import service
from gridgov.accounts.access import Principal
from gridgov.accounts.models import AuthToken, LoginFailure, User
from gridgov.core.crypto import data_cipher
from gridgov.core.db import utcnow
from gridgov.core.security import token_digest

PASSWORD = "Passw0rd-2026"
ROOT = Principal(user_id=0, username="tests", display_name="测试", role="admin", region_code="430200",
                 region_path="/430200/", department_id=None)
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- helpers, also used by the other account and department tests ---

def forget_later(request, *usernames: str) -> None:
    """Removes accounts a test made when the test ends: the demo database is shared by the session,
    and a stray grid worker would show up on other tests' maps and lists."""
    sessions = request.getfixturevalue("sessions")

    def forget() -> None:
        with sessions() as db:
            try:
                db.execute(delete(User).where(User.username.in_(usernames)))
                db.commit()
            except IntegrityError:  # referenced from elsewhere: at least take them out of service
                db.rollback()
                db.execute(update(User).where(User.username.in_(usernames)).values(is_active=False))
                db.commit()

    request.addfinalizer(forget)


def new_user(request, role: str = "grid_worker", region: str = "43020300100101", *,
             password: str = PASSWORD, department_id: int | None = None) -> tuple[str, int]:
    """Creates a throw-away account through the service, removed after the test; returns (username, id)."""
    username = f"t_{uuid.uuid4().hex[:12]}"
    forget_later(request, username)
    with request.getfixturevalue("sessions")() as db:
        user = service.create_user(db, ROOT, username=username, display_name="测试用户", password=password,
                                   role=role, region_code=region, department_id=department_id,
                                   cipher=data_cipher(request.getfixturevalue("app").state.settings))
        db.commit()
        return username, user.id


def csrf_of(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def page_login(client, username: str, password: str = "demo-2026", next_: str = "/"):
    """Logs in through the form, as a browser does; returns the POST response (not followed)."""
    page = client.get("/login")
    assert page.status_code == 200
    return client.post("/login", data={"username": username, "password": password, "next": next_,
                                       "csrf_token": csrf_of(page.text)}, follow_redirects=False)


def token_for(client, username: str, password: str = PASSWORD, **headers):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password}, headers=headers)


def stored_user(sessions, username: str) -> User:
    with sessions() as db:
        return db.scalar(select(User).where(User.username == username))


# --- bearer tokens ---

def test_token_contract_and_me(client, sessions, request):
    username, user_id = new_user(request, "community_admin", "430203001001")
    r = token_for(client, username)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 12 * 3600
    raw = body["access_token"]
    assert len(raw) >= 32

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert me.status_code == 200, me.text
    m = me.json()
    assert (m["id"], m["username"], m["role"], m["role_label"]) == (user_id, username, "community_admin", "社区管理员")
    assert m["region"]["code"] == "430203001001"
    assert m["region"]["level"] == "community"
    assert m["permissions"] == ["calendar.read", "cases.create", "cases.dispatch", "cases.read", "cases.reveal",
                                "catalog.read", "grids.locate", "missing.read", "missing.report", "people.export",
                                "people.manage", "people.read", "people.reveal", "regions.read", "users.read",
                                "visits.log"]
    assert m["last_login_at"] is not None

    # Only a digest of the token is kept.
    with sessions() as db:
        hashes = db.scalars(select(AuthToken.token_hash).where(AuthToken.user_id == user_id)).all()
    assert hashes == [token_digest(raw)]
    assert raw not in hashes


def test_demo_account_me(client, auth):
    r = client.get("/api/v1/me", headers=auth("wg43020300100101"))
    assert r.status_code == 200
    body = r.json()
    assert body["username"] == "wg43020300100101"
    assert body["region"]["code"] == "43020300100101"
    assert body["region"]["level"] == "grid"
    assert body["region"]["name"].endswith("第1网格")
    assert body["permissions"] == ["calendar.read", "cases.create", "cases.read", "catalog.read", "grids.locate",
                                   "missing.read", "missing.report", "people.export", "people.manage", "people.read",
                                   "regions.read", "visits.log"]  # a grid worker may not reveal


def test_username_is_case_and_space_insensitive(client, request):
    username, _ = new_user(request)
    assert token_for(client, f"  {username.upper()} ").status_code == 200


def test_me_without_or_with_a_bad_token_is_401(client):
    r = client.get("/api/v1/me")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_authenticated"
    assert r.json()["error"]["message"] == "未登录或登录已过期"
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-real-token"})
    assert r.status_code == 401


def test_wrong_password_is_401_in_chinese_and_english(client, sessions, request):
    username, _ = new_user(request)
    r = token_for(client, username, "wrong-password")
    assert r.status_code == 401
    assert r.json()["error"] == {"code": "login_failed", "message": "用户名或密码错误", "fields": {}}
    r = token_for(client, username, "wrong-password", **{"Accept-Language": "en"})
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "Wrong username or password"
    assert stored_user(sessions, username).failed_logins == 2


def test_unknown_username_reads_like_a_wrong_password(client):
    r = token_for(client, f"nobody_{uuid.uuid4().hex[:8]}", "whatever-1")
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "用户名或密码错误"


def test_missing_form_fields_are_named(client):
    r = client.post("/api/v1/auth/token", data={"username": "admin"})
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {"password": "必填"}


# --- lock-out ---

def _minutes_in(message: str) -> int:
    found = re.findall(r"(\d+) 分钟", message)
    assert found, message
    return int(found[-1])


def test_five_failures_lock_the_account_even_against_the_right_password(client, sessions, request):
    username, _ = new_user(request)
    for n in range(1, 5):
        r = token_for(client, username, f"wrong-{n}")
        assert r.status_code == 401, (n, r.text)
    assert stored_user(sessions, username).failed_logins == 4

    r = token_for(client, username, "wrong-5")
    assert r.status_code == 423
    err = r.json()["error"]
    assert err["code"] == "account_locked"
    assert err["message"] == "密码连续错误 5 次，账户已锁定，请 15 分钟后再试"

    r = token_for(client, username, PASSWORD)
    assert r.status_code == 423
    err = r.json()["error"]
    assert err["code"] == "account_locked"
    assert "已锁定" in err["message"]
    assert 1 <= _minutes_in(err["message"]) <= 15

    r = token_for(client, username, PASSWORD, **{"Accept-Language": "en"})
    assert r.status_code == 423
    assert "locked" in r.json()["error"]["message"]
    assert "minutes" in r.json()["error"]["message"]
    assert stored_user(sessions, username).locked_until > utcnow()


def test_a_success_before_the_limit_resets_the_count(client, sessions, request):
    username, _ = new_user(request)
    for _round in range(2):
        for n in range(4):
            assert token_for(client, username, f"wrong-{n}").status_code == 401
        assert token_for(client, username, PASSWORD).status_code == 200
    user = stored_user(sessions, username)
    assert user.failed_logins == 0
    assert user.locked_until is None


def test_the_lock_lifts_when_its_time_is_over(client, sessions, request):
    username, user_id = new_user(request)
    for n in range(5):
        token_for(client, username, f"wrong-{n}")
    assert token_for(client, username, PASSWORD).status_code == 423
    with sessions() as db:  # move the lock into the past instead of waiting for it
        db.get(User, user_id).locked_until = utcnow() - timedelta(seconds=1)
        db.commit()
    assert token_for(client, username, PASSWORD).status_code == 200
    assert stored_user(sessions, username).locked_until is None


def _answer(r) -> tuple[int, dict]:
    """Status and error body, the minutes left read as a number whatever they are."""
    return r.status_code, {**r.json()["error"], "message": re.sub(r"\d+ (分钟|minutes)", r"N \1",
                                                                  r.json()["error"]["message"])}


def _users(sessions) -> int:
    with sessions() as db:
        return db.scalar(select(func.count(User.id)))


def _ghost_row(app, sessions, name: str) -> LoginFailure | None:
    with sessions() as db:
        return db.get(LoginFailure, service._name_digest(app.state.settings, name))


def test_an_unknown_username_locks_as_a_real_one_does(client, app, sessions, request):
    """Five wrong passwords lock an account (423): a name with no account must end the same way, or
    the lock-out tells an attacker which usernames exist. Nothing is written about it in `users`."""
    real, _ = new_user(request)
    ghost = f"ghost_{uuid.uuid4().hex[:8]}"
    users_before = _users(sessions)
    for n in range(1, 6):
        pair = [_answer(token_for(client, name, f"wrong-{n}")) for name in (real, ghost)]
        assert pair[0] == pair[1], (n, pair)
        assert pair[0][0] == (401 if n < 5 else 423), (n, pair)
    assert pair[0][1]["message"] == "密码连续错误 5 次，账户已锁定，请 N 分钟后再试"
    locked = [token_for(client, real, PASSWORD), token_for(client, ghost, PASSWORD)]
    assert locked[0].json() == locked[1].json()
    assert locked[0].status_code == locked[1].status_code == 423
    assert locked[1].json()["error"]["code"] == "account_locked"
    assert 1 <= _minutes_in(locked[1].json()["error"]["message"]) <= 15
    english = [_answer(token_for(client, name, PASSWORD, **{"Accept-Language": "en"})) for name in (real, ghost)]
    assert english[0] == english[1] and english[0][0] == 423
    page = page_login(client, ghost, PASSWORD)
    assert page.status_code == 423 and "账户已锁定" in page.text

    assert stored_user(sessions, ghost) is None
    assert _users(sessions) == users_before
    row = _ghost_row(app, sessions, ghost)
    assert row.locked_until > utcnow()
    with sessions() as db:  # only a keyed digest of the name is kept
        assert ghost not in repr(db.execute(select(LoginFailure.__table__)).all())


def test_an_unknown_usernames_lock_lifts_and_counts_again_as_a_real_ones(client, app, sessions, request):
    real, user_id = new_user(request)
    ghost = f"ghost_{uuid.uuid4().hex[:8]}"
    for n in range(5):
        token_for(client, real, f"wrong-{n}")
        token_for(client, ghost, f"wrong-{n}")
    assert {token_for(client, name).status_code for name in (real, ghost)} == {423}
    with sessions() as db:  # both locks moved into the past instead of waiting for them
        db.get(User, user_id).locked_until = utcnow() - timedelta(seconds=1)
        db.get(LoginFailure, service._name_digest(app.state.settings, ghost)).locked_until = (
            utcnow() - timedelta(seconds=1))
        db.commit()
    for n in range(1, 6):
        pair = [_answer(token_for(client, name, f"again-{n}")) for name in (real, ghost)]
        assert pair[0] == pair[1], (n, pair)
        assert pair[0][0] == (401 if n < 5 else 423), (n, pair)


def test_unknown_names_are_kept_in_a_bounded_table_and_a_live_lock_stays(client, app, sessions, monkeypatch):
    with sessions() as db:  # what earlier tests left, locks among it, would be kept before these names
        db.execute(delete(LoginFailure))
        db.commit()
    locked = f"ghost_{uuid.uuid4().hex[:8]}"
    for n in range(5):
        token_for(client, locked, f"wrong-{n}")
    monkeypatch.setattr(service, "UNKNOWN_NAMES_KEPT", 3)
    passers_by = [f"ghost_{uuid.uuid4().hex[:8]}" for _ in range(5)]
    for name in passers_by:
        assert token_for(client, name, "wrong").status_code == 401
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(LoginFailure)) == 3
    kept = [name for name in passers_by if _ghost_row(app, sessions, name) is not None]
    assert kept == passers_by[-2:]  # the longest quiet went first
    r = token_for(client, locked, PASSWORD)
    assert r.status_code == 423 and r.json()["error"]["code"] == "account_locked"


# --- page log-in ---

def test_login_page_sets_anon_cookie_and_a_csrf_field(client):
    r = client.get("/login")
    assert r.status_code == 200
    assert client.cookies.get("gg_anon")
    assert len(csrf_of(r.text)) == 64


def test_login_page_shows_demo_logins_and_password(client):
    html = client.get("/login").text
    assert "演示账户" in html
    assert "demo-2026" in html
    for username in ("admin", "leader", "dispatcher", "jd430203001", "sq430203001001", "wg43020300100101",
                     "bmcgj00"):
        assert f"<code>{username}</code>" in html, username


def test_page_login_sets_a_session_cookie_that_the_api_accepts(client, request):
    username, _ = new_user(request)
    r = page_login(client, username, PASSWORD, next_="/regions")
    assert r.status_code == 303
    assert r.headers["location"] == "/regions"
    assert "httponly" in r.headers["set-cookie"].lower()
    raw = client.cookies.get("gg_session")
    assert raw
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == username
    # A session is not a bearer token.
    client.cookies.delete("gg_session")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_page_login_wrong_password_rerenders_the_form(client, sessions, request):
    username, _ = new_user(request)
    r = page_login(client, username, "wrong-password")
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text
    assert f'value="{username}"' in r.text
    assert client.cookies.get("gg_session") is None
    assert stored_user(sessions, username).failed_logins == 1


def test_page_login_shows_the_lock(client, request):
    username, _ = new_user(request)
    for n in range(5):
        page_login(client, username, f"wrong-{n}")
    r = page_login(client, username, PASSWORD)
    assert r.status_code == 423
    assert "账户已锁定" in r.text
    assert client.cookies.get("gg_session") is None


@pytest.mark.parametrize("token", [None, "0" * 64])
def test_page_login_needs_the_csrf_token(client, token, request):
    username, _ = new_user(request)
    client.get("/login")
    data = {"username": username, "password": PASSWORD}
    if token:
        data["csrf_token"] = token
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "csrf_failed"
    assert r.json()["error"]["message"] == "表单已过期，请刷新页面后重试"
    assert client.cookies.get("gg_session") is None


def test_csrf_token_is_bound_to_its_anonymous_cookie(client, app, request):
    """A token copied from someone else's log-in page does not work with another cookie."""
    from fastapi.testclient import TestClient

    username, _ = new_user(request)
    with TestClient(app) as other:
        foreign = csrf_of(other.get("/login").text)
    client.get("/login")
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": foreign},
                    follow_redirects=False)
    assert r.status_code == 403


def test_a_session_post_without_csrf_is_refused(client, sessions, request):
    admin, _ = new_user(request, "admin", "430200")
    assert page_login(client, admin, PASSWORD).status_code == 303
    new_name = f"t_{uuid.uuid4().hex[:12]}"
    forget_later(request, new_name)
    body = {"username": new_name, "display_name": "张三", "password": PASSWORD, "role": "grid_worker",
            "region_code": "43020300100101"}
    r = client.post("/api/v1/users", json=body)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "csrf_failed"
    assert stored_user(sessions, new_name) is None

    token = csrf_of(client.get("/").text)  # the page's token, bound to the session
    r = client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 201, r.text
    assert stored_user(sessions, new_name) is not None


def test_logout_revokes_the_session(client, app, sessions, request):
    from fastapi.testclient import TestClient

    def me_status(raw: str) -> int:  # the cookie as a copy kept by someone else would send it
        with TestClient(app) as other:
            return other.get("/api/v1/me", headers={"Cookie": f"gg_session={raw}"}).status_code

    username, user_id = new_user(request)
    assert page_login(client, username, PASSWORD).status_code == 303
    raw = client.cookies.get("gg_session")
    assert me_status(raw) == 200
    token = csrf_of(client.get("/").text)

    assert client.post("/logout", follow_redirects=False).status_code == 403  # no CSRF token
    assert me_status(raw) == 200
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login"
    assert client.cookies.get("gg_session") is None
    assert me_status(raw) == 401
    with sessions() as db:
        assert db.scalars(select(AuthToken).where(AuthToken.user_id == user_id)).all() == []


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/x", "evil", "/\\evil.example"])
def test_next_never_leaves_the_site(client, target, request):
    page = client.get("/login", params={"next": target})
    username, _ = new_user(request)
    r = client.post("/login", data={"username": username, "password": PASSWORD, "next": target,
                                    "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    location = r.headers["location"]
    # Browsers read a backslash as a slash: the target must stay a path on this site either way.
    as_browser = urlsplit(location.replace("\\", "/"))
    assert (as_browser.scheme, as_browser.netloc) == ("", "")
    if "\\" not in target:
        assert 'name="next" value="/"' in page.text
        assert location == "/"
