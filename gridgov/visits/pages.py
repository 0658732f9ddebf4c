"""Visit and service pages: lists with filters and Excel export, the mobile visit form, one-click
conversion of a finding into a case, the tag frequency table. Same services as the API."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy import select
from starlette.datastructures import UploadFile

from gridgov.cases.views import Ctx
from gridgov.core.crypto import data_cipher
from gridgov.core.deps import DB, Who
from gridgov.core.errors import AppError, FieldProblem, ValidationFailed
from gridgov.core.excel import xlsx_response
from gridgov.core.uploads import image_path
from gridgov.people.models import Resident
from gridgov.people.search import ResidentQuery, search_residents
from gridgov.people.service import people_context
from gridgov.regions.models import Region
from gridgov.visits import exports, service
from gridgov.visits.schemas import ServiceOut, VisitOut
from gridgov.visits.views import convert
from gridgov.web.render import render

router = APIRouter(include_in_schema=False)
PAGE = 50


def _tz(request: Request) -> str:
    return request.app.state.settings.timezone


def _today(request: Request) -> date:
    return service.local_today(request.app.state.settings)


def _visit_filter(request: Request) -> service.VisitFilter:
    q = request.query_params
    rid = q.get("resident_id", "")
    return service.VisitFilter(status=q.get("status") or None, grid=q.get("grid") or None, tag=q.get("tag") or None,
                               mine=q.get("mine") == "1", resident_id=int(rid) if rid.isdigit() else None,
                               q=q.get("q") or None)


def _grids(db, who) -> list[Region]:
    return list(db.scalars(select(Region).where(Region.level.in_(["community", "grid"]), who.within(Region.path))
                           .order_by(Region.path).limit(2000)))


@router.get("/visits")
def visit_list(request: Request, db: DB, who: Who, page: int = 1):
    f = _visit_filter(request)
    if "mine" not in request.query_params and who.role == "grid_worker":
        f.mine = True
    page = max(page, 1)
    rows, total = service.list_visits(db, who, f, _today(request), PAGE, (page - 1) * PAGE)
    return render(request, "visits/list.html", visits=VisitOut.many(db, rows, _today(request)), total=total, f=f,
                  page=page, pages=max(1, -(-total // PAGE)), query=request.url.query, statuses=service.STATUSES,
                  tags=service.tag_kinds(db), grids=_grids(db, who))


@router.get("/visits/export.xlsx")
def visit_export(request: Request, db: DB, who: Who):
    data = exports.export_visits(db, data_cipher(request.app.state.settings), who, _visit_filter(request),
                                 _today(request), _tz(request))
    db.commit()  # the audit entry
    return xlsx_response(data, "走访列表.xlsx")


def _record_from(form, tz: str) -> service.VisitRecord:
    def num(key):
        raw = str(form.get(key) or "").strip()
        if not raw:
            return None
        try:
            return float(raw)
        except ValueError:
            raise ValidationFailed({"location": FieldProblem("必须是数字")}) from None

    raw_at = str(form.get("visited_at") or "").strip()
    at = None
    if raw_at:
        try:
            at = datetime.fromisoformat(raw_at).replace(tzinfo=ZoneInfo(tz))
        except ValueError:
            raise ValidationFailed({"visited_at": FieldProblem("格式不正确")}) from None
    return service.VisitRecord(visited_at=at, lon=num("lon"), lat=num("lat"), crs=str(form.get("crs") or "wgs84"),
                               place=str(form.get("place") or ""), met=str(form.get("met") or ""),
                               findings=str(form.get("findings") or ""), follow_up=str(form.get("follow_up") or ""))


async def _save_photos(db, request, who, visit_id: int, form) -> None:
    for photo in [p for p in form.getlist("photos") if isinstance(p, UploadFile) and p.filename]:
        service.add_photo(db, request.app.state.settings, who, visit_id, photo.filename, await photo.read())


def _errors(request, exc: AppError) -> dict:
    body = exc.body(request.state.lang)["error"]
    return body["fields"] or {"_": body["message"]}


@router.get("/visits/new")
def new_visit_page(request: Request, db: DB, who: Who, resident_id: int | None = None, q: str = ""):
    who.require("visits.log")
    resident = service.get_resident(db, who, resident_id) if resident_id else None
    found = find_residents(request, db, who, q) if q.strip() and resident is None else []
    tags = service.scheduled_tags(db, resident.id) if resident else []
    return render(request, "visits/new.html", resident=resident, found=found, q=q, tags=tags, values={}, errors={},
                  met_choices=service.MET)


def find_residents(request: Request, db, who, q: str) -> list[Resident]:
    """The people search of the register (name, pinyin, initials, ID or phone digits), first page."""
    try:
        page = search_residents(db, people_context(request.app.state.settings), who, ResidentQuery(q=q), 20, 0)
    except ValidationFailed:
        return []
    return [hit.resident for hit in page.hits]


@router.post("/visits/new")
async def create_visit_page(request: Request, db: DB, who: Who):
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    rid = values.get("resident_id", "")
    resident = service.get_resident(db, who, int(rid)) if rid.isdigit() else None
    try:
        if resident is None:
            raise ValidationFailed({"resident_id": FieldProblem("请先选择走访对象")})
        visit = service.create_visit(db, who, resident.id, values.get("tag_code", ""), _record_from(form, _tz(request)),
                                     _tz(request))
        await _save_photos(db, request, who, visit.id, form)
    except AppError as exc:
        db.rollback()
        return render(request, "visits/new.html", status_code=exc.status, resident=resident, found=[], q="",
                      tags=service.scheduled_tags(db, resident.id) if resident else [], values=values,
                      errors=_errors(request, exc), met_choices=service.MET)
    db.commit()
    return RedirectResponse(f"/visits/{visit.id}", status_code=303)


def _detail(request, db, who, visit_id: int, status_code: int = 200, errors=None, values=None):
    visit = service.get_visit(db, who, visit_id)
    out = VisitOut.many(db, [visit], _today(request), photos=True)[0]
    suggested = service.suggested_dispute_item(db, visit.findings) if visit.findings else None
    return render(request, "visits/detail.html", status_code=status_code, v=out, statuses=service.STATUSES,
                  errors=errors or {}, values=values or {}, met_choices=service.MET,
                  dispute_items=service.dispute_items(db), suggested=suggested,
                  can_log=who.can("visits.log"), can_case=who.can("visits.log") and who.can("cases.create"))


@router.get("/visits/{visit_id}")
def visit_page(request: Request, db: DB, who: Who, visit_id: int):
    return _detail(request, db, who, visit_id)


@router.post("/visits/{visit_id}/record")
async def record_visit_page(request: Request, db: DB, who: Who, visit_id: int):
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        version = int(values.get("version") or 0)
        service.record_visit(db, who, visit_id, version, _record_from(form, _tz(request)))
        await _save_photos(db, request, who, visit_id, form)
    except AppError as exc:
        db.rollback()
        return _detail(request, db, who, visit_id, exc.status, _errors(request, exc), values)
    db.commit()
    return RedirectResponse(f"/visits/{visit_id}", status_code=303)


@router.post("/visits/{visit_id}/photos")
async def add_photos_page(request: Request, db: DB, who: Who, visit_id: int):
    form = await request.form()
    try:
        await _save_photos(db, request, who, visit_id, form)
    except AppError as exc:
        db.rollback()
        return _detail(request, db, who, visit_id, exc.status, _errors(request, exc))
    db.commit()
    return RedirectResponse(f"/visits/{visit_id}", status_code=303)


@router.post("/visits/{visit_id}/to-case")
async def to_case_page(request: Request, db: DB, who: Who, ctx: Ctx, visit_id: int):
    form = await request.form()
    dispute = form.get("kind") == "dispute"
    try:
        case, _ = convert(db, ctx, who, visit_id, dispute, str(form.get("item_code") or "") or None)
    except AppError as exc:
        db.rollback()
        return _detail(request, db, who, visit_id, exc.status, _errors(request, exc))
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


@router.get("/visits/photos/{photo_id}")
def visit_photo(request: Request, db: DB, who: Who, photo_id: int):
    photo = service.get_photo(db, who, photo_id)
    return FileResponse(image_path(request.app.state.settings, photo.sha256), media_type=photo.content_type)


# --- services ---

def _service_filter(request: Request) -> service.ServiceFilter:
    q = request.query_params
    return service.ServiceFilter(role=q.get("role") or None, grid=q.get("grid") or None,
                                 since=service.parse_day(q.get("since"), "since"),
                                 until=service.parse_day(q.get("until"), "until"),
                                 mine=q.get("mine") == "1", q=q.get("q") or None)


@router.get("/services")
def service_list(request: Request, db: DB, who: Who, page: int = 1):
    f = _service_filter(request)
    page = max(page, 1)
    rows, total = service.list_services(db, who, f, _tz(request), PAGE, (page - 1) * PAGE)
    return render(request, "visits/services.html", rows=ServiceOut.many(db, rows), total=total, f=f, page=page,
                  pages=max(1, -(-total // PAGE)), query=request.url.query, roles=service.SERVICE_ROLES,
                  grids=_grids(db, who), values={}, errors={})


@router.get("/services/export.xlsx")
def service_export(request: Request, db: DB, who: Who):
    data = exports.export_services(db, data_cipher(request.app.state.settings), who, _service_filter(request),
                                   _tz(request))
    db.commit()  # the audit entry
    return xlsx_response(data, "服务记录.xlsx")


@router.post("/services")
async def create_service_page(request: Request, db: DB, who: Who):
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        rec = _record_from(form, _tz(request))  # reuses the point parsing
        rid = values.get("resident_id", "").strip()
        data = service.NewService(role=values.get("role", ""), title=values.get("title", ""),
                                  content=values.get("content", ""),
                                  served_at=rec.visited_at, resident_id=int(rid) if rid.isdigit() else None,
                                  grid_code=values.get("grid_code") or None, lon=rec.lon, lat=rec.lat, crs=rec.crs)
        service.create_service(db, who, request.app.state.locator, data)
    except AppError as exc:
        db.rollback()
        f = service.ServiceFilter(mine=True)
        rows, total = service.list_services(db, who, f, _tz(request), PAGE, 0)
        return render(request, "visits/services.html", status_code=exc.status, rows=ServiceOut.many(db, rows),
                      total=total, f=f, page=1, pages=1, query="", roles=service.SERVICE_ROLES,
                      grids=_grids(db, who), values=values, errors=_errors(request, exc))
    db.commit()
    return RedirectResponse("/services?mine=1&saved=1", status_code=303)


# --- tag frequencies ---

@router.get("/admin/tag-kinds")
def tag_kinds_page(request: Request, db: DB, who: Who, saved: int = 0):
    who.require("people.read")
    return render(request, "visits/tag_kinds.html", kinds=service.tag_kinds(db), saved=bool(saved), errors={},
                  can_edit=who.can("tags.manage"))


@router.post("/admin/tag-kinds")
async def save_tag_kinds(request: Request, db: DB, who: Who):
    form = await request.form()
    errors = {}
    for kind in service.tag_kinds(db):
        raw = str(form.get(f"days_{kind.code}") or "").strip()
        active = form.get(f"active_{kind.code}") == "1"
        try:
            days = int(raw)
        except ValueError:
            errors[kind.code] = FieldProblem("必须是整数").render(request.state.lang)
            continue
        try:
            service.update_tag_kind(db, who, kind.code, days, active)
        except ValidationFailed as exc:
            errors[kind.code] = "；".join(p.render(request.state.lang) for p in exc.fields.values())
    if errors:
        db.rollback()
        return render(request, "visits/tag_kinds.html", status_code=422, kinds=service.tag_kinds(db), saved=False,
                      errors=errors, can_edit=who.can("tags.manage"))
    db.commit()
    return RedirectResponse("/admin/tag-kinds?saved=1", status_code=303)


def home_context(request: Request, db, who) -> dict:
    """The home page's visit section: a grid worker's own visits, or the jurisdiction's."""
    if not who.can("people.read"):
        return {}
    mine = who.role == "grid_worker"
    summary = service.visit_summary(db, who, _today(request), mine=mine)
    summary.overdue_visits = VisitOut.many(db, summary.overdue_visits, _today(request))
    return {"visits": summary, "visits_mine": mine}
