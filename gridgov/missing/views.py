"""The missing-prone registry and its alerts: the JSON API under /api/v1. Thin; the request owns
the transaction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile

from gridgov.core.audit import RevealIn
from gridgov.core.crypto import data_cipher
from gridgov.core.deps import DB, Who
from gridgov.missing import service
from gridgov.missing.schemas import (
    AlertOut,
    AlertPage,
    CloseIn,
    PersonIn,
    PersonOut,
    PersonPage,
    RevealOut,
    SightingIn,
)

router = APIRouter(prefix="/api/v1", tags=["missing"])


def _cipher(request: Request):
    return data_cipher(request.app.state.settings)


@router.get("/missing", response_model=PersonPage)
def list_people(request: Request, db: DB, who: Who, q: str | None = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0):
    rows, total = service.list_people(db, who, q, limit, offset)
    return PersonPage(total=total, items=PersonOut.many(db, _cipher(request), rows))


@router.post("/missing", response_model=PersonOut, status_code=201)
def register(request: Request, body: PersonIn, db: DB, who: Who):
    person = service.register_person(db, _cipher(request), who, body.data())
    db.commit()
    return PersonOut.many(db, _cipher(request), [person])[0]


@router.get("/missing/{person_id}", response_model=PersonOut)
def get_person(request: Request, person_id: int, db: DB, who: Who):
    return PersonOut.many(db, _cipher(request), [service.get_alert_person(db, who, person_id)])[0]


@router.put("/missing/{person_id}", response_model=PersonOut)
def update_person(request: Request, person_id: int, body: PersonIn, db: DB, who: Who):
    person = service.update_person(db, _cipher(request), who, person_id, body.data())
    db.commit()
    return PersonOut.many(db, _cipher(request), [person])[0]


@router.post("/missing/{person_id}/photo", response_model=PersonOut)
async def set_photo(request: Request, person_id: int, db: DB, who: Who, file: Annotated[UploadFile, File()]):
    person = service.set_photo(db, request.app.state.settings, who, person_id, file.filename or "", await file.read())
    db.commit()
    return PersonOut.many(db, _cipher(request), [person])[0]


@router.post("/missing/{person_id}/reveal", response_model=RevealOut)
def reveal(request: Request, person_id: int, body: RevealIn, db: DB, who: Who):
    shown = service.reveal_contacts(db, request.app.state.settings, who, person_id, body.reason)
    db.commit()
    return shown


@router.post("/missing/{person_id}/alerts", response_model=AlertOut, status_code=201)
def report_missing(request: Request, person_id: int, body: SightingIn, db: DB, who: Who):
    alert = service.report_missing(db, request.app.state.settings, who, person_id, body.data())
    db.commit()
    return AlertOut.many(db, [alert], events=True)[0]


@router.get("/missing-alerts", response_model=AlertPage)
def list_alerts(db: DB, who: Who, status: Annotated[str | None, Query(pattern="^(open|found|cancelled)$")] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0):
    rows, total = service.list_alerts(db, who, status, limit, offset)
    return AlertPage(total=total, items=AlertOut.many(db, rows))


@router.get("/missing-alerts/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: int, db: DB, who: Who):
    return AlertOut.many(db, [service.get_alert(db, who, alert_id)], events=True)[0]


@router.post("/missing-alerts/{alert_id}/sightings", response_model=AlertOut, status_code=201)
def add_sighting(request: Request, alert_id: int, body: SightingIn, db: DB, who: Who):
    alert = service.add_sighting(db, request.app.state.settings, who, alert_id, body.version, body.data())
    db.commit()
    return AlertOut.many(db, [alert], events=True)[0]


@router.post("/missing-alerts/{alert_id}/found", response_model=AlertOut)
def found(request: Request, alert_id: int, body: CloseIn, db: DB, who: Who):
    alert = service.close_alert(db, request.app.state.settings, who, alert_id, body.version, "found", body.data())
    db.commit()
    return AlertOut.many(db, [alert], events=True)[0]


@router.post("/missing-alerts/{alert_id}/cancel", response_model=AlertOut)
def cancel(request: Request, alert_id: int, body: CloseIn, db: DB, who: Who):
    alert = service.close_alert(db, request.app.state.settings, who, alert_id, body.version, "cancel", body.data())
    db.commit()
    return AlertOut.many(db, [alert], events=True)[0]
