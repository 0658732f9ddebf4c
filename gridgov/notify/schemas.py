from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gridgov.notify.models import InboxItem, OutboxMessage


class InboxItemOut(BaseModel):
    id: int
    topic: str
    title: str
    body: str
    link: str
    created_at: datetime
    read_at: datetime | None
    read: bool

    @classmethod
    def of(cls, item: InboxItem) -> InboxItemOut:
        return cls(id=item.id, topic=item.topic, title=item.title, body=item.body, link=item.link,
                   created_at=item.created_at, read_at=item.read_at, read=item.read_at is not None)


class InboxPage(BaseModel):
    items: list[InboxItemOut]
    total: int
    unread: int


class UnreadCount(BaseModel):
    unread: int


class ReadAll(BaseModel):
    updated: int
    unread: int


# --- delivery, for an administrator ---

class ChannelCountsOut(BaseModel):
    channel: str
    waiting: int
    dead: int
    oldest_waiting_at: datetime | None


class GatewayOut(BaseModel):
    configured: bool
    signed: bool
    failures: int
    failing_since: datetime | None
    paused_until: datetime | None
    last_error: str
    last_success_at: datetime | None


class OutboxStatus(BaseModel):
    channels: list[ChannelCountsOut]
    gateway: GatewayOut
    sent_kept_days: int = Field(description="Days a delivered message stays in the outbox before it is deleted "
                                "(GRIDGOV_OUTBOX_KEEP_DAYS); waiting and given-up messages are kept.")


class OutboxMessageOut(BaseModel):
    id: int
    channel: str
    topic: str
    user_id: int | None
    recipient: str
    title: str
    link: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, msg: OutboxMessage, recipient: str) -> OutboxMessageOut:
        return cls(id=msg.id, channel=msg.channel, topic=msg.topic, user_id=msg.user_id, recipient=recipient,
                   title=msg.title, link=msg.link, status=msg.status, attempts=msg.attempts,
                   last_error=msg.last_error, created_at=msg.created_at, next_attempt_at=msg.next_attempt_at,
                   sent_at=msg.sent_at)


class OutboxPage(BaseModel):
    items: list[OutboxMessageOut]
    total: int


class RetryIn(BaseModel):
    ids: list[int] | None = Field(default=None, max_length=1000,
                                  description="Messages given up to send again; all of them when omitted.")


class RetryOut(BaseModel):
    requeued: int
    due_now: int


