"""Delivery as an administrator sees it, through the real app: what was given up and why, how the
gateway is doing, and sending again. On a database of its own (counts are over the whole outbox)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from gridgov.accounts import service as accounts
from gridgov.core.crypto import data_cipher
from gridgov.core.db import utcnow
from gridgov.notify.service import deliver_due, notify
from tests.notify.test_delivery import Recorder, outbox_rows, webhook_row
from tests.notify.test_views import CSRF, PAGE, PASSWORD, ROOT, bearer, page_login

OPERATOR = replace(ROOT, region_path="/")  # this database's district has no city above it


@pytest.fixture(scope="module")
def admin_app(notify_world):
    from gridgov.app import create_app

    with notify_world.sessions() as db:
        for username, role in (("root", "admin"), ("desk", "district_dispatcher")):
            accounts.create_user(db, OPERATOR, username=username, display_name=username, password=PASSWORD, role=role,
                                 region_code="430203", cipher=data_cipher(notify_world.settings))
        db.commit()
    application = create_app(notify_world.with_webhook())
    yield application
    application.state.engine.dispose()


@pytest.fixture
def web(admin_app, world):
    with TestClient(admin_app, headers={"Accept-Language": "zh-CN"}) as c:
        yield c


def give_up_on_a_webhook(world, status: int = 500):
    """An overdue notice whose SMS the gateway refused until it was given up."""
    with world.sessions() as db:
        notify(db, [world.alice], "case.light_red", "事件 #7 已超时", link="/cases/7")
        db.commit()
    report = deliver_due(world.sessions, world.with_webhook(), post=Recorder(status).post, max_attempts=1,
                         give_up_after=timedelta(0))
    assert (report.sent, report.dead) == (1, 1)
    return webhook_row(world)


def test_an_admin_sees_what_was_given_up_and_why_and_sends_it_again(web, world):
    hook = give_up_on_a_webhook(world)
    admin = bearer(web, "root")

    status = web.get("/api/v1/outbox/status", headers=admin)
    assert status.status_code == 200, status.text
    body = status.json()
    assert {c["channel"]: (c["waiting"], c["dead"]) for c in body["channels"]} == {"inbox": (0, 0), "webhook": (0, 1)}
    assert body["sent_kept_days"] == 30  # GRIDGOV_OUTBOX_KEEP_DAYS: how long what was delivered stays
    gateway = body["gateway"]
    assert (gateway["configured"], gateway["signed"], gateway["failures"]) == (True, False, 1)
    assert "HTTP 500" in gateway["last_error"] and gateway["failing_since"]

    dead = web.get("/api/v1/outbox", params={"status": "dead"}, headers=admin).json()
    assert dead["total"] == 1
    (item,) = dead["items"]
    assert {k: item[k] for k in ("id", "channel", "topic", "title", "status", "attempts", "recipient")} == {
        "id": hook.id, "channel": "webhook", "topic": "case.light_red", "title": "事件 #7 已超时", "status": "dead",
        "attempts": 1, "recipient": "alice（alice）"}
    assert "HTTP 500" in item["last_error"]
    assert web.get("/api/v1/outbox", params={"status": "waiting"}, headers=admin).json() == {"items": [], "total": 0}

    r = web.post("/api/v1/outbox/retry", json={"ids": [hook.id]}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {"requeued": 1, "due_now": 0}  # nothing else was waiting
    waiting = web.get("/api/v1/outbox", params={"status": "waiting", "channel": "webhook"}, headers=admin).json()
    assert [i["id"] for i in waiting["items"]] == [hook.id] and waiting["items"][0]["attempts"] == 0
    gateway = Recorder(200)
    assert deliver_due(world.sessions, world.with_webhook(), post=gateway.post).sent == 1
    assert len(gateway.requests) == 1 and webhook_row(world).status == "sent"
    body = web.get("/api/v1/outbox/status", headers=admin).json()
    assert body["gateway"]["failures"] == 0 and body["gateway"]["last_success_at"]
    assert {c["channel"]: c["dead"] for c in body["channels"]} == {"inbox": 0, "webhook": 0}


def test_retry_without_ids_brings_back_everything_given_up_and_ends_the_pause(web, world):
    give_up_on_a_webhook(world)
    with world.sessions() as db:
        notify(db, [world.bob, world.carol], "case.returned", "退回")
        db.commit()
    t0 = utcnow()
    deliver_due(world.sessions, world.with_webhook(), now=t0, post=Recorder(503, 503, 503).post)
    status = web.get("/api/v1/outbox/status", headers=bearer(web, "root")).json()
    assert status["gateway"]["failures"] == 3 and status["gateway"]["paused_until"]  # the gateway is paused
    assert {c["channel"]: (c["waiting"], c["dead"]) for c in status["channels"]}["webhook"] == (2, 1)

    r = web.post("/api/v1/outbox/retry", headers=bearer(web, "root"))  # the gateway is repaired
    assert r.json()["requeued"] == 1
    gateway = Recorder()
    # The retry made them due on the real clock (a loaded machine may be seconds past t0 by now), and
    # long before the pause, which would have lasted until t0 + 30 s, was over.
    soon = utcnow() + timedelta(seconds=1)
    assert soon < t0 + timedelta(seconds=30)
    report = deliver_due(world.sessions, world.with_webhook(), now=soon, post=gateway.post)
    assert report.sent == 3 and len(gateway.requests) == 3  # at once, not at the end of the pause
    assert {r.status for r in outbox_rows(world.sessions)} == {"sent"}


def test_only_an_admin_sees_or_resends_the_outbox(web, world):
    hook = give_up_on_a_webhook(world)
    desk = bearer(web, "desk")
    for method, path in (("get", "/api/v1/outbox/status"), ("get", "/api/v1/outbox"),
                         ("post", "/api/v1/outbox/retry")):
        assert getattr(web, method)(path, headers=desk).status_code == 403
        assert getattr(web, method)(path).status_code == 401
    assert webhook_row(world).status == "dead" and webhook_row(world).id == hook.id
    r = web.get("/api/v1/outbox", params={"status": "sent"}, headers=bearer(web, "root"))
    assert r.status_code == 422


def test_the_outbox_page_shows_a_failing_gateway_and_resends_with_its_form(web, world):
    hook = give_up_on_a_webhook(world, status=0)
    page_login(web, "root")
    home = web.get("/", headers=PAGE)
    assert 'href="/admin/outbox"' in home.text
    page = web.get("/admin/outbox", headers=PAGE)
    assert page.status_code == 200
    assert 'data-testid="gateway-failing"' in page.text and "ConnectError" in page.text
    assert f'data-testid="outbox-message" data-id="{hook.id}"' in page.text
    assert "事件 #7 已超时" in page.text and "alice（alice）" in page.text
    assert "已发送的消息保留 30 天后自动删除" in page.text
    english = web.get("/admin/outbox?lang=en", headers=PAGE)
    assert "Notification delivery" in english.text and "Given up" in english.text
    assert "Delivered messages are deleted after 30 days" in english.text

    r = web.post("/admin/outbox/retry", data={"id": str(hook.id)}, headers=PAGE, follow_redirects=False)
    assert r.status_code == 403  # no CSRF token
    r = web.post("/admin/outbox/retry", data={"id": str(hook.id), "csrf_token": CSRF.search(page.text).group(1)},
                 headers=PAGE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/outbox"
    assert (webhook_row(world).status, webhook_row(world).attempts) == ("pending", 0)
    after = web.get("/admin/outbox", headers=PAGE)
    assert 'data-testid="outbox-empty"' in after.text
    waiting = web.get("/admin/outbox?status=waiting", headers=PAGE)
    assert f'data-testid="outbox-message" data-id="{hook.id}"' in waiting.text


def test_the_outbox_page_is_for_admins_only(web, world):
    page_login(web, "desk")
    assert web.get("/admin/outbox", headers=PAGE).status_code == 403
    assert 'href="/admin/outbox"' not in web.get("/", headers=PAGE).text




def test_a_mobile_entered_by_an_admin_reaches_the_sms_gateway(web, world):
    """End to end: the number typed in the API is what the gateway is sent; the page that takes it
    away leaves the gateway a null."""
    admin = bearer(web, "root")
    r = web.patch(f"/api/v1/users/{world.carol}", json={"mobile": "+86 139-0731-0000"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["mobile_masked"] == "139****0000" and "13907310000" not in r.text
    with world.sessions() as db:
        notify(db, [world.carol], "case.assigned", "事件 #5 已派给您", link="/cases/5")
        db.commit()
    gateway = Recorder()
    assert deliver_due(world.sessions, world.with_webhook(), post=gateway.post).sent == 2
    (call,) = gateway.requests
    assert json.loads(call.content)["recipient"] == {"username": "carol", "name": "carol", "mobile": "13907310000"}

    page_login(web, "root")
    page = web.get(f"/admin/users/{world.carol}", headers=PAGE)
    assert "139****0000" in page.text and "13907310000" not in page.text
    form = {"csrf_token": CSRF.search(page.text).group(1), "display_name": "carol", "role": "district_dispatcher",
            "region_code": "430203", "department_id": "", "password": "", "is_active": "1", "mobile": "",
            "clear_mobile": "1"}
    assert web.post(f"/admin/users/{world.carol}", data=form, headers=PAGE, follow_redirects=False).status_code == 303
    with world.sessions() as db:
        notify(db, [world.carol], "case.assigned", "事件 #6 已派给您")
        db.commit()
    deliver_due(world.sessions, world.with_webhook(), post=gateway.post)
    assert json.loads(gateway.requests[-1].content)["recipient"]["mobile"] is None
