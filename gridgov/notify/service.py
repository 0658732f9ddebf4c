"""Notifications: an outbox written with the change it announces, drained to inboxes and a webhook.

`notify()` only adds outbox rows to the caller's session; it never commits, so a notification
exists exactly when the change it announces committed. `deliver_due()` is the worker's drain:
each message is claimed and delivered in short transactions of its own, so a crash at any point
leaves the message pending (retried later) and a retry never makes a second inbox item.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.config import Settings
from gridgov.core.db import utcnow, write_new_all
from gridgov.core.errors import NotFound
from gridgov.notify.models import InboxItem, OutboxMessage

log = logging.getLogger("gridgov.notify")

INBOX = "inbox"
WEBHOOK = "webhook"
MAX_ATTEMPTS = 8  # a message is dead after this many failed attempts
RETRY_BASE_SECONDS = 30  # after the k-th failure, wait 30 s × 2^(k−1) …
RETRY_CAP_SECONDS = 3600  # … but never more than an hour
WEBHOOK_TIMEOUT_SECONDS = 10.0
# A claimed webhook message is invisible to other workers this long; if its worker dies mid-POST,
# the message becomes due again after it (at-least-once: receivers dedupe on message_id).
CLAIM_LEASE_SECONDS = 120
# After this many webhook failures in a row, a drain leaves the other webhooks for its next run:
# a gateway that is down (each call waiting out its timeout) must not hold up the inboxes and jobs.
WEBHOOK_FAILURES_BEFORE_PAUSE = 3

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
           payload: dict | None = None) -> list[OutboxMessage]:
    """Queues a notification for each distinct user in the caller's transaction (nothing is
    committed here): one "inbox" outbox message per user (see `outbox_row`), written at once (one
    INSERT for all). Returns the written messages.

    The webhook copy is not the caller's concern: when the worker delivers an inbox message and
    `Settings.webhook_url` is set, it adds a "webhook" message for the same user in the same
    transaction, which is then posted and retried on its own.
    """
    _check(topic, link)  # bad arguments fail even with nobody to tell
    messages = [OutboxMessage(**outbox_row(user_id, topic, title, body, link, payload))
                for user_id in dict.fromkeys(u for u in user_ids if u is not None)]
    write_new_all(db, messages)
    return messages


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


def http_poster(client: httpx.Client | None = None) -> Poster:
    """The default webhook sender: a JSON POST; a non-2xx answer or a network error is a failure."""

    def post(url: str, body: dict, timeout: float) -> None:
        headers = {"Idempotency-Key": f"gridgov-outbox-{body['message_id']}"}
        if client is None:
            response = httpx.post(url, json=body, timeout=timeout, headers=headers)
        else:
            response = client.post(url, json=body, timeout=timeout, headers=headers)
        response.raise_for_status()

    return post


def webhook_body(msg: OutboxMessage) -> dict:
    return {"message_id": msg.id, "user_id": msg.user_id, "topic": msg.topic, "title": msg.title,
            "body": msg.body, "link": msg.link, "payload": msg.payload or {},
            "created_at": msg.created_at.isoformat() if msg.created_at else None}


def deliver_due(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None,
                post: Poster | None = None, batch: int = 100, *, max_attempts: int = MAX_ATTEMPTS,
                timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> DeliveryReport:
    """Delivers up to `batch` due pending messages, one short transaction per message. An inbox
    message becomes an inbox item (and, when `settings.webhook_url` is set, a webhook message that
    the same drain then posts); a webhook message is POSTed as JSON to `settings.webhook_url`.

    Safe with several workers: on PostgreSQL a message is taken with `FOR UPDATE SKIP LOCKED`;
    on both databases the state change is conditional on the message still being pending and due,
    so two workers never deliver the same message twice. (A worker that dies in the middle of a
    webhook call leaves it to be posted again after the claim's lease: receivers dedupe on
    message_id, also sent as the Idempotency-Key header.)

    `now` fixes the time the whole drain acts at (for tests); by default each message is claimed,
    leased and backed off from the clock's time when the drain comes to it.
    """
    post = post or http_poster()
    report = DeliveryReport()
    webhook_failures = 0
    for _ in range(batch):
        # Not the drain's start: a drain waiting on a slow gateway outlasts the lease, and a lease
        # reckoned from its start would be over before the message was even claimed.
        at = now or utcnow()
        with sessions() as db:
            msg = _next_due(db, at, with_webhooks=webhook_failures < WEBHOOK_FAILURES_BEFORE_PAUSE)
            if msg is None:
                break
            if msg.channel == INBOX:
                _deliver_to_inbox(db, msg, settings, at, report, max_attempts)
            elif msg.channel == WEBHOOK:
                posted = _deliver_to_webhook(db, msg, settings, at, post, timeout, report, max_attempts)
                if posted is not None:
                    webhook_failures = 0 if posted else webhook_failures + 1
            else:
                _record_failure(db, msg.id, at, f"unknown channel {msg.channel!r}", report, dead=True)
    return report


def _next_due(db: Session, now: datetime, with_webhooks: bool = True) -> OutboxMessage | None:
    stmt = (select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(1))
    if not with_webhooks:
        stmt = stmt.where(OutboxMessage.channel != WEBHOOK)
    if db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return db.scalar(stmt)


def _still_ours(msg_id: int, now: datetime):
    """The condition every state change repeats: the message is still pending and due. On SQLite,
    where a select takes no lock, this is what stops a second worker."""
    return (update(OutboxMessage)
            .where(OutboxMessage.id == msg_id, OutboxMessage.status == "pending",
                   OutboxMessage.next_attempt_at <= now)
            .execution_options(synchronize_session=False))


def _deliver_to_inbox(db: Session, msg: OutboxMessage, settings: Settings, now: datetime,
                      report: DeliveryReport, max_attempts: int) -> None:
    msg_id = msg.id
    try:
        if msg.user_id is None:
            raise ValueError("an inbox message needs a user")
        claimed = db.execute(_still_ours(msg_id, now).values(status="sent", sent_at=now)).rowcount
        if claimed != 1:
            db.rollback()
            report.skipped += 1
            return
        if db.scalar(select(InboxItem.id).where(InboxItem.outbox_id == msg_id)) is None:
            db.add(InboxItem(outbox_id=msg_id, user_id=msg.user_id, topic=msg.topic, title=msg.title,
                             body=msg.body, link=msg.link, created_at=msg.created_at or now))
            if settings.webhook_url:  # the gateway's copy, made once, with the inbox item
                db.add(OutboxMessage(topic=msg.topic, channel=WEBHOOK, user_id=msg.user_id, title=msg.title,
                                     body=msg.body, link=msg.link, payload=msg.payload or {}, status="pending",
                                     attempts=0, next_attempt_at=now, last_error="",
                                     created_at=msg.created_at or now))
        db.commit()
        report.sent += 1
    except IntegrityError:
        # Another delivery already made this message's inbox item: the redelivery is a no-op.
        db.rollback()
        db.execute(_still_ours(msg_id, now).values(status="sent", sent_at=now))
        db.commit()
        report.skipped += 1
    except Exception as exc:  # a poison message must not stop the drain: back off and go on
        db.rollback()
        log.exception("inbox delivery of outbox message %s failed", msg_id,
                      extra={"fields": {"outbox_id": msg_id}})
        _record_failure(db, msg_id, now, _describe(exc), report, max_attempts=max_attempts)


def _deliver_to_webhook(db: Session, msg: OutboxMessage, settings: Settings, now: datetime, post: Poster,
                        timeout: float, report: DeliveryReport, max_attempts: int) -> bool | None:
    """Claims and posts one webhook message: True when the gateway took it, False when the call
    failed, None when no call was made."""
    msg_id = msg.id
    url = settings.webhook_url
    if not url:
        _record_failure(db, msg_id, now, "webhook_url is not configured", report, dead=True)
        return None
    body = webhook_body(msg)
    # Claim: push the message out of everyone's sight for the lease, commit, then call out
    # without holding a lock or a transaction open.
    claimed = db.execute(_still_ours(msg_id, now).values(next_attempt_at=now + timedelta(
        seconds=CLAIM_LEASE_SECONDS))).rowcount
    db.commit()
    if claimed != 1:
        report.skipped += 1
        return None
    try:
        post(url, body, timeout)
    except Exception as exc:
        error = _describe(exc)
    else:
        error = None
    if error is None:
        db.execute(update(OutboxMessage).where(OutboxMessage.id == msg_id, OutboxMessage.status == "pending")
                   .values(status="sent", sent_at=now, last_error="").execution_options(synchronize_session=False))
        db.commit()
        report.sent += 1
    else:
        _record_failure(db, msg_id, now, error, report, max_attempts=max_attempts, lease_held=True)
    return error is None


def _record_failure(db: Session, msg_id: int, now: datetime, error: str, report: DeliveryReport, *,
                    max_attempts: int = MAX_ATTEMPTS, dead: bool = False, lease_held: bool = False) -> None:
    """One more failed attempt: back off, or give up after `max_attempts`."""
    db.rollback()
    cond = [OutboxMessage.id == msg_id, OutboxMessage.status == "pending"]
    if not lease_held:
        cond.append(OutboxMessage.next_attempt_at <= now)
    attempts = db.scalar(select(OutboxMessage.attempts).where(*cond))
    if attempts is None:
        db.rollback()
        report.skipped += 1
        return
    attempts += 1
    give_up = dead or attempts >= max_attempts
    values: dict = {"attempts": attempts, "last_error": error[:1000]}
    if give_up:
        values["status"] = "dead"
    else:
        values["next_attempt_at"] = now + retry_delay(attempts)
    changed = db.execute(update(OutboxMessage).where(*cond).values(**values)
                         .execution_options(synchronize_session=False)).rowcount
    db.commit()
    if changed != 1:
        report.skipped += 1
    elif give_up:
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


def mark_all_read(db: Session, user_id: int, now: datetime | None = None) -> int:
    """Marks all the user's unread items read; returns how many changed."""
    result = db.execute(update(InboxItem).where(InboxItem.user_id == user_id, InboxItem.read_at.is_(None))
                        .values(read_at=now or utcnow()).execution_options(synchronize_session=False))
    return result.rowcount or 0
