"""Case pages: lists (with Excel export), the case page, the report form, the dispatcher's
live console. They read through the same services as the API."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from sqlalchemy import func, select
from starlette.datastructures import QueryParams, UploadFile  # UploadFile: what request.form() returns

from gridgov.cases import clock, files, service
from gridgov.cases.lifecycle import ACTIONS, STATES, allowed_actions
from gridgov.cases.models import Case, CaseAttachment
from gridgov.cases.schemas import EventOut, case_outs
from gridgov.cases.views import Ctx
from gridgov.catalog.models import CatalogItem, Category
from gridgov.core.deps import DB, Who
from gridgov.core.errors import AppError, NotFound
from gridgov.core.excel import table_workbook, xlsx_response
from gridgov.departments.models import DEPARTMENT_ROLES, Department
from gridgov.regions.models import Region
from gridgov.web.render import render

router = APIRouter(include_in_schema=False)
LIGHTS = {"green": "正常", "yellow": "黄灯预警", "red": "红灯超时"}
MINE = {"reported": "我上报的", "to_verify": "待我核查", "to_sign": "待签收", "in_hand": "办理中", "overdue": "已超时"}
PAGE = 50


def _filter_from(request: Request) -> service.CaseFilter:
    return _filter_of(request.query_params)


def _filter_of(q) -> service.CaseFilter:
    """A list query (`?state=…&light=…`) as a filter: the list, its export and the home page's counts."""
    dept = q.get("department_id", "")
    return service.CaseFilter(
        state=q.get("state") or None, light=q.get("light") or None, street=q.get("street") or None,
        item_code=q.get("category") or None, department_id=int(dept) if dept.isdigit() else None,
        triage=q.get("triage") == "1" or None, mine=q.get("mine") or None, q=q.get("q") or None,
        open_only=q.get("open") == "1")


def _list_filter(request: Request, who) -> service.CaseFilter:
    """The list's filter: with no `mine` in the query it opens on the role's first tab (`mine=`
    is 全部). The export link carries the same query, so it exports the same cases."""
    f = _filter_from(request)
    if f.mine is None and (tabs := _tabs(who)) and "mine" not in request.query_params:
        f.mine = next(iter(tabs))
    return f


def _choices(db, who) -> dict:
    streets = db.scalars(select(Region).where(Region.level == "street", who.within_or_above(Region.path))
                         .order_by(Region.code)).all()
    majors = db.scalars(select(Category).where(Category.parent_id.is_(None)).order_by(Category.code)).all()
    return {"states": STATES, "lights": LIGHTS, "streets": streets, "categories": majors,
            "departments": db.scalars(select(Department).order_by(Department.code)).all(), "mine_tabs": _tabs(who)}


def _tabs(who) -> dict[str, str]:
    if who.role == "grid_worker":
        return {k: MINE[k] for k in ("reported", "to_verify")}
    if who.role in DEPARTMENT_ROLES:
        return {k: MINE[k] for k in ("to_sign", "in_hand", "overdue")}
    return {}


# The home page's to-do counts, each a link to the list it counts (every one of them lists open cases only).
HOME_TILES = {
    "grid_worker": [("mine=reported&open=1", "我上报的未办结"), ("mine=to_verify", "待我核查")],
    "department": [("mine=to_sign", "待签收"), ("mine=in_hand", "办理中"), ("mine=overdue", "已超时")],
    "oversight": [("state=reported", "待受理"), ("state=registered", "待派遣"), ("triage=1", "分拣队列"),
                  ("state=verified", "待结案"), ("light=red", "红灯超时"), ("light=yellow", "黄灯预警")],
}


def home_context(db, who) -> dict:
    """The home page's case section: the person's own to-do, or (for those who watch the console) their
    jurisdiction's open cases. The administrator and mediators get none: cases are not their work."""
    if who.role == "grid_worker":
        tiles = HOME_TILES["grid_worker"]
    elif who.role in DEPARTMENT_ROLES:
        tiles = HOME_TILES["department"]
    elif who.can("cases.dispatch"):
        tiles = HOME_TILES["oversight"]
    else:
        return {}
    counts = service.count_open_cases(db, who, {query: _filter_of(QueryParams(query)) for query, _ in tiles})
    urgent = {"mine=overdue", "light=red", "mine=to_verify", "triage=1"}
    return {"case_tiles": [{"href": f"/cases?{query}", "label": label, "count": counts[query],
                            "urgent": query in urgent and counts[query] > 0} for query, label in tiles]}


@router.get("/cases")
def case_list(request: Request, db: DB, who: Who, page: int = 1):
    f = _list_filter(request, who)
    page = max(page, 1)
    rows, total = service.list_cases(db, who, f, PAGE, (page - 1) * PAGE)
    query = request.url.query
    return render(request, "cases/list.html", cases=case_outs(db, rows), total=total, page=page,
                  pages=max(1, -(-total // PAGE)), f=f, query=query, **_choices(db, who))


@router.get("/cases/export.xlsx")
def case_export(request: Request, db: DB, who: Who):
    f = _list_filter(request, who)
    rows, _ = service.list_cases(db, who, f, limit=100_000, offset=0)
    headers = ["事件编号", "状态", "时限", "事项", "承办部门", "处理人", "网格", "地址", "描述", "上报时间", "办理期限",
               "结案时间"]
    data = table_workbook("事件", headers, (
        [c.number, c.state_label, LIGHTS.get(c.light, c.light) if c.timed else "", c.item.name if c.item else "",
         c.department.name if c.department else "", c.handler.name if c.handler else "", c.grid_code, c.address,
         c.description, c.created_at, c.deadline, c.closed_at] for c in case_outs(db, rows)),
        tz=request.app.state.settings.timezone)
    return xlsx_response(data, "事件列表.xlsx")


@router.get("/cases/new")
def new_case_page(request: Request, db: DB, who: Who):
    who.require("cases.create")
    return render(request, "cases/new.html", items=_items(db), errors={}, values={},
                  hotline=who.role != "grid_worker")


def _items(db) -> list[CatalogItem]:
    return list(db.scalars(select(CatalogItem).where(CatalogItem.active.is_(True)).order_by(CatalogItem.code)))


@router.post("/cases/new")
async def create_case_page(request: Request, db: DB, who: Who, ctx: Ctx):
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    photos = [p for p in form.getlist("photos") if isinstance(p, UploadFile) and p.filename]
    try:
        lon, lat = float(values.get("lon") or "nan"), float(values.get("lat") or "nan")
        if lon != lon or lat != lat:
            from gridgov.core.errors import FieldProblem, ValidationFailed

            raise ValidationFailed({"location": FieldProblem("请在地图上点选位置或使用定位")})
        data = service.NewCase(description=values.get("description", ""), lon=lon, lat=lat,
                               crs=values.get("crs") or "wgs84", item_code=values.get("item_code") or None,
                               urgency="urgent" if values.get("urgency") == "urgent" else "normal",
                               address=values.get("address", ""),
                               source="grid_worker" if who.role == "grid_worker" else "hotline",
                               reporter_name=values.get("reporter_name", ""),
                               reporter_phone=values.get("reporter_phone", ""))
        key = values.get("idempotency_key") or None
        case, created = service.create_case(db, ctx, who, data, f"user:{who.user_id}", key)
        # A resend (the form sent again over a bad connection) has its photos on the first case already.
        for photo in photos if created else ():
            files.attach(db, ctx.settings, case, photo.filename, await photo.read(), "before")
    except AppError as exc:
        db.rollback()
        body = exc.body(request.state.lang)["error"]
        return render(request, "cases/new.html", status_code=exc.status, items=_items(db), values=values,
                      errors=body["fields"] or {"_": body["message"]}, hotline=who.role != "grid_worker")
    db.commit()
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


@router.get("/cases/suggest")
def suggest_partial(request: Request, db: DB, who: Who, description: str = "", lon: str = "", lat: str = "",
                    item_code: str = ""):
    """HTMX partial under the report form: suggested categories and possible duplicates."""
    from gridgov.catalog.suggest import suggest_items

    suggestions = suggest_items(db, description, limit=3) if description.strip() else []
    duplicates = []
    code = item_code or (suggestions[0].item.code if suggestions else "")
    item = db.scalar(select(CatalogItem).where(CatalogItem.code == code)) if code else None
    try:
        if item is not None and lon and lat:
            duplicates = service.possible_duplicates(db, who, float(lon), float(lat), item.id)
    except ValueError:
        duplicates = []
    return render(request, "cases/_suggest.html", suggestions=suggestions, duplicates=duplicates)


@router.get("/cases/{case_id}")
def case_page(request: Request, db: DB, who: Who, ctx: Ctx, case_id: int):
    case = service.get_case(db, who, case_id)
    out = case_outs(db, [case])[0]
    events = EventOut.many(db, service.events(db, who, case_id))
    photos = db.scalars(select(CaseAttachment).where(CaseAttachment.case_id == case.id)
                        .order_by(CaseAttachment.id)).all()
    actions = allowed_actions(who, service.view_of(db, case))
    nearby = service.possible_duplicates(db, who, case.lon, case.lat, case.item_id, exclude_id=case.id)
    # Only departments whose area holds the case's grid can take it (the dispatch action checks it too).
    depts = [d for d in db.scalars(select(Department).order_by(Department.code)) if case.region_path.startswith(
        d.region.path)]
    nearby_json = json.dumps([{"id": c.id, "number": c.number, "lon": c.lon, "lat": c.lat} for c, _ in nearby])
    deadline_fallback = clock.fallback_years(case, ctx.calendar(db))
    return render(request, "cases/detail.html", case=out, events=events, photos=photos, actions=actions,
                  deadline_fallback=deadline_fallback,
                  nearby=nearby, nearby_json=nearby_json, departments=depts, states=STATES, lights=LIGHTS,
                  all_actions=ACTIONS,
                  satisfaction=service.SATISFACTION, supervision=service.SUPERVISION, sources=service.SOURCES,
                  error=getattr(request.state, "flash", None))


@router.post("/cases/{case_id}/act/{action}")
async def act_page(request: Request, db: DB, who: Who, ctx: Ctx, case_id: int, action: str):
    form = await request.form()

    def num(key, cast=int):
        raw = str(form.get(key) or "").strip()
        try:
            return cast(raw) if raw else None
        except ValueError:
            return None

    data = service.ActionInput(version=num("version") or 0, comment=str(form.get("comment") or ""),
                               item_code=str(form.get("item_code") or "") or None, department_id=num("department_id"),
                               handler_id=num("handler_id"), target_case_id=num("target_case_id"),
                               amount=num("amount", float), satisfaction=str(form.get("satisfaction") or "") or None,
                               supervision=str(form.get("supervision") or "") or None,
                               level=str(form.get("level") or "") or None)
    if action not in ACTIONS:
        raise NotFound("没有名为 {action} 的操作", action=action)
    try:
        case = service.act(db, ctx, who, case_id, action, data)
        for photo in [p for p in form.getlist("photos") if isinstance(p, UploadFile) and p.filename]:
            files.attach(db, ctx.settings, case, photo.filename, await photo.read(),
                         "after" if action in ("report_back", "self_handle") else "other")
    except AppError as exc:
        db.rollback()
        message = exc.body(request.state.lang)["error"]
        detail = "；".join(message["fields"].values())
        request.state.flash = message["message"] + (f"：{detail}" if detail else "")
        response = case_page(request, db, who, ctx, case_id)
        response.status_code = exc.status
        return response
    db.commit()
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.get("/attachments/{attachment_id}")
def attachment(request: Request, db: DB, who: Who, attachment_id: int):
    row = db.get(CaseAttachment, attachment_id)
    if row is None:
        raise NotFound("找不到该资源")
    service.get_case(db, who, row.case_id)  # the case's scope decides who may see its photos
    return FileResponse(files.attachment_path(request.app.state.settings, row), media_type=row.content_type)


# --- the dispatcher's live console ---

@router.get("/console")
def console(request: Request, db: DB, who: Who):
    f = _filter_from(request)
    f.open_only = True
    rows, total = service.list_cases(db, who, f, 200, 0)
    return render(request, "cases/console.html", cases=case_outs(db, rows), total=total, f=f,
                  query=request.url.query, **_choices(db, who))


@router.get("/console/rows")
def console_rows(request: Request, db: DB, who: Who):
    f = _filter_from(request)
    f.open_only = True
    rows, total = service.list_cases(db, who, f, 200, 0)
    return render(request, "cases/_rows.html", cases=case_outs(db, rows), total=total, lights=LIGHTS)


@router.get("/console/stream")
async def console_stream(request: Request, who: Who):
    """Server-sent events: a `changed` event whenever a case in the user's view changes."""
    sessions = request.app.state.sessions

    def stamp():
        with sessions() as db:
            q = service.scoped(who).with_only_columns(func.max(Case.updated_at), func.count(Case.id))
            return [str(v) for v in db.execute(q).one()]

    async def events():
        last = await asyncio.to_thread(stamp)
        yield "retry: 5000\n\n"
        ticks = 0
        while not await request.is_disconnected():
            await asyncio.sleep(2)
            now = await asyncio.to_thread(stamp)
            if now != last:
                last = now
                yield f"event: changed\ndata: {json.dumps({'at': now[0], 'count': now[1]})}\n\n"
            ticks += 1
            if ticks % 10 == 0:
                yield ": keep-alive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

