"""Photos of visits and of missing-prone people, stored like case attachments: sniffed from their
bytes, content-addressed under var/uploads (the same directory and rules as `gridgov.cases.files`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from gridgov.cases.files import MAX_BYTES, _sniff, upload_dir
from gridgov.core.config import Settings
from gridgov.core.errors import FieldProblem, ValidationFailed


@dataclass(frozen=True)
class StoredImage:
    filename: str  # what the user called it
    content_type: str
    size: int
    sha256: str  # its name under var/uploads


def store_image(settings: Settings, filename: str, data: bytes, field: str = "photo") -> StoredImage:
    content_type = _sniff(data)
    if not data:
        raise ValidationFailed({field: FieldProblem("文件为空")})
    if len(data) > MAX_BYTES:
        raise ValidationFailed({field: FieldProblem("照片不能超过 10 MB")})
    if content_type is None:
        raise ValidationFailed({field: FieldProblem("只接受 JPEG、PNG、WebP 或 HEIC 照片")})
    digest = hashlib.sha256(data).hexdigest()
    target = upload_dir(settings) / digest
    if not target.exists():
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)
    return StoredImage(Path(filename or "photo").name[:200], content_type, len(data), digest)


def image_path(settings: Settings, sha256: str) -> Path:
    return upload_dir(settings) / sha256
