"""The audit log: who did what to whose record, and why. Append-only and hash-chained.

Each entry carries the MAC of the one before it, and its own MAC over its content and that link,
keyed from the data key: editing an entry, deleting one, or cutting the tail off (the head row in
`meta` remembers the last sequence number and MAC) is found by `verify_chain`, and nobody without
the key can recompute the chain to hide it. The database also refuses UPDATE and DELETE on the
table (triggers, in the migration), so tampering needs the owner's rights in the first place.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import JSON, Integer, String, Text, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from gridgov.core.crypto import DataCipher
from gridgov.core.db import Base, UTCDateTime

HEAD_KEY = "audit_head"


class AuditEntry(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_name: Mapped[str] = mapped_column(String(80), default="")
    action: Mapped[str] = mapped_column(String(40), index=True)  # reveal | export | tag.add | resident.merge …
    object_type: Mapped[str] = mapped_column(String(30), default="")
    object_id: Mapped[str] = mapped_column(String(40), default="")
    subject: Mapped[str] = mapped_column(String(120), default="")  # whose data, as a person reads it
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_mac: Mapped[str] = mapped_column(String(64), default="")
    mac: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class Actor:
    id: int | None
    name: str


def actor_of(who) -> Actor:
    """The actor a signed-in user (a `Principal`) is recorded as: name and account."""
    return Actor(who.user_id or None, f"{who.display_name}（{who.username}）")


REASON_MIN, REASON_MAX = 4, 300


class RevealIn(BaseModel):
    """The body of every reveal endpoint."""

    reason: str = Field(max_length=REASON_MAX, description="查看原因，记入审计日志")


def reveal_reason(reason: str | None) -> str:
    """The reason given for seeing personal data in full, checked: it goes into the log, so it
    must say something (at least REASON_MIN characters) and fit (at most REASON_MAX)."""
    from gridgov.core.errors import FieldProblem, ValidationFailed

    reason = (reason or "").strip()
    if len(reason) < REASON_MIN:
        raise ValidationFailed({"reason": FieldProblem("请写明查看原因（至少 {limit} 个字）", limit=REASON_MIN)})
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": FieldProblem("长度不能超过 {limit}", limit=REASON_MAX)})
    return reason


def _canonical(seq: int, at: datetime, actor_id, actor_name, action, object_type, object_id, subject, reason,
               data, prev_mac) -> bytes:
    body = [seq, at.astimezone(UTC).isoformat(timespec="microseconds"), actor_id, actor_name, action,
            object_type, str(object_id), subject, reason, data or {}, prev_mac]
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def record(db: Session, cipher: DataCipher, actor: Actor, action: str, *, object_type: str = "",
           object_id: object = "", subject: str = "", reason: str = "", data: dict | None = None,
           at: datetime | None = None) -> AuditEntry:
    """Appends one entry in the caller's transaction. Taking the head row's write lock first
    (an UPDATE) serialises concurrent writers on PostgreSQL and SQLite alike, so the chain never forks."""
    head = db.execute(text("UPDATE meta SET counter = counter + 1 WHERE key = :k RETURNING counter, value"),
                      {"k": HEAD_KEY}).one()
    seq, prev_mac = int(head[0]), head[1] or ""
    at = at or datetime.now(UTC)
    data = json.loads(json.dumps(data or {}, ensure_ascii=False, default=str))  # what the JSON column returns
    mac = cipher.audit_mac(_canonical(seq, at, actor.id, actor.name, action, object_type, object_id, subject,
                                      reason, data, prev_mac))
    entry = AuditEntry(seq=seq, at=at, actor_id=actor.id, actor_name=actor.name, action=action,
                       object_type=object_type, object_id=str(object_id), subject=subject, reason=reason,
                       data=data, prev_mac=prev_mac, mac=mac)
    db.add(entry)
    db.execute(text("UPDATE meta SET value = :v WHERE key = :k"), {"v": mac, "k": HEAD_KEY})
    return entry


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str  # Chinese, for the CLI and the admin page


@dataclass(frozen=True)
class ChainReport:
    entries: int
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _entries(db: Session, batch: int = 5000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = db.scalars(select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        for row in rows:  # only these: the caller's session may hold work of its own
            db.expunge(row)


def verify_chain(db: Session, cipher: DataCipher) -> ChainReport:
    expected_seq, prev_mac, count = 1, "", 0
    for e in _entries(db):
        if e.seq != expected_seq:
            return ChainReport(count, ChainProblem(expected_seq, f"第 {expected_seq} 条记录缺失（已被删除）"))
        if e.prev_mac != prev_mac:
            return ChainReport(count, ChainProblem(e.seq, f"第 {e.seq} 条记录与前一条的链接不符"))
        mac = cipher.audit_mac(_canonical(e.seq, e.at, e.actor_id, e.actor_name, e.action, e.object_type,
                                          e.object_id, e.subject, e.reason, e.data, e.prev_mac))
        if mac != e.mac:
            return ChainReport(count, ChainProblem(e.seq, f"第 {e.seq} 条记录的内容已被修改"))
        prev_mac, expected_seq, count = e.mac, e.seq + 1, count + 1
    head = db.execute(text("SELECT counter, value FROM meta WHERE key = :k"), {"k": HEAD_KEY}).one_or_none()
    head_seq, head_mac = (int(head[0]), head[1] or "") if head else (0, "")
    if head_seq != count or head_mac != prev_mac:
        return ChainReport(count, ChainProblem(count + 1, f"链尾记录缺失：应有 {head_seq} 条，实有 {count} 条"))
    return ChainReport(count, None)
