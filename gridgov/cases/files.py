"""Photos and other attachments, stored content-addressed under var/uploads."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from gridgov.cases.models import Case, CaseAttachment
from gridgov.core.config import Settings
from gridgov.core.errors import FieldProblem, ValidationFailed

ALLOWED = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/heic": ".heic"}
MAX_BYTES = 10 * 1024 * 1024
KINDS = ("before", "after", "other")


def upload_dir(settings: Settings) -> Path:
    path = settings.var_dir / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sniff(data: bytes) -> str | None:
    # Trust the bytes, not the name or the browser's claim.
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "image/heic"
    return None


def attach(db: Session, settings: Settings, case: Case, filename: str, data: bytes, kind: str = "before",
           event_id: int | None = None) -> CaseAttachment:
    problems = {}
    content_type = _sniff(data)
    if kind not in KINDS:
        problems["kind"] = FieldProblem("必须是以下之一：{expected}", expected="、".join(KINDS))
    if not data:
        problems["file"] = FieldProblem("文件为空")
    elif len(data) > MAX_BYTES:
        problems["file"] = FieldProblem("照片不能超过 10 MB")
    elif content_type is None:
        problems["file"] = FieldProblem("只接受 JPEG、PNG、WebP 或 HEIC 照片")
    if problems:
        raise ValidationFailed(problems)
    digest = hashlib.sha256(data).hexdigest()
    target = upload_dir(settings) / digest
    if not target.exists():
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)
        _discard_unless_committed(db, target)
    row = CaseAttachment(case_id=case.id, event_id=event_id, kind=kind, filename=Path(filename or "photo").name[:200],
                         content_type=content_type, size=len(data), sha256=digest)
    db.add(row)
    db.flush()
    return row


_WRITTEN = "cases.files.written"  # db.info: files this transaction wrote, kept only if it commits


def _discard_unless_committed(db: Session, path: Path) -> None:
    """The file is written before its row is committed (a photo is stored within the request's
    transaction): should the transaction not commit (a later photo refused, the action failing,
    the commit itself), the file is deleted with it instead of staying on disk with no row."""
    if _WRITTEN not in db.info:
        db.info[_WRITTEN] = []
        if not event.contains(db, "after_transaction_end", _delete_uncommitted):
            event.listen(db, "after_commit", _keep_committed)
            event.listen(db, "after_transaction_end", _delete_uncommitted)
    db.info[_WRITTEN].append(path)


def _keep_committed(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's release commits nothing yet
        session.info.pop(_WRITTEN, None)


def _delete_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        for path in session.info.pop(_WRITTEN, ()):
            path.unlink(missing_ok=True)


def attachment_path(settings: Settings, row: CaseAttachment) -> Path:
    return upload_dir(settings) / row.sha256
