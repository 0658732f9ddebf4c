"""The inbox API, page and badge through the real app, on the demo database.

Each test makes throw-away accounts (removed afterwards, their items with them), so counts are
exact whatever else the session has written to the shared demo database."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from gridgov.accounts import service as accounts
from gridgov.accounts.access import Principal
from gridgov.accounts.models import User
from gridgov.core.crypto import data_cipher
from gridgov.core.db import utcnow
from gridgov.notify.models import InboxItem, OutboxMessage
from tests.conftest import settings_for

PASSWORD = "Passw0rd-2026"
ROOT = Principal(user_id=0, username="tests", display_name="测试", role="admin", region_code="430200",
                 region_path="/430200/", department_id=None)
PAGE = {"Accept": "text/html"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def notify_app(demo_url, tmp_path_factory):
    from gridgov.app import create_app

    settings = settings_for(demo_url, tmp_path_factory.mktemp("notify")).model_copy(
        update={"worker_in_process": False})
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def web(notify_app):
    with TestClient(notify_app, headers={"Accept-Language": "zh-CN"}) as c:
        yield c


@pytest.fixture
def person(notify_app, request):
    """`person()` → (username, user id) of a fresh district dispatcher, removed after the test."""
    made: list[str] = []
    sessions = notify_app.state.sessions

    def make() -> tuple[str, int]:
        username = f"n_{uuid.uuid4().hex[:12]}"
        with sessions() as db:
            user = accounts.create_user(db, ROOT, username=username, display_name="通知测试", password=PASSWORD,
                                        role="district_dispatcher", region_code="430203",
                                        cipher=data_cipher(notify_app.state.settings))
            db.commit()
            made.append(username)
            return username, user.id

    def forget() -> None:
        with sessions() as db:
            db.execute(delete(User).where(User.username.in_(made)))  # cascades to their outbox and inbox
            db.commit()

    request.addfinalizer(forget)
    return make


def give(app, user_id: int, title: str, *, link: str = "", body: str = "", read: bool = False,
         minutes_ago: int = 0) -> int:
    """An item in the user's inbox, as the worker leaves it: a sent outbox row and its inbox item."""
    when = utcnow() - timedelta(minutes=minutes_ago)
    with app.state.sessions() as db:
        msg = OutboxMessage(topic="case.assigned", channel="inbox", user_id=user_id, title=title, body=body,
                            link=link, payload={}, status="sent", sent_at=when, created_at=when)
        db.add(msg)
        db.flush()
        item = InboxItem(outbox_id=msg.id, user_id=user_id, topic=msg.topic, title=title, body=body, link=link,
                         created_at=when, read_at=when if read else None)
        db.add(item)
        db.commit()
        return item.id


def bearer(web, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = web.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def page_login(web, username: str, password: str = PASSWORD) -> None:
    page = web.get("/login", headers=PAGE)
    r = web.post("/login", data={"username": username, "password": password, "next": "/",
                                 "csrf_token": CSRF.search(page.text).group(1)}, headers=PAGE, follow_redirects=False)
    assert r.status_code == 303, r.text


def is_read(app, item_id: int) -> bool:
    with app.state.sessions() as db:
        return db.scalar(select(InboxItem.read_at).where(InboxItem.id == item_id)) is not None


# --- API ---

def test_inbox_api_lists_counts_and_marks_read(web, notify_app, person):
    username, uid = person()
    old = give(notify_app, uid, "旧的", read=True, minutes_ago=30)
    mid = give(notify_app, uid, "事件 #3 已派给您", link="/cases/3", body="请签收", minutes_ago=10)
    new = give(notify_app, uid, "事件 #4 被退回", minutes_ago=1)
    headers = bearer(web, username)

    r = web.get("/api/v1/inbox", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["total"], body["unread"]) == (3, 2)
    assert [i["id"] for i in body["items"]] == [new, mid, old]  # newest first
    assert body["items"][1] | {"created_at": None} == {
        "id": mid, "topic": "case.assigned", "title": "事件 #3 已派给您", "body": "请签收", "link": "/cases/3",
        "created_at": None, "read_at": None, "read": False}
    assert body["items"][2]["read"] is True

    r = web.get("/api/v1/inbox", params={"unread_only": "true", "limit": 1, "offset": 1}, headers=headers)
    assert [i["id"] for i in r.json()["items"]] == [mid]
    assert (r.json()["total"], r.json()["unread"]) == (2, 2)
    assert web.get("/api/v1/inbox/unread-count", headers=headers).json() == {"unread": 2}

    r = web.post(f"/api/v1/inbox/{mid}/read", headers=headers)
    assert r.status_code == 200 and r.json()["read"] is True and r.json()["read_at"]
    assert web.get("/api/v1/inbox/unread-count", headers=headers).json() == {"unread": 1}

    r = web.post("/api/v1/inbox/read-all", headers=headers)
    assert r.json() == {"updated": 1, "unread": 0}
    assert is_read(notify_app, new)


def test_nobody_sees_or_marks_anyone_elses_items(web, notify_app, person):
    owner, owner_id = person()
    other, _ = person()
    item = give(notify_app, owner_id, "只给 owner")
    theirs = bearer(web, other)
    assert web.get("/api/v1/inbox", headers=theirs).json() == {"items": [], "total": 0, "unread": 0}
    r = web.post(f"/api/v1/inbox/{item}/read", headers=theirs)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert web.post("/api/v1/inbox/read-all", headers=theirs).json()["updated"] == 0
    r = web.post(f"/api/v1/inbox/{item}/read", headers=bearer(web, "dispatcher", "demo-2026"))
    assert r.status_code == 404
    assert not is_read(notify_app, item)
    assert web.get("/api/v1/inbox/unread-count", headers=bearer(web, owner)).json() == {"unread": 1}


def test_inbox_api_needs_a_login_and_checks_its_parameters(web, person):
    assert web.get("/api/v1/inbox").status_code == 401
    assert web.post("/api/v1/inbox/read-all").status_code == 401
    username, _ = person()
    r = web.get("/api/v1/inbox", params={"limit": 500}, headers=bearer(web, username))
    assert r.status_code == 422 and "limit" in r.json()["error"]["fields"]


# --- the page ---

def test_inbox_page_highlights_unread_and_marks_read_with_its_forms(web, notify_app, person):
    username, uid = person()
    read = give(notify_app, uid, "已经看过的", read=True, minutes_ago=5)
    unread = give(notify_app, uid, "事件 <b>#9</b> 已派给您", body="请签收", link="/cases/9")
    page_login(web, username)
    page = web.get("/inbox", headers=PAGE)
    assert page.status_code == 200
    rows = {int(i): bool(u) for u, i in re.findall(
        r'<li class="inbox-item( unread)?" data-testid="inbox-item" data-id="(\d+)"', page.text)}
    assert rows == {unread: True, read: False}
    assert "事件 &lt;b&gt;#9&lt;/b&gt; 已派给您" in page.text  # escaped, never markup
    assert f'href="/inbox/{unread}/open"' in page.text
    assert 'data-testid="unread-count">1<' in page.text

    r = web.post(f"/inbox/{unread}/read", data={"csrf_token": CSRF.search(page.text).group(1),
                                               "next": "/inbox?unread=1"}, headers=PAGE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/inbox?unread=1"
    assert is_read(notify_app, unread)
    empty = web.get("/inbox?unread=1", headers=PAGE)
    assert 'data-testid="inbox-empty"' in empty.text and "没有未读通知" in empty.text
    assert 'data-testid="read-all"' not in empty.text  # nothing left to mark


def test_mark_all_read_form_and_its_csrf(web, notify_app, person):
    username, uid = person()
    items = [give(notify_app, uid, f"通知 {n}") for n in range(3)]
    page_login(web, username)
    r = web.post("/inbox/read-all", data={"next": "/inbox"}, headers=PAGE, follow_redirects=False)
    assert r.status_code == 403  # no token: refused
    assert not any(is_read(notify_app, i) for i in items)
    page = web.get("/inbox", headers=PAGE)
    assert 'data-testid="read-all"' in page.text
    r = web.post("/inbox/read-all", data={"csrf_token": CSRF.search(page.text).group(1),
                                          "next": "https://evil.example/"}, headers=PAGE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/inbox"  # never away from the site
    assert all(is_read(notify_app, i) for i in items)


def test_opening_an_item_marks_it_read_and_follows_its_link(web, notify_app, person):
    username, uid = person()
    other, other_id = person()
    with_link = give(notify_app, uid, "事件 #5", link="/cases/5")
    without = give(notify_app, uid, "系统通知")
    not_mine = give(notify_app, other_id, "别人的")
    page_login(web, username)
    r = web.get(f"/inbox/{with_link}/open", headers=PAGE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/cases/5"
    assert is_read(notify_app, with_link)
    r = web.get(f"/inbox/{without}/open", headers=PAGE, follow_redirects=False)
    assert r.headers["location"] == "/inbox"
    r = web.get(f"/inbox/{not_mine}/open", headers=PAGE, follow_redirects=False)
    assert r.status_code == 404
    assert not is_read(notify_app, not_mine)


def test_empty_inbox_says_so_in_either_language(web, person):
    username, _ = person()
    page_login(web, username)
    page = web.get("/inbox", headers=PAGE)
    assert 'data-testid="inbox-empty"' in page.text and "暂无通知" in page.text
    assert 'data-testid="inbox"' not in page.text
    assert "读过的通知保留 365 天后自动删除" in page.text  # GRIDGOV_INBOX_KEEP_DAYS
    english = web.get("/inbox?lang=en", headers=PAGE)
    assert "Notifications" in english.text and "No notifications yet." in english.text
    assert "deleted 365 days after they were read" in english.text


def test_inbox_page_needs_a_login(web):
    r = web.get("/inbox", headers=PAGE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/inbox")


def test_badge_shows_the_unread_count_and_nothing_when_logged_out(web, notify_app, person):
    assert web.get("/inbox/badge", headers=PAGE).text == ""
    username, uid = person()
    page_login(web, username)
    badge = web.get("/inbox/badge", headers=PAGE)
    assert 'id="inbox-badge"' in badge.text and 'hx-get="/inbox/badge"' in badge.text
    assert "inbox-badge-count" not in badge.text  # nothing unread: no number
    for n in range(2):
        give(notify_app, uid, f"通知 {n}")
    badge = web.get("/inbox/badge", headers=PAGE)
    assert re.search(r'data-testid="inbox-badge-count"[^>]*>2</span>', badge.text)
    assert "<html" not in badge.text  # a fragment, not a page


def test_mark_all_read_leaves_unread_what_arrived_after_the_page_was_shown(web, notify_app, person):
    # A dispatcher opens the inbox, a 红牌 notice comes in, and then "mark all read" is pressed:
    # the notice was never shown, so it must stay unread.
    username, uid = person()
    shown = [give(notify_app, uid, f"通知 {n}", minutes_ago=10 - n) for n in range(3)]
    page_login(web, username)
    page = web.get("/inbox", headers=PAGE)
    up_to = re.search(r'name="up_to" value="(\d+)"', page.text).group(1)
    red_card = give(notify_app, uid, "红牌督办：事件 #12 已超时", link="/cases/12")
    r = web.post("/inbox/read-all", data={"csrf_token": CSRF.search(page.text).group(1), "next": "/inbox",
                                          "up_to": up_to}, headers=PAGE, follow_redirects=False)
    assert r.status_code == 303
    assert all(is_read(notify_app, i) for i in shown)
    assert not is_read(notify_app, red_card)
    assert 'data-testid="unread-count">1<' in web.get("/inbox", headers=PAGE).text


def test_mark_all_read_through_the_api_up_to_what_the_client_listed(web, notify_app, person):
    username, uid = person()
    listed = [give(notify_app, uid, f"通知 {n}", minutes_ago=5 - n) for n in range(2)]
    headers = bearer(web, username)
    newest = web.get("/api/v1/inbox", headers=headers).json()["items"][0]["id"]
    assert newest == listed[-1]
    later = give(notify_app, uid, "红牌督办：事件 #13")
    r = web.post("/api/v1/inbox/read-all", params={"up_to": newest}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"updated": 2, "unread": 1}
    assert not is_read(notify_app, later)
    assert web.post("/api/v1/inbox/read-all", headers=headers).json() == {"updated": 1, "unread": 0}  # all
    assert web.post("/api/v1/inbox/read-all", params={"up_to": -1}, headers=headers).status_code == 422


def test_reading_the_last_item_of_the_last_page_does_not_show_an_empty_inbox(web, notify_app, person):
    username, uid = person()
    items = [give(notify_app, uid, f"通知 {n}", minutes_ago=100 - n) for n in range(31)]  # a page and one
    page_login(web, username)
    second = web.get("/inbox?unread=1&page=2", headers=PAGE)
    assert re.findall(r'data-testid="inbox-item" data-id="(\d+)"', second.text) == [str(items[0])]
    r = web.post(f"/inbox/{items[0]}/read", data={"csrf_token": CSRF.search(second.text).group(1),
                                                 "next": "/inbox?unread=1&page=2"},
                 headers=PAGE, follow_redirects=False)
    assert r.headers["location"] == "/inbox?unread=1&page=2"
    back = web.get(r.headers["location"], headers=PAGE)
    assert "没有未读通知" not in back.text  # 30 are still unread: the last page there is is shown
    assert len(re.findall(r'data-testid="inbox-item"', back.text)) == 30
    assert 'data-testid="unread-count">30<' in back.text
