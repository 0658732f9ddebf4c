"""Visits to tagged people and the services log (走访、服务). Services never commit.

Due visits come from tags: for each active tag whose kind has a visit frequency, the next visit is
due `visit_days` after the last visit done for that person and tag (or after the tag was added).
One due visit per person and tag is open at a time; it turns overdue when its date passes and
stays on the list until it is done. Dates are local dates (the settings' time zone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.orm import Session

from gridgov.accounts.access import Principal
from gridgov.accounts.models import User
from gridgov.core.config import Settings
from gridgov.core.db import add_unique, dialect_insert, one_of, utcnow
from gridgov.core.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationFailed
from gridgov.core.uploads import store_image
from gridgov.people.models import Resident, ResidentTag, TagKind
from gridgov.regions.coords import CRS_NAMES, to_wgs84
from gridgov.regions.models import Region
from gridgov.visits.models import ServiceRecord, Visit, VisitPhoto

HORIZON_DAYS = 14  # due visits are generated this many days ahead
MAX_VISIT_DAYS = 366
STATUSES = {"due": "待走访", "overdue": "已逾期", "done": "已走访"}
MET = ("本人", "家属", "邻居", "未见到")
SERVICE_ROLES = {"collect": "信息收集", "help": "困难帮扶", "law": "普法宣传", "rights": "权益维护",
                 "mediate": "纠纷调解", "risk": "风险化解"}
DISPUTE_CATEGORY = "矛盾纠纷"


def parse_day(value: str | None, name: str) -> date | None:
    """A YYYY-MM-DD query or form value; blank is None."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed({name: FieldProblem("日期格式应为 YYYY-MM-DD")}) from None


def local_today(settings: Settings, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(settings.timezone)).date()


# --- tag kinds: the visit frequencies ---

def tag_kinds(db: Session) -> list[TagKind]:
    return list(db.scalars(select(TagKind).order_by(TagKind.sort, TagKind.code)))


def update_tag_kind(db: Session, who: Principal, code: str, visit_days: int | None = None,
                    active: bool | None = None) -> TagKind:
    who.require("tags.manage")
    kind = db.get(TagKind, code)
    if kind is None:
        raise NotFound("找不到标签 {code}", code=code)
    if visit_days is not None:
        if not 0 <= visit_days <= MAX_VISIT_DAYS:
            raise ValidationFailed({"visit_days": FieldProblem("走访周期必须在 0–366 天之间（0 表示不定期走访）")})
        kind.visit_days = visit_days
    if active is not None:
        kind.active = active
    db.flush()
    return kind


# --- generating due visits ---

@dataclass
class GenerationReport:
    created: int = 0
    dropped: int = 0  # due visits whose tag was removed or is no longer visited on a schedule
    assigned: int = 0  # due visits that had no grid worker and now have one

    def __bool__(self) -> bool:
        return bool(self.created or self.dropped or self.assigned)

    def __str__(self) -> str:
        return f"created {self.created}, dropped {self.dropped}, assigned {self.assigned}"


def grid_workers(db: Session, grid_codes=None) -> dict[str, int]:
    """The grid worker each grid's visits go to: the active grid worker with the lowest id."""
    q = (select(User.region_code, func.min(User.id)).where(User.role == "grid_worker", User.is_active.is_(True))
         .group_by(User.region_code))
    if grid_codes is not None:
        q = q.where(User.region_code.in_(list(grid_codes)))
    return dict(db.execute(q).all())


def _scheduled(region_path: str):
    """Active tags of people under `region_path` whose kind is visited on a schedule."""
    return (select(ResidentTag.resident_id, ResidentTag.tag_code, ResidentTag.created_at, TagKind.visit_days,
                   Resident.grid_code, Resident.region_path)
            .join(TagKind, TagKind.code == ResidentTag.tag_code)
            .join(Resident, Resident.id == ResidentTag.resident_id)
            .where(ResidentTag.status == "active", TagKind.visit_days > 0, TagKind.active.is_(True),
                   Resident.region_path.startswith(region_path, autoescape=True)))


def next_due_date(anchor: date, visit_days: int) -> date:
    return anchor + timedelta(days=visit_days)


def _free_due_date(due: date, anchor: date, taken: set[date]) -> date:
    """`due`, unless a visit done for the same person and tag holds that date (one done early, on
    the day the one before it was done or the tag added): then the day before, so the person is
    still visited within the frequency, but never on or before the visit it follows; failing that,
    the day after the last date taken."""
    day = due
    while day in taken:
        day -= timedelta(days=1)
        if day <= anchor:
            return max(taken) + timedelta(days=1)
    return day


def generate_due_visits(db: Session, today: date, tz: str = "Asia/Shanghai", horizon_days: int = HORIZON_DAYS,
                        region_path: str = "/", batch: int = 1000) -> GenerationReport:
    """Idempotent and safe to run concurrently: a row is only inserted when (resident, tag, due
    date) is new (ON CONFLICT DO NOTHING), so two runs never make two visits."""
    zone = ZoneInfo(tz)
    report = GenerationReport()
    in_scope = Visit.region_path.startswith(region_path, autoescape=True)
    still_scheduled = exists().where(
        ResidentTag.resident_id == Visit.resident_id, ResidentTag.tag_code == Visit.tag_code,
        ResidentTag.status == "active", TagKind.code == ResidentTag.tag_code, TagKind.visit_days > 0,
        TagKind.active.is_(True))
    report.dropped = db.execute(delete(Visit).where(Visit.status == "due", Visit.tag_code != "", in_scope,
                                                    ~still_scheduled).execution_options(synchronize_session=False)
                                ).rowcount or 0
    _follow_moves(db, region_path)
    last_done = (select(Visit.resident_id, Visit.tag_code, func.max(Visit.visited_at).label("at"))
                 .where(Visit.status == "done", Visit.tag_code != "").group_by(Visit.resident_id, Visit.tag_code)
                 .subquery())
    open_due = exists().where(Visit.resident_id == ResidentTag.resident_id, Visit.tag_code == ResidentTag.tag_code,
                              Visit.status == "due")
    q = (_scheduled(region_path).add_columns(last_done.c.at)
         .outerjoin(last_done, and_(last_done.c.resident_id == ResidentTag.resident_id,
                                    last_done.c.tag_code == ResidentTag.tag_code))
         .where(~open_due).order_by(ResidentTag.resident_id, ResidentTag.tag_code))
    horizon = today + timedelta(days=horizon_days)
    rows = []
    for r in db.execute(q):
        anchor = (r.at or r.created_at).astimezone(zone).date()
        due = next_due_date(anchor, r.visit_days)
        if due <= horizon:
            rows.append({"resident_id": r.resident_id, "tag_code": r.tag_code, "grid_code": r.grid_code,
                         "region_path": r.region_path, "due_date": due, "anchor": anchor})
    workers = grid_workers(db, {row["grid_code"] for row in rows}) if rows else {}
    now = utcnow()
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        # A done visit may hold the date (resident, tag, due date) is unique on: ON CONFLICT would
        # then skip the row on every run, and the person would never be due a visit again.
        taken = _done_due_dates(db, chunk)
        chunk = [{**{k: v for k, v in row.items() if k != "anchor"},
                  "due_date": _free_due_date(row["due_date"], row["anchor"],
                                             taken.get((row["resident_id"], row["tag_code"]), set())),
                  "worker_id": workers.get(row["grid_code"]), "status": "due", "place": "", "met": "",
                  "findings": "", "follow_up": "", "created_at": now, "version": 1}
                 for row in chunk]
        stmt = _insert_ignoring_duplicates(db, chunk)
        report.created += len(db.execute(stmt).all())
    report.assigned = _assign_unassigned(db, in_scope)
    return report


def _done_due_dates(db: Session, rows: list[dict]) -> dict[tuple[int, str], set[date]]:
    """The due dates of the visits done after each row's anchor, by (resident, tag)."""
    taken: dict[tuple[int, str], set[date]] = {}
    q = (select(Visit.resident_id, Visit.tag_code, Visit.due_date)
         .where(Visit.status == "done", one_of(db, Visit.resident_id, sorted({r["resident_id"] for r in rows})),
                Visit.due_date > min(r["anchor"] for r in rows)))
    for resident_id, tag_code, due_date in db.execute(q):
        taken.setdefault((resident_id, tag_code), set()).add(due_date)
    return taken


def _follow_moves(db: Session, region_path: str) -> None:
    """An open due visit follows its person to the grid they now live in (the register's edit
    moves the person, not the visit): else it stays on the old grid's list and overdue count, in
    the old worker's reach and out of the new one's. It is given to the new grid's worker below."""
    resident = select(Resident).where(Resident.id == Visit.resident_id)
    moved = exists(resident.where(Resident.region_path.startswith(region_path, autoescape=True),
                                  (Resident.grid_code != Visit.grid_code) | (Resident.region_path != Visit.region_path))
                   .with_only_columns(Resident.id))
    db.execute(update(Visit).where(Visit.status == "due", moved)
               .values(grid_code=resident.with_only_columns(Resident.grid_code).scalar_subquery(),
                       region_path=resident.with_only_columns(Resident.region_path).scalar_subquery(),
                       worker_id=None)
               .execution_options(synchronize_session=False))


def _insert_ignoring_duplicates(db: Session, rows: list[dict]):
    return (dialect_insert(db.get_bind().dialect.name)(Visit).values(rows)
            .on_conflict_do_nothing(index_elements=["resident_id", "tag_code", "due_date"]).returning(Visit.id))


def _assign_unassigned(db: Session, in_scope) -> int:
    grids = list(db.scalars(select(Visit.grid_code).where(Visit.status == "due", Visit.worker_id.is_(None), in_scope)
                            .distinct()))
    assigned = 0
    for grid, worker in grid_workers(db, grids).items():
        assigned += db.execute(update(Visit).where(Visit.status == "due", Visit.worker_id.is_(None),
                                                   Visit.grid_code == grid).values(worker_id=worker)
                               .execution_options(synchronize_session=False)).rowcount or 0
    return assigned


# --- reading ---

@dataclass
class VisitFilter:
    status: str | None = None  # due | overdue | done
    grid: str | None = None  # a region code: the grid, or a community/street above it
    tag: str | None = None
    mine: bool = False
    resident_id: int | None = None
    q: str | None = None  # the person's name


def _require_read(who: Principal) -> None:
    if not who.can("people.read"):
        raise Forbidden()


def filtered_visits(who: Principal, f: VisitFilter, today: date):
    _require_read(who)
    stmt = select(Visit).where(who.within(Visit.region_path))
    if f.status == "done":
        stmt = stmt.where(Visit.status == "done")
    elif f.status == "due":
        stmt = stmt.where(Visit.status == "due", Visit.due_date >= today)
    elif f.status == "overdue":
        stmt = stmt.where(Visit.status == "due", Visit.due_date < today)
    elif f.status == "open":
        stmt = stmt.where(Visit.status == "due")
    if f.grid:
        stmt = stmt.where(Visit.region_path.contains(f"/{f.grid}/", autoescape=True))
    if f.tag:
        stmt = stmt.where(Visit.tag_code == f.tag)
    if f.mine:
        stmt = stmt.where((Visit.worker_id == who.user_id) | (Visit.done_by == who.user_id))
    if f.resident_id:
        stmt = stmt.where(Visit.resident_id == f.resident_id)
    if f.q:
        stmt = stmt.where(Visit.resident_id.in_(select(Resident.id).where(Resident.name.contains(f.q.strip(),
                                                                                                 autoescape=True))))
    return stmt


def list_visits(db: Session, who: Principal, f: VisitFilter, today: date, limit: int = 50,
                offset: int = 0) -> tuple[list[Visit], int]:
    stmt = filtered_visits(who, f, today)
    total = db.scalar(stmt.with_only_columns(func.count(Visit.id)).order_by(None))
    order = (Visit.visited_at.desc(), Visit.id.desc()) if f.status == "done" else (Visit.due_date, Visit.id)
    return list(db.scalars(stmt.order_by(*order).limit(limit).offset(offset))), total or 0


def get_visit(db: Session, who: Principal, visit_id: int) -> Visit:
    _require_read(who)
    visit = db.scalar(select(Visit).where(Visit.id == visit_id, who.within(Visit.region_path)))
    if visit is None:
        raise NotFound("找不到走访记录 {id}", id=visit_id)
    return visit


def visit_photos(db: Session, visit_id: int) -> list[VisitPhoto]:
    return list(db.scalars(select(VisitPhoto).where(VisitPhoto.visit_id == visit_id).order_by(VisitPhoto.id)))


@dataclass
class VisitSummary:
    overdue: int
    due_soon: int  # due from today to a week ahead
    done_30d: int
    overdue_visits: list[Visit] = field(default_factory=list)


def visit_summary(db: Session, who: Principal, today: date, mine: bool = False, show: int = 10) -> VisitSummary:
    """Counts for a home page: the worker's own visits (`mine`) or the whole jurisdiction's."""
    base = select(func.count(Visit.id)).where(who.within(Visit.region_path))
    if mine:
        base = base.where((Visit.worker_id == who.user_id) | (Visit.done_by == who.user_id))
    overdue = db.scalar(base.where(Visit.status == "due", Visit.due_date < today)) or 0
    soon = db.scalar(base.where(Visit.status == "due", Visit.due_date >= today,
                                Visit.due_date <= today + timedelta(days=7))) or 0
    done = db.scalar(base.where(Visit.status == "done", Visit.visited_at >= utcnow() - timedelta(days=30))) or 0
    rows, _ = list_visits(db, who, VisitFilter(status="overdue", mine=mine), today, limit=show)
    return VisitSummary(overdue, soon, done, rows)


def overdue_counts(db: Session, who: Principal, today: date) -> dict[str, int]:
    """Overdue visits per grid inside the jurisdiction ({grid code: count}), for indicators."""
    q = (select(Visit.grid_code, func.count(Visit.id))
         .where(who.within(Visit.region_path), Visit.status == "due", Visit.due_date < today)
         .group_by(Visit.grid_code))
    return dict(db.execute(q).all())


def names_for(db: Session, visits: list[Visit]) -> dict:
    """Resident names, tag names and worker names for a page of visits, in three queries."""
    rids = {v.resident_id for v in visits}
    uids = {u for v in visits for u in (v.worker_id, v.done_by) if u}
    residents = dict(db.execute(select(Resident.id, Resident.name).where(Resident.id.in_(rids))).all()) if rids else {}
    users = dict(db.execute(select(User.id, User.display_name).where(User.id.in_(uids))).all()) if uids else {}
    tags = dict(db.execute(select(TagKind.code, TagKind.name)).all())
    return {"residents": residents, "users": users, "tags": tags}


def status_of(visit: Visit, today: date) -> str:
    if visit.status == "done":
        return "done"
    return "overdue" if visit.due_date < today else "due"


# --- recording ---

@dataclass
class VisitRecord:
    visited_at: datetime | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"
    place: str = ""
    met: str = ""
    findings: str = ""
    follow_up: str = ""


def _checked_point(data, problems: dict) -> tuple[float | None, float | None]:
    if data.lon is None and data.lat is None:
        return None, None
    if data.lon is None or data.lat is None:
        problems["location"] = FieldProblem("经度和纬度须同时填写")
        return None, None
    if not (math.isfinite(data.lon) and math.isfinite(data.lat) and -180 <= data.lon <= 180
            and -90 <= data.lat <= 90):
        problems["location"] = FieldProblem("经纬度超出范围")
        return None, None
    if data.crs not in CRS_NAMES:
        problems["crs"] = FieldProblem("必须是以下之一：{expected}", expected="、".join(CRS_NAMES))
        return None, None
    return to_wgs84(data.lon, data.lat, data.crs)


def _checked_record(data: VisitRecord, now: datetime) -> tuple[datetime, float | None, float | None]:
    problems: dict[str, FieldProblem] = {}
    at = data.visited_at or now
    if at.tzinfo is None:
        problems["visited_at"] = FieldProblem("时间须带时区")
    elif at > now + timedelta(minutes=10):
        problems["visited_at"] = FieldProblem("走访时间不能晚于现在")
    elif at < now - timedelta(days=31):
        problems["visited_at"] = FieldProblem("只能补录 31 天内的走访")
    if not data.met.strip():
        problems["met"] = FieldProblem("请填写见到的人（本人、家属、邻居或未见到）")
    elif len(data.met) > 60:
        problems["met"] = FieldProblem("长度不能超过 {limit}", limit=60)
    if len(data.place) > 200:
        problems["place"] = FieldProblem("长度不能超过 {limit}", limit=200)
    lon, lat = _checked_point(data, problems)
    if lon is None and not data.place.strip() and "location" not in problems:
        problems["location"] = FieldProblem("请使用定位，或填写走访地点")
    if problems:
        raise ValidationFailed(problems)
    return at, lon, lat


def _apply(visit: Visit, who: Principal, data: VisitRecord, at: datetime, lon, lat) -> None:
    visit.status = "done"
    visit.visited_at = at
    visit.lon, visit.lat = lon, lat
    visit.place = data.place.strip()
    visit.met = data.met.strip()
    visit.findings = data.findings.strip()
    visit.follow_up = data.follow_up.strip()
    visit.done_by = who.user_id


def _check_version(visit: Visit, version: int | None) -> None:
    if version is not None and version != visit.version:
        raise Conflict("走访记录已被他人更新（当前版本 {current}，您提交的是 {given}），请刷新后重试",
                       code="version_conflict", current=visit.version, given=version)


def record_visit(db: Session, who: Principal, visit_id: int, version: int | None, data: VisitRecord,
                 now: datetime | None = None) -> Visit:
    """Records a due (or overdue) visit as done."""
    who.require("visits.log")
    visit = get_visit(db, who, visit_id)
    _check_version(visit, version)
    if visit.status == "done":
        raise Conflict("该走访已于 {at} 记录，不能重复记录", code="already_done",
                       at=visit.visited_at.strftime("%Y-%m-%d"))
    at, lon, lat = _checked_record(data, now or utcnow())
    _apply(visit, who, data, at, lon, lat)
    db.flush()
    return visit


def get_resident(db: Session, who: Principal, resident_id: int) -> Resident:
    resident = db.scalar(select(Resident).where(Resident.id == resident_id, who.within(Resident.region_path)))
    if resident is None:
        raise NotFound("找不到居民 {id}", id=resident_id)
    return resident


def scheduled_tags(db: Session, resident_id: int) -> list[TagKind]:
    """The person's active tags (with a visit frequency or not), by sort order."""
    return list(db.scalars(select(TagKind).join(ResidentTag, ResidentTag.tag_code == TagKind.code)
                           .where(ResidentTag.resident_id == resident_id, ResidentTag.status == "active")
                           .order_by(TagKind.sort, TagKind.code)))


def create_visit(db: Session, who: Principal, resident_id: int, tag_code: str, data: VisitRecord, tz: str,
                 now: datetime | None = None) -> Visit:
    """An ad hoc visit. For a tag with an open due visit, that visit is the one recorded."""
    who.require("visits.log")
    resident = get_resident(db, who, resident_id)
    tag_code = (tag_code or "").strip()
    if tag_code and tag_code not in {t.code for t in scheduled_tags(db, resident.id)}:
        raise ValidationFailed({"tag_code": FieldProblem("该居民没有有效的“{tag}”标签", tag=tag_code)})
    if data.visited_at is not None and data.visited_at.tzinfo is not None:
        # A phone that lost the answer sends the same visit again, at the time it was made: that is
        # the visit recorded already (the due visit it completed is no longer open, and a second,
        # ad hoc one would count the person visited twice).
        sent = db.scalar(select(Visit).where(Visit.resident_id == resident.id, Visit.tag_code == tag_code,
                                             Visit.status == "done", Visit.done_by == who.user_id,
                                             Visit.visited_at == data.visited_at).limit(1))
        if sent is not None:
            return sent
    if tag_code:
        open_visit = db.scalar(select(Visit).where(Visit.resident_id == resident.id, Visit.tag_code == tag_code,
                                                   Visit.status == "due").order_by(Visit.due_date))
        if open_visit is not None:
            return record_visit(db, who, open_visit.id, None, data, now)
    at, lon, lat = _checked_record(data, now or utcnow())
    visit = Visit(resident_id=resident.id, tag_code=tag_code, worker_id=who.user_id, grid_code=resident.grid_code,
                  region_path=resident.region_path, due_date=at.astimezone(ZoneInfo(tz)).date(), status="due")
    _apply(visit, who, data, at, lon, lat)
    if not add_unique(db, visit):
        raise Conflict("该居民在 {day} 已有一条{kind}走访记录，请打开那条记录", code="visit_exists",
                       day=visit.due_date.isoformat(), kind="该标签的" if tag_code else "")
    return visit


def add_photo(db: Session, settings: Settings, who: Principal, visit_id: int, filename: str,
              data: bytes) -> VisitPhoto:
    who.require("visits.log")
    visit = get_visit(db, who, visit_id)
    img = store_image(db, settings, filename, data)
    # A phone that lost the answer sends the same photo again: it is the photo already kept.
    kept = db.scalar(select(VisitPhoto).where(VisitPhoto.visit_id == visit.id, VisitPhoto.sha256 == img.sha256)
                     .order_by(VisitPhoto.id).limit(1))
    if kept is not None:
        return kept
    photo = VisitPhoto(visit_id=visit.id, filename=img.filename, content_type=img.content_type, size=img.size,
                       sha256=img.sha256)
    db.add(photo)
    db.flush()
    return photo


def get_photo(db: Session, who: Principal, photo_id: int) -> VisitPhoto:
    photo = db.get(VisitPhoto, photo_id)
    if photo is None:
        raise NotFound("找不到该资源")
    get_visit(db, who, photo.visit_id)  # the visit's scope decides who may see its photos
    return photo


# --- a finding becomes a case (or a dispute, for now a case in the 矛盾纠纷 category) ---

def dispute_items(db: Session):
    from gridgov.catalog.models import CatalogItem, Category

    major = db.scalar(select(Category).where(Category.parent_id.is_(None), Category.name == DISPUTE_CATEGORY))
    if major is None:
        return []
    minors = select(Category.id).where(Category.parent_id == major.id)
    return list(db.scalars(select(CatalogItem).where(CatalogItem.active.is_(True),
                                                     CatalogItem.category_id.in_(minors))
                           .order_by(CatalogItem.code)))


def suggested_dispute_item(db: Session, text: str):
    from gridgov.catalog.suggest import suggest_items

    codes = {i.code for i in dispute_items(db)}
    for s in suggest_items(db, text, limit=20):
        if s.item.code in codes:
            return s.item
    return None


def finding_to_case(db: Session, ctx, who: Principal, visit_id: int, dispute: bool = False,
                    item_code: str | None = None):
    """Returns (case, created). A visit already turned into a case returns that case."""
    from gridgov.cases.models import Case
    from gridgov.cases.service import NewCase, create_case

    who.require("visits.log")
    visit = get_visit(db, who, visit_id)
    if visit.case_id:
        return db.get(Case, visit.case_id), False
    problems = {}
    if visit.status != "done" or not visit.findings.strip():
        problems["findings"] = FieldProblem("走访记录没有发现的问题，无法转为事件")
    if visit.lon is None or visit.lat is None:
        problems["location"] = FieldProblem("走访没有定位，无法转为事件，请在走访记录中补充位置")
    if problems:
        raise ValidationFailed(problems)
    if dispute:
        codes = {i.code for i in dispute_items(db)}
        if item_code and item_code not in codes:
            raise ValidationFailed({"item_code": FieldProblem("{code} 不是矛盾纠纷类事项", code=item_code)})
        item = None if item_code else suggested_dispute_item(db, visit.findings)
        item_code = item_code or (item.code if item else None)
        if not item_code:
            raise ValidationFailed({"item_code": FieldProblem("请选择纠纷类别")})
    description = f"走访发现：{visit.findings.strip()}"
    data = NewCase(description=description[:2000], lon=visit.lon, lat=visit.lat, item_code=item_code,
                   address=visit.place, source="grid_worker" if who.role == "grid_worker" else "referral")
    case, created = create_case(db, ctx, who, data, f"visit:{visit.id}", "case")
    visit.case_id = case.id
    db.flush()
    return case, created


# --- services (服务记录) ---

@dataclass
class NewService:
    role: str
    title: str
    content: str = ""
    served_at: datetime | None = None
    resident_id: int | None = None
    grid_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"


def create_service(db: Session, who: Principal, locator, data: NewService, now: datetime | None = None
                   ) -> ServiceRecord:
    """The service's grid: the person's, else the point's, else the one given, else the worker's own."""
    who.require("visits.log")
    now = now or utcnow()
    problems: dict[str, FieldProblem] = {}
    if data.role not in SERVICE_ROLES:
        problems["role"] = FieldProblem("必须是以下之一：{expected}", expected="、".join(SERVICE_ROLES))
    if not data.title.strip():
        problems["title"] = FieldProblem("必填")
    elif len(data.title.strip()) > 120:
        problems["title"] = FieldProblem("长度不能超过 {limit}", limit=120)
    at = data.served_at or now
    if at.tzinfo is None:
        problems["served_at"] = FieldProblem("时间须带时区")
    elif at > now + timedelta(minutes=10):
        problems["served_at"] = FieldProblem("服务时间不能晚于现在")
    lon, lat = _checked_point(data, problems)
    if problems:
        raise ValidationFailed(problems)
    grid_code = None
    if data.resident_id:
        grid_code = get_resident(db, who, data.resident_id).grid_code
    elif lon is not None:
        grid_code = locator.grid_code_for_point(db, lon, lat)
        if grid_code is None:
            raise ValidationFailed({"location": FieldProblem("该点 ({lon}, {lat}) 不在任何网格内",
                                                             lon=round(lon, 6), lat=round(lat, 6))})
    else:
        grid_code = data.grid_code or (who.region_code if who.role == "grid_worker" else None)
    if not grid_code:
        raise ValidationFailed({"grid_code": FieldProblem("请选择网格、服务对象或定位")})
    grid = db.get(Region, grid_code)
    if grid is None or grid.level != "grid":
        raise ValidationFailed({"grid_code": FieldProblem("网格 {code} 不存在", code=grid_code)})
    who.require_covers(grid.path)
    row = ServiceRecord(role=data.role, worker_id=who.user_id, resident_id=data.resident_id, grid_code=grid.code,
                        region_path=grid.path, title=data.title.strip(), content=data.content.strip(),
                        served_at=at, lon=lon, lat=lat)
    db.add(row)
    db.flush()
    return row


@dataclass
class ServiceFilter:
    role: str | None = None
    grid: str | None = None
    since: date | None = None
    until: date | None = None  # inclusive
    mine: bool = False
    q: str | None = None


def filtered_services(who: Principal, f: ServiceFilter, tz: str):
    _require_read(who)
    zone = ZoneInfo(tz)
    stmt = select(ServiceRecord).where(who.within(ServiceRecord.region_path))
    if f.role:
        stmt = stmt.where(ServiceRecord.role == f.role)
    if f.grid:
        stmt = stmt.where(ServiceRecord.region_path.contains(f"/{f.grid}/", autoescape=True))
    if f.since:
        stmt = stmt.where(ServiceRecord.served_at >= datetime.combine(f.since, datetime.min.time(), zone))
    if f.until:
        stmt = stmt.where(ServiceRecord.served_at < datetime.combine(f.until + timedelta(days=1),
                                                                     datetime.min.time(), zone))
    if f.mine:
        stmt = stmt.where(ServiceRecord.worker_id == who.user_id)
    if f.q:
        stmt = stmt.where(ServiceRecord.title.contains(f.q.strip(), autoescape=True))
    return stmt


def list_services(db: Session, who: Principal, f: ServiceFilter, tz: str, limit: int = 50,
                  offset: int = 0) -> tuple[list[ServiceRecord], int]:
    stmt = filtered_services(who, f, tz)
    total = db.scalar(stmt.with_only_columns(func.count(ServiceRecord.id)).order_by(None))
    rows = db.scalars(stmt.order_by(ServiceRecord.served_at.desc(), ServiceRecord.id.desc()).limit(limit)
                      .offset(offset))
    return list(rows), total or 0


def service_names(db: Session, rows: list[ServiceRecord]) -> dict:
    rids = {r.resident_id for r in rows if r.resident_id}
    uids = {r.worker_id for r in rows if r.worker_id}
    residents = dict(db.execute(select(Resident.id, Resident.name).where(Resident.id.in_(rids))).all()) if rids else {}
    users = dict(db.execute(select(User.id, User.display_name).where(User.id.in_(uids))).all()) if uids else {}
    return {"residents": residents, "users": users}

