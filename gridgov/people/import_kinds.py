"""What each kind of people workbook checks and writes (see gridgov/people/imports.py for the run).

Each row is checked by the same rules as a form (`check_resident`, `check_building`, `check_house`,
`check_details`); the database is consulted a batch at a time, and written with bulk statements,
so a row costs microseconds, not round trips.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm import Session

from gridgov.core.db import one_of
from gridgov.core.errors import FieldProblem
from gridgov.people import sheets
from gridgov.people.houses import (
    RELATIONS,
    BuildingInput,
    HouseInput,
    check_building,
    check_house,
    house_address,
)
from gridgov.people.identity import GENDERS, ID_TYPES, KINDS, IdentityError, IdNumber, parse_id
from gridgov.people.import_sheets import COPY_PREFIXES, DETAIL_SHEETS, BadCell, Row
from gridgov.people.imports import Counts, Importer
from gridgov.people.models import Building, House, Residence, Resident, ResidentTag, TagEvent, TagKind
from gridgov.people.rules import run_rules
from gridgov.people.service import (
    FIELD_LABELS,
    GridPaths,
    ResidentInput,
    check_resident,
    id_hash,
    resident_digest,
    upsert_residents,
)
from gridgov.people.tagging import check_details, detail_fields, sync_active_tags

CHUNK = 500  # IN-lists per query


def _data_sheets(names: list[str], columns: list[sheets.Column]) -> list[tuple[str, list[sheets.Column], str, bool]]:
    """Every sheet but the template's 填写说明 and an error workbook's 错误明细 may hold the rows:
    the run reads each whose header has the required columns (import_sheets.find_tables)."""
    data = [n for n in names if n != sheets.NOTES_SHEET and n not in DETAIL_SHEETS] or names[:1]
    return [(n, columns, "", False) for n in data]


def _id_of(row: Row, bad: list[BadCell], id_type_column: str = "id_type") -> IdNumber | None:
    """The row's document: 证件类型 (blank: 居民身份证) and 证件号码."""
    raw_type = row.cells.get(id_type_column)
    id_type = sheets.choice(raw_type, ID_TYPES, sheets.ID_TYPE_ALIASES)
    if id_type is None:
        bad.append(BadCell(FIELD_LABELS["id_type"], raw_type, sheets.one_of(ID_TYPES.values())))
        return None
    raw = row.cells.get("id_number")
    if _mangled_number(raw):
        bad.append(BadCell(FIELD_LABELS["id_number"], raw, FieldProblem(sheets.NUMBER_ID_PROBLEM)))
        return None
    try:
        return parse_id(sheets.text(raw), id_type or "ric")
    except IdentityError as exc:
        bad.append(BadCell(FIELD_LABELS["id_number"], raw, FieldProblem(exc.rule)))
        return None


def _mangled_number(raw) -> bool:
    """An ID number Excel stored as a number: it keeps 15 significant digits (4.30203195001039E+17)
    and the rest are gone. What is read back has made-up last digits, and one such number in
    eleven passes the checksum: so it is refused whatever it reads as, never imported as someone
    else's number. (A whole number written out in full by another program is exact, and checked.)"""
    return isinstance(raw, float) and abs(raw) >= 1e15


def _grid(grids: GridPaths, who, row: Row, bad: list[BadCell], header: str = "所属网格") -> tuple[str, str]:
    code = sheets.code(row.cells.get("grid_code"))
    path = grids.get(code)
    if not code:
        bad.append(BadCell(header, "", FieldProblem("必填")))
    elif path is None:
        bad.append(BadCell(header, code, FieldProblem("网格 {code} 不存在", code=code)))
    elif not who.covers(path):
        bad.append(BadCell(header, code, FieldProblem("网格 {code} 不在您的管辖范围内", code=code)))
    return code, path or ""


def _date(row: Row, key: str, header: str, bad: list[BadCell]) -> date | None:
    try:
        return sheets.as_date(row.cells.get(key))
    except ValueError:
        bad.append(BadCell(header, row.cells.get(key), FieldProblem(sheets.DATE_PROBLEM, label=header)))
        return None


def _people(db: Session, digests: list[str]) -> dict[str, tuple[int, str]]:
    """id hash → (resident id, region path) for the people named."""
    hashes = sorted(set(digests))
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(hashes), CHUNK):
        chunk = hashes[start:start + CHUNK]
        for digest, rid, path in db.execute(select(Resident.id_hash, Resident.id, Resident.region_path)
                                            .where(one_of(db, Resident.id_hash, chunk))):
            found[digest] = (rid, path)
    return found


def _registered(db: Session, ctx, who, rows: list[tuple[Row, object]]) -> dict[int, list[BadCell]]:
    """Relations and tags name people who must be on the register and inside the jurisdiction;
    sets `resident_id` on each clean row."""
    digests = [id_hash(ctx, clean.id) for _r, clean in rows]
    people = _people(db, digests)
    bad: dict[int, list[BadCell]] = {}
    for i, ((row, clean), digest) in enumerate(zip(rows, digests, strict=True)):
        found = people.get(digest)
        header, value = FIELD_LABELS["id_number"], row.cells.get("id_number")
        if found is None:
            bad[i] = [BadCell(header, value, FieldProblem("系统中没有此人，请先导入居民"))]
        elif not who.covers(found[1]):
            bad[i] = [BadCell(header, value, FieldProblem("此人不在您的管辖范围内"))]
        else:
            clean.resident_id = found[0]
    return bad


# --- residents ---

class ResidentImporter(Importer):
    kind = "residents"

    def __init__(self, db, ctx, who, source) -> None:
        super().__init__(db, ctx, who, source)
        self.grids = GridPaths(db)

    def sheets(self, names):
        return _data_sheets(names, sheets.RESIDENT_COLUMNS), []

    def check(self, row: Row):
        cells, bad = row.cells, []
        given: dict[str, object] = {}
        for key, options, aliases in (("id_type", ID_TYPES, sheets.ID_TYPE_ALIASES),
                                      ("kind", KINDS, sheets.KIND_ALIASES), ("gender", GENDERS, None)):
            code = sheets.choice(cells.get(key), options, aliases)
            if code is None:
                bad.append(BadCell(FIELD_LABELS[key], cells.get(key), sheets.one_of(options.values())))
            given[key] = code or ""
        birth = _date(row, "birth_date", FIELD_LABELS["birth_date"], bad)
        raw_id = cells.get("id_number")
        data = ResidentInput(
            name=sheets.text(cells.get("name")), id_number=sheets.text(raw_id), id_type=given["id_type"],
            kind=given["kind"], grid_code=sheets.code(cells.get("grid_code")), phone=sheets.text(cells.get("phone")),
            gender=given["gender"], birth_date=birth,
            **{k: sheets.text(cells.get(k)) for k in ("nationality", "ethnicity", "education", "occupation",
                                                        "employer", "hukou_address", "address", "household_status",
                                                        "notes")})
        clean, problems = check_resident(data, self.grids, self.who)
        if _mangled_number(raw_id):
            problems["id_number"] = FieldProblem(sheets.NUMBER_ID_PROBLEM)
        shown = {b.header for b in bad}
        for key, problem in problems.items():
            header = FIELD_LABELS.get(key, key)
            if header in shown:
                continue
            bad.append(BadCell(header, cells.get(key), problem))
        return (None if bad else clean), bad

    def key(self, clean):
        return clean.id.id_type, clean.id.number

    def check_batch(self, db, rows):
        people = _people(db, [resident_digest(self.ctx, clean) for _r, clean in rows])
        bad = {}
        for i, (row, clean) in enumerate(rows):
            found = people.get(clean.digest)
            if found is not None and not self.who.covers(found[1]):
                bad[i] = [BadCell(FIELD_LABELS["id_number"], row.cells.get("id_number"),
                                  FieldProblem("此人已登记在您管辖范围以外的网格，请联系其所在社区"))]
        return bad

    def write(self, db, batch):
        counts = Counts()
        outcomes = upsert_residents(db, self.ctx, batch, self.source, self.who.user_id or None)
        for outcome in outcomes:
            setattr(counts, outcome.status, getattr(counts, outcome.status) + 1)
            counts.conflicts += len(outcome.conflicts)
        # An import proposes tags as the nightly run does. The rules read where people live, and a
        # person created just now lives nowhere yet (relations are their own import).
        run_rules(db, [o.resident_id for o in outcomes if o.status != "created"])
        return counts


# --- houses ---

@dataclass
class HouseRow:
    grid_code: str
    region_path: str
    building: str
    building_address: str
    floors: int | None
    structure: str
    lon: float | None
    lat: float | None
    unit: str
    room: str
    floor: int | None
    area_m2: float | None
    use: str
    ownership: str
    rented: bool
    notes: str


HOUSE_HEADERS = {c.key: c.header for c in sheets.HOUSE_COLUMNS}
BUILDING_FIELDS = {"name": "building", "grid_code": "grid_code", "floors": "floors", "lon": "lon",
                   "address": "building_address", "structure": "structure"}


class HouseImporter(Importer):
    kind = "houses"
    key_column = "room"

    def __init__(self, db, ctx, who, source) -> None:
        super().__init__(db, ctx, who, source)
        self.grids = GridPaths(db)

    def sheets(self, names):
        return _data_sheets(names, sheets.HOUSE_COLUMNS), []

    def _number(self, row: Row, key: str, bad: list[BadCell], parse, rule: str):
        try:
            return parse(row.cells.get(key))
        except ValueError:
            bad.append(BadCell(HOUSE_HEADERS[key], row.cells.get(key), FieldProblem(rule)))
            return None

    def check(self, row: Row):
        c, bad = row.cells, []
        t = {k: sheets.text(c.get(k)) for k in ("building", "building_address", "structure", "unit", "room", "use",
                                                 "ownership", "notes")}
        t["grid_code"] = sheets.code(c.get("grid_code"))
        floors = self._number(row, "floors", bad, sheets.as_int, "必须是整数")
        lon = self._number(row, "lon", bad, sheets.as_float, "必须是数字")
        lat = self._number(row, "lat", bad, sheets.as_float, "必须是数字")
        floor = self._number(row, "floor", bad, sheets.as_int, "必须是整数")
        area = self._number(row, "area_m2", bad, sheets.as_float, "必须是数字")
        rented = self._number(row, "rented", bad, sheets.as_flag, "必须是“是”或“否”") or False
        path, problems = check_building(BuildingInput(name=t["building"], grid_code=t["grid_code"],
                                                      address=t["building_address"], lon=lon, lat=lat,
                                                      floors=floors, structure=t["structure"]), self.grids, self.who)
        house = HouseInput(building_id=0, room=t["room"], unit=t["unit"], floor=floor, area_m2=area,
                           use=t["use"] or "住宅", ownership=t["ownership"] or "商品房", rented=rented,
                           notes=t["notes"])
        shown = {b.header for b in bad}
        for key, problem in [*problems.items(), *check_house(house).items()]:
            header = HOUSE_HEADERS[BUILDING_FIELDS.get(key, key)]
            if header not in shown:
                bad.append(BadCell(header, c.get(BUILDING_FIELDS.get(key, key)), problem))
        if len(t["unit"]) > 20 or len(t["room"]) > 20:
            bad.append(BadCell(HOUSE_HEADERS["room"], t["room"], FieldProblem("长度不能超过 {limit}", limit=20)))
        if bad:
            return None, bad
        return HouseRow(t["grid_code"], path, t["building"], t["building_address"], floors, t["structure"], lon,
                        lat, house.unit, house.room, floor, area, house.use, house.ownership, rented, t["notes"]), []

    def key(self, clean: HouseRow):
        return clean.grid_code, clean.building, clean.unit, clean.room

    def write(self, db, batch: list[HouseRow]):
        counts = Counts()
        buildings: dict[tuple[str, str], Building] = {}
        pairs = sorted({(r.grid_code, r.building) for r in batch})
        for start in range(0, len(pairs), CHUNK):
            chunk = pairs[start:start + CHUNK]
            for b in db.scalars(select(Building).where(tuple_(Building.grid_code, Building.name).in_(chunk))):
                buildings[(b.grid_code, b.name)] = b
        for r in batch:
            if (r.grid_code, r.building) not in buildings:
                b = Building(name=r.building, grid_code=r.grid_code, region_path=r.region_path,
                             address=r.building_address, lon=r.lon, lat=r.lat, floors=r.floors, structure=r.structure)
                db.add(b)
                buildings[(r.grid_code, r.building)] = b
        db.flush()
        ids = sorted({b.id for b in buildings.values()})
        existing: dict[tuple[int, str, str], House] = {}
        for start in range(0, len(ids), CHUNK):
            for h in db.scalars(select(House).where(House.building_id.in_(ids[start:start + CHUNK]))):
                existing[(h.building_id, h.unit, h.room)] = h
        new = []
        for r in batch:
            b = buildings[(r.grid_code, r.building)]
            house = existing.get((b.id, r.unit, r.room))
            if house is None:
                new.append(dict(building_id=b.id, unit=r.unit, room=r.room, floor=r.floor, area_m2=r.area_m2,
                                use=r.use, ownership=r.ownership, rented=r.rented, grid_code=b.grid_code,
                                region_path=b.region_path, address=house_address(b, r.unit, r.room), notes=r.notes,
                                created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
                continue
            # Like people: what the register lacks is filled in, what it has is not overwritten.
            changed = False
            for key, value in (("floor", r.floor), ("area_m2", r.area_m2), ("notes", r.notes)):
                if value not in (None, "") and getattr(house, key) in (None, ""):
                    setattr(house, key, value)
                    changed = True
            counts.updated += changed
            counts.unchanged += not changed
        if new:
            db.execute(insert(House), new)
            counts.created += len(new)
        db.flush()
        return counts


# --- person–house relations ---

@dataclass
class RelationRow:
    id: IdNumber
    grid_code: str
    building: str
    unit: str
    room: str
    relation: str
    start_date: date | None
    end_date: date | None
    note: str
    resident_id: int = 0
    house_id: int = 0


class RelationImporter(Importer):
    kind = "relations"

    def __init__(self, db, ctx, who, source) -> None:
        super().__init__(db, ctx, who, source)
        self.grids = GridPaths(db)

    def sheets(self, names):
        return _data_sheets(names, sheets.RELATION_COLUMNS), []

    def check(self, row: Row):
        c, bad = row.cells, []
        number = _id_of(row, bad)
        grid, _path = _grid(self.grids, self.who, row, bad)
        t = {k: sheets.text(c.get(k)) for k in ("building", "unit", "room", "relation", "note")}
        for key, header in (("building", "楼栋名称"), ("room", "房号")):
            if not t[key]:
                bad.append(BadCell(header, "", FieldProblem("必填")))
        if t["relation"] not in RELATIONS:
            bad.append(BadCell("关系", c.get("relation"), sheets.one_of(RELATIONS)))
        start = _date(row, "start_date", "开始日期", bad)
        end = _date(row, "end_date", "结束日期", bad)
        if start and end and end < start:
            bad.append(BadCell("结束日期", c.get("end_date"), FieldProblem("结束日期不能早于开始日期")))
        if len(t["note"]) > 200:
            bad.append(BadCell("备注", t["note"], FieldProblem("长度不能超过 {limit}", limit=200)))
        if bad or number is None:
            return None, bad
        return RelationRow(number, grid, t["building"], t["unit"], t["room"], t["relation"], start, end, t["note"]), []

    def key(self, clean: RelationRow):
        return (clean.id.id_type, clean.id.number, clean.grid_code, clean.building, clean.unit, clean.room,
                clean.relation, clean.start_date)

    def check_batch(self, db, rows):
        bad = _registered(db, self.ctx, self.who, rows)
        wanted = sorted({(clean.grid_code, clean.building) for _r, clean in rows})
        houses: dict[tuple[str, str, str, str], int] = {}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start:start + CHUNK]
            for hid, grid, name, unit, room in db.execute(
                    select(House.id, Building.grid_code, Building.name, House.unit, House.room)
                    .join(Building, Building.id == House.building_id)
                    .where(tuple_(Building.grid_code, Building.name).in_(chunk))):
                houses[(grid, name, unit, room)] = hid
        for i, (row, clean) in enumerate(rows):
            hid = houses.get((clean.grid_code, clean.building, clean.unit, clean.room))
            if hid is None:
                where = f"{clean.building}{clean.unit + '单元' if clean.unit else ''}{clean.room}"
                bad.setdefault(i, []).append(BadCell("房号", row.cells.get("room"),
                                                     FieldProblem("找不到房屋 {house}，请先导入房屋", house=where)))
            else:
                clean.house_id = hid
        return bad

    def write(self, db, batch: list[RelationRow]):
        counts = Counts()
        rids = sorted({r.resident_id for r in batch})
        current: set[tuple] = set()
        for start in range(0, len(rids), CHUNK):
            for rid, hid, rel, begin, end in db.execute(
                    select(Residence.resident_id, Residence.house_id, Residence.relation, Residence.start_date,
                           Residence.end_date).where(Residence.resident_id.in_(rids[start:start + CHUNK]))):
                current.add((rid, hid, rel, "start", begin))
                if end is None:
                    current.add((rid, hid, rel, "open", None))
        new = []
        for r in batch:
            if ((r.resident_id, r.house_id, r.relation, "start", r.start_date) in current
                    or (r.end_date is None and (r.resident_id, r.house_id, r.relation, "open", None) in current)):
                counts.unchanged += 1  # already recorded: importing a file again doubles nothing
                continue
            current.add((r.resident_id, r.house_id, r.relation, "start", r.start_date))
            if r.end_date is None:
                current.add((r.resident_id, r.house_id, r.relation, "open", None))
            new.append(dict(resident_id=r.resident_id, house_id=r.house_id, relation=r.relation,
                            start_date=r.start_date, end_date=r.end_date, note=r.note,
                            created_by=self.who.user_id or None, created_at=datetime.now(UTC)))
        if new:
            db.execute(insert(Residence), new)
            counts.created += len(new)
        rented = sorted({r.house_id for r in batch if r.relation == "租住" and r.end_date is None})
        if rented:
            db.execute(update(House).where(House.id.in_(rented)).values(rented=True))
        if new:
            run_rules(db, sorted({r["resident_id"] for r in new}))
        return counts


# --- tags: one sheet per special group ---

@dataclass
class TagRow:
    id: IdNumber
    code: str
    details: dict
    resident_id: int = 0


class TagImporter(Importer):
    kind = "tags"

    def __init__(self, db, ctx, who, source) -> None:
        super().__init__(db, ctx, who, source)
        kinds = list(db.scalars(select(TagKind).where(TagKind.active.is_(True)).order_by(TagKind.sort)))
        self.by_sheet = {k.name: k.code for k in kinds} | {k.code: k.code for k in kinds}
        self.names = [k.name for k in kinds]

    def sheets(self, names):
        plan, problems = [], []
        for name in names:
            if name == sheets.NOTES_SHEET or name in DETAIL_SHEETS:
                continue
            title = next((name.removeprefix(p) for p in COPY_PREFIXES if name.startswith(p)), name)
            code = self.by_sheet.get(title)
            if code is None:
                problems.append(BadCell("工作表", name, FieldProblem(
                    "工作表“{name}”不是已知的标签，应为：{expected}", name=name, expected="、".join(self.names))))
            else:
                plan.append((name, sheets.tag_columns(code), code, True))
        if not plan and not problems:
            problems.append(BadCell("工作表", "", FieldProblem("没有标签工作表，请使用导入模板")))
        return plan, problems

    def check(self, row: Row):
        bad: list[BadCell] = []
        number = _id_of(row, bad)
        given = {f.key: sheets.text(row.cells.get(f"details.{f.key}")) for f in detail_fields(row.extra)}
        details, problems = check_details(self.ctx, row.extra, given)
        labels = {f"details.{f.key}": f.label for f in detail_fields(row.extra)}
        for key, problem in problems.items():
            bad.append(BadCell(labels.get(key, key), row.cells.get(key), problem))
        if bad or number is None:
            return None, bad
        return TagRow(number, row.extra, details), []

    def key(self, clean: TagRow):
        return clean.id.id_type, clean.id.number, clean.code

    def check_batch(self, db, rows):
        return _registered(db, self.ctx, self.who, rows)

    def write(self, db, batch: list[TagRow]):
        counts = Counts()
        rids = sorted({r.resident_id for r in batch})
        existing: dict[tuple[int, str], ResidentTag] = {}
        for start in range(0, len(rids), CHUNK):
            for tag in db.scalars(select(ResidentTag).where(ResidentTag.resident_id.in_(rids[start:start + CHUNK]))):
                existing[(tag.resident_id, tag.tag_code)] = tag
        reason = f"Excel 导入（{self.source}）"[:300]
        source = f"import:{self.source}"[:40]
        actor = self.who.user_id or None
        now = datetime.now(UTC)
        events, new, new_rows = [], [], []
        for r in batch:
            tag = existing.get((r.resident_id, r.code))
            if tag is not None and tag.status == "active":
                counts.unchanged += 1  # details already recorded stay as they are
                continue
            if tag is None:
                new.append(dict(resident_id=r.resident_id, tag_code=r.code, status="active", details=r.details,
                                source=source, created_at=now, updated_at=now, version=1))
                new_rows.append(r)
                continue
            before = {"status": tag.status, "details": tag.details}
            tag.status, tag.details, tag.source = "active", r.details, source
            events.append(dict(resident_tag_id=tag.id, resident_id=tag.resident_id, tag_code=r.code,
                               action="confirm" if before["status"] == "proposed" else "add", before=before,
                               after={"status": "active", "details": r.details}, reason=reason, actor_id=actor,
                               created_at=now))
            counts.updated += 1
        db.flush()
        if new:
            ids = db.execute(insert(ResidentTag).returning(ResidentTag.id, sort_by_parameter_order=True), new).scalars()
            for tid, r in zip(ids, new_rows, strict=True):
                events.append(dict(resident_tag_id=tid, resident_id=r.resident_id, tag_code=r.code, action="add",
                                   before={}, after={"status": "active", "details": r.details}, reason=reason,
                                   actor_id=actor, created_at=now))
            counts.created += len(new)
        if events:
            db.execute(insert(TagEvent), events)
        sync_active_tags(db, [e["resident_id"] for e in events])
        return counts
