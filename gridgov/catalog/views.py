"""The catalog's API (`/api/v1/catalog/...`) and its admin pages (`/admin/catalog...`).

Reading needs a login; writing and importing need `catalog.manage`. The import answers with a
report: row-level errors (row number, column header, reason) and, when rows were bad, the bad
rows as an .xlsx in base64 (`error_workbook`), which the page offers as a download.
"""

from __future__ import annotations

import base64
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.catalog import excel, service
from gridgov.catalog.models import HANDLING_LEVELS, TIME_UNITS, TIMED_STEPS, CatalogItem, Category
from gridgov.catalog.schemas import (
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    ImportReportOut,
    ItemCreate,
    ItemOut,
    ItemUpdate,
    SuggestionOut,
)
from gridgov.catalog.suggest import categories_of, suggest_items
from gridgov.core.deps import DB, Who
from gridgov.core.errors import FieldProblem, ValidationFailed
from gridgov.departments.models import Department
from gridgov.web.render import render

api = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])
pages = APIRouter(include_in_schema=False)
EXPORT_NAME = "事项清单.xlsx"
ERRORS_NAME = "事项清单-错误行.xlsx"


def _categories(db: Session) -> dict[int, Category]:
    return {c.id: c for c in service.list_categories(db)}


def _lang(request: Request) -> str:
    return getattr(request.state, "lang", "zh")


# --- API ---

@api.get("/items", response_model=list[ItemOut])
def items(db: DB, who: Who, category: str | None = None, department: str | None = None, q: str | None = None,
          active: bool | None = None):
    """The catalog, in code order. `category`: a 大类 or 小类 code; `department`: a department code;
    `q`: words to find in code, name, keywords or category name; `active`: only (in)active items."""
    cats = _categories(db)
    return [ItemOut.of(i, cats) for i in service.list_items(db, category=category, department=department, q=q,
                                                            active=active)]


@api.get("/items/{code}", response_model=ItemOut)
def item(code: str, db: DB, who: Who):
    return ItemOut.of(service.get_item_by_code(db, code), _categories(db))


@api.post("/items", response_model=ItemOut, status_code=201)
def create_item(body: ItemCreate, db: DB, who: Who):
    row = service.create_item(db, who, body.model_dump())
    db.commit()
    return ItemOut.of(row, _categories(db))


@api.put("/items/{code}", response_model=ItemOut)
def update_item(code: str, body: ItemUpdate, db: DB, who: Who):
    """Changes the fields sent (omitted fields keep their values); the code itself never changes."""
    row = service.update_item(db, who, code, body.model_dump(exclude_unset=True))
    db.commit()
    return ItemOut.of(row, _categories(db))


def _category_rows(db: Session) -> list[CategoryOut]:
    cats = _categories(db)
    counts = dict(db.execute(select(CatalogItem.category_id, func.count()).group_by(CatalogItem.category_id)).all())
    majors = {c.id: 0 for c in cats.values() if c.parent_id is None}
    for cid, n in counts.items():
        parent = cats[cid].parent_id if cid in cats else None
        if parent in majors:
            majors[parent] += n
    return [CategoryOut.of(c, cats, majors[c.id] if c.parent_id is None else counts.get(c.id, 0))
            for c in cats.values()]


@api.get("/categories", response_model=list[CategoryOut])
def categories(db: DB, who: Who):
    """大类 and 小类 in code order; `parent_code` is null for a 大类; `item_count` counts a 大类's items
    through its 小类."""
    return _category_rows(db)


@api.post("/categories", response_model=CategoryOut, status_code=201)
def create_category(body: CategoryCreate, db: DB, who: Who):
    row = service.create_category(db, who, code=body.code, name=body.name, kind=body.kind)
    db.commit()
    return next(c for c in _category_rows(db) if c.id == row.id)


@api.put("/categories/{code}", response_model=CategoryOut)
def update_category(code: str, body: CategoryUpdate, db: DB, who: Who):
    row = service.update_category(db, who, code, name=body.name, kind=body.kind)
    db.commit()
    return next(c for c in _category_rows(db) if c.id == row.id)


@api.get("/suggest", response_model=list[SuggestionOut])
def suggest(request: Request, db: DB, who: Who, description: str = "", limit: int = 3):
    """The best catalog items for a description (at most `limit`, 1–10), best first, each with a
    score in 0..1 and the reasons."""
    if not description.strip():
        raise ValidationFailed({"description": FieldProblem("必填")})
    limit = min(max(limit, 1), 10)
    found = suggest_items(db, description, limit=limit, lang=_lang(request))
    cats = categories_of(db, [s.item for s in found])  # only the few shown
    return [SuggestionOut(item=ItemOut.of(s.item, cats), score=s.score, reasons=s.reasons) for s in found]


def _xlsx(data: bytes, name: str) -> Response:
    disposition = f"attachment; filename=\"catalog.xlsx\"; filename*=UTF-8''{quote(name)}"
    return Response(data, media_type=excel.XLSX_TYPE, headers={"Content-Disposition": disposition})


@api.get("/export.xlsx")
def export(db: DB, who: Who):
    return _xlsx(excel.export_workbook(db), EXPORT_NAME)


async def _read_upload(upload: UploadFile | None) -> bytes:
    if upload is None or not hasattr(upload, "read"):
        raise ValidationFailed({"file": FieldProblem("请选择要导入的 Excel 文件")})
    data = await upload.read(excel.MAX_BYTES + 1)
    if not data:
        raise ValidationFailed({"file": FieldProblem("请选择要导入的 Excel 文件")})
    return data


def _report_body(report: excel.ImportReport, lang: str) -> dict:
    workbook = report.error_workbook(lang)
    return {**report.as_dict(lang),
            "error_workbook": base64.b64encode(workbook).decode() if workbook else None,
            "error_workbook_filename": ERRORS_NAME if workbook else None}


@api.post("/import", response_model=ImportReportOut)
async def import_catalog(request: Request, db: DB, who: Who, file: Annotated[UploadFile | None, File()] = None,
                         mode: Annotated[str, Form()] = "all_or_nothing"):
    """Imports an .xlsx in the export's layout. `mode`: `all_or_nothing` (any bad row: nothing is
    written) or `good_rows` (the good rows are written). Always answers 200 with the report
    (`ok`, `written`, counts, `errors` [{row, column, reason}], `error_workbook` in base64)."""
    who.require(service.MANAGE)
    data = await _read_upload(file)
    report = await run_in_threadpool(excel.import_workbook, db, data, mode)  # parsing is CPU work
    if report.written:
        db.commit()
    return _report_body(report, _lang(request))


# --- pages ---

def _index_context(db: Session, major: str, department: str, q: str) -> dict:
    cats = _categories(db)
    rows = service.list_items(db, category=major or None, department=department or None, q=q or None)
    return {"rows": rows, "cats": cats, "majors": [c for c in cats.values() if c.parent_id is None],
            "departments": db.scalars(select(Department).order_by(Department.code)).all(),
            "major": major, "department": department, "q": q, "levels": HANDLING_LEVELS, "units": TIME_UNITS,
            "modes": excel.MODES, "report": None, "report_errors": [], "error_workbook": None,
            "import_error": None, "filtered": bool(major or department or q)}


@pages.get("/admin/catalog")
def catalog_page(request: Request, db: DB, who: Who, major: str = "", department: str = "", q: str = ""):
    return render(request, "catalog/index.html", **_index_context(db, major.strip(), department.strip(), q.strip()))


@pages.post("/admin/catalog/import")
async def import_page(request: Request, db: DB, who: Who):
    who.require(service.MANAGE)
    form = await request.form()
    lang = _lang(request)
    mode = str(form.get("mode") or "all_or_nothing")
    try:
        report = await run_in_threadpool(excel.import_workbook, db, await _read_upload(form.get("file")), mode)
    except ValidationFailed as exc:
        db.rollback()
        ctx = _index_context(db, "", "", "")
        ctx["import_error"] = "；".join(p.render(lang) for p in exc.fields.values()) or exc.message
        return render(request, "catalog/index.html", status_code=422, **ctx)
    if report.written:
        db.commit()
    else:
        db.rollback()
    ctx = _index_context(db, "", "", "")
    workbook = report.error_workbook(lang)
    ctx.update(report=report.as_dict(lang), chosen_mode=mode,
               error_workbook=base64.b64encode(workbook).decode() if workbook else None,
               errors_name=ERRORS_NAME, xlsx_type=excel.XLSX_TYPE)
    return render(request, "catalog/index.html", status_code=200 if report.written else 422, **ctx)


def _form_context(db: Session, item: CatalogItem | None, values: dict | None = None,
                  errors: dict | None = None, saved: bool = False) -> dict:
    cats = _categories(db)
    majors = [c for c in cats.values() if c.parent_id is None]
    minors = {m.id: [c for c in cats.values() if c.parent_id == m.id] for m in majors}
    if values is None:
        values = {}
        if item is not None:
            values = {"code": item.code, "name": item.name, "category_code": cats[item.category_id].code,
                      "department_code": item.department.code, "handling_level": item.handling_level,
                      "registration_standard": item.registration_standard,
                      "closure_standard": item.closure_standard, "keywords": item.keywords,
                      "self_handle": item.self_handle, "active": item.active}
            for step, limit in (item.time_limits or {}).items():
                values[f"limit_{step}_amount"] = limit["amount"]
                values[f"limit_{step}_unit"] = limit["unit"]
        else:
            values = {"active": True}
    return {"item": item, "values": values, "errors": errors or {}, "saved": saved, "majors": majors,
            "minors": minors, "departments": db.scalars(select(Department).order_by(Department.code)).all(),
            "levels": HANDLING_LEVELS, "units": TIME_UNITS, "steps": TIMED_STEPS}


def _values_from_form(form, creating: bool) -> tuple[dict, dict]:
    """The service's values from a form, and the form as the page shows it again."""
    shown = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    shown["self_handle"] = form.get("self_handle") == "1"
    shown["active"] = form.get("active") == "1"
    values: dict = {k: shown.get(k, "") for k in ("name", "category_code", "department_code", "handling_level",
                                                  "registration_standard", "closure_standard", "keywords")}
    if creating:
        values["code"] = shown.get("code", "")
    limits = {}
    for step in TIMED_STEPS:
        amount = shown.get(f"limit_{step}_amount", "").strip()
        unit = shown.get(f"limit_{step}_unit", "").strip()
        if amount or unit:
            limits[step] = {"amount": amount, "unit": unit}
    values.update(time_limits=limits, self_handle=shown["self_handle"], active=shown["active"])
    return values, shown


@pages.get("/admin/catalog/items/new")
def new_item_page(request: Request, db: DB, who: Who):
    who.require(service.MANAGE)
    return render(request, "catalog/item_form.html", **_form_context(db, None))


@pages.post("/admin/catalog/items")
async def create_item_page(request: Request, db: DB, who: Who):
    who.require(service.MANAGE)
    values, shown = _values_from_form(await request.form(), creating=True)
    try:
        row = service.create_item(db, who, values)
    except ValidationFailed as exc:
        db.rollback()
        errors = {k: v.render(_lang(request)) for k, v in exc.fields.items()}
        return render(request, "catalog/item_form.html", status_code=422,
                      **_form_context(db, None, values=shown, errors=errors))
    db.commit()
    return RedirectResponse(f"/admin/catalog/items/{row.code}?saved=1", status_code=303)


@pages.get("/admin/catalog/items/{code}")
def item_page(request: Request, db: DB, who: Who, code: str, saved: int = 0):
    row = service.get_item_by_code(db, code)
    return render(request, "catalog/item_form.html", **_form_context(db, row, saved=bool(saved)))


@pages.post("/admin/catalog/items/{code}")
async def update_item_page(request: Request, db: DB, who: Who, code: str):
    who.require(service.MANAGE)
    values, shown = _values_from_form(await request.form(), creating=False)
    try:
        service.update_item(db, who, code, values)
    except ValidationFailed as exc:
        db.rollback()
        errors = {k: v.render(_lang(request)) for k, v in exc.fields.items()}
        row = service.get_item_by_code(db, code)
        shown["code"] = row.code
        return render(request, "catalog/item_form.html", status_code=422,
                      **_form_context(db, row, values=shown, errors=errors))
    db.commit()
    return RedirectResponse(f"/admin/catalog/items/{code}?saved=1", status_code=303)


# What the app registers: the API and the pages.
router = APIRouter()
router.include_router(api)
router.include_router(pages)
