"""Excel in and out of the people register (`/api/v1/people/...`, `/api/v1/residents/export.xlsx`).

An upload is stored under var/imports and answered at once with a queued run; a background thread
works through it (at most IMPORT_THREADS at a time) and the caller polls the run for progress, then
fetches the error workbook. Open conflicts that imports left for a person to settle are listed
here; they are settled with `POST /api/v1/resident-conflicts/{id}/{keep|replace}`.

An upload may carry an `Idempotency-Key` (DESIGN §10), the page's form its own: a resend (a
browser retry, a double click, a client whose answer was lost) answers with the first run, 200
instead of 202, and neither stores the file again nor starts anything.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select

from gridgov.accounts.access import Principal
from gridgov.core.deps import DB, Who
from gridgov.core.errors import Conflict, NotFound
from gridgov.core.excel import XLSX, xlsx_response
from gridgov.people import exports, imports, sheets
from gridgov.people.models import ImportRun, Resident, ResidentConflict, TagKind
from gridgov.people.search import ResidentQuery
from gridgov.people.service import FIELD_LABELS, people_context

router = APIRouter(prefix="/api/v1", tags=["people-excel"])
MAX_UPLOAD = 200 * 1024 * 1024
IMPORT_THREADS = threading.BoundedSemaphore(2)


class ImportRunOut(BaseModel):
    id: int
    kind: str
    mode: str
    filename: str
    source: str
    status: str
    total_rows: int
    processed_rows: int
    imported_rows: int
    bad_rows: int
    conflicts: int
    message: str
    progress: int
    error_url: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, run: ImportRun, lang: str = "zh") -> ImportRunOut:
        return cls(id=run.id, kind=run.kind, mode=run.mode, filename=run.filename, source=run.source,
                   status=run.status, total_rows=run.total_rows, processed_rows=run.processed_rows,
                   imported_rows=run.imported_rows, bad_rows=run.bad_rows, conflicts=run.conflicts,
                   message=imports.message_in(run.message, lang), progress=imports.progress_of(run),
                   error_url=f"/api/v1/people/imports/{run.id}/errors.xlsx" if run.error_file else None,
                   created_at=run.created_at, finished_at=run.finished_at)


class ConflictRow(BaseModel):
    id: int
    resident_id: int
    resident_name: str
    id_number: str  # masked
    grid_code: str
    field: str
    label: str
    current_value: str
    proposed_value: str
    source: str
    created_at: datetime


class ConflictPage(BaseModel):
    total: int
    items: list[ConflictRow]


def tag_kinds(db) -> list[tuple[str, str]]:
    return list(db.execute(select(TagKind.code, TagKind.name).where(TagKind.active.is_(True))
                           .order_by(TagKind.sort)).all())


def template_bytes(db, kind: str) -> bytes:
    if kind not in sheets.KIND_NAMES:
        raise NotFound("没有“{kind}”的导入模板", kind=kind)
    return sheets.template_workbook(kind, tag_kinds(db) if kind == "tags" else None)


@dataclass
class Started:
    run: ImportRun
    created: bool  # False: the run of an earlier upload with the same Idempotency-Key


def start_import(request: Request, db, who: Principal, kind: str, mode: str, source: str,
                 upload: UploadFile, idempotency_key: str | None = None) -> Started:
    """Checks permission and choices, then (unless the key names an earlier run of the caller's,
    which is answered as it stands) stores the upload, checks that it is a workbook, creates the
    run, commits, and starts the background thread. A refusal makes no run and leaves no file, so
    the key stays free for the corrected upload. Two uploads with one key at once: the second's
    INSERT finds it taken (on PostgreSQL once the first commits), and it answers with that run."""
    app = request.app
    ctx = people_context(app.state.settings)
    key = idempotency_key or None
    imports.check_choices(who, kind, mode, source, key)
    earlier = imports.run_for_key(db, who, key)
    if earlier is not None:
        return Started(earlier, False)
    path = imports.save_upload(ctx, upload.file, MAX_UPLOAD)
    try:
        imports.check_workbook(path)
        run = imports.create_run(db, who, kind, mode, upload.filename or "", source, key)
        db.commit()
    except BaseException as exc:
        path.unlink(missing_ok=True)  # no run of this request names it: it must not stay behind
        if not (isinstance(exc, Conflict) and exc.code == "idempotency_race"):
            raise
        db.rollback()
        earlier = imports.run_for_key(db, who, key)
        if earlier is None:  # the other upload with this key was rolled back after all: try again
            raise
        return Started(earlier, False)
    sessions, run_id = app.state.sessions, run.id

    def work() -> None:
        with IMPORT_THREADS:
            imports.process_run(sessions, ctx, who, run_id, path, delete_file=True)

    threading.Thread(target=work, name=f"import-{run_id}", daemon=True).start()
    return Started(run, True)


@router.get("/people/templates/{kind}.xlsx", response_class=FileResponse,
            responses={200: {"content": {XLSX: {}}}})
def template(kind: str, db: DB, who: Who):
    """The empty workbook of `kind` (residents, houses, relations, tags) with its 填写说明 sheet."""
    who.require("people.read")
    return xlsx_response(template_bytes(db, kind), f"{sheets.KIND_NAMES.get(kind, kind)}导入模板.xlsx")


@router.post("/people/imports", response_model=ImportRunOut, status_code=202,
             responses={200: {"model": ImportRunOut,
                              "description": "An earlier upload of the caller's had this Idempotency-Key: its run, "
                                             "as it stands; nothing was stored or started"}})
async def upload(request: Request, db: DB, who: Who, file: Annotated[UploadFile, File()],
                 kind: Annotated[str, Form()] = "residents", mode: Annotated[str, Form()] = "all_or_nothing",
                 source: Annotated[str, Form()] = "",
                 idempotency_key: Annotated[str | None, Header(max_length=imports.KEY_LIMIT)] = None):
    """Queues an import (multipart: kind, mode, source, file) and answers with the run to poll (202).
    With an `Idempotency-Key` header (up to 200 characters, the caller's own), a resend answers
    with the first run instead (200) and imports nothing again; a refused upload (422) spends no key."""
    started = await run_in_threadpool(start_import, request, db, who, kind, mode, source, file, idempotency_key)
    out = ImportRunOut.of(started.run, lang_of(request))
    return JSONResponse(out.model_dump(mode="json"), status_code=202 if started.created else 200)


def lang_of(request: Request) -> str:
    return getattr(request.state, "lang", "zh")


@router.get("/people/imports", response_model=list[ImportRunOut])
def my_imports(request: Request, db: DB, who: Who):
    """The caller's own recent imports, newest first."""
    return [ImportRunOut.of(r, lang_of(request)) for r in imports.my_runs(db, who)]


@router.get("/people/imports/{run_id}", response_model=ImportRunOut)
def import_progress(run_id: int, request: Request, db: DB, who: Who):
    return ImportRunOut.of(imports.get_run(db, who, run_id), lang_of(request))


@router.get("/people/imports/{run_id}/errors.xlsx", response_class=FileResponse,
            responses={200: {"content": {XLSX: {}}}})
def import_errors(run_id: int, request: Request, db: DB, who: Who):
    """The bad rows of a run: 错误明细 (row, column, value, reason) and the rows as they were,
    in the asker's language (`?lang=en`: English headers and reasons; the rows keep the file's headers)."""
    run = imports.get_run(db, who, run_id)
    lang = lang_of(request)
    path = imports.error_file(people_context(request.app.state.settings), run, lang)
    name = "导入错误" if lang == "zh" else "import-errors"
    return FileResponse(path, media_type=XLSX, filename=f"{name}-{run.id}.xlsx")


def open_conflicts(db, who: Principal, limit: int, offset: int) -> tuple[int, list[ConflictRow]]:
    who.require("people.read")
    where = (ResidentConflict.status == "open", who.within(Resident.region_path))
    base = select(ResidentConflict, Resident).join(Resident, Resident.id == ResidentConflict.resident_id).where(*where)
    total = db.scalar(select(func.count()).select_from(ResidentConflict)
                      .join(Resident, Resident.id == ResidentConflict.resident_id).where(*where))
    rows = db.execute(base.order_by(ResidentConflict.id.desc()).limit(limit).offset(offset)).all()
    return total, [ConflictRow(id=c.id, resident_id=p.id, resident_name=p.name, id_number=p.id_masked,
                               grid_code=p.grid_code, field=c.field, label=FIELD_LABELS.get(c.field, c.field),
                               current_value=c.current_value, proposed_value=c.proposed_value, source=c.source,
                               created_at=c.created_at) for c, p in rows]


@router.get("/people/conflicts", response_model=ConflictPage)
def conflicts(db: DB, who: Who, limit: Annotated[int, Query(ge=1, le=500)] = 100,
              offset: Annotated[int, Query(ge=0)] = 0):
    """Open conflicts (values from imports that disagree with the register) inside the caller's
    jurisdiction, newest first."""
    total, items = open_conflicts(db, who, limit, offset)
    return ConflictPage(total=total, items=items)


@router.get("/residents/export.xlsx", response_class=FileResponse, responses={200: {"content": {XLSX: {}}}})
def export(request: Request, db: DB, who: Who, q: str = "", tag: str = "", grid: str = "", kind: str = "",
           address: str = "", unmasked: bool = False, reason: str = ""):
    """The residents `GET /api/v1/residents` finds with the same filters, all of them, as .xlsx;
    masked unless `unmasked=1` by a role that may reveal and with a `reason`. Audited."""
    ctx = people_context(request.app.state.settings)
    data, _n = exports.export_residents(db, ctx, who, ResidentQuery(q=q, tag=tag, grid=grid, kind=kind,
                                                                    address=address), unmasked, reason)
    db.commit()
    return xlsx_response(data, "居民名册.xlsx")
