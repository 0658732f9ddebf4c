from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from gridgov.visits import service
from gridgov.visits.models import ServiceRecord, Visit

CRS = Literal["wgs84", "gcj02", "bd09"]


class TagKindOut(BaseModel):
    code: str
    name: str
    visit_days: int
    active: bool


class TagKindPatch(BaseModel):
    visit_days: int | None = Field(default=None, ge=0, le=service.MAX_VISIT_DAYS)
    active: bool | None = None


class VisitIn(BaseModel):
    """Recording a visit. `visited_at` defaults to now; a point (with its `crs`) or a place is needed."""

    visited_at: datetime | None = None
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    crs: CRS = "wgs84"
    place: str = Field(default="", max_length=200)
    met: str = Field(default="", max_length=60)
    findings: str = Field(default="", max_length=4000)
    follow_up: str = Field(default="", max_length=4000)

    def record(self) -> service.VisitRecord:
        return service.VisitRecord(**self.model_dump(include=set(VisitIn.model_fields)))


class RecordIn(VisitIn):
    version: int


class AdHocVisitIn(VisitIn):
    resident_id: int
    tag_code: str = Field(default="", max_length=30)


class ToCaseIn(BaseModel):
    item_code: str | None = Field(default=None, max_length=12)


class PhotoOut(BaseModel):
    id: int
    filename: str
    url: str


class VisitOut(BaseModel):
    id: int
    resident_id: int
    resident_name: str
    tag_code: str
    tag_name: str
    status: Literal["due", "overdue", "done"]
    due_date: date
    grid_code: str
    worker_id: int | None
    worker_name: str
    visited_at: datetime | None
    lon: float | None
    lat: float | None
    place: str
    met: str
    findings: str
    follow_up: str
    done_by: str
    case_id: int | None
    version: int
    photos: list[PhotoOut] = []

    @classmethod
    def many(cls, db: Session, visits: list[Visit], today: date, photos: bool = False) -> list[VisitOut]:
        names = service.names_for(db, visits)
        out = []
        for v in visits:
            pics = [PhotoOut(id=p.id, filename=p.filename, url=f"/visits/photos/{p.id}")
                    for p in service.visit_photos(db, v.id)] if photos else []
            out.append(cls(id=v.id, resident_id=v.resident_id, resident_name=names["residents"].get(v.resident_id, ""),
                           tag_code=v.tag_code, tag_name=names["tags"].get(v.tag_code, ""),
                           status=service.status_of(v, today), due_date=v.due_date, grid_code=v.grid_code,
                           worker_id=v.worker_id, worker_name=names["users"].get(v.worker_id, ""),
                           visited_at=v.visited_at, lon=v.lon, lat=v.lat, place=v.place, met=v.met,
                           findings=v.findings, follow_up=v.follow_up, done_by=names["users"].get(v.done_by, ""),
                           case_id=v.case_id, version=v.version, photos=pics))
        return out


class VisitPage(BaseModel):
    total: int
    items: list[VisitOut]


class GenerateOut(BaseModel):
    created: int
    dropped: int
    assigned: int


class ServiceIn(BaseModel):
    role: Literal["collect", "help", "law", "rights", "mediate", "risk"]
    title: str = Field(min_length=1, max_length=120)
    content: str = Field(default="", max_length=4000)
    served_at: datetime | None = None
    resident_id: int | None = None
    grid_code: str | None = Field(default=None, max_length=14)
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    crs: CRS = "wgs84"


class ServiceOut(BaseModel):
    id: int
    role: str
    role_label: str
    title: str
    content: str
    served_at: datetime
    grid_code: str
    resident_id: int | None
    resident_name: str
    worker_name: str
    lon: float | None
    lat: float | None

    @classmethod
    def many(cls, db: Session, rows: list[ServiceRecord]) -> list[ServiceOut]:
        names = service.service_names(db, rows)
        return [cls(id=r.id, role=r.role, role_label=service.SERVICE_ROLES.get(r.role, r.role), title=r.title,
                    content=r.content, served_at=r.served_at, grid_code=r.grid_code, resident_id=r.resident_id,
                    resident_name=names["residents"].get(r.resident_id, ""),
                    worker_name=names["users"].get(r.worker_id, ""), lon=r.lon, lat=r.lat) for r in rows]


class ServicePage(BaseModel):
    total: int
    items: list[ServiceOut]
