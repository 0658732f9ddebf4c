"""Missing-prone registry pages: the list, registration, the person's page with "report missing",
and the alert page with its map and timeline. Same services as the API."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy import select
from starlette.datastructures import UploadFile

from gridgov.core.crypto import data_cipher
from gridgov.core.deps import DB, Who
from gridgov.core.errors import AppError, FieldProblem, ValidationFailed
from gridgov.core.i18n import translate
from gridgov.core.uploads import image_path
from gridgov.missing import service
from gridgov.missing.models import MissingAlert
from gridgov.missing.schemas import AlertOut, PersonOut
from gridgov.visits.pages import find_residents
from gridgov.web.render import render

router = APIRouter(include_in_schema=False)


def _errors(request, exc: AppError) -> dict:
    body = exc.body(request.state.lang)["error"]
    return body["fields"] or {"_": body["message"]}


def _num(form, key: str) -> float | None:
    raw = str(form.get(key) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ValidationFailed({key: FieldProblem("必须是数字")}) from None


def _at(request: Request, form, key: str = "at") -> datetime | None:
    raw = str(form.get(key) or "").strip()
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=ZoneInfo(request.app.state.settings.timezone))
    except ValueError:
        raise ValidationFailed({key: FieldProblem("格式不正确")}) from None


@router.get("/missing")
def registry(request: Request, db: DB, who: Who, q: str = ""):
    alerts, _ = service.list_alerts(db, who, "open", 100)
    people, total = (service.list_people(db, who, q, 200) if who.can("people.read") else ([], 0))
    return render(request, "missing/list.html", people=PersonOut.many(db, data_cipher(request.app.state.settings),
                                                                       people),
                  total=total, alerts=AlertOut.many(db, alerts), q=q)


@router.get("/missing/new")
def new_person_page(request: Request, db: DB, who: Who, resident_id: int | None = None, q: str = ""):
    who.require("people.manage")
    from gridgov.visits.service import get_resident

    resident = get_resident(db, who, resident_id) if resident_id else None
    found = find_residents(request, db, who, q) if q.strip() and resident is None else []
    return render(request, "missing/new.html", resident=resident, found=found, q=q, values={}, errors={})


def _person_input(form) -> service.PersonInput:
    contacts = []
    for i in range(service.MAX_CONTACTS):
        name, phone = str(form.get(f"contact_name_{i}") or "").strip(), str(form.get(f"contact_phone_{i}") or "")
        if name or phone.strip():
            contacts.append(service.Contact(name=name, relation=str(form.get(f"contact_relation_{i}") or ""),
                                            phone=phone))
    rid = str(form.get("resident_id") or "")
    return service.PersonInput(
        resident_id=int(rid) if rid.isdigit() else None, description=str(form.get("description") or ""),
        condition=str(form.get("condition") or ""), guardian_name=str(form.get("guardian_name") or ""),
        guardian_phone=str(form.get("guardian_phone") or ""), contacts=contacts,
        home_address=str(form.get("home_address") or ""), home_lon=_num(form, "home_lon"),
        home_lat=_num(form, "home_lat"), crs=str(form.get("crs") or "wgs84"))


@router.post("/missing/new")
async def register_page(request: Request, db: DB, who: Who):
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    settings = request.app.state.settings
    try:
        person = service.register_person(db, data_cipher(settings), who, _person_input(form))
        photo = form.get("photo")
        if isinstance(photo, UploadFile) and photo.filename:
            service.set_photo(db, settings, who, person.id, photo.filename, await photo.read())
    except AppError as exc:
        db.rollback()
        from gridgov.visits.service import get_resident

        rid = values.get("resident_id", "")
        resident = get_resident(db, who, int(rid)) if rid.isdigit() else None
        return render(request, "missing/new.html", status_code=exc.status, resident=resident, found=[], q="",
                      values=values, errors=_errors(request, exc))
    db.commit()
    return RedirectResponse(f"/missing/{person.id}", status_code=303)


def _person_page(request, db, who, person_id: int, status_code: int = 200, errors=None, revealed=None):
    settings = request.app.state.settings
    person = service.get_person(db, who, person_id)
    out = PersonOut.many(db, data_cipher(settings), [person])[0]
    alerts = db.scalars(select(MissingAlert).where(MissingAlert.person_id == person.id)
                        .order_by(MissingAlert.id.desc())).all()
    return render(request, "missing/detail.html", status_code=status_code, p=out, alerts=AlertOut.many(db, alerts),
                  errors=errors or {}, revealed=revealed, radius=settings.missing_radius_m,
                  can_report=who.can("missing.report"), can_reveal=who.can("people.reveal"))


@router.get("/missing/{person_id}")
def person_page(request: Request, db: DB, who: Who, person_id: int):
    return _person_page(request, db, who, person_id)


@router.get("/missing/{person_id}/photo")
def person_photo(request: Request, db: DB, who: Who, person_id: int):
    person = service.get_alert_person(db, who, person_id)
    if not person.photo_filename:
        from gridgov.core.errors import NotFound

        raise NotFound("找不到该资源")
    return FileResponse(image_path(request.app.state.settings, person.photo_filename),
                        media_type=person.photo_content_type)


@router.post("/missing/{person_id}/reveal")
async def reveal_page(request: Request, db: DB, who: Who, person_id: int):
    form = await request.form()
    try:
        shown = service.reveal_contacts(db, request.app.state.settings, who, person_id, str(form.get("reason") or ""))
    except AppError as exc:
        db.rollback()
        return _person_page(request, db, who, person_id, exc.status, _errors(request, exc))
    db.commit()
    return _person_page(request, db, who, person_id, revealed=shown)


def _sighting(request, form) -> service.Sighting:
    radius = _num(form, "radius_m")
    return service.Sighting(lon=_num(form, "lon"), lat=_num(form, "lat"), crs=str(form.get("crs") or "wgs84"),
                            at=_at(request, form), place=str(form.get("place") or ""),
                            note=str(form.get("note") or ""), radius_m=int(radius) if radius else None)


@router.post("/missing/{person_id}/report")
async def report_page(request: Request, db: DB, who: Who, person_id: int):
    form = await request.form()
    try:
        alert = service.report_missing(db, request.app.state.settings, who, person_id, _sighting(request, form))
    except AppError as exc:
        db.rollback()
        return _person_page(request, db, who, person_id, exc.status, _errors(request, exc))
    db.commit()
    return RedirectResponse(f"/missing/alerts/{alert.id}", status_code=303)


def _alert_page(request, db, who, alert_id: int, status_code: int = 200, errors=None):
    settings = request.app.state.settings
    alert = service.get_alert(db, who, alert_id)
    out = AlertOut.many(db, [alert], events=True)[0]
    person = PersonOut.many(db, data_cipher(settings), [service.get_alert_person(db, who, alert.person_id)])[0]
    lang = request.state.lang
    placed = [e for e in out.events if e.lon is not None]
    map_data = json.dumps({"lon": out.lon, "lat": out.lat, "radius": out.radius_m,
                           "seen_label": translate("最后出现", lang), "home_label": translate("住址", lang),
                           "home": [person.home_lon, person.home_lat] if person.home_lon is not None else None,
                           "events": [{"lon": e.lon, "lat": e.lat, "kind": e.kind,
                                       "label": translate(e.kind_label, lang)} for e in placed]})
    return render(request, "missing/alert.html", status_code=status_code, a=out, p=person, map_data=map_data,
                  errors=errors or {}, can_report=who.can("missing.report"),
                  can_register=who.can("people.read"),
                  can_reveal=service.may_reveal_contacts(db, settings, who, alert.person_id))


@router.get("/missing/alerts/{alert_id}")
def alert_page(request: Request, db: DB, who: Who, alert_id: int):
    return _alert_page(request, db, who, alert_id)


@router.post("/missing/alerts/{alert_id}/{action}")
async def alert_action(request: Request, db: DB, who: Who, alert_id: int, action: str):
    form = await request.form()
    settings = request.app.state.settings
    try:
        raw = str(form.get("version") or "")
        version = int(raw) if raw.isdigit() else None
        data = _sighting(request, form)
        if action == "sighting":
            service.add_sighting(db, settings, who, alert_id, version, data)
        elif action in ("found", "cancel"):
            service.close_alert(db, settings, who, alert_id, version or 0, action, data)
        else:
            from gridgov.core.errors import NotFound

            raise NotFound("没有名为 {action} 的操作", action=action)
    except AppError as exc:
        db.rollback()
        return _alert_page(request, db, who, alert_id, exc.status, _errors(request, exc))
    db.commit()
    return RedirectResponse(f"/missing/alerts/{alert_id}", status_code=303)
