from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.accounts.models import User
from gridgov.core.crypto import DataCipher
from gridgov.missing import service
from gridgov.missing.models import MissingAlert, MissingAlertEvent, MissingProne
from gridgov.people.models import Resident

CRS = Literal["wgs84", "gcj02", "bd09"]


class ContactIn(BaseModel):
    name: str = Field(max_length=60)
    relation: str = Field(default="", max_length=20)
    phone: str = Field(max_length=40)


class PersonIn(BaseModel):
    resident_id: int | None = None
    description: str = Field(default="", max_length=2000)
    condition: str = Field(default="", max_length=200)
    guardian_name: str = Field(default="", max_length=60)
    guardian_phone: str = Field(default="", max_length=40)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=service.MAX_CONTACTS)
    home_address: str = Field(default="", max_length=200)
    home_lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    home_lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    crs: CRS = "wgs84"

    def data(self) -> service.PersonInput:
        values = self.model_dump(exclude={"contacts"})
        return service.PersonInput(**values, contacts=[service.Contact(**c.model_dump()) for c in self.contacts])


class ContactOut(BaseModel):
    name: str
    relation: str
    phone: str


class PersonOut(BaseModel):
    id: int
    resident_id: int
    name: str
    grid_code: str
    description: str
    condition: str
    guardian_name: str
    guardian_phone: str  # masked
    contacts: list[ContactOut]  # phones masked
    home_address: str
    home_lon: float | None
    home_lat: float | None
    photo_url: str | None
    open_alert_id: int | None

    @classmethod
    def many(cls, db: Session, cipher: DataCipher, people: list[MissingProne]) -> list[PersonOut]:
        ids = [p.resident_id for p in people]
        names = dict(db.execute(select(Resident.id, Resident.name).where(Resident.id.in_(ids))).all()) if ids else {}
        alerts = dict(db.execute(select(MissingAlert.person_id, MissingAlert.id).where(
            MissingAlert.status == "open", MissingAlert.person_id.in_([p.id for p in people]))).all()) if people else {}
        return [cls(id=p.id, resident_id=p.resident_id, name=names.get(p.resident_id, ""), grid_code=p.grid_code,
                    description=p.description, condition=p.condition, guardian_name=p.guardian_name,
                    guardian_phone=p.guardian_phone_masked,
                    contacts=[ContactOut(**c) for c in service.masked_contacts(cipher, p)],
                    home_address=p.home_address, home_lon=p.home_lon, home_lat=p.home_lat,
                    photo_url=f"/missing/{p.id}/photo" if p.photo_filename else None,
                    open_alert_id=alerts.get(p.id)) for p in people]


class PersonPage(BaseModel):
    total: int
    items: list[PersonOut]


class RevealOut(BaseModel):
    guardian_name: str
    guardian_phone: str
    contacts: list[ContactOut]


class SightingIn(BaseModel):
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    crs: CRS = "wgs84"
    at: datetime | None = None
    place: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=2000)
    radius_m: int | None = Field(default=None, ge=100, le=50000)
    version: int | None = None

    def data(self) -> service.Sighting:
        return service.Sighting(**self.model_dump(exclude={"version"}))


class CloseIn(SightingIn):
    version: int


class EventOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    at: datetime
    lon: float | None
    lat: float | None
    place: str
    note: str
    actor: str


class AlertOut(BaseModel):
    id: int
    person_id: int
    name: str
    status: str
    status_label: str
    last_seen_at: datetime
    lon: float
    lat: float
    place: str
    radius_m: int
    grid_code: str
    version: int
    created_at: datetime
    closed_at: datetime | None
    events: list[EventOut] = []

    @classmethod
    def many(cls, db: Session, alerts: list[MissingAlert], events: bool = False) -> list[AlertOut]:
        people = {p.id: p for p in db.scalars(select(MissingProne).where(
            MissingProne.id.in_([a.person_id for a in alerts])))} if alerts else {}
        rids = [p.resident_id for p in people.values()]
        names = dict(db.execute(select(Resident.id, Resident.name).where(Resident.id.in_(rids))).all()) if rids else {}
        out = []
        for a in alerts:
            evs = _events(db, service.timeline(db, a.id)) if events else []
            out.append(cls(id=a.id, person_id=a.person_id, name=names.get(people[a.person_id].resident_id, ""),
                           status=a.status, status_label=service.ALERT_STATUSES[a.status], last_seen_at=a.last_seen_at,
                           lon=a.lon, lat=a.lat, place=a.place, radius_m=a.radius_m, grid_code=a.grid_code,
                           version=a.version, created_at=a.created_at, closed_at=a.closed_at, events=evs))
        return out


def _events(db: Session, rows: list[MissingAlertEvent]) -> list[EventOut]:
    uids = {e.actor_id for e in rows if e.actor_id}
    users = dict(db.execute(select(User.id, User.display_name).where(User.id.in_(uids))).all()) if uids else {}
    return [EventOut(id=e.id, kind=e.kind, kind_label=service.EVENT_KINDS.get(e.kind, e.kind), at=e.at, lon=e.lon,
                     lat=e.lat, place=e.place, note=e.note, actor=users.get(e.actor_id, "")) for e in rows]


class AlertPage(BaseModel):
    total: int
    items: list[AlertOut]
