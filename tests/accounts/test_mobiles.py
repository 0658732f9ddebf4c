"""Staff mobiles, for the SMS gateway: checked, encrypted at rest, only ever shown masked. Through the
API, the admin pages and `gridgov users add`, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from gridgov.accounts.models import User
from gridgov.accounts.service import MOBILE_CONTEXT
from gridgov.core.crypto import cipher_for
from gridgov.people.identity import IdentityError, parse_mobile
from tests.accounts.test_auth import PASSWORD, csrf_of, new_user, page_login, stored_user
from tests.accounts.test_users import GRID, fresh_name, run_users_add, user_body
from tests.conftest import TEST_DATA_KEY

MOBILE, MASKED = "13800138000", "138****8000"
NOT_A_MOBILE = "手机号应为 1[3-9] 开头的 11 位数字"
LANDLINE = "须为手机号：固定电话收不到短信"
BAD = [  # (typed, Chinese rule, English rule)
    ("1380013800", NOT_A_MOBILE, "a mobile number has 11 digits starting 1[3-9]"),  # too short
    ("138001380001", NOT_A_MOBILE, "a mobile number has 11 digits starting 1[3-9]"),  # 12 digits
    ("12800138000", NOT_A_MOBILE, "a mobile number has 11 digits starting 1[3-9]"),  # 12… is no mobile
    ("0731-22223333", LANDLINE, "must be a mobile number: a landline cannot receive text messages"),
    ("(0731)22223333", LANDLINE, "must be a mobile number: a landline cannot receive text messages"),
]


def raw_mobile(sessions, username: str) -> tuple[bytes | None, str]:
    """The stored columns as the database holds them, past the ORM."""
    with sessions() as db:
        row = db.execute(text("SELECT mobile_cipher, mobile_masked FROM users WHERE username = :u"),
                         {"u": username}).one()
    return (bytes(row[0]) if row[0] is not None else None), row[1]


def decrypted(sessions, username: str) -> str | None:
    blob, _ = raw_mobile(sessions, username)
    return cipher_for(TEST_DATA_KEY).decrypt(blob, MOBILE_CONTEXT) if blob is not None else None


# --- the rule ---

@pytest.mark.parametrize("typed", ["13800138000", " 138 0013 8000 ", "138-0013-8000", "+86 138 0013 8000",
                                   "+86-13800138000", "１３８００１３８０００"])
def test_the_forms_people_type_are_one_mobile(typed):
    assert parse_mobile(typed) == MOBILE


@pytest.mark.parametrize(("typed", "rule", "_en"), BAD)
def test_what_no_text_message_reaches_is_refused(typed, rule, _en):
    with pytest.raises(IdentityError) as exc:
        parse_mobile(typed)
    assert exc.value.rule == rule


def test_blank_is_no_mobile():
    assert parse_mobile("") == parse_mobile("  ") == parse_mobile(None) == ""


# --- API ---

def test_a_mobile_is_stored_encrypted_and_shown_masked(client, auth, sessions, request):
    body = user_body(request, mobile="+86 138-0013-8000")
    r = client.post("/api/v1/users", json=body, headers=auth("admin"))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["mobile_masked"] == MASKED
    assert "mobile" not in out and MOBILE not in r.text

    blob, masked = raw_mobile(sessions, body["username"])
    assert masked == MASKED
    assert blob is not None and MOBILE.encode() not in blob
    assert decrypted(sessions, body["username"]) == MOBILE
    # A ciphertext copied into another column does not decrypt there.
    with pytest.raises(Exception):  # noqa: B017 (cryptography's InvalidTag)
        cipher_for(TEST_DATA_KEY).decrypt(blob, "case.reporter_phone")

    for url in (f"/api/v1/users/{out['id']}", "/api/v1/users?q=" + body["username"]):
        shown = client.get(url, headers=auth("admin"))
        assert shown.status_code == 200 and MASKED in shown.text and MOBILE not in shown.text
    assert client.get("/api/v1/users", params={"q": body["username"]},
                      headers=auth("admin")).json()["items"][0]["mobile_masked"] == MASKED


def test_without_a_mobile_nothing_is_stored(client, auth, sessions, request):
    for body in (user_body(request), user_body(request, mobile=""), user_body(request, mobile=None)):
        r = client.post("/api/v1/users", json=body, headers=auth("admin"))
        assert r.status_code == 201, r.text
        assert r.json()["mobile_masked"] == ""
        assert raw_mobile(sessions, body["username"]) == (None, "")


@pytest.mark.parametrize(("typed", "rule", "english"), BAD)
def test_a_bad_mobile_is_a_422_naming_the_field(client, auth, sessions, request, typed, rule, english):
    body = user_body(request, mobile=typed)
    r = client.post("/api/v1/users", json=body, headers=auth("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == {"code": "validation_error", "message": "请求参数有误", "fields": {"mobile": rule}}
    assert stored_user(sessions, body["username"]) is None

    r = client.post("/api/v1/users", json=body, headers={**auth("admin"), "Accept-Language": "en"})
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {"mobile": english}


def test_a_bad_mobile_is_reported_with_the_other_problems(client, auth, request):
    r = client.post("/api/v1/users", json=user_body(request, username="admin", mobile="12345"), headers=auth("admin"))
    assert r.json()["error"]["fields"] == {"username": "用户名已存在", "mobile": NOT_A_MOBILE}


def test_update_sets_keeps_and_clears_the_mobile(client, auth, sessions, request):
    username, uid = new_user(request)
    admin = auth("admin")
    assert client.get(f"/api/v1/users/{uid}", headers=admin).json()["mobile_masked"] == ""

    r = client.patch(f"/api/v1/users/{uid}", json={"mobile": "139 0731 0000"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["mobile_masked"] == "139****0000"
    assert decrypted(sessions, username) == "13907310000"

    for unchanged in ({"display_name": "改名"}, {"mobile": None}):  # absent or null: left as it is
        r = client.patch(f"/api/v1/users/{uid}", json=unchanged, headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["mobile_masked"] == "139****0000"
        assert decrypted(sessions, username) == "13907310000"

    r = client.patch(f"/api/v1/users/{uid}", json={"mobile": "0731-22223333", "display_name": "不改"}, headers=admin)
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {"mobile": LANDLINE}
    assert decrypted(sessions, username) == "13907310000"
    assert stored_user(sessions, username).display_name == "改名"  # nothing of a refused change is written

    r = client.patch(f"/api/v1/users/{uid}", json={"mobile": ""}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["mobile_masked"] == ""
    assert raw_mobile(sessions, username) == (None, "")


def test_only_user_managers_set_a_mobile(client, auth, sessions, request):
    username, uid = new_user(request)
    r = client.patch(f"/api/v1/users/{uid}", json={"mobile": MOBILE}, headers=auth("dispatcher"))
    assert r.status_code in (403, 404)
    assert raw_mobile(sessions, username) == (None, "")


# --- pages ---

@pytest.fixture
def admin_page(client, request):
    admin, _ = new_user(request, "admin", "430200")
    assert page_login(client, admin, PASSWORD).status_code == 303
    return client


def form_of(page_text: str, **fields) -> dict:
    return {"csrf_token": csrf_of(page_text), "display_name": "王五", "password": PASSWORD, "role": "grid_worker",
            "region_code": GRID, "department_id": "", **fields}


def test_the_form_takes_a_mobile_and_the_list_shows_it_masked(admin_page, sessions, request):
    page = admin_page.get("/admin/users/new")
    assert 'name="mobile"' in page.text and "手机号" in page.text
    username = fresh_name(request)
    r = admin_page.post("/admin/users", data=form_of(page.text, username=username, mobile="１３８-００１３-８０００"),
                        follow_redirects=False)
    assert r.status_code == 303, r.text
    assert decrypted(sessions, username) == MOBILE

    listed = admin_page.get("/admin/users", params={"q": username})
    assert "<th>手机号</th>" in listed.text
    assert f"<td>{MASKED}</td>" in listed.text and MOBILE not in listed.text

    shown = admin_page.get(r.headers["location"])
    assert MOBILE not in shown.text
    assert re.search(r'<input name="mobile"[^>]*value=""', shown.text)  # the number is not put back in the field
    assert f"当前：{MASKED}" in shown.text
    assert 'name="clear_mobile"' in shown.text and "清除手机号" in shown.text


def test_the_form_shows_a_bad_mobile_beside_the_field(admin_page, sessions, request):
    page = admin_page.get("/admin/users/new")
    username = fresh_name(request)
    data = form_of(page.text, username=username, mobile="0731-22223333")
    r = admin_page.post("/admin/users", data=data, follow_redirects=False)
    assert r.status_code == 422
    assert re.search(r'<input name="mobile"[^>]*value="0731-22223333"[^>]*>'
                     rf'<span class="field-error" role="alert">{LANDLINE}</span>', r.text)
    assert stored_user(sessions, username) is None

    r = admin_page.post("/admin/users", data={**data, "mobile": "1380013800"}, headers={"Accept-Language": "en"},
                        follow_redirects=False)
    assert r.status_code == 422
    assert '<span class="field-error" role="alert">a mobile number has 11 digits starting 1[3-9]</span>' in r.text
    assert ">Mobile<" in r.text
    assert stored_user(sessions, username) is None


def test_the_edit_form_keeps_changes_and_clears_the_mobile(admin_page, sessions, request):
    username, uid = new_user(request)
    page = admin_page.get(f"/admin/users/{uid}")
    assert "未填写" in page.text and 'name="clear_mobile"' not in page.text
    base = form_of(page.text, display_name="测试用户", password="", is_active="1", mobile="")

    assert admin_page.post(f"/admin/users/{uid}", data={**base, "mobile": "139 0731 0000"},
                           follow_redirects=False).status_code == 303
    assert decrypted(sessions, username) == "13907310000"

    # Empty: the page never shows the number, so an empty field leaves it as it is.
    assert admin_page.post(f"/admin/users/{uid}", data=base, follow_redirects=False).status_code == 303
    assert decrypted(sessions, username) == "13907310000"

    r = admin_page.post(f"/admin/users/{uid}", data={**base, "mobile": "12345", "clear_mobile": "1"},
                        follow_redirects=False)
    assert r.status_code == 422
    assert f'<span class="field-error" role="alert">{NOT_A_MOBILE}</span>' in r.text
    assert "当前：139****0000" in r.text
    assert decrypted(sessions, username) == "13907310000"

    assert admin_page.post(f"/admin/users/{uid}", data={**base, "clear_mobile": "1"},
                           follow_redirects=False).status_code == 303
    assert raw_mobile(sessions, username) == (None, "")
    assert "未填写" in admin_page.get(f"/admin/users/{uid}").text


def test_the_edit_page_in_english(admin_page, request):
    _, uid = new_user(request)
    page = admin_page.get(f"/admin/users/{uid}", headers={"Accept-Language": "en"})
    base = form_of(page.text, display_name="测试用户", password="", is_active="1")
    admin_page.post(f"/admin/users/{uid}", data={**base, "mobile": MOBILE}, follow_redirects=False)
    page = admin_page.get(f"/admin/users/{uid}", headers={"Accept-Language": "en"})
    assert f"Now: {MASKED}" in page.text and "Remove the mobile number" in page.text


# --- the command line ---

def test_cli_takes_a_mobile(demo_url, tmp_path, sessions, monkeypatch, request):
    monkeypatch.setenv("GRIDGOV_DATA_KEY", TEST_DATA_KEY)
    username = fresh_name(request)
    result = run_users_add(demo_url, tmp_path, "--username", username, "--name", "孙七", "--role", "grid_worker",
                           "--region", GRID, "--mobile", "+86 138 0013 8000", "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert decrypted(sessions, username) == MOBILE
    assert stored_user(sessions, username).mobile_masked == MASKED

    other = fresh_name(request)
    result = run_users_add(demo_url, tmp_path, "--username", other, "--name", "周八", "--role", "grid_worker",
                           "--region", GRID, "--mobile", "0731-22223333", "--password", PASSWORD)
    assert result.exit_code == 1
    assert f"mobile: {LANDLINE}" in result.stderr
    with sessions() as db:
        assert db.scalar(select(User.id).where(User.username == other)) is None
