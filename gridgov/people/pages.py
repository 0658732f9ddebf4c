"""People pages: search with highlights, the resident page (masked, reveal with a reason, tags and
their history, houses, conflicts), registration, and the house page. They call the same services
as the API."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from markupsafe import Markup, escape
from sqlalchemy import func, select

from gridgov.core.deps import DB, Who
from gridgov.core.errors import AppError, ValidationFailed
from gridgov.people import houses, search, service, tagging
from gridgov.people.identity import EDUCATION, HOUSEHOLD_STATUSES, KINDS
from gridgov.people.models import Building, House, Residence, Resident, ResidentConflict, TagKind
from gridgov.people.views import people_ctx, tag_event_outs, tag_outs
from gridgov.regions.models import Region
from gridgov.web.render import render

router = APIRouter(include_in_schema=False)
PAGE = 20


def marked(text: str, span: tuple[int, int] | None) -> Markup:
    """The text with the matched part in <mark>, escaped."""
    if not span:
        return escape(text)
    start, end = span
    return escape(text[:start]) + Markup("<mark>") + escape(text[start:end]) + Markup("</mark>") + escape(text[end:])


def _grids(db, who) -> list[Region]:
    return db.scalars(select(Region).where(Region.level == "grid", who.within(Region.path))
                      .order_by(Region.code)).all()


def _tag_kinds(db) -> list[TagKind]:
    return db.scalars(select(TagKind).where(TagKind.active).order_by(TagKind.sort)).all()


@router.get("/people")
def people_list(request: Request, db: DB, who: Who, q: str = "", tag: str = "", grid: str = "", kind: str = "",
                address: str = "", page: int = 1):
    who.require("people.read")
    ctx = people_ctx(request)
    query = search.ResidentQuery(q=q, tag=tag, grid=grid, kind=kind, address=address)
    page = max(page, 1)
    error, result = None, search.SearchPage(0, False, [])
    try:
        result = search.search_residents(db, ctx, who, query, PAGE, (page - 1) * PAGE)
    except ValidationFailed as exc:
        error = exc.body(getattr(request.state, "lang", "zh"))["error"]["fields"].get("q") or exc.message
    tags = service.tags_of(db, [h.resident.id for h in result.hits])
    rows = [{"h": h, "name": marked(h.resident.name, h.highlight.get("name")),
             "id_number": marked(h.resident.id_masked, h.highlight.get("id_number")),
             "phone": marked(h.resident.phone_masked, h.highlight.get("phone")),
             "age": service.age_of(h.resident.birth_date), "tags": tags[h.resident.id]} for h in result.hits]
    open_conflicts = db.scalar(select(func.count()).select_from(ResidentConflict).where(
        ResidentConflict.status == "open",
        ResidentConflict.resident_id.in_(select(Resident.id).where(who.within(Resident.region_path))))
    ) if who.can("people.manage") else 0
    params = request.url.query.replace("&page=" + str(page), "")
    return render(request, "people/list.html", rows=rows, result=result, query=query, page=page,
                  pages=max(1, -(-result.total // PAGE)), params=params, error=error, kinds=KINDS,
                  tag_kinds=_tag_kinds(db), grids=_grids(db, who), open_conflicts=open_conflicts,
                  searched=bool(q or tag or grid or kind or address))


FORM_FIELDS = ("name", "id_type", "id_number", "kind", "grid_code", "phone", "gender", "birth_date", "nationality",
               "ethnicity", "education", "occupation", "employer", "hukou_address", "address", "household_status",
               "notes")


def _form_context(db, who, values=None, errors=None) -> dict:
    return {"values": values or {}, "errors": errors or {}, "grids": _grids(db, who), "kinds": KINDS,
            "education": EDUCATION, "household_statuses": HOUSEHOLD_STATUSES,
            "pairs": lambda values: [(v, v) for v in values]}


@router.get("/people/new")
def new_resident_page(request: Request, db: DB, who: Who):
    who.require("people.manage")
    default_grid = who.region_code if who.role == "grid_worker" else ""
    return render(request, "people/form.html", **_form_context(db, who, {"grid_code": default_grid, "kind": ""}))


@router.post("/people/new")
async def create_resident_page(request: Request, db: DB, who: Who):
    who.require("people.manage")
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in FORM_FIELDS}
    data = dict(values)
    try:
        data["birth_date"] = date.fromisoformat(values["birth_date"]) if values["birth_date"] else None
    except ValueError:
        return render(request, "people/form.html", status_code=422,
                      **_form_context(db, who, values, {"birth_date": "应为日期，如 1980-01-31"}))
    try:
        outcome = service.register_resident(db, people_ctx(request), who, service.input_from(data))
    except AppError as exc:
        db.rollback()
        body = exc.body(getattr(request.state, "lang", "zh"))["error"]
        return render(request, "people/form.html", status_code=exc.status,
                      **_form_context(db, who, values, body["fields"] or {"_": body["message"]}))
    db.commit()
    return RedirectResponse(f"/people/{outcome.resident_id}?registered={outcome.status}", status_code=303)


@router.get("/people/{resident_id:int}")
def resident_page(request: Request, db: DB, who: Who, resident_id: int, registered: str = ""):
    person = service.get_resident(db, who, resident_id)
    tags = tag_outs(db, resident_id)
    held = {t.code for t in tags if t.status in ("active", "proposed")}
    kinds = [k for k in _tag_kinds(db) if k.code not in held]
    conflicts = db.scalars(select(ResidentConflict).where(ResidentConflict.resident_id == resident_id,
                                                          ResidentConflict.status == "open")).all()
    return render(request, "people/detail.html", p=person, age=service.age_of(person.birth_date), tags=tags,
                  history=tag_event_outs(db, tagging.history(db, who, resident_id)),
                  homes=houses.houses_of(db, who, resident_id), kinds=kinds, details=tagging.detail_fields,
                  conflicts=conflicts, labels=service.FIELD_LABELS, registered=registered, kind_names=KINDS,
                  phone_labels={f"{t.code}.{f.key}": f"{t.name} · {f.label}" for t in tags
                                for f in tagging.detail_fields(t.code) if f.type == "phone"},
                  grid=db.get(Region, person.grid_code))


@router.get("/houses/{house_id:int}")
def house_page(request: Request, db: DB, who: Who, house_id: int):
    house = houses.get_house(db, who, house_id)
    building = db.get(Building, house.building_id)
    occupants = houses.occupants(db, who, house_id)
    tags = service.tags_of(db, [p.id for _, p in occupants])
    return render(request, "people/house.html", house=house, building=building, occupants=occupants, tags=tags,
                  today=date.today())


@router.get("/houses")
def houses_page(request: Request, db: DB, who: Who, grid: str = "", q: str = "", page: int = 1):
    """Buildings in the jurisdiction, by grid, with how many rooms and how many of them are rented."""
    who.require("people.read")
    stmt = (select(Building, func.count(House.id), func.count(House.id).filter(House.rented))
            .outerjoin(House, House.building_id == Building.id)
            .where(who.within(Building.region_path)).group_by(Building.id))
    if grid:
        stmt = stmt.where(Building.grid_code == grid)
    if q.strip():
        stmt = stmt.where(Building.name.contains(q.strip(), autoescape=True))
    total = db.scalar(select(func.count()).select_from(stmt.subquery()))
    page = max(page, 1)
    rows = db.execute(stmt.order_by(Building.grid_code, Building.name).offset((page - 1) * PAGE * 2)
                      .limit(PAGE * 2)).all()
    return render(request, "people/houses.html", rows=rows, total=total, grid=grid, q=q, grids=_grids(db, who),
                  page=page, pages=max(1, -(-total // (PAGE * 2))))


@router.get("/buildings/{building_id:int}")
def building_page(request: Request, db: DB, who: Who, building_id: int):
    building = houses.get_building(db, who, building_id)
    rows = db.execute(
        select(House, func.count(Residence.id).filter(Residence.end_date.is_(None)))
        .outerjoin(Residence, Residence.house_id == House.id).where(House.building_id == building_id)
        .group_by(House.id).order_by(House.unit, House.room)).all()
    return render(request, "people/building.html", building=building, rows=rows, uses=houses.USES,
                  ownerships=houses.OWNERSHIPS)
