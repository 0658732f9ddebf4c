from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.core.db import Base, UTCDateTime, utcnow


class OutboxMessage(Base):
    """Written in the same transaction as the change it announces; a worker delivers it.
    A crash between commit and delivery leaves it pending, so nothing is lost."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # inbox | webhook
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(200), default="")
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    # pending | sending (a webhook being posted: `next_attempt_at` is the end of its claim) | sent | dead
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InboxItem(Base):
    """A user's in-app notification. One per outbox message: a redelivery cannot duplicate it. It
    outlives its message: the outbox is pruned of delivered ones (`gridgov.notify.retention`), and
    the reference is then set to NULL. Read ones go after `Settings.inbox_keep_days` (the
    `notify.prune_inbox` job); unread ones stay, however old."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("outbox_id"),
                      # Read notices in the order notify.prune_inbox deletes them (0017).
                      Index("ix_inbox_read_at", "read_at", postgresql_where=text("read_at IS NOT NULL"),
                            sqlite_where=text("read_at IS NOT NULL")))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChannelHealth(Base):
    """How an outside channel (the webhook gateway) is doing, shared by every worker: consecutive
    failed calls, since when, and until when nobody calls it. While a gateway is down, the drain
    calls it once a pause instead of once a message, and an administrator sees why nothing goes out."""

    __tablename__ = "notify_channels"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
