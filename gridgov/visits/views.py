"""Visits, services and tag frequencies: the JSON API under /api/v1. Views are thin: the
request owns the transaction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from gridgov.cases.views import Ctx
from gridgov.core.deps import DB, Who
from gridgov.core.errors import Conflict
from gridgov.visits import service
from gridgov.visits.schemas import (
    AdHocVisitIn,
    GenerateOut,
    PhotoOut,
    RecordIn,
    ServiceIn,
    ServiceOut,
    ServicePage,
    TagKindOut,
    TagKindPatch,
    ToCaseIn,
    VisitOut,
    VisitPage,
)

router = APIRouter(prefix="/api/v1", tags=["visits"])


def today(request: Request):
    return service.local_today(request.app.state.settings)


@router.get("/tag-kinds", response_model=list[TagKindOut])
def list_tag_kinds(db: DB, who: Who):
    who.require("people.read")
    return [TagKindOut.model_validate(k, from_attributes=True) for k in service.tag_kinds(db)]


@router.patch("/tag-kinds/{code}", response_model=TagKindOut)
def patch_tag_kind(code: str, body: TagKindPatch, db: DB, who: Who):
    kind = service.update_tag_kind(db, who, code, body.visit_days, body.active)
    db.commit()
    return TagKindOut.model_validate(kind, from_attributes=True)


@router.post("/visits/generate", response_model=GenerateOut)
def generate(request: Request, db: DB, who: Who):
    """Generates the due visits of the caller's jurisdiction now (the daily job does the same)."""
    who.require("visits.log")
    report = service.generate_due_visits(db, today(request), request.app.state.settings.timezone,
                                         region_path=who.region_path)
    db.commit()
    return GenerateOut(created=report.created, dropped=report.dropped, assigned=report.assigned)


@router.get("/visits", response_model=VisitPage)
def list_visits(request: Request, db: DB, who: Who,
                status: Annotated[str | None, Query(pattern="^(due|overdue|done|open)$")] = None,
                grid: str | None = None, tag: str | None = None, mine: bool = False, resident_id: int | None = None,
                q: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                offset: Annotated[int, Query(ge=0)] = 0):
    f = service.VisitFilter(status=status, grid=grid, tag=tag, mine=mine, resident_id=resident_id, q=q)
    rows, total = service.list_visits(db, who, f, today(request), limit, offset)
    return VisitPage(total=total, items=VisitOut.many(db, rows, today(request)))


@router.post("/visits", response_model=VisitOut, status_code=201)
def create_visit(request: Request, body: AdHocVisitIn, db: DB, who: Who):
    visit = service.create_visit(db, who, body.resident_id, body.tag_code, body.record(),
                                 request.app.state.settings.timezone)
    db.commit()
    return VisitOut.many(db, [visit], today(request), photos=True)[0]


@router.get("/visits/{visit_id}", response_model=VisitOut)
def get_visit(request: Request, visit_id: int, db: DB, who: Who):
    return VisitOut.many(db, [service.get_visit(db, who, visit_id)], today(request), photos=True)[0]


@router.post("/visits/{visit_id}/record", response_model=VisitOut)
def record_visit(request: Request, visit_id: int, body: RecordIn, db: DB, who: Who):
    visit = service.record_visit(db, who, visit_id, body.version, body.record())
    db.commit()
    return VisitOut.many(db, [visit], today(request), photos=True)[0]


@router.post("/visits/{visit_id}/photos", response_model=PhotoOut, status_code=201)
async def add_photo(request: Request, visit_id: int, db: DB, who: Who, file: Annotated[UploadFile, File()]):
    photo = service.add_photo(db, request.app.state.settings, who, visit_id, file.filename or "", await file.read())
    db.commit()
    return PhotoOut(id=photo.id, filename=photo.filename, url=f"/visits/photos/{photo.id}")


def convert(db, ctx, who, visit_id: int, dispute: bool, item_code: str | None):
    """(case, created); a concurrent second click gets the first click's case."""
    from gridgov.cases.service import idempotent_case

    try:
        case, created = service.finding_to_case(db, ctx, who, visit_id, dispute, item_code)
        db.commit()
    except Conflict as exc:
        if exc.code != "idempotency_race":
            raise
        db.rollback()
        case, created = idempotent_case(db, f"visit:{visit_id}", "case"), False
    return case, created


def _case_answer(case, created: bool):
    return JSONResponse({"case_id": case.id, "number": case.number, "url": f"/cases/{case.id}",
                         "created": created}, status_code=201 if created else 200)


@router.post("/visits/{visit_id}/case")
def finding_to_case(visit_id: int, db: DB, who: Who, ctx: Ctx):
    return _case_answer(*convert(db, ctx, who, visit_id, False, None))


@router.post("/visits/{visit_id}/dispute")
def finding_to_dispute(visit_id: int, body: ToCaseIn, db: DB, who: Who, ctx: Ctx):
    return _case_answer(*convert(db, ctx, who, visit_id, True, body.item_code))


@router.get("/services", response_model=ServicePage)
def list_services(request: Request, db: DB, who: Who, role: str | None = None, grid: str | None = None,
                  since: str | None = None, until: str | None = None, mine: bool = False, q: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0):
    f = service.ServiceFilter(role=role, grid=grid, since=service.parse_day(since, "since"),
                              until=service.parse_day(until, "until"),
                              mine=mine, q=q)
    rows, total = service.list_services(db, who, f, request.app.state.settings.timezone, limit, offset)
    return ServicePage(total=total, items=ServiceOut.many(db, rows))


@router.post("/services", response_model=ServiceOut, status_code=201)
def create_service(request: Request, body: ServiceIn, db: DB, who: Who):
    row = service.create_service(db, who, request.app.state.locator, service.NewService(**body.model_dump()))
    db.commit()
    return ServiceOut.many(db, [row])[0]
