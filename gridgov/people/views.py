"""The people API: residents (masked), reveal with a reason, tags, houses and who lives where."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from gridgov.accounts.models import User
from gridgov.core.audit import RevealIn
from gridgov.core.deps import DB, Who
from gridgov.people import houses, search, service, tagging
from gridgov.people.models import Building, House, ResidentConflict, ResidentTag, TagKind
from gridgov.people.schemas import (
    BuildingIn,
    ConflictOut,
    HouseIn,
    HouseOut,
    OccupantOut,
    RegisterOut,
    ResidenceEnd,
    ResidenceIn,
    ResidenceOut,
    ResidentBrief,
    ResidentIn,
    ResidentOut,
    ResidentPage,
    ResidentUpdate,
    Revealed,
    TagChange,
    TagDecision,
    TagEventOut,
    TagIn,
    TagOut,
)

router = APIRouter(prefix="/api/v1", tags=["people"])


def people_ctx(request: Request) -> service.PeopleContext:
    return service.people_context(request.app.state.settings)


Ctx = Annotated[service.PeopleContext, Depends(people_ctx)]
RID = "/residents/{resident_id:int}"


def resident_out(db, person) -> ResidentOut:
    return ResidentOut.full(person, service.tags_of(db, [person.id])[person.id])


@router.get("/residents", response_model=ResidentPage)
def list_residents(db: DB, who: Who, ctx: Ctx, q: str = "", tag: str = "", grid: str = "", kind: str = "",
                   address: str = "", limit: Annotated[int, Query(ge=1, le=200)] = 20,
                   offset: Annotated[int, Query(ge=0)] = 0):
    page = search.search_residents(db, ctx, who, search.ResidentQuery(q=q, tag=tag, grid=grid, kind=kind,
                                                                     address=address), limit, offset)
    tags = service.tags_of(db, [h.resident.id for h in page.hits])
    return ResidentPage(total=page.total, total_capped=page.capped, limit=limit, offset=offset,
                        items=[ResidentBrief.of(h.resident, tags[h.resident.id], h.matched, h.highlight)
                               for h in page.hits])


@router.post("/residents", response_model=RegisterOut, status_code=201)
def register_resident(body: ResidentIn, db: DB, who: Who, ctx: Ctx):
    outcome = service.register_resident(db, ctx, who, service.input_from(body.model_dump()))
    db.commit()
    person = service.get_resident(db, who, outcome.resident_id)
    out = RegisterOut(resident=resident_out(db, person), status=outcome.status, conflicts=outcome.conflicts)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if outcome.status == "created" else 200)


@router.get(RID, response_model=ResidentOut)
def get_resident(resident_id: int, db: DB, who: Who):
    return resident_out(db, service.get_resident(db, who, resident_id))


@router.put(RID, response_model=ResidentOut)
def update_resident(resident_id: int, body: ResidentUpdate, db: DB, who: Who, ctx: Ctx):
    data = service.input_from(body.model_dump(exclude={"version"}))
    person = service.update_resident(db, ctx, who, resident_id, body.version, data)
    db.commit()
    return resident_out(db, person)


@router.post(RID + "/reveal", response_model=Revealed)
def reveal(resident_id: int, body: RevealIn, db: DB, who: Who, ctx: Ctx):
    shown = service.reveal(db, ctx, who, resident_id, body.reason)
    person = service.get_resident(db, who, resident_id)
    db.commit()
    return Revealed(id=resident_id, name=person.name, id_number=shown.id_number, phone=shown.phone,
                    tag_phones=shown.tag_phones)


def tag_outs(db, resident_id: int) -> list[TagOut]:
    rows = db.execute(select(ResidentTag, TagKind.name).join(TagKind, TagKind.code == ResidentTag.tag_code)
                      .where(ResidentTag.resident_id == resident_id).order_by(TagKind.sort)).all()
    return [TagOut(code=t.tag_code, name=name, status=t.status, source=t.source, version=t.version,
                   details=tagging.shown_details(t.tag_code, t.details)) for t, name in rows]


@router.get(RID + "/tags", response_model=list[TagOut])
def list_tags(resident_id: int, db: DB, who: Who):
    service.get_resident(db, who, resident_id)
    return tag_outs(db, resident_id)


@router.post(RID + "/tags", response_model=list[TagOut], status_code=201)
def add_tag(resident_id: int, body: TagIn, db: DB, who: Who, ctx: Ctx):
    tagging.add_tag(db, ctx, who, resident_id, body.code, body.details, body.reason)
    db.commit()
    return tag_outs(db, resident_id)


@router.put(RID + "/tags/{code}", response_model=list[TagOut])
def change_tag(resident_id: int, code: str, body: TagChange, db: DB, who: Who, ctx: Ctx):
    tagging.change_tag(db, ctx, who, resident_id, code, body.details, body.reason, body.version)
    db.commit()
    return tag_outs(db, resident_id)


@router.post(RID + "/tags/{code}/remove", response_model=list[TagOut])
def remove_tag(resident_id: int, code: str, body: TagChange, db: DB, who: Who):
    tagging.remove_tag(db, who, resident_id, code, body.reason)
    db.commit()
    return tag_outs(db, resident_id)


@router.post(RID + "/tags/{code}/decision", response_model=list[TagOut])
def decide(resident_id: int, code: str, body: TagDecision, db: DB, who: Who, ctx: Ctx):
    tagging.decide_proposal(db, ctx, who, resident_id, code, body.accept, body.reason, body.details)
    db.commit()
    return tag_outs(db, resident_id)


def tag_event_outs(db, events) -> list[TagEventOut]:
    actor_ids = {e.actor_id for e in events if e.actor_id}
    names = dict(db.execute(select(User.id, User.display_name).where(User.id.in_(actor_ids))).all())
    return [TagEventOut(tag_code=e.tag_code, action=e.action, reason=e.reason,
                        actor=names.get(e.actor_id, "系统规则" if e.actor_id is None else ""),
                        at=e.created_at.isoformat(),
                        before=tagging.shown_details(e.tag_code, (e.before or {}).get("details") or {}),
                        after=tagging.shown_details(e.tag_code, (e.after or {}).get("details") or {}))
            for e in events]


@router.get(RID + "/tag-history", response_model=list[TagEventOut])
def tag_history(resident_id: int, db: DB, who: Who):
    return tag_event_outs(db, tagging.history(db, who, resident_id))


def house_out(house: House, building: Building) -> HouseOut:
    return HouseOut(id=house.id, building_id=building.id, building=building.name, unit=house.unit, room=house.room,
                    floor=house.floor, area_m2=house.area_m2, use=house.use, ownership=house.ownership,
                    rented=house.rented, grid_code=house.grid_code, address=house.address)


@router.get(RID + "/houses", response_model=list[ResidenceOut])
def resident_houses(resident_id: int, db: DB, who: Who):
    out = []
    for rel, house in houses.houses_of(db, who, resident_id):
        out.append(ResidenceOut(residence_id=rel.id, relation=rel.relation, start_date=rel.start_date,
                                end_date=rel.end_date, house=house_out(house, db.get(Building, house.building_id))))
    return out


def conflict_out(c: ResidentConflict) -> ConflictOut:
    return ConflictOut(id=c.id, resident_id=c.resident_id, field=c.field,
                       label=service.FIELD_LABELS.get(c.field, c.field), current_value=c.current_value,
                       proposed_value=c.proposed_value, source=c.source,
                       status=c.status)


@router.get(RID + "/conflicts", response_model=list[ConflictOut])
def resident_conflicts(resident_id: int, db: DB, who: Who):
    service.get_resident(db, who, resident_id)
    rows = db.scalars(select(ResidentConflict).where(ResidentConflict.resident_id == resident_id)
                      .order_by(ResidentConflict.status != "open", ResidentConflict.id.desc()))
    return [conflict_out(c) for c in rows]


@router.post("/resident-conflicts/{conflict_id}/{choice}", response_model=ConflictOut)
def resolve_conflict(conflict_id: int, choice: str, db: DB, who: Who, ctx: Ctx):
    service.resolve_conflict(db, ctx, who, conflict_id, choice)
    db.commit()
    return conflict_out(db.get(ResidentConflict, conflict_id))


@router.post("/buildings", status_code=201)
def create_building(body: BuildingIn, db: DB, who: Who):
    building = houses.create_building(db, who, houses.BuildingInput(**body.model_dump()))
    db.commit()
    return {"id": building.id, "name": building.name, "grid_code": building.grid_code}


@router.get("/buildings")
def list_buildings(db: DB, who: Who, grid: str = "", limit: Annotated[int, Query(ge=1, le=500)] = 100,
                   offset: Annotated[int, Query(ge=0)] = 0):
    who.require("people.read")
    stmt = select(Building).where(who.within(Building.region_path))
    if grid:
        stmt = stmt.where(Building.grid_code == grid)
    rows = db.scalars(stmt.order_by(Building.grid_code, Building.name).offset(offset).limit(limit))
    return [{"id": b.id, "name": b.name, "grid_code": b.grid_code, "address": b.address, "floors": b.floors,
             "lon": b.lon, "lat": b.lat} for b in rows]


@router.get("/buildings/{building_id}/houses", response_model=list[HouseOut])
def building_houses(building_id: int, db: DB, who: Who):
    building = houses.get_building(db, who, building_id)
    rows = db.scalars(select(House).where(House.building_id == building_id).order_by(House.unit, House.room))
    return [house_out(h, building) for h in rows]


@router.post("/houses", response_model=HouseOut, status_code=201)
def create_house(body: HouseIn, db: DB, who: Who):
    house = houses.create_house(db, who, houses.HouseInput(**body.model_dump()))
    db.commit()
    return house_out(house, db.get(Building, house.building_id))


@router.get("/houses/{house_id}", response_model=HouseOut)
def get_house(house_id: int, db: DB, who: Who):
    house = houses.get_house(db, who, house_id)
    return house_out(house, db.get(Building, house.building_id))


@router.get("/houses/{house_id}/occupants", response_model=list[OccupantOut])
def house_occupants(house_id: int, db: DB, who: Who):
    rows = houses.occupants(db, who, house_id)
    tags = service.tags_of(db, [p.id for _, p in rows])
    return [OccupantOut(residence_id=r.id, relation=r.relation, start_date=r.start_date, end_date=r.end_date,
                        resident=ResidentBrief.of(p, tags[p.id])) for r, p in rows]


@router.post("/residences", status_code=201)
def add_residence(body: ResidenceIn, db: DB, who: Who):
    rel = houses.add_residence(db, who, houses.ResidenceInput(**body.model_dump()))
    db.commit()
    return {"id": rel.id, "resident_id": rel.resident_id, "house_id": rel.house_id, "relation": rel.relation}


@router.post("/residences/{residence_id}/end")
def end_residence(residence_id: int, body: ResidenceEnd, db: DB, who: Who):
    rel = houses.end_residence(db, who, residence_id, body.end_date)
    db.commit()
    return {"id": rel.id, "end_date": rel.end_date.isoformat()}
