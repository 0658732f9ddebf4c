"""The resident register: checking a record, merging it into one person per ID number, reading it
masked, and revealing it with a reason.

One person is one record whatever department the data came from: the keyed hash of the ID number
finds them. A value that fills a blank is taken; a value that disagrees with one already there is
kept aside as a conflict for a person to settle, never written over the register.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridgov.accounts.access import Principal
from gridgov.core import audit
from gridgov.core.config import Settings
from gridgov.core.crypto import DataCipher, data_cipher
from gridgov.core.db import insert_rows, one_of
from gridgov.core.errors import AppError, FieldProblem, Forbidden, NotFound, OutsideJurisdiction, ValidationFailed
from gridgov.people.identity import (
    EDUCATION,
    GENDERS,
    HOUSEHOLD_STATUSES,
    KINDS,
    IdentityError,
    IdNumber,
    mask_phone,
    parse_id,
    parse_phone,
    phone_tail,
    pinyin_keys,
)
from gridgov.people.models import Resident, ResidentConflict, ResidentTag, TagKind
from gridgov.regions.models import Region

ID_CONTEXT = "resident.id_number"
PHONE_CONTEXT = "resident.phone"
TAG_PHONE_CONTEXT = "resident_tag.phone"  # phones among a tag's details (a guardian, an emergency contact)


@dataclass(frozen=True)
class PeopleContext:
    cipher: DataCipher
    settings: Settings


def people_context(settings: Settings) -> PeopleContext:
    return PeopleContext(cipher=data_cipher(settings), settings=settings)


@dataclass
class ResidentInput:
    """A record as a form, the API or an import row gives it: text, not yet checked."""

    name: str = ""
    id_number: str = ""
    id_type: str = "ric"
    kind: str = ""  # blank: not stated (a new record then counts as registered, or overseas by its document)
    grid_code: str = ""
    phone: str = ""
    gender: str = ""  # only for documents that do not carry it
    birth_date: date | None = None  # likewise
    nationality: str = ""
    ethnicity: str = ""
    education: str = ""
    occupation: str = ""
    employer: str = ""
    hukou_address: str = ""
    address: str = ""
    household_status: str = ""
    notes: str = ""


# Fields that merge across sources: a blank is filled, a disagreement becomes a conflict.
MERGED = ("name", "kind", "grid_code", "phone", "gender", "birth_date", "nationality", "ethnicity", "education",
          "occupation", "employer", "hukou_address", "address", "household_status", "notes")
FIELD_LABELS = {
    "name": "姓名", "id_number": "证件号码", "id_type": "证件类型", "kind": "人口类型", "grid_code": "所属网格",
    "phone": "联系电话", "gender": "性别", "birth_date": "出生日期", "nationality": "国籍", "ethnicity": "民族",
    "education": "文化程度", "occupation": "职业", "employer": "服务处所", "hukou_address": "户籍地址",
    "address": "现住址", "household_status": "人户状态", "notes": "备注",
}
LIMITS = {"name": 60, "nationality": 40, "ethnicity": 20, "occupation": 60, "employer": 120,
          "hukou_address": 200, "address": 200, "notes": 2000}


@dataclass
class CleanResident:
    """A checked record: column values plus the parsed ID and phone."""

    id: IdNumber
    phone: str
    values: dict = field(default_factory=dict)  # MERGED columns except phone
    region_path: str = ""
    digest: str = ""  # the ID's keyed hash, once computed (an import needs it in its check and its write)


class GridPaths:
    """Grid code → region path, loaded once for a request or a whole import."""

    def __init__(self, db: Session) -> None:
        self.paths = dict(db.execute(select(Region.code, Region.path).where(Region.level == "grid")).all())

    def get(self, code: str) -> str | None:
        return self.paths.get(code)


def check_resident(data: ResidentInput, grids: GridPaths, who: Principal) -> tuple[CleanResident | None,
                                                                                   dict[str, FieldProblem]]:
    problems: dict[str, FieldProblem] = {}
    name = (data.name or "").strip()
    if not name:
        problems["name"] = FieldProblem("必填")
    if data.kind and data.kind not in KINDS:
        problems["kind"] = FieldProblem("必须是以下之一：{expected}", expected="、".join(KINDS))
    id_type = data.id_type or ("passport" if data.kind == "overseas" else "ric")
    if data.kind in ("registered", "floating") and id_type != "ric":
        problems["id_type"] = FieldProblem("户籍和流动人口必须使用居民身份证")
    parsed: IdNumber | None = None
    try:
        parsed = parse_id(data.id_number, id_type)
    except IdentityError as exc:
        problems["id_number"] = FieldProblem(exc.rule)
    phone = ""
    try:
        phone = parse_phone(data.phone)
    except IdentityError as exc:
        problems["phone"] = FieldProblem(exc.rule)
    grid = (data.grid_code or "").strip()
    path = grids.get(grid)
    if not grid:
        problems["grid_code"] = FieldProblem("必填")
    elif path is None:
        problems["grid_code"] = FieldProblem("网格 {code} 不存在", code=grid)
    elif not who.covers(path):
        problems["grid_code"] = FieldProblem("网格 {code} 不在您的管辖范围内", code=grid)
    if data.gender and data.gender not in GENDERS:
        problems["gender"] = FieldProblem("必须是以下之一：{expected}", expected="M（男）、F（女）")
    choice_rule = "必须是以下之一：{expected}"
    if data.education and data.education not in EDUCATION:
        problems["education"] = FieldProblem(choice_rule, expected="、".join(e for e in EDUCATION if e))
    if data.household_status and data.household_status not in HOUSEHOLD_STATUSES:
        problems["household_status"] = FieldProblem(choice_rule, expected="、".join(HOUSEHOLD_STATUSES))
    if data.birth_date and data.birth_date > date.today():
        problems["birth_date"] = FieldProblem("不能晚于今天")
    for key, limit in LIMITS.items():
        if len(str(getattr(data, key) or "")) > limit:
            problems[key] = FieldProblem("长度不能超过 {limit}", limit=limit)
    if problems or parsed is None:
        return None, problems
    values = {
        "name": name, "kind": data.kind, "grid_code": grid,
        # The ID number decides gender and birth date when it carries them.
        "gender": parsed.gender or data.gender or "", "birth_date": parsed.birth_date or data.birth_date,
        "nationality": (data.nationality or "").strip(),
    }
    for key in ("ethnicity", "education", "occupation", "employer", "hukou_address", "address",
                "household_status", "notes"):
        values[key] = (getattr(data, key) or "").strip()
    return CleanResident(id=parsed, phone=phone, values=values, region_path=path or ""), {}


def id_hash(ctx: PeopleContext, number: IdNumber) -> str:
    return ctx.cipher.lookup_hash(f"{number.id_type}:{number.number}", ID_CONTEXT)


def resident_digest(ctx: PeopleContext, clean: CleanResident) -> str:
    if not clean.digest:
        clean.digest = id_hash(ctx, clean.id)
    return clean.digest


def phone_key(phone: str) -> str:
    """A phone as it is compared and looked up. parse_phone keeps a landline's hyphen as written,
    so 0731-28881234 and （0731）28881234 are one number told two ways."""
    return phone.replace("-", "")


def phone_hash(ctx: PeopleContext, phone: str) -> str:
    return ctx.cipher.lookup_hash(phone_key(phone), PHONE_CONTEXT)


def new_resident_row(ctx: PeopleContext, clean: CleanResident, source: str, actor_id: int | None,
                     digest: str | None = None) -> dict:
    """The residents row for a checked record; `digest` is its ID hash when the caller has it already."""
    pinyin, initials = pinyin_keys(clean.values["name"])
    now = datetime.now(UTC)
    row = dict(clean.values)
    row["kind"] = row["kind"] or ("registered" if clean.id.id_type == "ric" else "overseas")
    row["nationality"] = row["nationality"] or ("中国" if clean.id.id_type == "ric" else "")
    row.update(
        name_pinyin=pinyin, name_initials=initials, id_type=clean.id.id_type,
        id_cipher=ctx.cipher.encrypt(clean.id.number, ID_CONTEXT), id_hash=digest or id_hash(ctx, clean.id),
        id_masked=clean.id.masked, id_tail=clean.id.tail,
        phone_cipher=ctx.cipher.encrypt(clean.phone, PHONE_CONTEXT) if clean.phone else None,
        phone_hash=phone_hash(ctx, clean.phone) if clean.phone else None,
        phone_masked=mask_phone(clean.phone), phone_tail=phone_tail(clean.phone),
        region_path=clean.region_path, sources=[source] if source else [], created_by=actor_id,
        created_at=now, updated_at=now, version=1,
    )
    return row


@dataclass
class MergeOutcome:
    resident_id: int
    status: str  # created | updated | unchanged
    conflicts: list[str] = field(default_factory=list)  # fields set aside for a person to settle


def _shown(value) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)


def upsert_residents(db: Session, ctx: PeopleContext, rows: list[CleanResident], source: str,
                     actor_id: int | None, looked_again: bool = False) -> list[MergeOutcome]:
    """Creates the people not yet registered and merges the rest, in one pass over the batch.
    The caller has checked every row and removed duplicates within the batch."""
    hashes = [resident_digest(ctx, r) for r in rows]
    if len(set(hashes)) != len(hashes):
        raise ValueError("duplicate ID numbers within one batch")
    existing: dict[str, Resident] = {}
    for start in range(0, len(hashes), 500):
        chunk = hashes[start:start + 500]
        found = db.scalars(select(Resident).where(one_of(db, Resident.id_hash, chunk)))
        existing.update({r.id_hash: r for r in found})
    outcomes: list[MergeOutcome | None] = [None] * len(rows)
    open_conflicts = _open_conflicts(db, [p.id for p in existing.values()])
    new_rows, new_index = [], []
    for i, (clean, digest) in enumerate(zip(rows, hashes, strict=True)):
        person = existing.get(digest)
        if person is None:
            new_rows.append(new_resident_row(ctx, clean, source, actor_id, digest))
            new_index.append(i)
        else:
            outcomes[i] = _merge(db, ctx, person, clean, source, actor_id, open_conflicts.get(person.id, set()))
    if new_rows:
        # COPY (insert_rows on PostgreSQL) raises the driver's own error, not SQLAlchemy's wrapping of it.
        taken = (IntegrityError, db.get_bind().dialect.dbapi.IntegrityError)
        try:
            with db.begin_nested():  # begin_nested() flushes the merges above before its SAVEPOINT
                insert_rows(db, Resident.__table__, new_rows)
        except taken:
            if looked_again:
                raise
            # Registered by someone else since the look above (two clicks at once, two imports of
            # the same people): look again, and they merge like those found the first time.
            again = upsert_residents(db, ctx, [rows[i] for i in new_index], source, actor_id, looked_again=True)
            for i, outcome in zip(new_index, again, strict=True):
                outcomes[i] = outcome
            return outcomes  # type: ignore[return-value]
        new_hashes = [r["id_hash"] for r in new_rows]
        ids: dict[str, int] = {}
        for start in range(0, len(new_hashes), 500):
            ids.update(db.execute(select(Resident.id_hash, Resident.id)
                                  .where(one_of(db, Resident.id_hash, new_hashes[start:start + 500]))).all())
        for i, digest in zip(new_index, new_hashes, strict=True):
            outcomes[i] = MergeOutcome(ids[digest], "created")
    return outcomes  # type: ignore[return-value]


def _open_conflicts(db: Session, resident_ids: list[int]) -> dict[int, set[tuple[str, str]]]:
    out: dict[int, set[tuple[str, str]]] = {}
    for start in range(0, len(resident_ids), 500):
        for rid, key, value in db.execute(select(
                ResidentConflict.resident_id, ResidentConflict.field, ResidentConflict.proposed_value).where(
                ResidentConflict.resident_id.in_(resident_ids[start:start + 500]), ResidentConflict.status == "open")):
            out.setdefault(rid, set()).add((key, value))
    return out


def _merge(db: Session, ctx: PeopleContext, person: Resident, clean: CleanResident, source: str,
           actor_id: int | None, open_conflicts: set[tuple[str, str]]) -> MergeOutcome:
    changed, conflicts = False, []
    incoming = dict(clean.values)
    current_phone = ctx.cipher.decrypt(person.phone_cipher, PHONE_CONTEXT) if person.phone_cipher else ""
    for key in MERGED:
        new = clean.phone if key == "phone" else incoming.get(key)
        old = current_phone if key == "phone" else getattr(person, key)
        if new in (None, "") or new == old or (key == "phone" and phone_key(new) == phone_key(old)):
            continue
        if old in (None, ""):
            if key == "phone":
                _set_phone(ctx, person, new)
            else:
                setattr(person, key, new)
                if key == "grid_code":
                    person.region_path = clean.region_path
                if key == "name":
                    person.name_pinyin, person.name_initials = pinyin_keys(new)
            changed = True
            continue
        shown_old = mask_phone(old) if key == "phone" else _shown(old)
        shown_new = mask_phone(new) if key == "phone" else _shown(new)
        if (key, shown_new) in open_conflicts:
            conflicts.append(key)
            continue
        db.add(ResidentConflict(
            resident_id=person.id, field=key, current_value=shown_old, proposed_value=shown_new,
            proposed_cipher=ctx.cipher.encrypt(new, PHONE_CONTEXT) if key == "phone" else None,
            source=source, created_by=actor_id))
        conflicts.append(key)
    if source and source not in (person.sources or []):
        person.sources = [*(person.sources or []), source]
        changed = True
    status = "updated" if changed else "unchanged"
    return MergeOutcome(person.id, status, conflicts)


def _set_phone(ctx: PeopleContext, person: Resident, phone: str) -> None:
    person.phone_cipher = ctx.cipher.encrypt(phone, PHONE_CONTEXT) if phone else None
    person.phone_hash = phone_hash(ctx, phone) if phone else None
    person.phone_masked, person.phone_tail = mask_phone(phone), phone_tail(phone)


def register_resident(db: Session, ctx: PeopleContext, who: Principal, data: ResidentInput,
                      source: str = "") -> MergeOutcome:
    who.require("people.manage")
    clean, problems = check_resident(data, GridPaths(db), who)
    if problems:
        raise ValidationFailed(problems)
    outcome = upsert_residents(db, ctx, [clean], source or who.display_name, who.user_id or None)[0]
    if outcome.status != "created":
        # Registering someone already on the register must not reach outside one's own jurisdiction.
        person = db.get(Resident, outcome.resident_id)
        if not who.covers(person.region_path):
            raise AppError("此人已登记在其他网格，请联系其所在社区", code="registered_elsewhere")
    return outcome


# --- reading ---------------------------------------------------------------------------------------

def scoped_get(db: Session, who: Principal, model, key: int, not_found: str):
    """A register record by id, for a reader whose jurisdiction covers it."""
    who.require("people.read")
    row = db.get(model, key)
    if row is None:
        raise NotFound(not_found, id=key)
    if not who.covers(row.region_path):
        raise OutsideJurisdiction()
    return row


def get_resident(db: Session, who: Principal, resident_id: int) -> Resident:
    return scoped_get(db, who, Resident, resident_id, "找不到居民 {id}")


def tags_of(db: Session, resident_ids: list[int], statuses=("active",)) -> dict[int, list[tuple[str, str]]]:
    """(code, name) of each resident's tags, for a page of results in one query."""
    out: dict[int, list[tuple[str, str]]] = {rid: [] for rid in resident_ids}
    if not resident_ids:
        return out
    rows = db.execute(
        select(ResidentTag.resident_id, TagKind.code, TagKind.name)
        .join(TagKind, TagKind.code == ResidentTag.tag_code)
        .where(ResidentTag.resident_id.in_(resident_ids), ResidentTag.status.in_(statuses))
        .order_by(TagKind.sort)).all()
    for rid, code, name in rows:
        out[rid].append((code, name))
    return out


def age_of(birth: date | None, today: date | None = None) -> int | None:
    if birth is None:
        return None
    today = today or date.today()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class Revealed:
    id_number: str
    phone: str
    tag_phones: dict[str, dict[str, str]] = field(default_factory=dict)  # tag code → detail key → phone


def reveal(db: Session, ctx: PeopleContext, who: Principal, resident_id: int, reason: str) -> Revealed:
    """The unmasked ID and phone numbers, for a user whose role may see them and who says why;
    written to the audit log in the same transaction as the answer."""
    person = get_resident(db, who, resident_id)
    if not who.can("people.reveal"):
        raise Forbidden("您的角色无权查看完整的证件号码和电话")
    reason = audit.reveal_reason(reason)
    tag_phones: dict[str, dict[str, str]] = {}
    for tag in db.scalars(select(ResidentTag).where(ResidentTag.resident_id == person.id,
                                                    ResidentTag.status == "active")):
        for key, value in (tag.details or {}).items():
            if isinstance(value, dict) and value.get("cipher"):
                tag_phones.setdefault(tag.tag_code, {})[key] = ctx.cipher.decrypt(
                    bytes.fromhex(value["cipher"]), TAG_PHONE_CONTEXT)
    shown = Revealed(
        id_number=ctx.cipher.decrypt(person.id_cipher, ID_CONTEXT),
        phone=ctx.cipher.decrypt(person.phone_cipher, PHONE_CONTEXT) if person.phone_cipher else "",
        tag_phones=tag_phones)
    fields_shown = ["id_number", "phone"] + [f"{code}.{key}" for code, keys in tag_phones.items() for key in keys]
    audit.record(db, ctx.cipher, audit.actor_of(who), "reveal", object_type="resident", object_id=person.id,
                 subject=f"{person.name}（{person.id_masked}）", reason=reason, data={"fields": fields_shown})
    return shown


def update_resident(db: Session, ctx: PeopleContext, who: Principal, resident_id: int, version: int,
                    data: ResidentInput) -> Resident:
    """A person editing the record directly: what they enter stands (that is how conflicts are settled too)."""
    who.require("people.manage")
    person = get_resident(db, who, resident_id)
    if person.version != version:
        raise AppError("该居民信息已被他人修改，请刷新后重试", code="version_conflict")
    current_id = ctx.cipher.decrypt(person.id_cipher, ID_CONTEXT)
    data.id_number, data.id_type = current_id, person.id_type  # the ID number is the key; it is not edited here
    clean, problems = check_resident(data, GridPaths(db), who)
    if problems:
        raise ValidationFailed(problems)
    values = dict(clean.values)
    # A blank kind or nationality is "not stated" (see ResidentInput): it keeps the record's, as a new
    # record gets one from its document; a blank is no kind a search or an export knows.
    values["kind"] = values["kind"] or person.kind
    values["nationality"] = values["nationality"] or person.nationality
    for key, value in values.items():
        setattr(person, key, value)
    person.region_path = clean.region_path
    person.name_pinyin, person.name_initials = pinyin_keys(person.name)
    _set_phone(ctx, person, clean.phone)
    db.flush()
    return person


def resolve_conflict(db: Session, ctx: PeopleContext, who: Principal, conflict_id: int, choice: str) -> None:
    """`keep` the register's value or `replace` it with the proposed one."""
    who.require("people.manage")
    conflict = db.get(ResidentConflict, conflict_id)
    if conflict is None:
        raise NotFound("找不到冲突记录 {id}", id=conflict_id)
    person = get_resident(db, who, conflict.resident_id)
    if conflict.status != "open":
        raise AppError("该冲突已处理", code="already_resolved")
    if choice not in ("keep", "replace"):
        raise ValidationFailed({"choice": FieldProblem("必须是以下之一：{expected}", expected="keep、replace")})
    if choice == "replace":
        _apply(db, ctx, who, person, conflict)
    conflict.status = "kept" if choice == "keep" else "replaced"
    conflict.resolved_by, conflict.resolved_at = who.user_id or None, datetime.now(UTC)
    db.flush()


def _apply(db: Session, ctx: PeopleContext, who: Principal, person: Resident, conflict: ResidentConflict) -> None:
    key, value = conflict.field, conflict.proposed_value
    if key == "phone":
        _set_phone(ctx, person, ctx.cipher.decrypt(conflict.proposed_cipher, PHONE_CONTEXT))
        return
    if key == "grid_code":
        path = GridPaths(db).get(value)
        if path is None or not who.covers(path):
            raise OutsideJurisdiction()
        person.region_path = path
    if key == "birth_date":
        person.birth_date = date.fromisoformat(value)
        return
    setattr(person, key, value)
    if key == "name":
        person.name_pinyin, person.name_initials = pinyin_keys(value)


def input_from(values: dict) -> ResidentInput:
    names = {f.name for f in fields(ResidentInput)}
    return ResidentInput(**{k: v for k, v in values.items() if k in names})
