"""Photos and other attachments of a case, stored as every upload is (`gridgov.core.uploads`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from gridgov.cases.models import Case, CaseAttachment
from gridgov.core.config import Settings
from gridgov.core.errors import FieldProblem, ValidationFailed
from gridgov.core.uploads import image_path, store_image

KINDS = ("before", "after", "other")


def attach(db: Session, settings: Settings, case: Case, filename: str, data: bytes, kind: str = "before",
           event_id: int | None = None) -> CaseAttachment:
    if kind not in KINDS:
        raise ValidationFailed({"kind": FieldProblem("必须是以下之一：{expected}", expected="、".join(KINDS))})
    img = store_image(db, settings, filename, data, field="file")
    row = CaseAttachment(case_id=case.id, event_id=event_id, kind=kind, filename=img.filename,
                         content_type=img.content_type, size=img.size, sha256=img.sha256)
    db.add(row)
    db.flush()
    return row


def attachment_path(settings: Settings, row: CaseAttachment) -> Path:
    return image_path(settings, row.sha256)
