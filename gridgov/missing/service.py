"""The missing-prone registry (易走失人员名册) and its alerts. Services never commit.

A report of a missing person opens one alert (one open alert per person at a time) and notifies,
through the notification outbox in the same transaction: the grid workers of the person's home grid
and of every grid within the search radius of the last place seen, the admins of the home community,
and the members of the police department. Sightings, "found" and "cancel" go on the alert's timeline
and are announced to the same people. State changes name the alert version they act on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from gridgov.accounts.access import Principal
from gridgov.accounts.models import User
from gridgov.core import audit
from gridgov.core.config import Settings
from gridgov.core.crypto import DataCipher, data_cipher
from gridgov.core.db import add_unique, utcnow
from gridgov.core.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationFailed
from gridgov.core.uploads import store_image
from gridgov.departments.models import Department
from gridgov.missing.geo import NEARBY
from gridgov.missing.models import MissingAlert, MissingAlertEvent, MissingProne
from gridgov.people.identity import IdentityError, mask_phone, parse_phone
from gridgov.people.models import Resident
from gridgov.regions.coords import CRS_NAMES, to_wgs84
from gridgov.regions.service import path_codes

GUARDIAN_PHONE = "missing.guardian_phone"
CONTACTS = "missing.contacts"
EVENT_KINDS = {"report": "报告走失", "sighting": "目击线索", "found": "已找到", "cancel": "撤销", "note": "备注"}
ALERT_STATUSES = {"open": "寻找中", "found": "已找到", "cancelled": "已撤销"}
MAX_CONTACTS = 5


# --- the registry ---

@dataclass
class Contact:
    name: str
    relation: str = ""
    phone: str = ""


@dataclass
class PersonInput:
    resident_id: int | None = None
    description: str = ""
    condition: str = ""
    guardian_name: str = ""
    guardian_phone: str = ""
    contacts: list[Contact] = field(default_factory=list)
    home_address: str = ""
    home_lon: float | None = None
    home_lat: float | None = None
    crs: str = "wgs84"


def _require_registry(who: Principal) -> None:
    # Departments (the police among them) see alerts, not the register.
    if not (who.can("missing.read") and who.can("people.read")):
        raise Forbidden()


def scoped_people(who: Principal):
    _require_registry(who)
    return select(MissingProne).where(who.within(MissingProne.region_path))


def list_people(db: Session, who: Principal, q: str | None = None, limit: int = 50,
                offset: int = 0) -> tuple[list[MissingProne], int]:
    stmt = scoped_people(who)
    if q and q.strip():
        stmt = stmt.where(MissingProne.resident_id.in_(
            select(Resident.id).where(Resident.name.contains(q.strip(), autoescape=True))))
    total = db.scalar(stmt.with_only_columns(func.count(MissingProne.id)).order_by(None)) or 0
    return list(db.scalars(stmt.order_by(MissingProne.id.desc()).limit(limit).offset(offset))), total


def get_person(db: Session, who: Principal, person_id: int) -> MissingProne:
    person = db.scalar(scoped_people(who).where(MissingProne.id == person_id))
    if person is None:
        raise NotFound("找不到易走失人员 {id}", id=person_id)
    return person


def _point(lon, lat, crs, name: str, problems: dict) -> tuple[float | None, float | None]:
    if lon is None and lat is None:
        return None, None
    if lon is None or lat is None or not (math.isfinite(lon) and math.isfinite(lat)) \
            or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        problems[name] = FieldProblem("经纬度须同时填写且在有效范围内")
        return None, None
    if crs not in CRS_NAMES:
        problems["crs"] = FieldProblem("必须是以下之一：{expected}", expected="、".join(CRS_NAMES))
        return None, None
    return to_wgs84(lon, lat, crs)


def _checked(cipher: DataCipher, data: PersonInput) -> dict:
    problems: dict[str, FieldProblem] = {}
    values: dict = {}
    for name, limit in (("description", 2000), ("condition", 200), ("guardian_name", 60), ("home_address", 200)):
        text = (getattr(data, name) or "").strip()
        if len(text) > limit:
            problems[name] = FieldProblem("长度不能超过 {limit}", limit=limit)
        values[name] = text
    if not values["guardian_name"]:
        problems["guardian_name"] = FieldProblem("请填写监护人姓名")
    try:
        phone = parse_phone(data.guardian_phone)
        if not phone:
            problems["guardian_phone"] = FieldProblem("请填写监护人电话")
    except IdentityError as exc:
        problems["guardian_phone"] = FieldProblem(exc.rule)
        phone = ""
    contacts = []
    if len(data.contacts) > MAX_CONTACTS:
        problems["contacts"] = FieldProblem("联系人最多 {limit} 位", limit=MAX_CONTACTS)
    for i, c in enumerate(data.contacts[:MAX_CONTACTS]):
        if not (c.name or "").strip():
            problems[f"contacts.{i}.name"] = FieldProblem("必填")
            continue
        try:
            contact_phone = parse_phone(c.phone)
        except IdentityError as exc:
            problems[f"contacts.{i}.phone"] = FieldProblem(exc.rule)
            continue
        if not contact_phone:
            problems[f"contacts.{i}.phone"] = FieldProblem("必填")
            continue
        contacts.append({"name": c.name.strip()[:60], "relation": (c.relation or "").strip()[:20],
                         "phone": contact_phone})
    values["home_lon"], values["home_lat"] = _point(data.home_lon, data.home_lat, data.crs, "home", problems)
    if problems:
        raise ValidationFailed(problems)
    values["guardian_phone_cipher"] = cipher.encrypt(phone, GUARDIAN_PHONE)
    values["guardian_phone_masked"] = mask_phone(phone)
    values["contacts_cipher"] = cipher.encrypt(json.dumps(contacts, ensure_ascii=False), CONTACTS) if contacts \
        else None
    return values


def register_person(db: Session, cipher: DataCipher, who: Principal, data: PersonInput) -> MissingProne:
    who.require("missing.report")
    who.require("people.manage")
    if not data.resident_id:
        raise ValidationFailed({"resident_id": FieldProblem("请选择登记的居民")})
    resident = db.scalar(select(Resident).where(Resident.id == data.resident_id, who.within(Resident.region_path)))
    if resident is None:
        raise ValidationFailed({"resident_id": FieldProblem("您的管辖范围内没有该居民")})
    existing = db.scalar(select(MissingProne.id).where(MissingProne.resident_id == resident.id))
    if existing:
        raise Conflict("该居民已在易走失人员名册中（编号 {id}）", code="already_registered", id=existing)
    values = _checked(cipher, data)
    person = MissingProne(resident_id=resident.id, grid_code=resident.grid_code, region_path=resident.region_path,
                          home_address=values.pop("home_address") or resident.address, created_by=who.user_id,
                          **values)
    if not add_unique(db, person):  # registered by someone else since the look above
        existing = db.scalar(select(MissingProne.id).where(MissingProne.resident_id == resident.id))
        raise Conflict("该居民已在易走失人员名册中（编号 {id}）", code="already_registered", id=existing) from None
    return person


def update_person(db: Session, cipher: DataCipher, who: Principal, person_id: int, data: PersonInput) -> MissingProne:
    who.require("people.manage")
    person = get_person(db, who, person_id)
    values = _checked(cipher, data)
    for k, v in values.items():
        setattr(person, k, v)
    db.flush()
    return person


def set_photo(db: Session, settings: Settings, who: Principal, person_id: int, filename: str,
              data: bytes) -> MissingProne:
    who.require("people.manage")
    person = get_person(db, who, person_id)
    img = store_image(db, settings, filename, data)
    person.photo_filename, person.photo_content_type = img.sha256, img.content_type
    db.flush()
    return person


def masked_contacts(cipher: DataCipher, person: MissingProne) -> list[dict]:
    return [{**c, "phone": mask_phone(c["phone"])} for c in _contacts(cipher, person)]


def _contacts(cipher: DataCipher, person: MissingProne) -> list[dict]:
    return json.loads(cipher.decrypt(person.contacts_cipher, CONTACTS)) if person.contacts_cipher else []


def may_reveal_contacts(db: Session, settings: Settings, who: Principal, person_id: int) -> bool:
    """Who may see the guardian's and contacts' phones in full: the register's reveal roles, and,
    while the person is missing, the police the alert went to (the 1-3-5-minute response calls
    the guardian first)."""
    if who.can("people.reveal"):
        return True
    if who.department_id is None:
        return False
    police = db.scalar(select(Department.id).where(Department.code == settings.missing_police_department))
    return who.department_id == police and db.scalar(select(MissingAlert.id).where(
        MissingAlert.person_id == person_id, MissingAlert.status == "open").limit(1)) is not None


def reveal_contacts(db: Session, settings: Settings, who: Principal, person_id: int, reason: str) -> dict:
    """The guardian's and contacts' phones in full, for whom `may_reveal_contacts` allows, with a
    reason; audited."""
    person = get_alert_person(db, who, person_id)
    if not may_reveal_contacts(db, settings, who, person_id):
        raise Forbidden("您的角色无权查看完整的电话号码")
    reason = audit.reveal_reason(reason)
    cipher = data_cipher(settings)
    phone = cipher.decrypt(person.guardian_phone_cipher, GUARDIAN_PHONE) if person.guardian_phone_cipher else ""
    name = db.scalar(select(Resident.name).where(Resident.id == person.resident_id)) or ""
    audit.record(db, cipher, audit.actor_of(who), "reveal", object_type="missing_prone",
                 object_id=person.id, subject=f"{name}的监护人 {person.guardian_name}", reason=reason,
                 data={"fields": ["guardian_phone", "contacts"]})
    return {"guardian_name": person.guardian_name, "guardian_phone": phone, "contacts": _contacts(cipher, person)}


def get_alert_person(db: Session, who: Principal, person_id: int) -> MissingProne:
    """The person as an alert reader may see them: from the register for its readers; otherwise
    (the police, a neighbouring grid's worker) only someone with an alert they may read."""
    if not who.can("missing.read"):
        raise Forbidden()
    if who.can("people.read"):
        person = db.scalar(scoped_people(who).where(MissingProne.id == person_id))
        if person is not None:
            return person
    in_scope = db.scalar(scoped_alerts(who).where(MissingAlert.person_id == person_id).limit(1))
    if in_scope is None:
        alerts, _ = list_alerts(db, who, status="open", limit=500)
        in_scope = next((a for a in alerts if a.person_id == person_id), None)
    if in_scope is None:
        raise NotFound("找不到易走失人员 {id}", id=person_id)
    return db.get(MissingProne, person_id)


# --- alerts ---

def _alert_scope(who: Principal):
    return who.within(MissingAlert.region_path)


def _searching_here(db: Session, who: Principal, alert: MissingAlert) -> bool:
    """A grid worker whose grid lies within the search radius reads the alert they were sent."""
    if who.role != "grid_worker":
        return False
    return any(who.region_code in NEARBY.within(db, lon, lat, alert.radius_m) for lon, lat in alert_points(db, alert))


def scoped_alerts(who: Principal):
    if not who.can("missing.read"):
        raise Forbidden()
    return select(MissingAlert).where(_alert_scope(who))


def list_alerts(db: Session, who: Principal, status: str | None = "open", limit: int = 50,
                offset: int = 0) -> tuple[list[MissingAlert], int]:
    """Alerts of the jurisdiction and, for a grid worker, open alerts searching their grid."""
    stmt = scoped_alerts(who)
    extra: list[MissingAlert] = []
    if who.role == "grid_worker" and status in (None, "open"):
        others = db.scalars(select(MissingAlert).where(MissingAlert.status == "open", ~_alert_scope(who)))
        extra = [a for a in others if _searching_here(db, who, a)]
    if status:
        stmt = stmt.where(MissingAlert.status == status)
    if extra:
        stmt = select(MissingAlert).where(stmt.whereclause | MissingAlert.id.in_([a.id for a in extra]))
    total = db.scalar(stmt.with_only_columns(func.count(MissingAlert.id)).order_by(None)) or 0
    return list(db.scalars(stmt.order_by(MissingAlert.id.desc()).limit(limit).offset(offset))), total


def get_alert(db: Session, who: Principal, alert_id: int) -> MissingAlert:
    alert = db.scalar(scoped_alerts(who).where(MissingAlert.id == alert_id))
    if alert is None:
        other = db.get(MissingAlert, alert_id)
        if other is not None and other.status == "open" and _searching_here(db, who, other):
            return other
        raise NotFound("找不到走失警报 {id}", id=alert_id)
    return alert


def timeline(db: Session, alert_id: int) -> list[MissingAlertEvent]:
    return list(db.scalars(select(MissingAlertEvent).where(MissingAlertEvent.alert_id == alert_id)
                           .order_by(MissingAlertEvent.at, MissingAlertEvent.id)))


@dataclass
class Sighting:
    """A report's or a sighting's where and when; `at` defaults to now."""

    lon: float | None
    lat: float | None
    crs: str = "wgs84"
    at: datetime | None = None
    place: str = ""
    note: str = ""
    radius_m: int | None = None


def _checked_sighting(data: Sighting, now: datetime, need_point: bool = True) -> tuple[datetime, float, float]:
    problems: dict[str, FieldProblem] = {}
    at = data.at or now
    if at.tzinfo is None:
        problems["at"] = FieldProblem("时间须带时区")
    elif at > now + timedelta(minutes=10):
        problems["at"] = FieldProblem("时间不能晚于现在")
    elif at < now - timedelta(days=30):
        problems["at"] = FieldProblem("时间不能早于 30 天前")
    if len(data.place or "") > 200:
        problems["place"] = FieldProblem("长度不能超过 {limit}", limit=200)
    if len(data.note or "") > 2000:
        problems["note"] = FieldProblem("长度不能超过 {limit}", limit=2000)
    lon, lat = _point(data.lon, data.lat, data.crs, "location", problems)
    if need_point and lon is None and "location" not in problems:
        problems["location"] = FieldProblem("请在地图上点选最后出现的位置或使用定位")
    if data.radius_m is not None and not 100 <= data.radius_m <= 50_000:
        problems["radius_m"] = FieldProblem("搜寻半径必须在 100–50000 米之间")
    if problems:
        raise ValidationFailed(problems)
    return at, lon, lat


def recipients(db: Session, settings: Settings, person: MissingProne, points: list[tuple[float, float]],
               radius_m: float) -> list[int]:
    """Grid workers of the home grid and of the grids within `radius_m` of any point, the home
    community's admins, and the police department's members; active accounts only, by id."""
    grids = {person.grid_code}
    for lon, lat in points:
        grids.update(NEARBY.within(db, lon, lat, radius_m))
    codes = path_codes(person.region_path)
    community = codes[-2] if len(codes) >= 2 else None
    police = db.scalar(select(Department.id).where(Department.code == settings.missing_police_department))
    conditions = [(User.role == "grid_worker") & User.region_code.in_(sorted(grids))]
    if community:
        conditions.append((User.role == "community_admin") & (User.region_code == community))
    if police is not None:
        conditions.append(User.department_id == police)
    return list(db.scalars(select(User.id).where(User.is_active.is_(True), or_(*conditions)).order_by(User.id)))


def alert_points(db: Session, alert: MissingAlert) -> list[tuple[float, float]]:
    points = [(e.lon, e.lat) for e in timeline(db, alert.id) if e.lon is not None and e.lat is not None]
    return points or [(alert.lon, alert.lat)]


def _announce(db: Session, settings: Settings, alert: MissingAlert, person: MissingProne, topic: str,
              title: str, body: str = "") -> int:
    from gridgov.notify.service import notify

    users = recipients(db, settings, person, alert_points(db, alert), alert.radius_m)
    notify(db, users, f"missing.{topic}", title, body=body[:500], link=f"/missing/alerts/{alert.id}",
           payload={"alert_id": alert.id, "person_id": person.id, "status": alert.status})
    return len(users)


def _name(db: Session, person: MissingProne) -> str:
    return db.scalar(select(Resident.name).where(Resident.id == person.resident_id)) or ""


def report_missing(db: Session, settings: Settings, who: Principal, person_id: int, data: Sighting,
                   now: datetime | None = None) -> MissingAlert:
    who.require("missing.report")
    now = now or utcnow()
    person = get_person(db, who, person_id)
    at, lon, lat = _checked_sighting(data, now)
    # Take the person's row lock first: two reports at once are serialised, and the second sees the first.
    db.execute(update(MissingProne).where(MissingProne.id == person.id).values(updated_at=now)
               .execution_options(synchronize_session=False))
    open_alert = db.scalar(select(MissingAlert).where(MissingAlert.person_id == person.id,
                                                      MissingAlert.status == "open"))
    if open_alert is not None:
        raise Conflict("该人员已有正在寻找的走失警报（编号 {id}），请在警报页面添加目击线索", code="alert_open",
                       id=open_alert.id)
    seen_grid = NEARBY.within(db, lon, lat, 0)
    alert = MissingAlert(person_id=person.id, status="open", last_seen_at=at, lon=lon, lat=lat,
                         place=(data.place or "").strip(), radius_m=data.radius_m or settings.missing_radius_m,
                         grid_code=seen_grid[0] if seen_grid else person.grid_code, region_path=person.region_path,
                         reported_by=who.user_id, created_at=now)
    db.add(alert)
    db.flush()
    db.add(MissingAlertEvent(alert_id=alert.id, kind="report", at=at, lon=lon, lat=lat, place=alert.place,
                             note=(data.note or "").strip(), actor_id=who.user_id, created_at=now))
    db.flush()
    name = _name(db, person)
    _announce(db, settings, alert, person, "report",
              f"走失警报：{name}，最后出现于 {alert.place or f'{lon:.5f}, {lat:.5f}'}，请协助寻找",
              f"{person.description} {person.condition}".strip())
    return alert


def _open_alert_for_change(db: Session, who: Principal, alert_id: int, version: int | None) -> MissingAlert:
    alert = get_alert(db, who, alert_id)
    if version is not None and version != alert.version:
        raise Conflict("警报已被他人更新（当前版本 {current}，您提交的是 {given}），请刷新后重试",
                       code="version_conflict", current=alert.version, given=version)
    if alert.status != "open":
        raise Conflict("警报已{status}，不能再更改", code="alert_closed", status=ALERT_STATUSES[alert.status])
    return alert


def add_sighting(db: Session, settings: Settings, who: Principal, alert_id: int, version: int | None,
                 data: Sighting, now: datetime | None = None) -> MissingAlert:
    """Anyone who may read the alert may add what they saw; a later sighting moves the search there."""
    now = now or utcnow()
    alert = _open_alert_for_change(db, who, alert_id, version)
    at, lon, lat = _checked_sighting(data, now)
    db.add(MissingAlertEvent(alert_id=alert.id, kind="sighting", at=at, lon=lon, lat=lat,
                             place=(data.place or "").strip(), note=(data.note or "").strip(), actor_id=who.user_id,
                             created_at=now))
    if at >= alert.last_seen_at:
        alert.last_seen_at, alert.lon, alert.lat = at, lon, lat
        alert.place = (data.place or "").strip() or alert.place
    if data.radius_m:
        alert.radius_m = data.radius_m
    db.flush()
    person = db.get(MissingProne, alert.person_id)
    _announce(db, settings, alert, person, "sighting",
              f"走失人员 {_name(db, person)} 有新的目击线索：{data.place or f'{lon:.5f}, {lat:.5f}'}", data.note or "")
    return alert


def close_alert(db: Session, settings: Settings, who: Principal, alert_id: int, version: int, kind: str,
                data: Sighting, now: datetime | None = None) -> MissingAlert:
    """`found` (where, optionally) or `cancel` (a note why); both end the search and tell everyone."""
    if kind not in ("found", "cancel"):
        raise ValidationFailed({"kind": FieldProblem("必须是以下之一：{expected}", expected="found、cancel")})
    if kind == "cancel" and not who.can("missing.report"):
        raise Forbidden()
    now = now or utcnow()
    alert = _open_alert_for_change(db, who, alert_id, version)
    at, lon, lat = _checked_sighting(data, now, need_point=False)
    if kind == "cancel" and not (data.note or "").strip():
        raise ValidationFailed({"note": FieldProblem("请写明撤销原因")})
    alert.status = "found" if kind == "found" else "cancelled"
    alert.closed_at = at
    db.add(MissingAlertEvent(alert_id=alert.id, kind=kind, at=at, lon=lon, lat=lat, place=(data.place or "").strip(),
                             note=(data.note or "").strip(), actor_id=who.user_id, created_at=now))
    db.flush()
    person = db.get(MissingProne, alert.person_id)
    name = _name(db, person)
    title = f"走失人员 {name} 已找到，感谢协助" if kind == "found" else f"走失警报已撤销：{name}（{data.note.strip()}）"
    _announce(db, settings, alert, person, kind, title, data.note or "")
    return alert
