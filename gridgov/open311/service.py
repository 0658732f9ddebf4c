"""Open311 GeoReport v2: API keys for civic clients, and our cases seen as service requests.

A civic client files a request with its API key; the request becomes a case through the same
intake as every other source (`gridgov.cases.service.create_case`, source "open311", no user),
so routing, deadlines and idempotency are the ones the rest of the platform uses. Reading is
public, as the spec wants, so what is read carries no personal data: never the reporter's
name, phone or e-mail, and phone, ID-card and e-mail look-alikes in free text are masked.

Services never commit; the view (or CLI command) owns the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gridgov.cases.lifecycle import OPEN_STATES, STATES
from gridgov.cases.models import Case, CaseEvent
from gridgov.cases.service import CaseContext, NewCase, create_case
from gridgov.catalog.models import TIME_UNITS, CatalogItem, Category
from gridgov.core.i18n import translate
from gridgov.core.security import token_digest
from gridgov.departments.models import Department
from gridgov.open311.models import Open311Client

DEMO_KEY = "demo-open311-key"
DEMO_CLIENT_NAME = "演示客户端 Demo client"
SOURCE = "open311"
MAX_WINDOW = timedelta(days=90)  # the spec's default and widest date range
MAX_RESULTS = 1000  # the spec's default response volume
MAX_IDS = 1000
MAX_PAGE = 1_000_000  # `page` (the spec's pagination extension): far beyond any window, inside any OFFSET
MAX_ATTRIBUTES = 50
# Field limits: the spec's 4,000 characters for a description, our columns for the rest.
LIMITS = {"description": 4000, "address_string": 200, "address_id": 100, "email": 254, "phone": 40,
          "media_url": 500, "device_id": 100, "account_id": 100, "first_name": 60, "last_name": 60,
          "attribute": 1000}
CLOSED_STATES = frozenset(STATES) - OPEN_STATES
UNITS_EN = {"urgent_hours": "urgent hours", "work_hours": "working hours", "work_days": "working days",
            "calendar_days": "calendar days"}
# English status notes, keyed by state (the Chinese labels are lifecycle.STATES).
STATES_EN = {
    "reported": "Received, awaiting registration", "registered": "Registered, awaiting dispatch",
    "dispatched": "Dispatched, awaiting acceptance", "handling": "Being handled",
    "handled": "Handled, awaiting verification", "verified": "Verified, awaiting closure", "deferred": "On hold",
    "closed": "Closed", "evaluated": "Closed and followed up", "voided": "Voided", "merged": "Merged as a duplicate",
}


class Open311Error(Exception):
    """An error answered in the spec's shape: `[{"code", "description"}]` or `<errors>`.

    `status` is the HTTP status; the spec wants 404 for what does not exist, 403 for a wrong
    or missing api_key and 400 for anything else. `message` is the Chinese text, which is also
    the key of its English translation."""

    def __init__(self, status: int, message: str, **params: object) -> None:
        super().__init__(message.format(**params) if params else message)
        self.status = status
        self.message = message
        self.params = params

    def describe(self, lang: str) -> str:
        return translate(self.message, lang, **self.params)


# --- API keys ---

def create_client(db: Session, name: str, key: str | None = None) -> tuple[Open311Client, str]:
    """A new client and its key. Only the key's SHA-256 is stored: show the key once."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValueError("client name must have 1–100 characters")
    key = key if key is not None else secrets.token_urlsafe(32)
    if not key.strip():
        raise ValueError("the key must not be blank")
    digest = token_digest(key)
    if db.scalar(select(Open311Client.id).where(Open311Client.key_hash == digest)) is not None:
        raise ValueError("a client with this key already exists")
    client = Open311Client(name=name, key_hash=digest, active=True)
    db.add(client)
    db.flush()
    return client, key


def client_for_key(db: Session, key: str | None) -> Open311Client | None:
    """The active client holding this key, or None."""
    if not key:
        return None
    return db.scalar(select(Open311Client).where(Open311Client.key_hash == token_digest(key),
                                                 Open311Client.active.is_(True)))


def ensure_demo_client(db: Session) -> Open311Client:
    """The demo client, whose key is the published `demo-open311-key` (idempotent)."""
    existing = db.scalar(select(Open311Client).where(Open311Client.key_hash == token_digest(DEMO_KEY)))
    if existing is not None:
        return existing
    client, _ = create_client(db, DEMO_CLIENT_NAME, DEMO_KEY)
    return client


def list_clients(db: Session) -> list[Open311Client]:
    return list(db.scalars(select(Open311Client).order_by(Open311Client.id)))


def set_client_active(db: Session, client_id: int, active: bool) -> Open311Client | None:
    client = db.get(Open311Client, client_id)
    if client is not None:
        client.active = active
        db.flush()
    return client


# --- request tokens ---

def request_token(secret: str, case_id: int) -> str:
    """A stable token for a request: the case id with a signature, so it needs no storage and
    cannot be guessed from another request's token."""
    sig = hmac.new(secret.encode(), f"open311-token:{case_id}".encode(), hashlib.sha256).hexdigest()[:20]
    return f"{case_id}-{sig}"


def case_for_token(db: Session, secret: str, token: str) -> Case | None:
    head, _, _sig = token.partition("-")
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses (a 500, not a 404).
    if not (head.isascii() and head.isdigit()) or len(head) > 12:
        return None
    if not hmac.compare_digest(request_token(secret, int(head)), token):
        return None
    case = db.get(Case, int(head))
    return case if case is not None and case.source == SOURCE else None


# --- services ---

def services(db: Session) -> list[CatalogItem]:
    q = select(CatalogItem).where(CatalogItem.active.is_(True)).order_by(CatalogItem.code)
    return list(db.scalars(q).unique())


def active_item(db: Session, code: str) -> CatalogItem:
    item = db.scalar(select(CatalogItem).where(CatalogItem.code == code, CatalogItem.active.is_(True)))
    if item is None:
        raise Open311Error(404, "找不到服务 {code}", code=code)
    return item


def group_names(db: Session) -> dict[int, str]:
    """Category id → the name of its 大类 (the spec's `group`)."""
    rows = db.execute(select(Category.id, Category.parent_id, Category.name)).all()
    names = {r.id: r.name for r in rows}
    return {r.id: names.get(r.parent_id, r.name) if r.parent_id else r.name for r in rows}


def _attributes(item: CatalogItem, lang: str) -> list[dict]:
    """One informational attribute (variable=false): what counts as done for this service."""
    if not item.closure_standard.strip():
        return []
    return [{"variable": False, "code": "closure_standard", "datatype": "text", "required": False,
             "datatype_description": None, "order": 1,
             "description": translate("结案标准：{standard}", lang, standard=item.closure_standard.strip()),
             "values": []}]


def changeset(db: Session, since: datetime, tz: ZoneInfo) -> str:
    """The discovery document's changeset: the later of when this API last changed (`since`) and when
    a service or its definition last did, so a client knows to refresh what it cached."""
    latest = db.scalar(select(func.max(CatalogItem.updated_at)))
    return w3c(max(since, latest) if latest is not None else since, tz)


def service_out(item: CatalogItem, groups: dict[int, str], lang: str) -> dict:
    keywords = [w for w in re.split(r"[\s,，、;；]+", item.keywords or "") if w]
    return {"service_code": item.code, "service_name": item.name,
            "description": item.registration_standard or None, "metadata": bool(_attributes(item, lang)),
            "type": "realtime", "keywords": ", ".join(keywords), "group": groups.get(item.category_id)}


def definition_out(item: CatalogItem, lang: str) -> dict:
    return {"service_code": item.code, "attributes": _attributes(item, lang)}


def item_notice(item: CatalogItem, department: str | None, lang: str) -> str:
    handle = (item.time_limits or {}).get("handle")
    dept = department or item.department.name
    if not handle:
        return translate("承办部门：{department}", lang, department=dept)
    unit = handle["unit"]
    unit_text = UNITS_EN.get(unit, unit) if lang == "en" else TIME_UNITS.get(unit, unit)
    amount = handle["amount"]
    amount = int(amount) if float(amount).is_integer() else amount
    return translate("承办部门：{department}；处置时限：{amount} {unit}", lang, department=dept, amount=amount,
                     unit=unit_text)


# --- filing a request ---

@dataclass
class Submitted:
    """A POST's parameters: the first value of each, and the `attribute[...]` answers."""

    values: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str | list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, pairs: list[tuple[str, object]]) -> Submitted:
        out = cls()
        for key, value in pairs:
            if not isinstance(value, str):
                continue  # uploaded files: the spec sends media as a URL
            m = re.fullmatch(r"attribute\[([^\]]+)\](\[\])?", key)
            if m:
                code, many = m.group(1), bool(m.group(2))
                if many:
                    current = out.attributes.setdefault(code, [])
                    if isinstance(current, list):
                        current.append(value)
                else:
                    out.attributes.setdefault(code, value)
            else:
                out.values.setdefault(key, value)
        return out

    def get(self, name: str) -> str:
        return (self.values.get(name) or "").strip()


def _coordinate(text: str, name: str, bound: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Open311Error(400, "{field} 必须是数字", field=name) from None
    if not math.isfinite(value) or abs(value) > bound:
        raise Open311Error(400, "{field} 必须在 -{bound} 到 {bound} 之间", field=name, bound=int(bound))
    return value


def _reporter_name(first: str, last: str) -> str:
    # 姓在前 for Chinese names; "First Last" otherwise.
    if re.search(r"[\u3400-\u9fff]", first + last):
        return f"{last}{first}"
    return " ".join(p for p in (first, last) if p)


def check_submission(db: Session, sub: Submitted) -> tuple[CatalogItem, NewCase, dict]:
    """Validates a POST in the spec's order of concerns; returns the item, the case to make and
    what Open311 sent that our case has no column for (kept on the report event)."""
    code = sub.get("service_code")
    if not code:
        raise Open311Error(400, "缺少 service_code")
    item = active_item(db, code)
    lat_text, long_text = sub.get("lat"), sub.get("long")
    if not lat_text and not long_text:
        if sub.get("address_string") or sub.get("address_id"):
            raise Open311Error(400, "无法定位：本系统按网格派单，需要 lat 和 long（WGS-84 坐标），"
                                    "仅有 address_string 或 address_id 无法确定所在网格")
        raise Open311Error(400, "缺少位置：请提供 lat 和 long（WGS-84 坐标）")
    if not lat_text or not long_text:
        raise Open311Error(400, "lat 和 long 必须同时提供")
    lat = _coordinate(lat_text, "lat", 90)
    lon = _coordinate(long_text, "long", 180)
    for name, limit in LIMITS.items():
        if name != "attribute" and len(sub.get(name)) > limit:
            raise Open311Error(400, "{field} 不能超过 {limit} 个字符", field=name, limit=limit)
    if len(sub.attributes) > MAX_ATTRIBUTES:
        raise Open311Error(400, "attribute 不能超过 {limit} 项", limit=MAX_ATTRIBUTES)
    for key, value in sub.attributes.items():
        values = value if isinstance(value, list) else [value]
        if len(key) > 100 or any(len(v) > LIMITS["attribute"] for v in values):
            raise Open311Error(400, "{field} 不能超过 {limit} 个字符", field=f"attribute[{key[:100]}]",
                               limit=LIMITS["attribute"])
    email = sub.get("email")
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise Open311Error(400, "email 格式不正确")
    media_url = sub.get("media_url")
    if media_url and not re.fullmatch(r"https?://[^\s]+", media_url, re.IGNORECASE):
        raise Open311Error(400, "media_url 必须是 http:// 或 https:// 开头的网址")
    name = _reporter_name(sub.get("first_name"), sub.get("last_name"))
    if len(name) > 60:
        raise Open311Error(400, "{field} 不能超过 {limit} 个字符", field="first_name + last_name", limit=60)
    description = sub.get("description") or item.name  # optional in the spec; the service names the problem
    data = NewCase(description=description, lon=lon, lat=lat, crs="wgs84", item_code=item.code,
                   address=sub.get("address_string"), source=SOURCE, reporter_name=name,
                   reporter_phone=sub.get("phone"))
    extra = {k: sub.get(k) for k in ("media_url", "email", "device_id", "account_id", "address_id") if sub.get(k)}
    if sub.attributes:
        extra["attributes"] = sub.attributes
    return item, data, extra


def file_request(db: Session, ctx: CaseContext, client: Open311Client, sub: Submitted,
                 idempotency_key: str | None) -> tuple[Case, bool]:
    """Creates the case (or, for a repeated Idempotency-Key, returns the first one)."""
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 200:
        raise Open311Error(400, "Idempotency-Key 长度必须在 1 到 200 个字符之间")
    scope = client_scope(client)
    if idempotency_key:
        from gridgov.cases.service import idempotent_case

        earlier = idempotent_case(db, scope, idempotency_key)
        if earlier is not None:
            return earlier, False
    _item, data, extra = check_submission(db, sub)
    case, created = create_case(db, ctx, None, data, scope, idempotency_key)
    if created:
        report = db.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "report"))
        # Written with the report, in its transaction: who filed it and what has no column of its own.
        report.data = {**(report.data or {}), "open311": {"client_id": client.id, "client": client.name, **extra}}
    return case, created


def client_scope(client: Open311Client) -> str:
    return f"open311:{client.id}"


def created_out(db: Session, case: Case, lang: str) -> dict:
    """The spec's POST answer. Our services are `realtime`, so it carries the service_request_id and
    no token: the spec wants one or the other, never both."""
    item = db.get(CatalogItem, case.item_id) if case.item_id else None
    dept = db.get(Department, case.department_id) if case.department_id else None
    notice = translate("已受理，事件编号 {number}。", lang, number=case.number)
    if item is not None:
        notice += item_notice(item, dept.name if dept else None, lang)
    return {"service_request_id": case.number, "service_notice": notice, "account_id": None}


# --- reading requests ---

@dataclass
class RequestQuery:
    ids: list[str] = field(default_factory=list)
    service_codes: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    statuses: set[str] = field(default_factory=set)
    page: int = 1
    page_size: int = MAX_RESULTS


def split_list(values: str | list[str] | None) -> list[str]:
    """A parameter's values: comma separated, and the parameter may be declared more than once."""
    texts = [values] if isinstance(values, str) else values or []
    return [p.strip() for text in texts for p in text.split(",") if p.strip()]


# The W3C note's six forms (YYYY, YYYY-MM, YYYY-MM-DD, then hh:mm, hh:mm:ss, hh:mm:ss.s, each with its
# TZD). A '+' that a query string turned into a space is taken back, and a time without a TZD is read
# in the installation's time zone.
_W3C = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
                  r"(Z|[+-]\d{2}:?\d{2})?)?)?)?")
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)  # a day inside the calendar, so no time zone pushes it out
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def parse_w3c(text: str, name: str, tz: ZoneInfo) -> datetime:
    """start_date / end_date: one of the W3C note's forms ("Must use w3 format"), nothing looser."""
    value = re.sub(r"(T[\d:.]+) (\d{2}:?\d{2})$", r"\1+\2", text.strip())
    m = _W3C.fullmatch(value)
    try:
        if m is None:
            raise ValueError(value)
        year, month, day, hour, minute, second, fraction, tzd = m.groups()
        zone: tzinfo = tz
        if tzd == "Z":
            zone = UTC
        elif tzd:
            hours, minutes = int(tzd[1:3]), int(tzd[-2:])
            if minutes > 59:
                raise ValueError(tzd)
            zone = timezone((-1 if tzd[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes))
        when = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                        int(second or 0), int((fraction or "0")[:6].ljust(6, "0")), tzinfo=zone)
    except ValueError:
        raise Open311Error(400, "{field} 不是合法的 W3C 日期时间（如 2010-01-01T00:00:00Z）", field=name) from None
    try:
        when.astimezone(UTC)  # 0001-01-01T00:00:00+08:00 is in year 0 in UTC, before the calendar's first day
    except OverflowError:
        raise Open311Error(400, "{field} 超出可查询的时间范围（0001 至 9999 年）", field=name) from None
    return when


def _positive(text: str | None, name: str, default: int, limit: int) -> int:
    """An optional count (`page`, `page_size`): empty is the default, anything else 1 to `limit`."""
    text = (text or "").strip()
    if not text:
        return default
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else 0
    if not 1 <= value <= limit:
        raise Open311Error(400, "{field} 必须是 1 到 {limit} 之间的整数", field=name, limit=limit)
    return value


def build_query(service_request_id: str | list[str] | None, service_code: str | list[str] | None,
                start_date: str | None, end_date: str | None, status: str | list[str] | None, tz: ZoneInfo,
                page: str | None = None, page_size: str | None = None) -> RequestQuery:
    q = RequestQuery(ids=split_list(service_request_id), service_codes=split_list(service_code))
    if len(q.ids) > MAX_IDS:
        raise Open311Error(400, "service_request_id 最多 {limit} 个", limit=MAX_IDS)
    q.start = parse_w3c(start_date, "start_date", tz) if (start_date or "").strip() else None
    q.end = parse_w3c(end_date, "end_date", tz) if (end_date or "").strip() else None
    if q.start and q.end:
        if q.start > q.end:
            raise Open311Error(400, "start_date 不能晚于 end_date")
        if q.end - q.start > MAX_WINDOW:
            raise Open311Error(400, "start_date 与 end_date 相隔不能超过 90 天")
    q.statuses = {s.lower() for s in split_list(status)}
    if q.statuses - {"open", "closed"}:
        raise Open311Error(400, "status 只能是 open 或 closed（可用逗号分隔）")
    q.page = _positive(page, "page", 1, MAX_PAGE)
    q.page_size = _positive(page_size, "page_size", MAX_RESULTS, MAX_RESULTS)
    return q


def _shift(when: datetime, delta: timedelta) -> datetime:
    # Clamped to the calendar: a window that starts in year 1 or ends in 9999 is empty, not a crash.
    try:
        return min(max(when + delta, _EARLIEST), _LATEST)
    except OverflowError:
        return _EARLIEST if delta < timedelta(0) else _LATEST


def window(q: RequestQuery, now: datetime) -> tuple[datetime, datetime]:
    if q.start and q.end:
        return q.start, q.end
    if q.start:
        return q.start, _shift(q.start, MAX_WINDOW)
    if q.end:
        return _shift(q.end, -MAX_WINDOW), q.end
    return now - MAX_WINDOW, now


def public_items():
    """Matters whose cases may be listed publicly: the urban-management classes (CJ/T 214).
    Disputes, security hazards and help for vulnerable people are not for a public feed."""
    majors = select(Category.id).where(Category.parent_id.is_(None), Category.kind == "urban")
    minors = select(Category.id).where(Category.parent_id.in_(majors))
    return select(CatalogItem.id).where(CatalogItem.category_id.in_(minors))


def find_requests(db: Session, q: RequestQuery, now: datetime) -> list[Case]:
    stmt = select(Case)
    if q.ids:  # the spec: service_request_id overrides all other arguments
        # Case numbers are a date and a sequence, easy to guess: a matter kept out of the public list
        # is found by its number only when it was filed here, by the person who holds that number.
        stmt = stmt.where(Case.number.in_(q.ids), or_(Case.item_id.in_(public_items()), Case.source == SOURCE))
        return list(db.scalars(stmt.order_by(Case.created_at.desc(), Case.id.desc()).limit(MAX_IDS)))
    start, end = window(q, now)
    stmt = stmt.where(Case.created_at >= start, Case.created_at <= end, Case.item_id.in_(public_items()))
    if q.service_codes:
        stmt = stmt.where(Case.item_id.in_(select(CatalogItem.id).where(CatalogItem.code.in_(q.service_codes))))
    if q.statuses == {"open"}:
        stmt = stmt.where(Case.state.in_(OPEN_STATES))
    elif q.statuses == {"closed"}:
        stmt = stmt.where(Case.state.in_(CLOSED_STATES))
    stmt = stmt.order_by(Case.created_at.desc(), Case.id.desc())
    return list(db.scalars(stmt.offset((q.page - 1) * q.page_size).limit(min(q.page_size, MAX_RESULTS))))


def status_of(state: str) -> str:
    return "closed" if state in CLOSED_STATES else "open"


_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?\d{4}[- ]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[- ]?\d{3,4}(\d{4})(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def public_text(text: str | None) -> str | None:
    """Free text for the public: phone numbers, ID-card numbers and e-mail addresses masked."""
    if not text:
        return None
    text = _XML_BAD.sub("", text)
    text = _ID_CARD.sub(r"\1********\2", text)
    text = _MOBILE.sub(r"\1****\2", text)
    text = _LANDLINE.sub(r"\1-****\2", text)
    return _EMAIL.sub("***@***", text)


def w3c(when: datetime | None, tz: ZoneInfo) -> str | None:
    return when.astimezone(tz).isoformat(timespec="seconds") if when else None


def requests_out(db: Session, cases: list[Case], tz: ZoneInfo, lang: str) -> list[dict]:
    """The spec's request fields for a page of cases, with a handful of queries in all."""
    if not cases:
        return []
    ids = [c.id for c in cases]
    items = {i.id: i for i in db.scalars(select(CatalogItem).where(
        CatalogItem.id.in_({c.item_id for c in cases if c.item_id}))).unique()}
    depts = dict(db.execute(select(Department.id, Department.name).where(
        Department.id.in_({c.department_id for c in cases if c.department_id}))).all())
    merged = dict(db.execute(select(Case.id, Case.number).where(
        Case.id.in_({c.merged_into_id for c in cases if c.merged_into_id}))).all())
    public = set(db.scalars(public_items().where(CatalogItem.id.in_(items))))
    last_change: dict[int, CaseEvent] = {}
    media: dict[int, str] = {}
    events = db.scalars(select(CaseEvent).where(
        CaseEvent.case_id.in_(ids), or_(CaseEvent.action == "report", CaseEvent.from_state != CaseEvent.to_state))
        .order_by(CaseEvent.id))
    for ev in events:
        if ev.action == "report":
            url = ((ev.data or {}).get("open311") or {}).get("media_url")
            if url:
                media[ev.case_id] = url
        else:
            last_change[ev.case_id] = ev
    out = []
    for c in cases:
        item = items.get(c.item_id)
        dept = depts.get(c.department_id) or (item.department.name if item else None)
        status = status_of(c.state)
        # A matter kept out of the public list (a dispute, a security hazard), filed here and followed by
        # its number: its status, but not the words, the place or the photo that would say whose it is.
        shown = c.item_id in public
        out.append({
            "service_request_id": c.number,
            "status": status,
            "status_notes": _status_notes(c, last_change.get(c.id) if shown else None, merged.get(c.merged_into_id),
                                          lang),
            "service_name": item.name if item else None,
            "service_code": item.code if item else None,
            "description": public_text(c.description) if shown else None,
            "agency_responsible": dept,
            "service_notice": item_notice(item, dept, lang) if item else None,
            "requested_datetime": w3c(c.created_at, tz),
            "updated_datetime": w3c(c.closed_at if status == "closed" and c.closed_at else c.updated_at, tz),
            "expected_datetime": _expected(c, tz),
            "address": public_text(c.address) if shown else None,
            "address_id": None,
            "zipcode": None,
            "lat": c.lat if shown else None,
            "long": c.lon if shown else None,
            "media_url": media.get(c.id) if shown else None,
        })
    return out


def _expected(case: Case, tz: ZoneInfo) -> str | None:
    """When the problem should be fixed: the handling step's deadline, while that step runs. The
    deadlines before it (register, dispatch, sign) promise no fix, and after it the fix is done."""
    if case.step != "handle" or case.paused_at is not None or case.state not in OPEN_STATES:
        return None
    return w3c(case.deadline, tz)


def _status_notes(case: Case, change: CaseEvent | None, merged_into: str | None, lang: str) -> str:
    label = STATES_EN[case.state] if lang == "en" else STATES[case.state][0]
    if case.state == "merged" and merged_into:
        return translate("已合并：与事件 {number} 重复", lang, number=merged_into)
    comment = public_text((change.comment or "").strip()) if change is not None else None
    if comment:
        return f"{label}: {comment}" if lang == "en" else f"{label}：{comment}"
    return label


def token_out(case: Case, token: str) -> dict:
    return {"service_request_id": case.number, "token": token}
