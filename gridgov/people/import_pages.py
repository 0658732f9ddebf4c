"""Pages: /people/import (upload, progress, error download) and /people/conflicts (settle what
imports set aside). They call the same functions as the API in gridgov/people/import_views.py; the
upload form's hidden idempotency_key is the API's Idempotency-Key header."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from gridgov.core.deps import DB, Who
from gridgov.core.errors import AppError
from gridgov.people import imports, sheets
from gridgov.people.import_views import open_conflicts, start_import
from gridgov.people.models import ResidentConflict
from gridgov.people.service import FIELD_LABELS, people_context, resolve_conflict
from gridgov.web.render import render

router = APIRouter(include_in_schema=False)
PAGE = 100


def _form(request: Request, key: str = "", **extra):
    """The upload form, carrying an idempotency key of its own (a new one unless the form comes back
    with an error, when it keeps the one it was sent with: a refusal spends no key). Never kept in
    the browser's cache: a page brought back by 返回 gets a new key, so the next file is a new import."""
    response = render(request, "people/import.html", kinds=sheets.KIND_NAMES, modes=sheets.MODES,
                      key=key or uuid.uuid4().hex, **extra)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/people/import")
def import_page(request: Request, db: DB, who: Who):
    who.require("people.manage")
    return _form(request, runs=imports.my_runs(db, who), progress_of=imports.progress_of)


@router.post("/people/import")
async def import_submit(request: Request, db: DB, who: Who, file: Annotated[UploadFile, File()],
                        kind: Annotated[str, Form()] = "residents", mode: Annotated[str, Form()] = "all_or_nothing",
                        source: Annotated[str, Form()] = "", idempotency_key: Annotated[str, Form()] = ""):
    """Starts the import and shows its progress page; the same form sent again (a double click, the
    browser resending it) shows the first run's instead of starting another."""
    try:
        started = await run_in_threadpool(start_import, request, db, who, kind, mode, source, file,
                                          idempotency_key)
    except AppError as exc:
        db.rollback()
        body = exc.body(getattr(request.state, "lang", "zh"))["error"]
        return _form(request, key=idempotency_key[:imports.KEY_LIMIT], runs=imports.my_runs(db, who),
                     progress_of=imports.progress_of, status_code=exc.status, error=body["message"],
                     fields=body["fields"], chosen={"kind": kind, "mode": mode, "source": source})
    return RedirectResponse(f"/people/import/{started.run.id}", status_code=303)


@router.get("/people/import/{run_id:int}")
def import_run_page(run_id: int, request: Request, db: DB, who: Who):
    run = imports.get_run(db, who, run_id)
    return render(request, "people/import_run.html", run=run, pct=imports.progress_of(run), kinds=sheets.KIND_NAMES,
                  modes=sheets.MODES, message=_message(request, run))


@router.get("/people/import/{run_id:int}/progress")
def import_run_fragment(run_id: int, request: Request, db: DB, who: Who):
    run = imports.get_run(db, who, run_id)
    return render(request, "people/import_progress.html", run=run, pct=imports.progress_of(run),
                  message=_message(request, run))


def _message(request: Request, run) -> str:
    return imports.message_in(run.message, getattr(request.state, "lang", "zh"))


@router.get("/people/conflicts")
def conflicts_page(request: Request, db: DB, who: Who, offset: Annotated[int, Query(ge=0)] = 0):
    total, rows = open_conflicts(db, who, PAGE, offset)
    return render(request, "people/conflicts.html", total=total, rows=rows, offset=offset, page=PAGE)


@router.post("/people/conflicts/{conflict_id:int}/{choice}")
def settle(conflict_id: int, choice: str, request: Request, db: DB, who: Who):
    """HTMX: settles one conflict and answers with its row, now saying what was decided."""
    resolve_conflict(db, people_context(request.app.state.settings), who, conflict_id, choice)
    db.commit()
    conflict = db.get(ResidentConflict, conflict_id)
    return render(request, "people/conflicts_row.html", c=conflict, label=FIELD_LABELS.get(conflict.field,
                                                                                            conflict.field))
