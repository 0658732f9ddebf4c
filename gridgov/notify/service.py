"""Notifications: an outbox written with the change it announces, drained to inboxes and a webhook.

`notify()` only adds outbox rows to the caller's session; it never commits, so a notification
exists exactly when the change it announces committed. `deliver_due()` is the worker's drain:
each message is claimed and delivered in short transactions of its own, so a crash at any point
leaves the message pending (retried later) and a retry never makes a second inbox item.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gridgov.accounts.models import User
from gridgov.accounts.service import MOBILE_CONTEXT
from gridgov.core.config import Settings
from gridgov.core.crypto import DataCipher, data_cipher
from gridgov.core.db import add_unique, utcnow
from gridgov.core.errors import NotFound
from gridgov.notify.models import ChannelHealth, InboxItem, OutboxMessage

log = logging.getLogger("gridgov.notify")

INBOX = "inbox"
WEBHOOK = "webhook"
PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
MAX_ATTEMPTS = 8  # a message is dead after this many failed attempts …
# … and a webhook message only once it is also this old: a gateway down for a night loses nothing.
WEBHOOK_GIVE_UP_AFTER = timedelta(hours=24)
RETRY_BASE_SECONDS = 30  # after the k-th failure, wait 30 s × 2^(k−1) …
RETRY_CAP_SECONDS = 3600  # … but never more than an hour
WEBHOOK_TIMEOUT_SECONDS = 10.0
# A claimed webhook message is invisible to other workers this long; if its worker dies mid-POST,
# the message becomes due again after it (at-least-once: receivers dedupe on message_id).
CLAIM_LEASE_SECONDS = 120
# After this many failed calls in a row the gateway is paused for every worker, 30 s, then twice as
# long after each further failure, at most 10 min: a gateway that is down (each call waiting out
# its timeout) must not hold up the inboxes and jobs, nor be called once for every waiting message.
WEBHOOK_FAILURES_BEFORE_PAUSE = 3
PAUSE_CAP_SECONDS = 600

Poster = Callable[[str, dict, float], None]
"""`post(url, body, timeout)` sends one webhook call and raises on any failure."""


def _check(topic: str, link: str) -> None:
    if not topic or len(topic) > 40:
        raise ValueError("topic must have 1–40 characters")
    if link and (not link.startswith("/") or link.startswith("//") or len(link) > 200):
        raise ValueError("link must be a path on this site of at most 200 characters")


def outbox_row(user_id: int, topic: str, title: str, body: str = "", link: str = "", payload: dict | None = None,
               now: datetime | None = None) -> dict:
    """The columns of one pending "inbox" outbox message, checked: `topic` of 1–40 characters,
    `link` a path on this site ("/cases/12") of at most 200, a title over 200 characters
    shortened. Used by `notify` and by writers that insert many rows at once (the sweep)."""
    _check(topic, link)
    now = now or utcnow()
    return {"topic": topic, "channel": INBOX, "user_id": int(user_id),
            "title": title if len(title) <= 200 else title[:199] + "…", "body": body or "", "link": link or "",
            "payload": dict(payload or {}), "status": "pending", "attempts": 0, "next_attempt_at": now,
            "last_error": "", "created_at": now}


def notify(db: Session, user_ids: Iterable[int], topic: str, title: str, body: str = "", link: str = "",
           payload: dict | None = None) -> int:
    """Queues a notification for each distinct user in the caller's transaction (nothing is
    committed here): one "inbox" outbox message per user (see `outbox_row`), written at once (one
    INSERT for all, as rows: no caller needs them back as objects, and reading their ids back
    cost as much again). Returns how many were queued.

    The webhook copy is not the caller's concern: when the worker delivers an inbox message and
    `Settings.webhook_url` is set, it adds a "webhook" message for the same user in the same
    transaction, which is then posted and retried on its own.
    """
    _check(topic, link)  # bad arguments fail even with nobody to tell
    rows = [outbox_row(user_id, topic, title, body, link, payload)
            for user_id in dict.fromkeys(u for u in user_ids if u is not None)]
    if rows:
        db.execute(insert(OutboxMessage.__table__), rows)
    return len(rows)


# --- delivery ---

@dataclass
class DeliveryReport:
    sent: int = 0  # delivered this run
    retried: int = 0  # failed, will be tried again later
    dead: int = 0  # failed for the last time
    skipped: int = 0  # taken by another worker in the meantime

    @property
    def total(self) -> int:
        return self.sent + self.retried + self.dead

    def __bool__(self) -> bool:
        return self.total > 0

    def __str__(self) -> str:
        return f"sent {self.sent}, retried {self.retried}, dead {self.dead}"


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the `attempts`-th failure: 30 s, 1 min, 2 min, 4 min … capped at an hour."""
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_CAP_SECONDS))


def pause_after(failures: int) -> timedelta | None:
    """How long nobody calls the gateway after `failures` failed calls in a row: not at all before
    `WEBHOOK_FAILURES_BEFORE_PAUSE`, then 30 s, 1 min, 2 min … capped at `PAUSE_CAP_SECONDS`."""
    if failures < WEBHOOK_FAILURES_BEFORE_PAUSE:
        return None
    steps = failures - WEBHOOK_FAILURES_BEFORE_PAUSE
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** min(steps, 20), PAUSE_CAP_SECONDS))


def sign(secret: str, timestamp: str, content: bytes) -> str:
    """The `X-GridGov-Signature` of a webhook call: HMAC-SHA256, keyed with the shared secret,
    over the `X-GridGov-Timestamp` value, a dot and the exact request body, as "sha256=<hex>"."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + content, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def http_poster(client: httpx.Client | None = None, secret: str | None = None) -> Poster:
    """The default webhook sender: a JSON POST; a non-2xx answer (a redirect too) or a network
    error is a failure. With a `secret`, each call is signed (see `sign`) so that the gateway can
    refuse calls that do not come from here."""

    def post(url: str, body: dict, timeout: float) -> None:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"gridgov-outbox-{body['message_id']}"}
        if secret:
            timestamp = str(int(time.time()))
            headers |= {"X-GridGov-Timestamp": timestamp, "X-GridGov-Signature": sign(secret, timestamp, content)}
        if client is None:
            response = httpx.post(url, content=content, timeout=timeout, headers=headers)
        else:
            response = client.post(url, content=content, timeout=timeout, headers=headers)
        response.raise_for_status()

    return post


def webhook_body(db: Session, msg: OutboxMessage, cipher: DataCipher) -> dict:
    """What the gateway is sent. `recipient` names the account (its username is what a WeChat Work
    gateway keeps its own directory by) and carries the staff member's whole mobile, decrypted with
    `cipher`, for an SMS gateway to send to (null when they have none). Raises when the mobile
    cannot be decrypted (a wrong data key): the delivery counts that as a failed attempt."""
    person = db.execute(select(User.username, User.display_name, User.mobile_cipher)
                        .where(User.id == msg.user_id)).first() if msg.user_id is not None else None
    recipient = None
    if person is not None:
        mobile = cipher.decrypt(bytes(person.mobile_cipher), MOBILE_CONTEXT) if person.mobile_cipher else None
        recipient = {"username": person.username, "name": person.display_name, "mobile": mobile}
    return {"message_id": msg.id, "user_id": msg.user_id, "recipient": recipient,
            "topic": msg.topic, "title": msg.title, "body": msg.body, "link": msg.link, "payload": msg.payload or {},
            "created_at": msg.created_at.isoformat() if msg.created_at else None}


def deliver_due(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None,
                post: Poster | None = None, batch: int = 100, *, max_attempts: int = MAX_ATTEMPTS,
                timeout: float = WEBHOOK_TIMEOUT_SECONDS,
                give_up_after: timedelta = WEBHOOK_GIVE_UP_AFTER) -> DeliveryReport:
    """Delivers up to `batch` due messages, one short transaction per message: inbox messages
    first (a slow gateway never holds up the in-app notice), then webhook messages, oldest first.
    An inbox message becomes an inbox item (and, when `settings.webhook_url` is set, a webhook
    message that the same drain then posts); a webhook message is POSTed as JSON to
    `settings.webhook_url` (signed when `settings.webhook_secret` is set).

    A failed call is retried with back-off. A webhook message is given up only when it has failed
    `max_attempts` times and is older than `give_up_after`: a gateway down for a night loses
    nothing. After `WEBHOOK_FAILURES_BEFORE_PAUSE` failed calls in a row the gateway is paused for
    every worker (`ChannelHealth`): one call a pause, not one a message; the first call it answers
    makes everything that waited due again, to go out in the order it was written.

    Safe with several workers: on PostgreSQL a message is taken with `FOR UPDATE SKIP LOCKED`;
    on both databases the state change is conditional on the message still being due, so two
    workers never deliver the same message twice. (A worker that dies in the middle of a webhook
    call leaves it to be posted again after the claim's lease: receivers dedupe on message_id,
    also sent as the Idempotency-Key header.)

    `now` fixes the time the whole drain acts at (for tests); by default each message is claimed,
    leased and backed off from the clock's time when the drain comes to it.
    """
    post = post or http_poster(secret=settings.webhook_secret.get_secret_value() if settings.webhook_secret else None)
    report = DeliveryReport()
    for _ in range(batch):
        # Not the drain's start: a drain waiting on a slow gateway outlasts the lease, and a lease
        # reckoned from its start would be over before the message was even claimed.
        at = now or utcnow()
        with sessions() as db:
            msg = _next_due(db, at)
            if msg is None:
                break
            if msg.channel == INBOX:
                _deliver_to_inbox(db, msg, settings, at, report, max_attempts)
            elif msg.channel == WEBHOOK:
                _deliver_to_webhook(db, msg, settings, at, post, timeout, report, max_attempts, give_up_after)
            else:
                _record_failure(db, msg.id, at, f"unknown channel {msg.channel!r}", report, dead=True)
    return report


def _next_due(db: Session, now: datetime) -> OutboxMessage | None:
    """The next message to deliver: the earliest due one that is not a webhook; else, unless the
    gateway is paused, the oldest due webhook (a claim whose lease ran out is due again)."""
    locking = db.get_bind().dialect.name == "postgresql"
    stmt = (select(OutboxMessage)
            .where(OutboxMessage.status == PENDING, OutboxMessage.channel != WEBHOOK,
                   OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(1))
    msg = db.scalar(stmt.with_for_update(skip_locked=True) if locking else stmt)
    if msg is not None:
        return msg
    paused_until = db.scalar(select(ChannelHealth.paused_until).where(ChannelHealth.name == WEBHOOK))
    if paused_until is not None and paused_until > now:
        return None
    stmt = (select(OutboxMessage)
            .where(OutboxMessage.channel == WEBHOOK, OutboxMessage.status.in_((PENDING, SENDING)),
                   OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id).limit(1))
    return db.scalar(stmt.with_for_update(skip_locked=True) if locking else stmt)


def _still_ours(msg_id: int, now: datetime):
    """The condition every claim repeats: the message is still waiting (or its claim ran out) and
    due. On SQLite, where a select takes no lock, this is what stops a second worker."""
    return (update(OutboxMessage)
            .where(OutboxMessage.id == msg_id, OutboxMessage.status.in_((PENDING, SENDING)),
                   OutboxMessage.next_attempt_at <= now)
            .execution_options(synchronize_session=False))


def _deliver_to_inbox(db: Session, msg: OutboxMessage, settings: Settings, now: datetime,
                      report: DeliveryReport, max_attempts: int) -> None:
    msg_id = msg.id
    try:
        if msg.user_id is None:
            raise ValueError("an inbox message needs a user")
        claimed = db.execute(_still_ours(msg_id, now).values(status=SENT, sent_at=now)).rowcount
        if claimed != 1:
            db.rollback()
            report.skipped += 1
            return
        if db.scalar(select(InboxItem.id).where(InboxItem.outbox_id == msg_id)) is None:
            db.add(InboxItem(outbox_id=msg_id, user_id=msg.user_id, topic=msg.topic, title=msg.title,
                             body=msg.body, link=msg.link, created_at=msg.created_at or now))
            if settings.webhook_url:  # the gateway's copy, made once, with the inbox item
                db.add(OutboxMessage(topic=msg.topic, channel=WEBHOOK, user_id=msg.user_id, title=msg.title,
                                     body=msg.body, link=msg.link, payload=msg.payload or {}, status=PENDING,
                                     attempts=0, next_attempt_at=now, last_error="",
                                     created_at=msg.created_at or now))
        db.commit()
        report.sent += 1
    except IntegrityError:
        # Another delivery already made this message's inbox item: the redelivery is a no-op.
        db.rollback()
        db.execute(_still_ours(msg_id, now).values(status=SENT, sent_at=now))
        db.commit()
        report.skipped += 1
    except Exception as exc:  # a poison message must not stop the drain: back off and go on
        db.rollback()
        log.exception("inbox delivery of outbox message %s failed", msg_id,
                      extra={"fields": {"outbox_id": msg_id}})
        _record_failure(db, msg_id, now, _describe(exc), report, max_attempts=max_attempts)


def _deliver_to_webhook(db: Session, msg: OutboxMessage, settings: Settings, now: datetime, post: Poster,
                        timeout: float, report: DeliveryReport, max_attempts: int, give_up_after: timedelta) -> None:
    """Claims and posts one webhook message, then records how the call went, for the message and
    for the gateway."""
    msg_id = msg.id
    url = settings.webhook_url
    if not url:
        _record_failure(db, msg_id, now, "webhook_url is not configured", report, dead=True)
        return
    try:
        body = webhook_body(db, msg, data_cipher(settings))
    except Exception as exc:  # a body that cannot be made (the mobile does not decrypt) must not stop the drain
        log.exception("webhook body of outbox message %s could not be made", msg_id,
                      extra={"fields": {"outbox_id": msg_id}})
        _record_failure(db, msg_id, now, _describe(exc), report, max_attempts=max_attempts)
        return
    # Claim: mark it being sent and push it out of everyone's sight for the lease, commit, then
    # call out without holding a lock or a transaction open.
    claimed = db.execute(_still_ours(msg_id, now).values(
        status=SENDING, next_attempt_at=now + timedelta(seconds=CLAIM_LEASE_SECONDS))).rowcount
    db.commit()
    if claimed != 1:
        report.skipped += 1
        return
    try:
        post(url, body, timeout)
    except Exception as exc:
        error = _describe(exc)
    else:
        error = None
    mine = (OutboxMessage.id == msg_id, OutboxMessage.status == SENDING)
    if error is None:
        db.execute(update(OutboxMessage).where(*mine).values(status=SENT, sent_at=now, last_error="")
                   .execution_options(synchronize_session=False))
        _gateway_answered(db, now)
        db.commit()
        report.sent += 1
        return
    row = db.execute(select(OutboxMessage.attempts, OutboxMessage.created_at).where(*mine)).first()
    if row is None:  # someone else settled it meanwhile (its lease ran out and another worker took it)
        db.rollback()
        report.skipped += 1
        return
    attempts = row.attempts + 1
    give_up = attempts >= max_attempts and now - row.created_at >= give_up_after
    values: dict = {"attempts": attempts, "last_error": error[:1000]}
    values |= {"status": DEAD} if give_up else {"status": PENDING, "next_attempt_at": now + retry_delay(attempts)}
    db.execute(update(OutboxMessage).where(*mine).values(**values).execution_options(synchronize_session=False))
    _gateway_failed(db, now, error)
    db.commit()
    _count_failure(report, msg_id, attempts, error, give_up)


def _gateway_answered(db: Session, now: datetime) -> None:
    """The gateway took a call. If it had been paused, everything that waited for it is due now,
    so the backlog goes out at once and in the order it was written."""
    failures = db.scalar(select(ChannelHealth.failures).where(ChannelHealth.name == WEBHOOK))
    if not failures:
        return
    db.execute(update(ChannelHealth).where(ChannelHealth.name == WEBHOOK)
               .values(failures=0, failing_since=None, paused_until=None, last_success_at=now))
    if failures >= WEBHOOK_FAILURES_BEFORE_PAUSE:
        db.execute(update(OutboxMessage)
                   .where(OutboxMessage.channel == WEBHOOK, OutboxMessage.status == PENDING,
                          OutboxMessage.next_attempt_at > now)
                   .values(next_attempt_at=now).execution_options(synchronize_session=False))
        log.info("the webhook gateway answers again after %s failed calls", failures,
                 extra={"fields": {"failures": failures}})


def _gateway_failed(db: Session, now: datetime, error: str) -> None:
    """One more failed call in a row; from `WEBHOOK_FAILURES_BEFORE_PAUSE` on, nobody calls the
    gateway again until the pause is over. Counted in SQL, so workers failing at once all count."""
    bump = (update(ChannelHealth).where(ChannelHealth.name == WEBHOOK)
            .values(failures=ChannelHealth.failures + 1, last_error=error[:1000])
            .returning(ChannelHealth.failures, ChannelHealth.failing_since))
    row = db.execute(bump).first()
    if row is None:  # the first failure ever (or another worker is making the row just now)
        add_unique(db, ChannelHealth(name=WEBHOOK, failures=0, last_error=""))
        row = db.execute(bump).first()
    failures, failing_since = row
    values: dict = {}
    if failing_since is None:
        values["failing_since"] = now
    pause = pause_after(failures)
    if pause is not None:
        values["paused_until"] = now + pause
    if values:
        db.execute(update(ChannelHealth).where(ChannelHealth.name == WEBHOOK).values(**values))
    if failures == WEBHOOK_FAILURES_BEFORE_PAUSE:
        log.warning("the webhook gateway failed %s times in a row; calls are paused: %s", failures, error,
                    extra={"fields": {"failures": failures, "error": error[:300]}})


def _record_failure(db: Session, msg_id: int, now: datetime, error: str, report: DeliveryReport, *,
                    max_attempts: int = MAX_ATTEMPTS, dead: bool = False) -> None:
    """One more failed attempt at a message that was not claimed: back off, or give up after
    `max_attempts` (at once when `dead`)."""
    db.rollback()
    cond = [OutboxMessage.id == msg_id, OutboxMessage.status.in_((PENDING, SENDING)),
            OutboxMessage.next_attempt_at <= now]
    attempts = db.scalar(select(OutboxMessage.attempts).where(*cond))
    if attempts is None:
        db.rollback()
        report.skipped += 1
        return
    attempts += 1
    give_up = dead or attempts >= max_attempts
    values: dict = {"attempts": attempts, "last_error": error[:1000]}
    values |= {"status": DEAD} if give_up else {"status": PENDING, "next_attempt_at": now + retry_delay(attempts)}
    changed = db.execute(update(OutboxMessage).where(*cond).values(**values)
                         .execution_options(synchronize_session=False)).rowcount
    db.commit()
    if changed != 1:
        report.skipped += 1
    else:
        _count_failure(report, msg_id, attempts, error, give_up)


def _count_failure(report: DeliveryReport, msg_id: int, attempts: int, error: str, give_up: bool) -> None:
    if give_up:
        report.dead += 1
        log.warning("outbox message %s is dead after %s attempts: %s", msg_id, attempts, error,
                    extra={"fields": {"outbox_id": msg_id, "attempts": attempts, "error": error[:300]}})
    else:
        report.retried += 1


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from {exc.request.url}"
    return f"{type(exc).__name__}: {exc}"


# --- the inbox ---

def inbox(db: Session, user_id: int, unread_only: bool = False, limit: int = 50,
          offset: int = 0) -> tuple[list[InboxItem], int, int]:
    """A user's notifications, newest first: (items on this page, total matching, unread)."""
    mine = select(InboxItem).where(InboxItem.user_id == user_id)
    if unread_only:
        mine = mine.where(InboxItem.read_at.is_(None))
    total = db.scalar(select(func.count()).select_from(mine.subquery())) or 0
    items = db.scalars(mine.order_by(InboxItem.created_at.desc(), InboxItem.id.desc())
                       .limit(max(1, min(limit, 200))).offset(max(offset, 0))).all()
    return list(items), total, unread_count(db, user_id)


def unread_count(db: Session, user_id: int) -> int:
    return db.scalar(select(func.count(InboxItem.id)).where(InboxItem.user_id == user_id,
                                                            InboxItem.read_at.is_(None))) or 0


def get_item(db: Session, user_id: int, item_id: int) -> InboxItem:
    """One of the user's own items; anyone else's is simply not found."""
    item = db.scalar(select(InboxItem).where(InboxItem.id == item_id, InboxItem.user_id == user_id))
    if item is None:
        raise NotFound("找不到通知 {id}", id=item_id)
    return item


def mark_read(db: Session, user_id: int, item_id: int, now: datetime | None = None) -> InboxItem:
    """Marks one of the user's items read (the first reading time is kept)."""
    item = get_item(db, user_id, item_id)
    if item.read_at is None:
        item.read_at = now or utcnow()
        db.flush()
    return item


def newest_item_id(db: Session, user_id: int) -> int:
    """The id of the user's newest item (0 for none): what "mark all read" on a page that showed
    the inbox up to now may cover."""
    return db.scalar(select(func.max(InboxItem.id)).where(InboxItem.user_id == user_id)) or 0


def mark_all_read(db: Session, user_id: int, now: datetime | None = None, up_to: int | None = None) -> int:
    """Marks the user's unread items read; returns how many changed. With `up_to`, only items up
    to that id: those the reader had been shown (items are numbered as they arrive). A notice that
    arrives between showing the page and pressing the button stays unread."""
    mine = [InboxItem.user_id == user_id, InboxItem.read_at.is_(None)]
    if up_to is not None:
        mine.append(InboxItem.id <= up_to)
    result = db.execute(update(InboxItem).where(*mine)
                        .values(read_at=now or utcnow()).execution_options(synchronize_session=False))
    return result.rowcount or 0
