"""Cases: intake with idempotency, routing, the lifecycle's actions, and scoped reading.

Every action loads the case inside the caller's jurisdiction, checks the version it was
given, asks `lifecycle.refusal` whether it is allowed, applies its effect, and writes one
immutable `CaseEvent` plus the notifications it causes — all in the caller's transaction.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, and_, bindparam, cast, func, literal_column, or_, select, true
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from gridgov.accounts.access import Principal
from gridgov.accounts.models import User
from gridgov.cases import clock, holders
from gridgov.cases.lifecycle import ACTIONS, LEVELS, OPEN_STATES, STATES, CaseView, refusal
from gridgov.cases.models import Case, CaseEvent
from gridgov.cases.routing import StreetBorders, choose_handler, route
from gridgov.catalog.models import CatalogItem
from gridgov.catalog.service import ITEM_LOAD
from gridgov.core import audit
from gridgov.core.config import Settings
from gridgov.core.crypto import DataCipher, data_cipher
from gridgov.core.db import attach_written, completed_row, dialect_insert, utcnow, write_new
from gridgov.core.errors import AppError, Conflict, FieldProblem, Forbidden, NotFound, ValidationFailed
from gridgov.departments.models import DEPARTMENT_ROLES, Department
from gridgov.people.identity import IdentityError, mask_phone, parse_phone
from gridgov.regions.coords import to_wgs84
from gridgov.regions.service import GridLocator

SOURCES = {"grid_worker": "网格员上报", "hotline": "12345 热线", "citizen": "群众自报", "open311": "Open311 接口",
           "video": "视频监控", "referral": "部门转办"}
SATISFACTION = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}
SUPERVISION = {"normal": "普通督办", "yellow": "黄牌督办", "red": "红牌督办"}
AUTO_ITEM_SCORE = 0.6
REPORTER_PHONE_CONTEXT = "case.reporter_phone"  # AES-GCM associated data of the caller's number


class ActionRefused(AppError):
    status = 409
    code = "action_not_allowed"


@dataclass
class CaseContext:
    """What case services need from the running app, besides the session."""

    settings: Settings
    locator: GridLocator
    borders: StreetBorders
    _calendar: object = field(default=None, init=False, repr=False)

    def calendar(self, db: Session):
        # Once per request or job: the calendar cannot usefully change in between.
        if self._calendar is None:
            from gridgov.workcal.service import calendar_for

            self._calendar = calendar_for(db, self.settings)
        return self._calendar

    @property
    def cipher(self) -> DataCipher:
        return data_cipher(self.settings)


# --- reading ---

def scoped(who: Principal):
    """Cases this person may see: their jurisdiction, their department's, and their own reports."""
    if not who.can("cases.read"):
        raise Forbidden()
    stmt = select(Case)
    if who.role in DEPARTMENT_ROLES:
        return stmt.where(or_(Case.department_id == who.department_id, Case.reporter_user_id == who.user_id))
    return stmt.where(or_(who.within(Case.region_path), Case.reporter_user_id == who.user_id))


def get_case(db: Session, who: Principal, case_id: int) -> Case:
    case = db.scalar(scoped(who).where(Case.id == case_id))
    if case is None:
        raise NotFound("找不到事件 {id}", id=case_id)
    return case


def view_of(db: Session, case: Case) -> CaseView:
    item = db.get(CatalogItem, case.item_id) if case.item_id else None
    return CaseView(state=case.state, level=case.level, region_path=case.region_path,
                    department_id=case.department_id, handler_id=case.handler_id,
                    reporter_user_id=case.reporter_user_id, extension_requested=case.extension_requested,
                    self_handle_allowed=bool(item and item.self_handle))


def events(db: Session, who: Principal, case_id: int) -> list[CaseEvent]:
    get_case(db, who, case_id)
    return list(db.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


# --- intake ---

@dataclass
class NewCase:
    description: str
    lon: float
    lat: float
    crs: str = "wgs84"
    item_code: str | None = None
    urgency: str = "normal"
    address: str = ""
    source: str = "grid_worker"
    reporter_name: str = ""
    reporter_phone: str = ""


# Statements every intake runs, built once (building one costs about as much as running it).
_ITEM_BY_CODE = (select(CatalogItem).options(*ITEM_LOAD)  # not the department's region and its outline
                 .where(CatalogItem.code == bindparam("code"), CatalogItem.active.is_(True)))
_CASE_FOR_KEY = select(Case).where(Case.idempotency_scope == bindparam("scope"),
                                   Case.idempotency_key == bindparam("key"))


def _find_item(db: Session, code: str) -> CatalogItem:
    item = db.scalar(_ITEM_BY_CODE, {"code": code})
    if item is None:
        raise ValidationFailed({"item_code": FieldProblem("没有编码为 {code} 的事项", code=code)})
    return item


@dataclass
class Intake:
    """A create's outcome. For a new case, also what it was routed with (its item, department and
    handler's name), so the answer needs no second look at the database; None for an earlier case."""

    case: Case
    created: bool
    item: CatalogItem | None = None
    department: Department | None = None
    handler_name: str | None = None


def create_case(db: Session, ctx: CaseContext, who: Principal | None, data: NewCase,
                idempotency_scope: str | None = None, idempotency_key: str | None = None,
                now: datetime | None = None) -> tuple[Case, bool]:
    """Returns (case, created). A repeated idempotency key returns the first case."""
    done = intake(db, ctx, who, data, idempotency_scope, idempotency_key, now)
    return done.case, done.created


def intake(db: Session, ctx: CaseContext, who: Principal | None, data: NewCase,
           idempotency_scope: str | None = None, idempotency_key: str | None = None,
           now: datetime | None = None, look_first: bool = True) -> Intake:
    """`create_case`, returning an `Intake`.

    With `look_first=False` a resent key is not looked up before the work: the new case claims
    its key in the same transaction and a taken key raises the `idempotency_race` Conflict, after
    which the caller rolls back and reads the first case (as it must for a true race anyway).
    That saves the API's creates a query; a resend that no longer passes the checks (its grid
    redrawn, its item retired since) still gets the first case rather than the error."""
    if who is not None and not who.can("cases.create"):
        raise Forbidden()
    if not idempotency_key:
        return _intake(db, ctx, who, data, None, None, now)
    if look_first:
        earlier = idempotent_case(db, idempotency_scope, idempotency_key)
        if earlier is not None:
            return Intake(earlier, False)
    try:
        return _intake(db, ctx, who, data, idempotency_scope, idempotency_key, now)
    except ValidationFailed:
        earlier = None if look_first else idempotent_case(db, idempotency_scope, idempotency_key)
        if earlier is None:
            raise
        return Intake(earlier, False)


def _intake(db: Session, ctx: CaseContext, who: Principal | None, data: NewCase, idempotency_scope: str | None,
            idempotency_key: str | None, now: datetime | None) -> Intake:
    problems: dict[str, FieldProblem] = {}
    if not data.description.strip():
        problems["description"] = FieldProblem("必填")
    if data.source not in SOURCES:
        problems["source"] = FieldProblem("必须是以下之一：{expected}", expected="、".join(SOURCES))  # the codes
    phone = ""
    try:
        phone = parse_phone(data.reporter_phone)
    except IdentityError as exc:
        problems["reporter_phone"] = FieldProblem(exc.rule)
    if problems:
        raise ValidationFailed(problems)
    lon, lat = to_wgs84(data.lon, data.lat, data.crs)
    located = ctx.locator.grid_path_for_point(db, lon, lat)
    if located is None:
        raise ValidationFailed({"location": FieldProblem("该点 ({lon}, {lat}) 不在任何网格内",
                                                         lon=round(lon, 6), lat=round(lat, 6))})
    grid_code, grid_path = located
    item = _find_item(db, data.item_code) if data.item_code else _suggested_item(db, data.description)
    decision = route(db, item, grid_path, lon, lat, ctx.borders)
    now = now or utcnow()
    case = Case(source=data.source, item_id=item.id if item else None,
                description=data.description.strip(), address=data.address.strip(), lon=lon, lat=lat,
                grid_code=grid_code, region_path=grid_path, urgency=data.urgency,
                reporter_user_id=who.user_id if who else None, reporter_name=data.reporter_name.strip(),
                reporter_phone_cipher=ctx.cipher.encrypt(phone, REPORTER_PHONE_CONTEXT) if phone else None,
                reporter_phone_masked=mask_phone(phone), state="reported", level=decision.level,
                triage_reason=decision.triage_reason, department_id=decision.department_id,
                handler_id=decision.handler_id, routing_rule=decision.rule, routing_reason=decision.reason,
                created_at=now, idempotency_scope=(idempotency_scope or "") if idempotency_key else None,
                idempotency_key=idempotency_key)
    clock.start_step(case, item, ctx.calendar(db), now)
    reported = {"source": data.source, "routing_rule": decision.rule, "routing_reason": decision.reason,
                "item_code": item.code if item else None}
    if not _insert_numbered(db, case, reported, f"SJ{now.astimezone(_tz(ctx)).strftime('%Y%m%d')}"):
        # Its key is taken: another request with it won the race (PostgreSQL waits for that one
        # to commit). The caller rolls back and reads that case.
        raise Conflict("重复提交", code="idempotency_race")
    if decision.triage_reason:
        notify_case(db, holder_ids(db, case), case, "triage",
                    f"事件 {case.number} 进入分拣队列：{decision.triage_reason}")
    return Intake(case, True, item, item.department if decision.department_id else None, decision.handler_name)


CASE_NUMBER_DIGITS = 6
_KEY_COLUMNS = ["idempotency_scope", "idempotency_key"]


@functools.cache
def _numbered_case_insert():
    """One statement (PostgreSQL) that writes a new case and the event that reports it: the case
    takes its id from the sequence and its number from it, prefix + the id zero-padded to
    CASE_NUMBER_DIGITS; the event (`_report_event`) takes the case's id, reporter, state,
    description and time from the row just written. Nothing is written when the case's
    idempotency key is taken. Returns the case's id and number and the event's id.

    One round trip instead of two on every intake. Its constants are spelled in the SQL, not
    sent as parameters: psycopg keeps its parsing of a statement only up to 50 parameters, and
    parsing this one anew cost a twentieth of an intake. Built once (building it cost more than
    running it)."""
    table, events = Case.__table__, CaseEvent.__table__
    n = select(func.nextval(func.pg_get_serial_sequence(literal_column("'cases'"), literal_column("'id'")))
               .label("id")).subquery("n")
    digits = cast(n.c.id, String)
    padded = sql_case((n.c.id < literal_column(str(10 ** CASE_NUMBER_DIGITS)),
                       func.lpad(digits, literal_column(str(CASE_NUMBER_DIGITS)), literal_column("'0'"))),
                      else_=digits)
    rest = [c for c in table.columns if c.key not in ("id", "number")]
    row = select(n.c.id, bindparam("number_prefix", type_=String) + padded,
                 *[bindparam(c.key, type_=c.type) for c in rest])
    new_case = (dialect_insert("postgresql")(table).from_select(["id", "number", *[c.key for c in rest]], row)
                .on_conflict_do_nothing(index_elements=_KEY_COLUMNS)
                .returning(table.c.id, table.c.number, table.c.reporter_user_id, table.c.state, table.c.description,
                           table.c.created_at).cte("new_case"))
    event_row = select(new_case.c.id, new_case.c.reporter_user_id, literal_column("'report'"), literal_column("''"),
                       new_case.c.state, new_case.c.description, bindparam("event_data", type_=events.c.data.type),
                       new_case.c.created_at)
    new_event = (events.insert().from_select(
        ["case_id", "actor_id", "action", "from_state", "to_state", "comment", "data", "created_at"], event_row)
        .returning(events.c.id).cte("new_event"))
    return select(new_case.c.id, new_case.c.number, new_event.c.id.label("event_id")).select_from(
        new_case.join(new_event, true()))


def _report_event(case: Case, data: dict) -> CaseEvent:
    """The first event of a new case: its reporter reports it, with its description, when it is
    created (`_numbered_case_insert` writes the same from the case's row)."""
    return CaseEvent(case_id=case.id, actor_id=case.reporter_user_id, action="report", from_state="",
                     to_state=case.state, comment=case.description, data=data, created_at=case.created_at)


@functools.cache
def _sqlite_case_insert():
    table = Case.__table__
    return (dialect_insert("sqlite")(table).on_conflict_do_nothing(index_elements=_KEY_COLUMNS)
            .returning(table.c.id))


def _insert_numbered(db: Session, case: Case, event_data: dict, prefix: str) -> bool:
    """Writes a new case with its readable number, prefix + id, and the event that reports it
    (`_report_event`, with `event_data`): one statement on PostgreSQL (`_numbered_case_insert`).
    SQLite only knows the id after the INSERT, so it writes the number with an UPDATE, then the
    event. Either way both are written before this returns, so the version the caller sees is
    the one the next action must name. False, and nothing written, when a case with the same
    idempotency scope and key exists."""
    if db.get_bind().dialect.name == "postgresql":
        values, _ = completed_row(case)
        row = db.connection().execute(_numbered_case_insert(),
                                      {**values, "number_prefix": prefix, "event_data": event_data}).first()
        if row is None:
            return False
        # The event is not needed in this session: nothing after an intake reads it from there.
        attach_written(db, case, {"id": row.id, "number": row.number})
        return True
    case.number = f"tmp-{uuid.uuid4().hex[:16]}"
    if not write_new(db, case, _sqlite_case_insert()):
        return False
    case.number = f"{prefix}{case.id:0{CASE_NUMBER_DIGITS}d}"
    db.flush()
    write_new(db, _report_event(case, event_data))
    return True


def idempotent_case(db: Session, scope: str | None, key: str) -> Case | None:
    return db.scalar(_CASE_FOR_KEY, {"scope": scope or "", "key": key})


def reveal_reporter_phone(db: Session, ctx: CaseContext, who: Principal, case_id: int, reason: str) -> str:
    """The caller's number in full, for a role that calls back (dispatchers, the handling
    department) on a case it may see, with a reason; written to the audit log in the same transaction."""
    case = get_case(db, who, case_id)
    if not who.can("cases.reveal"):
        raise Forbidden("您的角色无权查看完整的来电号码")
    reason = audit.reveal_reason(reason)
    if case.reporter_phone_cipher is None:
        raise NotFound("事件 {number} 没有登记来电号码", number=case.number)
    phone = ctx.cipher.decrypt(case.reporter_phone_cipher, REPORTER_PHONE_CONTEXT)
    audit.record(db, ctx.cipher, audit.actor_of(who), "reveal", object_type="case", object_id=case.id,
                 subject=f"事件 {case.number} 的来电号码 {case.reporter_phone_masked}", reason=reason,
                 data={"fields": ["reporter_phone"]})
    return phone


def _suggested_item(db: Session, description: str) -> CatalogItem | None:
    """The item intake picks by itself, or None (triage). It may be the suggestion index's shared,
    detached copy: read it, never add it to the session."""
    from gridgov.catalog.suggest import best_item

    best = best_item(db, description)
    return best[0] if best and best[1] >= AUTO_ITEM_SCORE else None


def _tz(ctx: CaseContext):
    from zoneinfo import ZoneInfo

    return ZoneInfo(ctx.settings.timezone)


# --- actions ---

@dataclass
class ActionInput:
    version: int
    comment: str = ""
    item_code: str | None = None
    department_id: int | None = None
    handler_id: int | None = None
    target_case_id: int | None = None
    amount: float | None = None
    satisfaction: str | None = None
    supervision: str | None = None
    level: str | None = None


def act(db: Session, ctx: CaseContext, who: Principal, case_id: int, name: str, data: ActionInput,
        now: datetime | None = None) -> Case:
    case = get_case(db, who, case_id)
    if data.version != case.version:
        raise Conflict("事件已被他人更新（当前版本 {current}，您提交的是 {given}），请刷新后重试",
                       code="version_conflict", current=case.version, given=data.version)
    reason = refusal(name, who, view_of(db, case))
    if reason is not None:
        message, params = reason
        if name in ACTIONS and case.state not in ACTIONS[name].sources:
            raise ActionRefused(message, **params)
        raise Forbidden(message, **params)
    action = ACTIONS[name]
    if action.needs_comment and not data.comment.strip():
        raise ValidationFailed({"comment": FieldProblem("{action}需要填写说明", action=action.label)})
    now = now or utcnow()
    before = case.state
    # One action, one UPDATE: the queries effects make must not flush half a change.
    with db.no_autoflush:
        extra = EFFECTS[name](db, ctx, who, case, data, now)
        if action.target is not None and case.state == before:
            case.state = action.target
        if case.state != before and name not in ("defer", "resume"):  # a pause keeps its step
            item = db.get(CatalogItem, case.item_id) if case.item_id else None
            clock.start_step(case, item, ctx.calendar(db), now)
        if case.state in ("closed", "evaluated", "voided", "merged") and case.closed_at is None:
            case.closed_at = now
        # Always an UPDATE, so always a new version: an action that changes no column (督办 again at
        # the same level) is still an action, and one on the old version must then conflict.
        case.updated_at = utcnow()
        _event(db, case, who, name, before, case.state, data.comment.strip(), extra or {}, now)
    db.flush()  # a concurrent update surfaces here (or earlier) as StaleDataError → 409
    return case


def _effect_register(db, ctx, who, case, data, now):
    if data.item_code:
        item = _find_item(db, data.item_code)
        if item.id != case.item_id:
            case.item_id = item.id
            _apply_route(db, ctx, case, item)
            return {"item_code": item.code, "routing_reason": case.routing_reason}
    if case.item_id is None:
        raise ValidationFailed({"item_code": FieldProblem("立案需要确定事项")})
    return None


def _apply_route(db, ctx, case: Case, item: CatalogItem) -> None:
    from gridgov.regions.models import Region

    decision = route(db, item, db.get(Region, case.grid_code).path, case.lon, case.lat, ctx.borders)
    case.department_id, case.handler_id = decision.department_id, decision.handler_id
    case.routing_rule, case.routing_reason = decision.rule, decision.reason
    case.triage_reason = decision.triage_reason
    case.level = decision.level  # a triage case waited at the district; its item says where it goes


def _effect_void(db, ctx, who, case, data, now):
    return None


def _effect_merge(db, ctx, who, case, data, now):
    if not data.target_case_id or data.target_case_id == case.id:
        raise ValidationFailed({"target_case_id": FieldProblem("请选择要合并到的另一个事件")})
    target = get_case(db, who, data.target_case_id)
    if target.state not in OPEN_STATES:
        raise ValidationFailed({"target_case_id": FieldProblem("只能合并到未办结的事件")})
    case.merged_into_id = target.id
    # The target is written too (its version checked and moved): a merge of the target at the same
    # time, into this case, then conflicts instead of both cases ending up merged.
    target.updated_at = utcnow()
    _event(db, target, who, "merged_in", target.state, target.state, f"合并了重复事件 {case.number}",
           {"duplicate_id": case.id, "duplicate_number": case.number})
    return {"merged_into": target.id, "merged_into_number": target.number}


def _effect_escalate(db, ctx, who, case, data, now):
    case.level = LEVELS[LEVELS.index(case.level) + 1]
    notify_case(db, holder_ids(db, case), case, "escalated", f"事件 {case.number} 已上报到您：{data.comment}")
    return {"level": case.level}


def _effect_hand_down(db, ctx, who, case, data, now):
    lower = LEVELS[: LEVELS.index(case.level)]
    level = data.level or lower[-1]
    if level not in lower:
        raise ValidationFailed({"level": FieldProblem("必须是以下之一：{expected}", expected="、".join(lower))})
    case.level = level
    notify_case(db, holder_ids(db, case), case, "handed_down", f"事件 {case.number} 下派到您")
    return {"level": level}


def _effect_self_handle(db, ctx, who, case, data, now):
    return {"self_handled": True}


def _effect_dispatch(db, ctx, who, case, data, now):
    previous = _last_dispatched_department(db, case)
    overruled = data.department_id is not None or data.handler_id is not None
    if data.department_id is not None:
        dept = db.get(Department, data.department_id)
        if dept is None:
            raise ValidationFailed({"department_id": FieldProblem("部门不存在")})
        if not case.region_path.startswith(dept.region.path):
            raise ValidationFailed({"department_id": FieldProblem(
                "{department}的辖区（{region}）不含事件所在网格 {grid}", department=dept.name,
                region=dept.region.name, grid=case.grid_code)})
        case.department_id = dept.id
        if data.handler_id is None:
            from gridgov.regions.models import Region

            case.handler_id, _, _ = choose_handler(db, dept, db.get(Region, case.grid_code))
    if data.handler_id is not None:
        handler = db.get(User, data.handler_id)
        if handler is None or handler.department_id != case.department_id or not handler.is_active:
            raise ValidationFailed({"handler_id": FieldProblem("处理人必须是承办部门的在岗成员")})
        case.handler_id = handler.id
    if case.department_id is None or case.handler_id is None:
        raise ValidationFailed({"department_id": FieldProblem("请先确定承办部门和处理人")})
    if overruled:
        names = dict(db.execute(select(User.id, User.display_name).where(User.id == case.handler_id)).all())
        dept_name = db.get(Department, case.department_id).name
        case.routing_rule = "manual"
        case.routing_reason = f"调度员改派：{dept_name} {names[case.handler_id]}" + (
            f"（{data.comment}）" if data.comment else "")
    case.dispatch_count += 1
    if previous is not None and previous != case.department_id:
        case.redispatched_department = True
    case.triage_reason = ""
    notify_case(db, [case.handler_id], case, "dispatched", f"新派遣事件 {case.number}，请签收")
    return {"department_id": case.department_id, "handler_id": case.handler_id, "rule": case.routing_rule}


def _last_dispatched_department(db, case) -> int | None:
    rows = db.scalars(select(CaseEvent.data).where(CaseEvent.case_id == case.id, CaseEvent.action == "dispatch")
                      .order_by(CaseEvent.id.desc()).limit(1)).all()
    return rows[0].get("department_id") if rows else None


def _effect_none(db, ctx, who, case, data, now):
    return None


def _effect_return(db, ctx, who, case, data, now):
    notify_case(db, _dispatcher_ids(db, case), case, "returned", f"事件 {case.number} 被退回：{data.comment}")
    return None


def _effect_report_back(db, ctx, who, case, data, now):
    notify_case(db, _grid_worker_ids(db, case), case, "to_verify", f"事件 {case.number} 已处置，请到现场核查")
    return None


def _effect_request_extension(db, ctx, who, case, data, now):
    if not data.amount or data.amount <= 0:
        raise ValidationFailed({"amount": FieldProblem("必须大于 {limit}", limit=0)})
    if case.deadline is not None and now > case.deadline:
        raise ActionRefused("已超过办理期限，延期须在期限前申请")
    case.extension_requested = True
    notify_case(db, _dispatcher_ids(db, case), case, "extension", f"事件 {case.number} 申请延期：{data.comment}")
    return {"amount": data.amount, "unit": case.time_unit}


def _effect_approve_extension(db, ctx, who, case, data, now):
    asked = db.scalar(select(CaseEvent.data).where(CaseEvent.case_id == case.id,
                                                  CaseEvent.action == "request_extension")
                      .order_by(CaseEvent.id.desc()).limit(1))
    amount = data.amount or (asked or {}).get("amount")
    clock.extend(case, ctx.calendar(db), float(amount), now)
    case.extension_requested = False
    notify_case(db, [case.handler_id], case, "extension_approved", f"事件 {case.number} 延期已批准")
    return {"amount": amount, "unit": case.time_unit, "deadline": case.deadline.isoformat()}


def _effect_reject_extension(db, ctx, who, case, data, now):
    case.extension_requested = False
    notify_case(db, [case.handler_id], case, "extension_rejected", f"事件 {case.number} 延期被驳回：{data.comment}")
    return None


def _effect_verify(db, ctx, who, case, data, now):
    notify_case(db, _dispatcher_ids(db, case), case, "verified", f"事件 {case.number} 核查通过，待结案")
    return None


def _effect_rework(db, ctx, who, case, data, now):
    notify_case(db, [case.handler_id], case, "rework", f"事件 {case.number} 需返工：{data.comment}")
    return None


def _effect_evaluate(db, ctx, who, case, data, now):
    if data.satisfaction not in SATISFACTION:
        raise ValidationFailed({"satisfaction": FieldProblem("必须是以下之一：{expected}",
                                                             expected="、".join(SATISFACTION))})
    case.satisfaction = data.satisfaction
    if data.satisfaction == "unsatisfied":
        case.state = "handling"  # 不满意 reopens the case with its handler
        case.closed_at = None
        notify_case(db, [case.handler_id], case, "reopened", f"事件 {case.number} 回访不满意，已重新打开")
    return {"satisfaction": data.satisfaction}


def _effect_defer(db, ctx, who, case, data, now):
    case.paused_state = case.state
    clock.pause(case, ctx.calendar(db), now)
    return {"paused_state": case.paused_state}


def _effect_resume(db, ctx, who, case, data, now):
    case.state = case.paused_state or "registered"
    case.paused_state = ""
    clock.resume(case, ctx.calendar(db), now)
    return {"resumed_state": case.state}


def _effect_supervise(db, ctx, who, case, data, now):
    level = data.supervision or "normal"
    if level not in SUPERVISION:
        raise ValidationFailed({"supervision": FieldProblem("必须是以下之一：{expected}",
                                                            expected="、".join(SUPERVISION))})
    case.supervision = level
    notify_case(db, holder_ids(db, case), case, "supervised", f"{SUPERVISION[level]}：{case.number} {data.comment}")
    return {"supervision": level}


EFFECTS = {
    "register": _effect_register, "void": _effect_void, "merge": _effect_merge, "escalate": _effect_escalate,
    "hand_down": _effect_hand_down, "self_handle": _effect_self_handle, "dispatch": _effect_dispatch,
    "sign": _effect_none, "return": _effect_return, "report_back": _effect_report_back,
    "request_extension": _effect_request_extension, "approve_extension": _effect_approve_extension,
    "reject_extension": _effect_reject_extension, "verify": _effect_verify, "rework": _effect_rework,
    "close": _effect_none, "evaluate": _effect_evaluate, "defer": _effect_defer, "resume": _effect_resume,
    "supervise": _effect_supervise,
}


# --- who holds a case, and telling them ---

def _dispatcher_ids(db: Session, case: Case) -> list[int]:
    return holders.dispatchers(db, [case])[case.id]


def _grid_worker_ids(db: Session, case: Case) -> list[int]:
    return holders.grid_workers(db, [case])[case.id]


def holder_ids(db: Session, case: Case) -> list[int]:
    return holders.holders(db, [case])[case.id]


def notify_case(db: Session, user_ids: list[int], case: Case, topic: str, title: str) -> None:
    from gridgov.notify.service import notify

    if not db.info.get("notify", True):  # the demo's year of history announces nothing
        return
    ids = [u for u in dict.fromkeys(user_ids) if u]
    if ids:
        notify(db, ids, f"case.{topic}", title, body=case.description[:200], link=f"/cases/{case.id}",
               payload={"case_id": case.id, "number": case.number, "state": case.state})


def _new_event(case: Case, who: Principal | None, action: str, from_state: str, to_state: str,
               comment: str, data: dict, at: datetime | None = None) -> CaseEvent:
    return CaseEvent(case_id=case.id, actor_id=who.user_id if who and who.user_id else None, action=action,
                     from_state=from_state, to_state=to_state, comment=comment, data=data, created_at=at or utcnow())


def _event(db: Session, case: Case, who: Principal | None, action: str, from_state: str, to_state: str,
           comment: str, data: dict, at: datetime | None = None) -> CaseEvent:
    ev = _new_event(case, who, action, from_state, to_state, comment, data, at)
    db.add(ev)
    return ev


# --- lists ---

@dataclass
class CaseFilter:
    state: str | None = None
    light: str | None = None
    street: str | None = None
    item_code: str | None = None
    department_id: int | None = None
    triage: bool | None = None
    mine: str | None = None  # reported | to_verify | to_sign | in_hand | overdue
    q: str | None = None
    open_only: bool = False


def _conditions(who: Principal, f: CaseFilter) -> list:
    conds = []
    if f.state:
        conds.append(Case.state == f.state)
    if f.open_only:
        conds.append(Case.state.in_(OPEN_STATES))
    if f.light:
        conds += [Case.light == f.light, Case.state.in_(OPEN_STATES)]
    if f.street:
        conds.append(Case.grid_code.startswith(f.street, autoescape=True))
    if f.item_code:
        conds.append(Case.item_id.in_(select(CatalogItem.id).where(
            CatalogItem.code.startswith(f.item_code, autoescape=True))))
    if f.department_id:
        conds.append(Case.department_id == f.department_id)
    if f.triage:
        conds += [Case.triage_reason != "", Case.state.in_(["reported", "registered"])]
    if f.q:
        q = f.q.strip()  # escaped: a '%' or '_' typed into the search box is that character
        conds.append(or_(*(c.contains(q, autoescape=True) for c in (Case.number, Case.description, Case.address))))
    if f.mine == "reported":
        conds.append(Case.reporter_user_id == who.user_id)
    elif f.mine == "to_verify":
        conds += [Case.state == "handled", who.within(Case.region_path)]
    elif f.mine == "to_sign":
        conds += [Case.state == "dispatched", _handled_by(who)]
    elif f.mine == "in_hand":
        conds += [Case.state == "handling", _handled_by(who)]
    elif f.mine == "overdue":
        conds += [Case.light == "red", Case.state.in_(["dispatched", "handling"]), _handled_by(who)]
    return conds


def list_cases(db: Session, who: Principal, f: CaseFilter, limit: int = 50, offset: int = 0
               ) -> tuple[list[Case], int]:
    stmt = scoped(who).where(*_conditions(who, f))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(stmt.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


def count_open_cases(db: Session, who: Principal, filters: dict[str, CaseFilter]) -> dict[str, int]:
    """How many of the caller's open cases each filter holds, in one pass over them (the home page's
    to-do counts); closed, voided and merged cases are not counted, whatever the filter."""
    counts = [func.count().filter(and_(true(), *_conditions(who, f))).label(key) for key, f in filters.items()]
    stmt = scoped(who).where(Case.state.in_(OPEN_STATES)).with_only_columns(*counts, maintain_column_froms=True)
    return dict(db.execute(stmt).one()._mapping)


def _handled_by(who: Principal):
    if who.role == "dept_admin":
        return Case.department_id == who.department_id
    return Case.handler_id == who.user_id


def state_label(state: str) -> str:
    return STATES[state][0]


# --- possible duplicates ---

DUPLICATE_METRES = 100.0
DUPLICATE_DAYS = 7


def possible_duplicates(db: Session, who: Principal, lon: float, lat: float, item_id: int | None,
                        exclude_id: int | None = None) -> list[tuple[Case, float]]:
    """Open cases of the same category within ~100 m and 7 days, nearest first."""
    import math
    from datetime import timedelta

    from gridgov.regions.geo import distance_m

    if item_id is None:
        return []
    item = db.get(CatalogItem, item_id)
    same_category = select(CatalogItem.id).where(CatalogItem.category_id == item.category_id)
    dlat = DUPLICATE_METRES / 110_574.0
    dlon = DUPLICATE_METRES / (111_320.0 * max(math.cos(math.radians(lat)), 0.1))
    q = scoped(who).where(Case.item_id.in_(same_category), Case.state.in_(OPEN_STATES - {"deferred"}),
                          Case.created_at >= utcnow() - timedelta(days=DUPLICATE_DAYS),
                          Case.lon.between(lon - dlon, lon + dlon), Case.lat.between(lat - dlat, lat + dlat))
    if exclude_id is not None:
        q = q.where(Case.id != exclude_id)
    found = [(c, distance_m(lon, lat, c.lon, c.lat)) for c in db.scalars(q)]
    return sorted([f for f in found if f[1] <= DUPLICATE_METRES], key=lambda f: f[1])
