"""How long notifications are kept. A sent message has done its work, and every case action writes
some, so those sent more than `Settings.outbox_keep_days` ago are deleted from the outbox; in-app
notices read more than `Settings.inbox_keep_days` ago go from the inbox (`delete_read_notices`).

Only `sent` messages go. Pending and sending ones are still to be delivered; dead ones wait, however
old, for an administrator to send them again (/admin/outbox offers nothing else to settle them). The
in-app notices users read (`inbox`) stay: their `outbox_id` becomes NULL (ON DELETE SET NULL, 0016).

`delete_delivered` deletes one batch in the caller's transaction; the job (`notify.prune_outbox` in
`gridgov/notify/jobs.py`) commits each batch, so a first run over millions of old rows never holds
one long transaction. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from gridgov.notify.models import InboxItem, OutboxMessage
from gridgov.notify.service import CLAIM_LEASE_SECONDS, SENT

# A sent message's `next_attempt_at` is at most its `sent_at` plus a claim's lease (an inbox message
# is sent when due; a webhook message is leased, then sent at the lease's start). So every message
# sent before the cutoff lies in the range `next_attempt_at < cutoff + LEASE` of ix_outbox_next_attempt_at,
# and a batch walks that range instead of the whole table. (A message whose lease ran out while it was
# being posted can end up further along; it is deleted by a later run, never kept for ever.)
LEASE = timedelta(seconds=CLAIM_LEASE_SECONDS)


@dataclass(frozen=True)
class Position:
    """Where a pass has got to in the index's order: the next batch starts after this message."""

    next_attempt_at: datetime
    id: int


@dataclass
class PruneReport:
    keep_days: int
    deleted: int = 0
    batches: int = 0
    unfinished: bool = False  # the run's time was up first; the next run goes on
    kind: str = "messages sent"  # what was deleted, for the report line

    def __bool__(self) -> bool:
        return self.deleted > 0

    def __str__(self) -> str:
        text = f"deleted {self.deleted} {self.kind} over {self.keep_days} days ago in {self.batches} batches"
        if self.unfinished:
            text += "; more remain for the next run"
        return text


def cutoff(now: datetime, keep_days: int) -> datetime:
    """Messages sent before this are past keeping."""
    return now - timedelta(days=keep_days)


def delete_delivered(db: Session, before: datetime, *, below_id: int, after: Position | None = None,
                     batch: int = 5000) -> tuple[int, Position | None]:
    """Deletes up to `batch` messages sent before `before`, the first in `next_attempt_at, id` order
    after `after`; returns how many went, and where the next batch starts (None: nothing further).

    Only messages with an id below `below_id` (the newest id when the run began): SQLite numbers a
    new row after the highest one present, so deleting the newest would hand its id out again, and a
    webhook gateway deduplicates on it. One statement, so that on SQLite it takes the write lock at
    once (a read first could not upgrade while another writer commits); on PostgreSQL the batch is
    locked with SKIP LOCKED, so two runs at once share the work.
    """
    dialect = db.get_bind().dialect.name
    conditions = [(_unindexed(OutboxMessage.status) if dialect == "sqlite" else OutboxMessage.status) == SENT,
                  OutboxMessage.sent_at < before,
                  OutboxMessage.next_attempt_at < before + LEASE, OutboxMessage.id < below_id]
    if after is not None:
        conditions += [OutboxMessage.next_attempt_at >= after.next_attempt_at,
                       or_(OutboxMessage.next_attempt_at > after.next_attempt_at,
                           and_(OutboxMessage.next_attempt_at == after.next_attempt_at, OutboxMessage.id > after.id))]
    chosen = (select(OutboxMessage.id).where(*conditions)
              .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(batch))
    if dialect == "postgresql":
        chosen = chosen.with_for_update(of=OutboxMessage, skip_locked=True)
    rows = db.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(chosen.scalar_subquery()))
                      .returning(OutboxMessage.next_attempt_at, OutboxMessage.id)
                      .execution_options(synchronize_session=False)).all()
    if len(rows) < batch:
        return len(rows), None
    return len(rows), Position(*max((r.next_attempt_at, r.id) for r in rows))


def _unindexed(column):
    """`+column`: SQLite, without statistics, takes an index on an equality (ix_outbox_status) over a
    range, and would walk every sent message a batch; a unary + (its documented way) leaves it no
    choice but the range on ix_outbox_next_attempt_at, which is also the batch's order."""
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def delete_read_notices(db: Session, before: datetime, *, below_id: int, batch: int = 5000) -> int:
    """Deletes up to `batch` in-app notices read before `before` (oldest read first, through
    ix_inbox_read_at), only with an id below `below_id` (see `delete_delivered`: SQLite would hand
    the newest id out again, and the inbox page's "mark all read" counts on ids rising); returns
    how many went. Unread notices are never taken. Deleted rows leave the range, so every batch
    starts at its beginning. On PostgreSQL the batch is locked with SKIP LOCKED: a notice being
    marked read elsewhere is left to the next run."""
    chosen = (select(InboxItem.id).where(InboxItem.read_at.is_not(None), InboxItem.read_at < before,
                                         InboxItem.id < below_id)
              .order_by(InboxItem.read_at, InboxItem.id).limit(batch))
    if db.get_bind().dialect.name == "postgresql":
        chosen = chosen.with_for_update(of=InboxItem, skip_locked=True)
    return db.execute(delete(InboxItem).where(InboxItem.id.in_(chosen.scalar_subquery()))
                      .execution_options(synchronize_session=False)).rowcount
