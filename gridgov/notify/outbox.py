"""Delivery as an administrator sees it: what waits, what was given up and why, how the gateway is
doing; and sending again what was given up once the cause is fixed. The caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gridgov.accounts.models import User
from gridgov.core.config import Settings
from gridgov.core.db import utcnow
from gridgov.notify.models import ChannelHealth, OutboxMessage
from gridgov.notify.service import DEAD, PENDING, SENDING, WEBHOOK

CHANNELS = ("inbox", WEBHOOK)
WAITING = (PENDING, SENDING)
SHOWN = {"dead": (DEAD,), "waiting": WAITING}  # what the list can show


@dataclass
class ChannelCounts:
    channel: str
    waiting: int = 0  # pending or being sent
    dead: int = 0
    oldest_waiting_at: datetime | None = None


@dataclass
class Gateway:
    configured: bool
    signed: bool
    failures: int = 0
    failing_since: datetime | None = None
    paused_until: datetime | None = None
    last_error: str = ""
    last_success_at: datetime | None = None


def counts(db: Session) -> list[ChannelCounts]:
    """Per channel: how many messages wait, how many were given up, and since when the oldest waits."""
    by = {c: ChannelCounts(c) for c in CHANNELS}
    rows = db.execute(select(OutboxMessage.channel, OutboxMessage.status, func.count(),
                             func.min(OutboxMessage.created_at))
                      .where(OutboxMessage.status.in_((*WAITING, DEAD)))
                      .group_by(OutboxMessage.channel, OutboxMessage.status))
    for channel, status, n, oldest in rows:
        c = by.setdefault(channel, ChannelCounts(channel))
        if status == DEAD:
            c.dead += n
        else:
            c.waiting += n
            c.oldest_waiting_at = min(filter(None, (c.oldest_waiting_at, oldest)), default=None)
    return list(by.values())


def gateway(db: Session, settings: Settings) -> Gateway:
    health = db.get(ChannelHealth, WEBHOOK)
    g = Gateway(configured=bool(settings.webhook_url), signed=settings.webhook_secret is not None)
    if health is not None:
        g.failures, g.failing_since, g.paused_until = health.failures, health.failing_since, health.paused_until
        g.last_error, g.last_success_at = health.last_error, health.last_success_at
    return g


def messages(db: Session, shown: str = "dead", channel: str | None = None, limit: int = 50,
             offset: int = 0) -> tuple[list[tuple[OutboxMessage, str]], int]:
    """Messages given up ("dead", the last given up first) or waiting ("waiting", the oldest first),
    each with its recipient's name; and how many there are."""
    stmt = select(OutboxMessage).where(OutboxMessage.status.in_(SHOWN[shown]))
    if channel:
        stmt = stmt.where(OutboxMessage.channel == channel)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = (OutboxMessage.id.desc(),) if shown == "dead" else (OutboxMessage.id,)
    rows = db.execute(stmt.add_columns(User.display_name, User.username)
                      .outerjoin(User, User.id == OutboxMessage.user_id)
                      .order_by(*order).limit(max(1, min(limit, 200))).offset(max(offset, 0))).all()
    return [(m, f"{name}（{username}）" if username else "") for m, name, username in rows], total


def retry(db: Session, ids: list[int] | None = None, now: datetime | None = None) -> tuple[int, int]:
    """Sends again: the given messages that were given up (all of them when `ids` is None) start
    over with a full round of attempts, and the gateway's pause is lifted, so that what waits for
    it is tried now rather than at the end of the pause. Returns (messages brought back, webhook
    messages made due now). Whoever fixed the gateway presses this; a message still being sent
    is left alone."""
    now = now or utcnow()
    dead = [OutboxMessage.status == DEAD]
    if ids is not None:
        dead.append(OutboxMessage.id.in_(ids))
    revived = db.execute(update(OutboxMessage).where(*dead).values(status=PENDING, attempts=0, next_attempt_at=now)
                         .execution_options(synchronize_session=False)).rowcount or 0
    db.execute(update(ChannelHealth).where(ChannelHealth.name == WEBHOOK).values(paused_until=None))
    due = db.execute(update(OutboxMessage)
                     .where(OutboxMessage.channel == WEBHOOK, OutboxMessage.status == PENDING,
                            OutboxMessage.next_attempt_at > now)
                     .values(next_attempt_at=now).execution_options(synchronize_session=False)).rowcount or 0
    return revived, due
