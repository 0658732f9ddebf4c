"""Houses (实有房屋): buildings → units → rooms in a grid, and who lives in, owns or rents each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gridgov.accounts.access import Principal
from gridgov.core.db import add_unique
from gridgov.core.errors import AppError, FieldProblem, NotFound, ValidationFailed
from gridgov.people.models import Building, House, Residence, Resident
from gridgov.people.service import GridPaths, get_resident, scoped_get

USES = ("住宅", "商铺", "办公", "厂房", "仓储", "其他")
OWNERSHIPS = ("商品房", "房改房", "公租房", "自建房", "单位产权", "其他")
RELATIONS = ("居住", "产权", "租住")


@dataclass
class BuildingInput:
    name: str
    grid_code: str
    address: str = ""
    lon: float | None = None
    lat: float | None = None
    floors: int | None = None
    structure: str = ""


@dataclass
class HouseInput:
    building_id: int
    room: str
    unit: str = ""
    floor: int | None = None
    area_m2: float | None = None
    use: str = "住宅"
    ownership: str = "商品房"
    rented: bool = False
    notes: str = ""


@dataclass
class ResidenceInput:
    resident_id: int
    house_id: int
    relation: str
    start_date: date | None = None
    end_date: date | None = None
    note: str = ""


def check_building(data: BuildingInput, grids: GridPaths, who: Principal) -> tuple[str, dict[str, FieldProblem]]:
    problems: dict[str, FieldProblem] = {}
    if not (data.name or "").strip():
        problems["name"] = FieldProblem("必填")
    elif len(data.name) > 100:
        problems["name"] = FieldProblem("长度不能超过 {limit}", limit=100)
    path = grids.get(data.grid_code or "")
    if not data.grid_code:
        problems["grid_code"] = FieldProblem("必填")
    elif path is None:
        problems["grid_code"] = FieldProblem("网格 {code} 不存在", code=data.grid_code)
    elif not who.covers(path):
        problems["grid_code"] = FieldProblem("网格 {code} 不在您的管辖范围内", code=data.grid_code)
    # The columns' lengths: PostgreSQL refuses a longer value (an error with no field) where SQLite keeps it.
    for key, limit in (("address", 200), ("structure", 20)):
        if len((getattr(data, key) or "").strip()) > limit:
            problems[key] = FieldProblem("长度不能超过 {limit}", limit=limit)
    if data.floors is not None and not 1 <= data.floors <= 200:
        problems["floors"] = FieldProblem("应在 1–200 之间")
    if (data.lon is None) != (data.lat is None):
        problems["lon"] = FieldProblem("经度和纬度需同时填写")
    return path or "", problems


def create_building(db: Session, who: Principal, data: BuildingInput) -> Building:
    who.require("people.manage")
    path, problems = check_building(data, GridPaths(db), who)
    if problems:
        raise ValidationFailed(problems)
    if db.scalar(select(Building.id).where(Building.grid_code == data.grid_code, Building.name == data.name.strip())):
        raise ValidationFailed({"name": FieldProblem("该网格内已有同名楼栋")})
    building = Building(name=data.name.strip(), grid_code=data.grid_code, region_path=path,
                        address=data.address.strip(), lon=data.lon, lat=data.lat, floors=data.floors,
                        structure=data.structure.strip())
    _add_once(db, building, "name", "该网格内已有同名楼栋")
    return building


def _add_once(db: Session, row, key: str, taken: str) -> None:
    if not add_unique(db, row):  # added by someone else since the look above
        raise ValidationFailed({key: FieldProblem(taken)})


def get_building(db: Session, who: Principal, building_id: int) -> Building:
    return scoped_get(db, who, Building, building_id, "找不到楼栋 {id}")


def check_house(data: HouseInput) -> dict[str, FieldProblem]:
    problems: dict[str, FieldProblem] = {}
    if not (data.room or "").strip():
        problems["room"] = FieldProblem("必填")
    if data.use not in USES:
        problems["use"] = FieldProblem("必须是以下之一：{expected}", expected="、".join(USES))
    if data.ownership not in OWNERSHIPS:
        problems["ownership"] = FieldProblem("必须是以下之一：{expected}", expected="、".join(OWNERSHIPS))
    if data.area_m2 is not None and not 0 < data.area_m2 < 100000:
        problems["area_m2"] = FieldProblem("必须大于 {limit}", limit=0)
    return problems


HOUSE_ADDRESS_MAX = 240  # houses.address


def house_address(building: Building, unit: str, room: str) -> str:
    unit_part = f"{unit}单元" if unit and not unit.endswith("单元") else unit
    room_part = room if room.endswith("室") else f"{room}室"
    rest = f"{building.name}{unit_part}{room_part}"
    # A building's address (200) and name (100) together may not fit the room's column: the street
    # gives way, the building, unit and room that tell one room from another never do.
    return building.address[:HOUSE_ADDRESS_MAX - len(rest)] + rest


def create_house(db: Session, who: Principal, data: HouseInput) -> House:
    who.require("people.manage")
    building = get_building(db, who, data.building_id)
    problems = check_house(data)
    if problems:
        raise ValidationFailed(problems)
    unit, room = (data.unit or "").strip(), data.room.strip()
    if db.scalar(select(House.id).where(House.building_id == building.id, House.unit == unit, House.room == room)):
        raise ValidationFailed({"room": FieldProblem("该楼栋单元内已有此房号")})
    house = House(building_id=building.id, unit=unit, room=room, floor=data.floor, area_m2=data.area_m2,
                  use=data.use, ownership=data.ownership, rented=data.rented, grid_code=building.grid_code,
                  region_path=building.region_path, address=house_address(building, unit, room), notes=data.notes)
    _add_once(db, house, "room", "该楼栋单元内已有此房号")
    return house


def get_house(db: Session, who: Principal, house_id: int) -> House:
    return scoped_get(db, who, House, house_id, "找不到房屋 {id}")


def add_residence(db: Session, who: Principal, data: ResidenceInput) -> Residence:
    who.require("people.manage")
    person = get_resident(db, who, data.resident_id)
    house = get_house(db, who, data.house_id)
    if data.relation not in RELATIONS:
        raise ValidationFailed({"relation": FieldProblem("必须是以下之一：{expected}", expected="、".join(RELATIONS))})
    if data.start_date and data.end_date and data.end_date < data.start_date:
        raise ValidationFailed({"end_date": FieldProblem("结束日期不能早于开始日期")})
    if len(data.note or "") > 200:
        raise ValidationFailed({"note": FieldProblem("长度不能超过 {limit}", limit=200)})
    current = db.scalar(select(Residence.id).where(
        Residence.resident_id == person.id, Residence.house_id == house.id, Residence.relation == data.relation,
        Residence.end_date.is_(None)))
    if current and data.end_date is None:
        raise AppError("此人与该房屋已有相同的在用关系", code="relation_exists")
    relation = Residence(resident_id=person.id, house_id=house.id, relation=data.relation,
                         start_date=data.start_date, end_date=data.end_date, note=data.note,
                         created_by=who.user_id or None)
    db.add(relation)
    if data.relation == "租住" and data.end_date is None:
        house.rented = True
    db.flush()
    return relation


def end_residence(db: Session, who: Principal, residence_id: int, end: date) -> Residence:
    who.require("people.manage")
    relation = db.get(Residence, residence_id)
    if relation is None:
        raise NotFound("找不到居住关系 {id}", id=residence_id)
    house = get_house(db, who, relation.house_id)
    if relation.end_date is not None:
        raise AppError("该关系已结束", code="relation_ended")
    if relation.start_date and end < relation.start_date:
        raise ValidationFailed({"end_date": FieldProblem("结束日期不能早于开始日期")})
    relation.end_date = end
    db.flush()
    if relation.relation == "租住" and not db.scalar(select(Residence.id).where(
            Residence.house_id == house.id, Residence.relation == "租住", Residence.end_date.is_(None))):
        house.rented = False
    return relation


def _current(today: date | None = None):
    today = today or date.today()
    return or_(Residence.end_date.is_(None), Residence.end_date >= today)


def occupants(db: Session, who: Principal, house_id: int) -> list[tuple[Residence, Resident]]:
    """Everyone related to the house, current relations first (masked data only)."""
    get_house(db, who, house_id)
    rows = db.execute(select(Residence, Resident).join(Resident, Resident.id == Residence.resident_id)
                      .where(Residence.house_id == house_id)
                      .order_by(Residence.end_date.is_not(None), Residence.relation, Resident.name)).all()
    return [(r, p) for r, p in rows]


def houses_of(db: Session, who: Principal, resident_id: int) -> list[tuple[Residence, House]]:
    get_resident(db, who, resident_id)
    rows = db.execute(select(Residence, House).join(House, House.id == Residence.house_id)
                      .where(Residence.resident_id == resident_id, who.within(House.region_path))
                      .order_by(Residence.end_date.is_not(None), Residence.start_date.desc())).all()
    return [(r, h) for r, h in rows]
