"""What the people API takes and returns. Everything that leaves is masked; only `Revealed` is not."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from gridgov.people.models import Resident
from gridgov.people.service import age_of


class TagBrief(BaseModel):
    code: str
    name: str


class ResidentBrief(BaseModel):
    id: int
    name: str
    kind: str
    gender: str
    age: int | None
    grid_code: str
    id_number: str  # masked
    phone: str  # masked
    address: str
    tags: list[TagBrief]
    matched: str = ""
    highlight: dict[str, tuple[int, int]] = {}

    @classmethod
    def of(cls, r: Resident, tags: list[tuple[str, str]], matched: str = "",
           highlight: dict[str, tuple[int, int]] | None = None) -> ResidentBrief:
        return cls(id=r.id, name=r.name, kind=r.kind, gender=r.gender, age=age_of(r.birth_date),
                   grid_code=r.grid_code, id_number=r.id_masked, phone=r.phone_masked, address=r.address,
                   tags=[TagBrief(code=c, name=n) for c, n in tags], matched=matched, highlight=highlight or {})


class ResidentPage(BaseModel):
    total: int
    total_capped: bool
    limit: int
    offset: int
    items: list[ResidentBrief]


class ResidentOut(ResidentBrief):
    id_type: str
    birth_date: date | None
    nationality: str
    ethnicity: str
    education: str
    occupation: str
    employer: str
    hukou_address: str
    household_status: str
    notes: str
    sources: list[str]
    version: int

    @classmethod
    def full(cls, r: Resident, tags: list[tuple[str, str]]) -> ResidentOut:
        brief = ResidentBrief.of(r, tags)
        return cls(**brief.model_dump(), id_type=r.id_type, birth_date=r.birth_date, nationality=r.nationality,
                   ethnicity=r.ethnicity, education=r.education, occupation=r.occupation, employer=r.employer,
                   hukou_address=r.hukou_address, household_status=r.household_status, notes=r.notes,
                   sources=list(r.sources or []), version=r.version)


class ResidentFields(BaseModel):
    """What a person may state about a resident, on registering or editing."""

    name: str = Field(max_length=60)
    kind: str = ""
    grid_code: str = Field(max_length=14)
    phone: str = ""
    gender: str = ""
    birth_date: date | None = None
    nationality: str = ""
    ethnicity: str = ""
    education: str = ""
    occupation: str = ""
    employer: str = ""
    hukou_address: str = ""
    address: str = ""
    household_status: str = ""
    notes: str = ""


class ResidentIn(ResidentFields):
    id_number: str = Field(max_length=30)
    id_type: str = "ric"


class ResidentUpdate(ResidentFields):
    """The ID number is the key of the register, so an edit does not change it."""

    version: int


class RegisterOut(BaseModel):
    resident: ResidentOut
    status: str  # created | updated | unchanged
    conflicts: list[str]


class Revealed(BaseModel):
    id: int
    name: str
    id_number: str
    phone: str
    tag_phones: dict[str, dict[str, str]] = {}  # tag code → detail field → phone


class TagIn(BaseModel):
    code: str
    details: dict = {}
    reason: str = ""


class TagChange(BaseModel):
    details: dict = {}
    reason: str = ""
    version: int | None = None


class TagDecision(BaseModel):
    accept: bool
    details: dict = {}
    reason: str = ""


class TagOut(BaseModel):
    code: str
    name: str
    status: str
    source: str
    details: list[tuple[str, str]]  # (label, value), phones masked
    version: int


class TagEventOut(BaseModel):
    tag_code: str
    action: str
    reason: str
    actor: str
    at: str
    before: list[tuple[str, str]]
    after: list[tuple[str, str]]


class BuildingIn(BaseModel):
    name: str = Field(max_length=100)
    grid_code: str
    address: str = ""
    lon: float | None = None
    lat: float | None = None
    floors: int | None = None
    structure: str = ""


class HouseIn(BaseModel):
    building_id: int
    room: str = Field(max_length=20)
    unit: str = Field(default="", max_length=20)
    floor: int | None = None
    area_m2: float | None = None
    use: str = "住宅"
    ownership: str = "商品房"
    rented: bool = False
    notes: str = ""


class ResidenceIn(BaseModel):
    resident_id: int
    house_id: int
    relation: str
    start_date: date | None = None
    end_date: date | None = None
    note: str = ""


class ResidenceEnd(BaseModel):
    end_date: date


class HouseOut(BaseModel):
    id: int
    building_id: int
    building: str
    unit: str
    room: str
    floor: int | None
    area_m2: float | None
    use: str
    ownership: str
    rented: bool
    grid_code: str
    address: str


class OccupantOut(BaseModel):
    residence_id: int
    relation: str
    start_date: date | None
    end_date: date | None
    resident: ResidentBrief


class ResidenceOut(BaseModel):
    residence_id: int
    relation: str
    start_date: date | None
    end_date: date | None
    house: HouseOut


class ConflictOut(BaseModel):
    id: int
    resident_id: int
    field: str
    label: str
    current_value: str
    proposed_value: str
    source: str
    status: str
