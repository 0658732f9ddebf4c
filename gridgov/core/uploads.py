"""Photos people upload (case photos, visit photos, a missing person's photo): checked from their
bytes, stored content-addressed under var/uploads, and gone again if the transaction that stored
them does not commit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from gridgov.core.config import Settings
from gridgov.core.errors import FieldProblem, ValidationFailed

MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class StoredImage:
    filename: str  # what the user called it
    content_type: str
    size: int
    sha256: str  # its name under var/uploads


def upload_dir(settings: Settings) -> Path:
    path = settings.var_dir / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def image_path(settings: Settings, sha256: str) -> Path:
    return upload_dir(settings) / sha256


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


def store_image(db: Session, settings: Settings, filename: str, data: bytes, field: str = "photo") -> StoredImage:
    """Checks and stores a photo within `db`'s transaction; the caller writes its row."""
    content_type = _sniff(data)
    if not data:
        raise ValidationFailed({field: FieldProblem("文件为空")})
    if len(data) > MAX_BYTES:
        raise ValidationFailed({field: FieldProblem("照片不能超过 10 MB")})
    if content_type is None:
        raise ValidationFailed({field: FieldProblem("只接受 JPEG、PNG、WebP 或 HEIC 照片")})
    digest = hashlib.sha256(data).hexdigest()
    target = image_path(settings, digest)
    if not target.exists():
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)
        _discard_unless_committed(db, target)
    return StoredImage(Path(filename or "photo").name[:200], content_type, len(data), digest)


_WRITTEN = "uploads.written"  # db.info: files this transaction wrote, kept only if it commits


def _discard_unless_committed(db: Session, path: Path) -> None:
    """The file is written before its row is committed (a photo is stored within the request's
    transaction): should the transaction not commit (a later photo refused, the action failing,
    the commit itself), the file is deleted with it instead of staying on disk with no row. A file
    that was there before is never listed, so never deleted."""
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
