"""The outbox on SQLite and PostgreSQL: written with the change, delivered once, retried with back-off."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update

from gridgov.accounts import service as accounts
from gridgov.accounts.access import Principal
from gridgov.accounts.models import User
from gridgov.core.crypto import data_cipher
from gridgov.core.db import make_engine, make_sessionmaker, utcnow
from gridgov.core.errors import NotFound
from gridgov.notify import service
from gridgov.notify.models import InboxItem, OutboxMessage
from gridgov.notify.service import (
    CLAIM_LEASE_SECONDS,
    MAX_ATTEMPTS,
    WEBHOOK_FAILURES_BEFORE_PAUSE,
    WEBHOOK_GIVE_UP_AFTER,
    deliver_due,
    http_poster,
    notify,
    pause_after,
    retry_delay,
)

# An administrator of this database's district, which has no city above it.
OPERATOR = Principal(user_id=0, username="tests", display_name="测试", role="admin", region_code="430203",
                     region_path="/", department_id=None)


def outbox_rows(sessions) -> list[OutboxMessage]:
    with sessions() as db:
        return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def inbox_rows(sessions) -> list[InboxItem]:
    with sessions() as db:
        return list(db.scalars(select(InboxItem).order_by(InboxItem.id)))


def never_called(url, body, timeout):
    raise AssertionError("no webhook call expected")


class Recorder:
    """A webhook gateway through httpx's mock transport: answers with the queued statuses (200 when
    none are left), or raises a connection error for status 0."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests: list[httpx.Request] = []
        self.client = httpx.Client(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 0:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(status, json={"ok": status < 400})

    @property
    def post(self):
        return http_poster(self.client)


# --- enqueue and deliver ---

def test_notify_then_deliver_makes_one_unread_item_per_user(world):
    with world.sessions() as db:
        queued = notify(db, [world.alice, world.bob, world.alice], "case.assigned", "事件 #12 已派给您",
                        body="请于今日内签收", link="/cases/12", payload={"case_id": 12})
        assert queued == 2  # a repeated user is told once
        db.commit()
    report = deliver_due(world.sessions, world.settings, post=never_called)
    assert (report.sent, report.retried, report.dead) == (2, 0, 0)
    with world.sessions() as db:
        items, total, unread = service.inbox(db, world.alice)
        assert (total, unread) == (1, 1)
        assert (items[0].title, items[0].body, items[0].link, items[0].topic) == (
            "事件 #12 已派给您", "请于今日内签收", "/cases/12", "case.assigned")
        assert service.unread_count(db, world.bob) == 1
        assert service.unread_count(db, world.carol) == 0
    rows = outbox_rows(world.sessions)
    assert {r.status for r in rows} == {"sent"} and all(r.sent_at is not None for r in rows)
    again = deliver_due(world.sessions, world.settings, post=never_called)
    assert again.total == 0
    assert len(inbox_rows(world.sessions)) == 2


def test_webhook_copies_only_when_a_gateway_is_configured(world):
    with world.sessions() as db:
        notify(db, [world.alice], "case.assigned", "无网关")
        db.commit()
    deliver_due(world.sessions, world.settings, post=never_called)
    assert [r.channel for r in outbox_rows(world.sessions)] == ["inbox"]
    gateway = Recorder()
    with world.sessions() as db:
        notify(db, [world.alice], "case.assigned", "有网关")
        db.commit()
    report = deliver_due(world.sessions, world.with_webhook(), post=gateway.post)
    assert report.sent == 2  # the inbox item, then in the same drain its webhook copy
    rows = outbox_rows(world.sessions)
    assert [(r.channel, r.title, r.status) for r in rows] == [
        ("inbox", "无网关", "sent"), ("inbox", "有网关", "sent"), ("webhook", "有网关", "sent")]
    assert rows[2].created_at == rows[1].created_at and rows[2].user_id == world.alice
    assert len(gateway.requests) == 1


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"topic": ""}, "topic"),
    ({"topic": "x" * 41}, "topic"),
    ({"link": "https://evil.example/"}, "link"),
    ({"link": "//evil.example/"}, "link"),
])
def test_notify_refuses_a_bad_topic_or_an_outside_link(world, kwargs, problem):
    args = {"topic": "case.assigned", "title": "t", "link": "/cases/1"} | kwargs
    with world.sessions() as db, pytest.raises(ValueError, match=problem):
        notify(db, [world.alice], **args)


def test_a_long_title_is_shortened_not_refused(world):
    with world.sessions() as db:
        assert notify(db, [world.alice], "case.assigned", "长" * 300) == 1
        db.commit()
    (msg,) = outbox_rows(world.sessions)
    assert len(msg.title) == 200 and msg.title.endswith("…")


def test_the_notification_rolls_back_with_the_change(world):
    with world.sessions() as db:
        db.get(User, world.alice).display_name = "改了名"
        notify(db, [world.alice], "user.renamed", "您的姓名已修改")
        db.flush()
        assert db.scalar(select(func.count(OutboxMessage.id))) == 1  # written, in the same transaction
        db.rollback()  # the change fails: its notification goes with it
    assert outbox_rows(world.sessions) == []
    with world.sessions() as db:
        assert db.get(User, world.alice).display_name == "alice"
    assert deliver_due(world.sessions, world.settings, post=never_called).total == 0
    assert inbox_rows(world.sessions) == []


def test_a_crash_after_commit_loses_nothing_and_delivers_once(world):
    with world.sessions() as db:
        db.get(User, world.alice).display_name = "改了名"
        notify(db, [world.alice], "user.renamed", "您的姓名已修改")
        db.commit()
    world.sessions.kw["bind"].dispose()  # the process dies before any delivery

    engine = make_engine(world.url)  # a new process starts
    try:
        sessions = make_sessionmaker(engine)
        assert deliver_due(sessions, world.settings, post=never_called).sent == 1
        assert deliver_due(sessions, world.settings, post=never_called).total == 0
        items = inbox_rows(sessions)
        assert [(i.user_id, i.title) for i in items] == [(world.alice, "您的姓名已修改")]
    finally:
        engine.dispose()


def test_a_redelivery_never_makes_a_second_inbox_item(world):
    with world.sessions() as db:
        notify(db, [world.alice], "case.assigned", "事件已派给您")
        db.commit()
    assert deliver_due(world.sessions, world.settings).sent == 1
    # As if the worker had delivered and died before it could record it: the message is due again.
    with world.sessions() as db:
        db.execute(update(OutboxMessage).values(status="pending", sent_at=None))
        db.commit()
    deliver_due(world.sessions, world.settings)
    assert len(inbox_rows(world.sessions)) == 1
    assert [r.status for r in outbox_rows(world.sessions)] == ["sent"]


def test_two_workers_at_once_deliver_each_message_exactly_once(world):
    settings = world.with_webhook()
    with world.sessions() as db:
        for n in range(20):
            notify(db, [world.alice, world.bob, world.carol], "case.assigned", f"事件 #{n}")
        db.commit()
    assert len(outbox_rows(world.sessions)) == 60
    posted: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(2)
    reports, errors = [], []

    def post(url, body, timeout):
        with lock:
            posted.append(body["message_id"])

    def worker():
        engine = make_engine(world.url)  # a worker process of its own
        try:
            start.wait()
            reports.append(deliver_due(make_sessionmaker(engine), settings, post=post, batch=1000))
        except Exception as exc:  # reported below, with the thread's exception
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert sum(r.sent for r in reports) == 120  # 60 inbox messages and the 60 webhook copies they made
    items = inbox_rows(world.sessions)
    assert len(items) == 60
    assert len({i.outbox_id for i in items}) == 60
    webhook_ids = [r.id for r in outbox_rows(world.sessions) if r.channel == "webhook"]
    assert len(webhook_ids) == 60  # one copy per inbox message, however the two workers interleaved
    assert sorted(posted) == sorted(webhook_ids)  # each one posted once, none twice
    assert {r.status for r in outbox_rows(world.sessions)} == {"sent"}


# --- the webhook ---

def test_webhook_posts_the_message_as_json(world):
    gateway = Recorder(200)
    with world.sessions() as db:
        notify(db, [world.bob], "case.overdue", "事件 #7 已超时", body="请尽快处置", link="/cases/7",
               payload={"case_id": 7})
        db.commit()
    report = deliver_due(world.sessions, world.with_webhook("http://gateway.test/sms"), post=gateway.post)
    assert report.sent == 2
    (request,) = gateway.requests
    hook = next(r for r in outbox_rows(world.sessions) if r.channel == "webhook")
    assert str(request.url) == "http://gateway.test/sms"
    assert request.headers["idempotency-key"] == f"gridgov-outbox-{hook.id}"
    body = json.loads(request.content)
    assert {k: body[k] for k in ("topic", "title", "body", "link", "payload", "user_id", "message_id")} == {
        "topic": "case.overdue", "title": "事件 #7 已超时", "body": "请尽快处置", "link": "/cases/7",
        "payload": {"case_id": 7}, "user_id": world.bob, "message_id": hook.id}
    assert body["recipient"] == {"username": "bob", "name": "bob", "mobile": None}  # bob has no mobile
    assert hook.status == "sent" and hook.attempts == 0 and hook.last_error == ""
    assert len(inbox_rows(world.sessions)) == 1  # the webhook copy makes no inbox item


def test_the_webhook_carries_the_recipients_whole_mobile(world):
    """What an SMS gateway needs to send the text: the staff member's number, decrypted, in the signed
    body; null for someone who has none."""
    with world.sessions() as db:
        accounts.update_user(db, OPERATOR, world.alice, mobile="+86 138-0013-8000", cipher=data_cipher(world.settings))
        db.commit()
        assert db.get(User, world.alice).mobile_masked == "138****8000"
        notify(db, [world.alice, world.bob], "case.assigned", "事件 #9 已派给您", link="/cases/9")
        db.commit()
    gateway = Recorder()
    assert deliver_due(world.sessions, world.with_webhook(), post=gateway.post).sent == 4
    bodies = {b["user_id"]: b for b in (json.loads(r.content) for r in gateway.requests)}
    assert bodies[world.alice]["recipient"] == {"username": "alice", "name": "alice", "mobile": "13800138000"}
    assert bodies[world.bob]["recipient"] == {"username": "bob", "name": "bob", "mobile": None}
    assert {k: bodies[world.alice][k] for k in ("topic", "title", "link", "payload")} == {
        "topic": "case.assigned", "title": "事件 #9 已派给您", "link": "/cases/9", "payload": {}}

    with world.sessions() as db:  # taken away: the gateway is told there is no number any more
        accounts.update_user(db, OPERATOR, world.alice, mobile="", cipher=data_cipher(world.settings))
        notify(db, [world.alice], "case.assigned", "事件 #10 已派给您")
        db.commit()
    deliver_due(world.sessions, world.with_webhook(), post=gateway.post)
    assert json.loads(gateway.requests[-1].content)["recipient"]["mobile"] is None


def test_a_mobile_that_does_not_decrypt_fails_its_message_not_the_drain(world):
    with world.sessions() as db:
        db.execute(update(User).where(User.id == world.alice).values(
            mobile_cipher=b"\x01" + b"\x00" * 40, mobile_masked="138****8000"))
        notify(db, [world.alice, world.bob], "case.assigned", "事件 #11 已派给您")
        db.commit()
    gateway = Recorder()
    report = deliver_due(world.sessions, world.with_webhook(), post=gateway.post)
    assert (report.sent, report.retried) == (3, 1)  # two inbox items, bob's text; alice's waits for a retry
    assert [json.loads(r.content)["user_id"] for r in gateway.requests] == [world.bob]
    failed = next(r for r in outbox_rows(world.sessions) if r.channel == "webhook" and r.user_id == world.alice)
    assert (failed.status, failed.attempts) == ("pending", 1) and "InvalidTag" in failed.last_error


def webhook_row(world) -> OutboxMessage:
    return next(r for r in outbox_rows(world.sessions) if r.channel == "webhook")


def test_a_failed_webhook_backs_off_and_counts_its_attempts(world):
    with world.sessions() as db:
        notify(db, [world.alice], "case.overdue", "超时")
        db.commit()
    settings = world.with_webhook()
    gateway = Recorder(503, 0, 200)
    t0 = utcnow()
    report = deliver_due(world.sessions, settings, now=t0, post=gateway.post)
    assert (report.sent, report.retried) == (1, 1)  # the inbox copy went, the webhook will be retried
    row = webhook_row(world)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "HTTP 503" in row.last_error
    assert row.next_attempt_at == t0 + timedelta(seconds=30)

    early = deliver_due(world.sessions, settings, now=t0 + timedelta(seconds=29), post=gateway.post)
    assert early.total == 0 and len(gateway.requests) == 1  # not due yet

    t1 = t0 + timedelta(seconds=30)
    assert deliver_due(world.sessions, settings, now=t1, post=gateway.post).retried == 1
    row = webhook_row(world)
    assert (row.status, row.attempts) == ("pending", 2)
    assert "ConnectError" in row.last_error
    assert row.next_attempt_at == t1 + timedelta(seconds=60)

    t2 = t1 + timedelta(seconds=60)
    assert deliver_due(world.sessions, settings, now=t2, post=gateway.post).sent == 1
    row = webhook_row(world)
    assert (row.status, row.attempts, row.last_error, row.sent_at) == ("sent", 2, "", t2)
    assert len(gateway.requests) == 3


def test_a_webhook_is_given_up_only_after_its_last_attempt_and_a_day(world):
    with world.sessions() as db:
        notify(db, [world.alice], "case.overdue", "超时")
        db.commit()
    settings = world.with_webhook()
    gateway = Recorder(*[500] * 100)
    now = utcnow()
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):  # the first drain also makes the inbox item and the webhook copy
        report = deliver_due(world.sessions, settings, now=now, post=gateway.post)
        row = webhook_row(world)
        assert row.attempts == attempt
        assert (report.retried, report.dead, row.status) == (1, 0, "pending")  # not given up: an hour is not a day
        waits.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600]
    while now - row.created_at < WEBHOOK_GIVE_UP_AFTER:  # every hour, all day long
        assert deliver_due(world.sessions, settings, now=now, post=gateway.post).retried == 1
        now = webhook_row(world).next_attempt_at
    report = deliver_due(world.sessions, settings, now=now, post=gateway.post)
    row = webhook_row(world)
    assert (report.retried, report.dead, row.status) == (0, 1, "dead")
    assert row.attempts == len(gateway.requests) == MAX_ATTEMPTS + 24 - 1
    later = deliver_due(world.sessions, settings, now=now + timedelta(days=1), post=gateway.post)
    assert later.total == 0 and len(gateway.requests) == row.attempts


def test_a_gateway_that_is_down_is_paused_and_then_gets_the_backlog_in_order(world):
    with world.sessions() as db:
        for n in range(3):  # 15 inbox messages, and so 15 webhook copies
            notify(db, [world.alice, world.bob, world.carol], "case.overdue", f"超时 {n}")
            notify(db, [world.alice, world.bob], "case.returned", f"退回 {n}")
        db.commit()
    gateway = Recorder(*[503] * 100)
    t0 = utcnow()
    report = deliver_due(world.sessions, world.with_webhook(), now=t0, post=gateway.post)
    assert report.sent == 15  # every inbox item
    assert report.retried == WEBHOOK_FAILURES_BEFORE_PAUSE == len(gateway.requests)
    hooks = [r for r in outbox_rows(world.sessions) if r.channel == "webhook"]
    assert len(hooks) == 15
    assert sorted(r.attempts for r in hooks) == [0] * 12 + [1] * 3  # the rest wait for the gateway
    assert [int(json.loads(r.content)["message_id"]) for r in gateway.requests] == [h.id for h in hooks[:3]]
    # Paused for every drain and every worker: no call at all until the pause is over.
    other_worker = make_engine(world.url)
    try:
        for seconds in (5, 10, 29):
            for sessions in (world.sessions, make_sessionmaker(other_worker)):
                assert deliver_due(sessions, world.with_webhook(), now=t0 + timedelta(seconds=seconds),
                                   post=gateway.post).total == 0
    finally:
        other_worker.dispose()
    assert len(gateway.requests) == 3
    # Then one call; it fails, and the pause doubles.
    t1 = t0 + timedelta(seconds=30)
    assert deliver_due(world.sessions, world.with_webhook(), now=t1, post=gateway.post).retried == 1
    assert deliver_due(world.sessions, world.with_webhook(), now=t1 + timedelta(seconds=59),
                       post=gateway.post).total == 0
    assert len(gateway.requests) == 4
    # The gateway is back: its first answer lets everything that waited go, oldest first.
    gateway.statuses = []
    later = deliver_due(world.sessions, world.with_webhook(), now=t1 + timedelta(seconds=60), post=gateway.post)
    assert (later.sent, later.retried) == (15, 0)
    posted = [int(json.loads(r.content)["message_id"]) for r in gateway.requests[4:]]
    assert posted == [h.id for h in hooks]
    assert {r.status for r in outbox_rows(world.sessions)} == {"sent"}


class Gateway:
    """A gateway that is down (connection refused) or up, and remembers what it took."""

    def __init__(self) -> None:
        self.down = True
        self.failed = 0
        self.taken: list[dict] = []

    def post(self, url, body, timeout):
        if self.down:
            self.failed += 1
            raise httpx.ConnectError("connection refused")
        self.taken.append(body)


def test_a_gateway_down_all_night_loses_nothing_and_then_gets_everything_in_order(world):
    settings = world.with_webhook()
    gateway = Gateway()
    start = utcnow().replace(microsecond=0)
    night = timedelta(hours=9)  # 22:00 to 07:00
    now = start
    while now < start + night:  # the worker drains all night; now and then something happens
        if (now - start) % timedelta(minutes=30) == timedelta(0):
            with world.sessions() as db:
                notify(db, [world.alice, world.bob], "case.light_red", f"{now:%H:%M} 事件已超时")
                db.commit()
        report = deliver_due(world.sessions, settings, now=now, post=gateway.post)
        assert report.dead == 0
        now += timedelta(minutes=1)
    hooks = [r for r in outbox_rows(world.sessions) if r.channel == "webhook"]
    assert len(hooks) == 2 * 18 and not gateway.taken
    assert {r.status for r in hooks} == {"pending"}  # nothing given up
    assert gateway.failed <= 9 * 6 + 10  # about one call each pause (10 min), not one per message
    assert len(inbox_rows(world.sessions)) == 36  # the in-app notices went all night long

    gateway.down = False  # the gateway is repaired in the morning
    recovered = now
    while len(gateway.taken) < len(hooks) and now < recovered + timedelta(minutes=10):
        deliver_due(world.sessions, settings, now=now, post=gateway.post)
        now += timedelta(minutes=1)
    taken = [b["message_id"] for b in gateway.taken]
    assert sorted(taken) == [h.id for h in hooks]  # all of them, once each
    # The call that found the gateway back is the one message out of turn; the backlog then goes
    # out in the order it was written (not in whatever order each message's back-off ended).
    assert taken[1:] == sorted(taken[1:])
    assert {r.status for r in outbox_rows(world.sessions)} == {"sent"}


def test_in_app_notices_go_before_webhooks(world):
    t0 = utcnow()
    with world.sessions() as db:  # a webhook copy that has waited a while
        db.add(OutboxMessage(topic="case.assigned", channel="webhook", user_id=world.alice, title="旧的短信",
                             payload={}, status="pending", attempts=1, next_attempt_at=t0 - timedelta(minutes=1),
                             created_at=t0 - timedelta(minutes=5)))
        notify(db, [world.bob], "case.supervised", "红牌督办：事件 #9")
        db.commit()
    seen_by_bob = []

    def slow_gateway(url, body, timeout):
        with world.sessions() as db:
            seen_by_bob.append(service.unread_count(db, world.bob))

    deliver_due(world.sessions, world.with_webhook(), post=slow_gateway)
    assert seen_by_bob[0] == 1  # the 红牌 notice was in Bob's inbox before the gateway was called


def test_webhook_calls_are_signed_when_a_secret_is_set(world, monkeypatch):
    gateway = Recorder()
    http_poster(gateway.client, secret="s3cret")("http://gateway.test/hook", {"message_id": 7, "title": "红牌"}, 5)
    (request,) = gateway.requests
    stamp = request.headers["x-gridgov-timestamp"]
    assert abs(int(stamp) - utcnow().timestamp()) < 60
    expected = hmac.new(b"s3cret", stamp.encode() + b"." + request.content, hashlib.sha256).hexdigest()
    assert request.headers["x-gridgov-signature"] == f"sha256={expected}"
    assert json.loads(request.content) == {"message_id": 7, "title": "红牌"}
    assert request.headers["content-type"] == "application/json"

    calls: list[httpx.Request] = []

    def fake_post(url, *, content, timeout, headers):  # the default sender, as deliver_due makes it
        calls.append(httpx.Request("POST", url, content=content, headers=headers))
        return httpx.Response(200, request=calls[-1])

    monkeypatch.setattr(service.httpx, "post", fake_post)
    with world.sessions() as db:
        notify(db, [world.alice], "case.overdue", "超时")
        db.commit()
    settings = world.with_webhook().model_copy(update={"webhook_secret": SecretStr("gateway-key")})
    assert deliver_due(world.sessions, settings).sent == 2
    (call,) = calls
    stamp = call.headers["x-gridgov-timestamp"]
    expected = hmac.new(b"gateway-key", stamp.encode() + b"." + call.content, hashlib.sha256).hexdigest()
    assert call.headers["x-gridgov-signature"] == f"sha256={expected}"
    with world.sessions() as db:
        notify(db, [world.alice], "case.overdue", "无签名")
        db.commit()
    assert deliver_due(world.sessions, world.with_webhook()).sent == 2
    assert "x-gridgov-signature" not in calls[1].headers  # no secret, no signature


def test_back_off_is_capped_at_an_hour_and_the_gateway_pause_at_ten_minutes():
    assert retry_delay(1) == timedelta(seconds=30)
    assert retry_delay(7) == timedelta(seconds=1920)
    assert retry_delay(8) == timedelta(hours=1)
    assert retry_delay(20) == timedelta(hours=1)
    assert [pause_after(n) for n in range(WEBHOOK_FAILURES_BEFORE_PAUSE)] == [None] * WEBHOOK_FAILURES_BEFORE_PAUSE
    assert [pause_after(WEBHOOK_FAILURES_BEFORE_PAUSE + k).total_seconds() for k in range(7)] == [
        30, 60, 120, 240, 480, 600, 600]
    assert pause_after(10_000) == timedelta(minutes=10)


def test_a_webhook_is_dead_when_the_gateway_is_no_longer_configured(world):
    with world.sessions() as db:
        notify(db, [world.alice], "case.overdue", "超时")
        db.commit()
    t0 = utcnow()
    assert deliver_due(world.sessions, world.with_webhook(), now=t0, post=Recorder(500).post).retried == 1
    later = t0 + timedelta(minutes=5)
    report = deliver_due(world.sessions, world.settings, now=later, post=never_called)  # webhook_url is now ""
    assert report.dead == 1
    row = webhook_row(world)
    assert row.status == "dead" and "webhook_url" in row.last_error and row.attempts == 2


def test_a_worker_dying_mid_post_leaves_the_webhook_pending_for_a_retry(world):
    class Killed(BaseException):
        pass

    def dies(url, body, timeout):
        raise Killed()

    with world.sessions() as db:
        notify(db, [world.alice], "case.overdue", "超时")
        db.commit()
    settings = world.with_webhook()
    t0 = utcnow()
    with pytest.raises(Killed):
        deliver_due(world.sessions, settings, now=t0, post=dies)
    row = webhook_row(world)
    assert (row.status, row.attempts) == ("sending", 0)
    # Claimed for the lease: no other worker posts it meanwhile …
    gateway = Recorder(200)
    assert deliver_due(world.sessions, settings, now=t0 + timedelta(seconds=1), post=gateway.post).total == 0
    # … and once the lease is over, it is delivered.
    later = t0 + timedelta(seconds=CLAIM_LEASE_SECONDS)
    assert deliver_due(world.sessions, settings, now=later, post=gateway.post).sent == 1
    assert len(gateway.requests) == 1 and webhook_row(world).status == "sent"


# --- the inbox ---

def test_inbox_pages_filters_and_marks_only_the_users_own_items(world):
    with world.sessions() as db:
        for n in range(5):
            notify(db, [world.alice], "case.assigned", f"给 alice #{n}")
        notify(db, [world.bob], "case.assigned", "给 bob")
        db.commit()
    deliver_due(world.sessions, world.settings, post=never_called)
    with world.sessions() as db:
        items, total, unread = service.inbox(db, world.alice, limit=2)
        assert (len(items), total, unread) == (2, 5, 5)
        assert [i.title for i in items] == ["给 alice #4", "给 alice #3"]  # newest first
        second, _, _ = service.inbox(db, world.alice, limit=2, offset=2)
        assert [i.title for i in second] == ["给 alice #2", "给 alice #1"]
        service.mark_read(db, world.alice, items[0].id)
        first_read = items[0].read_at
        service.mark_read(db, world.alice, items[0].id)  # again: no change
        assert items[0].read_at == first_read
        bobs = service.inbox(db, world.bob)[0][0]
        with pytest.raises(NotFound):
            service.mark_read(db, world.alice, bobs.id)
        db.commit()
    with world.sessions() as db:
        unread_items, total, unread = service.inbox(db, world.alice, unread_only=True)
        assert (len(unread_items), total, unread) == (4, 4, 4)
        assert service.mark_all_read(db, world.alice) == 4
        db.commit()
        assert service.unread_count(db, world.alice) == 0
        assert service.unread_count(db, world.bob) == 1  # untouched


def test_a_slow_gateway_does_not_let_a_second_worker_post_the_same_webhook(world, monkeypatch):
    # A drain that outlasts the lease (its calls waiting on a slow gateway) must lease each message
    # from when it claims it, not from when the drain started: else a second worker takes a
    # message whose lease ran out before it was even claimed, and posts it a second time.
    settings = world.with_webhook()
    with world.sessions() as db:
        notify(db, [world.alice, world.bob], "case.overdue", "超时")
        db.commit()
    clock = [utcnow()]
    monkeypatch.setattr(service, "utcnow", lambda: clock[0])
    posted: list[int] = []
    calls = []

    def other_worker(url, body, timeout):
        posted.append(body["message_id"])

    def slow(url, body, timeout):
        posted.append(body["message_id"])
        calls.append(body["message_id"])
        if len(calls) == 1:
            clock[0] += timedelta(seconds=CLAIM_LEASE_SECONDS + 30)  # the gateway took its time to answer
        else:  # a second worker drains while this call is under way
            deliver_due(world.sessions, settings, now=clock[0], post=other_worker)

    report = deliver_due(world.sessions, settings, post=slow)
    assert (report.sent, len(calls)) == (4, 2)  # two inbox items, then both webhooks, by this worker
    hooks = sorted(r.id for r in outbox_rows(world.sessions) if r.channel == "webhook")
    assert sorted(posted) == hooks  # none posted twice
    assert {r.status for r in outbox_rows(world.sessions)} == {"sent"}
