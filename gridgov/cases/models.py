from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.core.db import Base, UTCDateTime, utcnow


class Case(Base):
    """An event (事件/工单). `version` is bumped by every action; an action names the
    version it acts on, so two people acting at once cannot overwrite each other."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    source: Mapped[str] = mapped_column(String(20))  # grid_worker | hotline | citizen | open311 | video | referral
    item_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_items.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(String(200), default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    grid_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    # The grid's region path: jurisdiction scoping is a prefix match, as for regions.
    region_path: Mapped[str] = mapped_column(String(80), index=True)
    urgency: Mapped[str] = mapped_column(String(10), default="normal")  # normal | urgent
    reporter_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    reporter_name: Mapped[str] = mapped_column(String(60), default="")
    # The caller's number (DESIGN §11): AES-GCM at rest, shown masked; in full only through an
    # audited reveal (`service.reveal_reporter_phone`).
    reporter_phone_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    reporter_phone_masked: Mapped[str] = mapped_column(String(20), default="")
    state: Mapped[str] = mapped_column(String(20), index=True)
    level: Mapped[str] = mapped_column(String(10), default="district")  # community | street | district
    triage_reason: Mapped[str] = mapped_column(String(200), default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    routing_rule: Mapped[str] = mapped_column(String(40), default="")
    routing_reason: Mapped[str] = mapped_column(Text, default="")
    dispatch_count: Mapped[int] = mapped_column(Integer, default=0)
    redispatched_department: Mapped[bool] = mapped_column(default=False)
    # The running clock of the current step.
    step: Mapped[str | None] = mapped_column(String(12))
    step_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # No index of their own: the sweep reads both through its partial indexes below, and nothing else
    # searches by them (two more indexes would be written by every create and every action).
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When 80% of the limit is used: the sweep turns lights with two indexed comparisons.
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    carried_amount: Mapped[float] = mapped_column(Float, default=0.0)  # used before a pause
    time_unit: Mapped[str | None] = mapped_column(String(16))
    limit_amount: Mapped[float | None] = mapped_column(Float)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_state: Mapped[str] = mapped_column(String(20), default="")
    light: Mapped[str] = mapped_column(String(8), default="green", index=True)  # green | yellow | red
    supervision: Mapped[str] = mapped_column(String(8), default="")  # "" | normal | yellow | red
    extension_requested: Mapped[bool] = mapped_column(default=False)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    satisfaction: Mapped[str] = mapped_column(String(20), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The Idempotency-Key of the create that made the case and whose key it is (user:N, an Open311
    # client, visit:N): a resend with the same pair finds this case instead of making a second.
    # On the case itself, so a create claims its key with the INSERT it makes anyway.
    idempotency_scope: Mapped[str | None] = mapped_column(String(60))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))

    __mapper_args__ = {"version_id_col": version}
    # The sweep's two questions, answered from small partial indexes however many cases are open.
    __table_args__ = (
        Index("ix_cases_due_red", "deadline", postgresql_where=text("light <> 'red' AND paused_at IS NULL"),
              sqlite_where=text("light <> 'red' AND paused_at IS NULL")),
        Index("ix_cases_due_yellow", "warn_at", postgresql_where=text("light = 'green' AND paused_at IS NULL"),
              sqlite_where=text("light = 'green' AND paused_at IS NULL")),
        UniqueConstraint("idempotency_scope", "idempotency_key"),
    )


class CaseEvent(Base):
    """An immutable line of a case's timeline, written in the same transaction as the change."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str] = mapped_column(String(20), default="")
    to_state: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseAttachment(Base):
    __tablename__ = "case_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))
    kind: Mapped[str] = mapped_column(String(10), default="before")  # before | after | other
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
