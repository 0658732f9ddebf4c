"""Tags for special groups: what each one records, and every change kept as history.

A tag's details are checked against its kind's fields; phone numbers among them are encrypted
like a resident's own. Rules (gridgov/people/rules.py) only *propose* a tag; a grid worker or the
community confirms or rejects it, and a rejected proposal is not proposed again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, attributes

from gridgov.accounts.access import Principal
from gridgov.core.db import add_unique
from gridgov.core.errors import AppError, FieldProblem, NotFound, ValidationFailed
from gridgov.people.identity import IdentityError, mask_phone, parse_phone
from gridgov.people.models import Resident, ResidentTag, TagEvent, TagKind
from gridgov.people.service import TAG_PHONE_CONTEXT, PeopleContext, get_resident


@dataclass(frozen=True)
class DetailField:
    key: str
    label: str
    type: str = "text"  # text | date | int | choice | phone
    required: bool = False
    choices: tuple[str, ...] = ()
    max_value: int | None = None


def _f(key, label, type="text", required=False, choices=(), max_value=None) -> DetailField:
    return DetailField(key, label, type, required, tuple(choices), max_value)


# What each special group records (DESIGN §3); a kind not listed records a note only.
DETAILS: dict[str, list[DetailField]] = {
    "community_correction": [_f("term", "矫正期限", required=True), _f("start_date", "矫正开始日期", "date", True),
                             _f("end_date", "矫正结束日期", "date", True), _f("offence", "罪名"),
                             _f("supervisor", "矫正负责人")],
    "mental_disorder": [_f("guardian", "监护人", required=True), _f("guardian_phone", "监护人电话", "phone", True),
                        _f("danger_level", "危险性评估等级", "int", True, max_value=5), _f("diagnosis", "诊断")],
    "living_alone": [_f("emergency_contact", "紧急联系人", required=True),
                     _f("emergency_phone", "紧急联系电话", "phone", True)],
    "empty_nest": [_f("children_contact", "子女联系人"), _f("children_phone", "子女电话", "phone")],
    "left_behind_child": [_f("guardian", "监护人", required=True), _f("guardian_phone", "监护人电话", "phone"),
                          _f("parents_work_place", "父母务工地")],
    "left_behind_elderly": [_f("children_work_place", "子女务工地"), _f("children_phone", "子女电话", "phone")],
    "disabled": [_f("disability_type", "残疾类别", "choice", True,
                    ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"]),
                 _f("disability_grade", "残疾等级", "choice", True, ["一级", "二级", "三级", "四级"]),
                 _f("certificate_no", "残疾证号")],
    "subsistence": [_f("certificate_no", "低保证号"), _f("monthly_amount", "月保障金额（元）", "int")],
    "released_prisoner": [_f("release_date", "释放日期", "date", True), _f("offence", "原罪名"),
                          _f("placement", "安置帮教情况")],
    "drug_user": [_f("status", "管控状态", "choice", True, ["社区戒毒", "社区康复", "戒断三年未复吸"]),
                  _f("start_date", "开始日期", "date")],
    "key_petitioner": [_f("matter", "信访事项", required=True), _f("risk_level", "风险等级", "choice", True,
                                                                  ["低", "中", "高"])],
    "key_youth": [_f("category", "类别", "choice", True, ["闲散青少年", "不良行为青少年", "流浪乞讨未成年人",
                                                            "服刑人员未成年子女", "农村留守儿童"]),
                  _f("guardian", "监护人")],
    "missing_prone": [_f("condition", "易走失原因", required=True)],
}
NOTE = _f("note", "备注")


def detail_fields(code: str) -> list[DetailField]:
    return [*DETAILS.get(code, []), NOTE]


def check_details(ctx: PeopleContext, code: str, given: dict, previous: dict | None = None
                  ) -> tuple[dict, dict[str, FieldProblem]]:
    """Checked details ready to store; a phone left blank on an edit keeps the stored one."""
    out: dict = {}
    problems: dict[str, FieldProblem] = {}
    for f in detail_fields(code):
        raw = given.get(f.key)
        raw = "" if raw is None else str(raw).strip()
        name = f"details.{f.key}"
        if not raw:
            if f.type == "phone" and previous and previous.get(f.key):
                out[f.key] = previous[f.key]
            elif f.required:
                problems[name] = FieldProblem("{label}必填", label=f.label)
            continue
        if f.type == "date":
            try:
                out[f.key] = date.fromisoformat(raw).isoformat()
            except ValueError:
                problems[name] = FieldProblem("{label}应为日期，如 2026-01-31", label=f.label)
        elif f.type == "int":
            if not raw.isdigit() or (f.max_value is not None and int(raw) > f.max_value):
                problems[name] = FieldProblem("{label}应为 0–{limit} 的整数", label=f.label,
                                              limit=f.max_value if f.max_value is not None else "∞")
            else:
                out[f.key] = int(raw)
        elif f.type == "choice":
            if raw not in f.choices:
                problems[name] = FieldProblem("{label}必须是以下之一：{expected}", label=f.label,
                                              expected="、".join(f.choices))
            else:
                out[f.key] = raw
        elif f.type == "phone":
            try:
                phone = parse_phone(raw)
            except IdentityError as exc:
                problems[name] = FieldProblem("{label}：{rule}", label=f.label, rule=exc.rule)
                continue
            out[f.key] = {"masked": mask_phone(phone),
                          "cipher": ctx.cipher.encrypt(phone, TAG_PHONE_CONTEXT).hex()}
        else:
            if len(raw) > 300:
                problems[name] = FieldProblem("{label}长度不能超过 {limit}", label=f.label, limit=300)
            out[f.key] = raw
    if code == "community_correction" and not problems and out.get("end_date", "") < out.get("start_date", ""):
        problems["details.end_date"] = FieldProblem("矫正结束日期不能早于开始日期")
    return out, problems


def shown_details(code: str, details: dict) -> list[tuple[str, str]]:
    """(label, value) pairs as a page shows them, phones masked."""
    out = []
    for f in detail_fields(code):
        value = details.get(f.key)
        if value in (None, ""):
            continue
        out.append((f.label, value["masked"] if isinstance(value, dict) else str(value)))
    return out


def sync_active_tags(db: Session, resident_ids: Iterable[int], chunk: int = 500) -> None:
    """Rewrites `residents.active_tags` of these people from their tag rows. Every change of which
    tags are active ends here, so the search's copy cannot drift from resident_tags."""
    ids = sorted(set(resident_ids))
    for start in range(0, len(ids), chunk):
        _sync_chunk(db, ids[start:start + chunk])


def _sync_chunk(db: Session, ids: list[int]) -> None:
    codes: dict[int, list[str]] = {rid: [] for rid in ids}
    for rid, code in db.execute(select(ResidentTag.resident_id, ResidentTag.tag_code).where(
            ResidentTag.resident_id.in_(ids), ResidentTag.status == "active")):
        codes[rid].append(code)
    wanted = {rid: f",{','.join(sorted(c))}," if c else "" for rid, c in codes.items()}
    stored = dict(db.execute(select(Resident.id, Resident.active_tags).where(Resident.id.in_(ids))).all())
    changed = [{"rid": rid, "tags": tags} for rid, tags in wanted.items() if rid in stored and stored[rid] != tags]
    if not changed:
        return
    # Core, not the ORM: a derived column is not an edit of the person, so neither the version that
    # guards concurrent edits nor updated_at moves (updated_at would otherwise take its onupdate).
    table = Resident.__table__
    db.execute(update(table).where(table.c.id == bindparam("rid"))
               .values(active_tags=bindparam("tags"), updated_at=table.c.updated_at), changed)
    for row in changed:  # a person already loaded in this session reads the new value too
        person = db.identity_map.get(db.identity_key(Resident, row["rid"]))
        if person is not None:
            attributes.set_committed_value(person, "active_tags", row["tags"])


def tag_kind(db: Session, code: str) -> TagKind:
    kind = db.get(TagKind, code)
    if kind is None or not kind.active:
        raise ValidationFailed({"tag": FieldProblem("标签 {code} 不存在", code=code)})
    return kind


def _history(db: Session, tag: ResidentTag, who: Principal | None, action: str, before: dict, reason: str) -> None:
    db.add(TagEvent(resident_tag_id=tag.id, resident_id=tag.resident_id, tag_code=tag.tag_code, action=action,
                    before=before, after={"status": tag.status, "details": tag.details}, reason=reason,
                    actor_id=(who.user_id or None) if who else None))


def _state(tag: ResidentTag) -> dict:
    return {"status": tag.status, "details": tag.details}


def _need_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ValidationFailed({"reason": FieldProblem("请写明原因")})
    return reason[:300]


def add_tag(db: Session, ctx: PeopleContext, who: Principal, resident_id: int, code: str, details: dict,
            reason: str, source: str = "manual") -> ResidentTag:
    who.require("people.manage")
    get_resident(db, who, resident_id)
    tag_kind(db, code)
    clean, problems = check_details(ctx, code, details)
    if problems:
        raise ValidationFailed(problems)
    reason = _need_reason(reason)
    tag = db.scalar(select(ResidentTag).where(ResidentTag.resident_id == resident_id, ResidentTag.tag_code == code))
    if tag is not None and tag.status == "active":
        raise AppError("此人已有该标签", code="tag_exists")
    if tag is None:
        tag = ResidentTag(resident_id=resident_id, tag_code=code, status="active", details=clean, source=source)
        if not add_unique(db, tag):  # added by someone else since the look above
            raise AppError("此人已有该标签", code="tag_exists")
        _history(db, tag, who, "add", {}, reason)
    else:
        before = _state(tag)
        tag.status, tag.details, tag.source = "active", clean, source
        db.flush()
        _history(db, tag, who, "confirm" if before["status"] == "proposed" else "add", before, reason)
    sync_active_tags(db, [resident_id])
    return tag


def _tag(db: Session, who: Principal, resident_id: int, code: str) -> ResidentTag:
    get_resident(db, who, resident_id)
    tag = db.scalar(select(ResidentTag).where(ResidentTag.resident_id == resident_id, ResidentTag.tag_code == code))
    if tag is None:
        raise NotFound("此人没有标签 {code}", code=code)
    return tag


def change_tag(db: Session, ctx: PeopleContext, who: Principal, resident_id: int, code: str, details: dict,
               reason: str, version: int | None = None) -> ResidentTag:
    who.require("people.manage")
    tag = _tag(db, who, resident_id, code)
    if tag.status != "active":
        raise AppError("只能修改在用的标签", code="tag_not_active")
    if version is not None and version != tag.version:
        raise AppError("该标签已被他人修改，请刷新后重试", code="version_conflict")
    clean, problems = check_details(ctx, code, details, tag.details)
    if problems:
        raise ValidationFailed(problems)
    reason = _need_reason(reason)
    before = _state(tag)
    tag.details = clean
    db.flush()
    _history(db, tag, who, "change", before, reason)
    return tag


def remove_tag(db: Session, who: Principal, resident_id: int, code: str, reason: str) -> ResidentTag:
    who.require("people.manage")
    tag = _tag(db, who, resident_id, code)
    if tag.status != "active":
        raise AppError("该标签不在使用中", code="tag_not_active")
    reason = _need_reason(reason)
    before = _state(tag)
    tag.status = "removed"
    db.flush()
    _history(db, tag, who, "remove", before, reason)
    sync_active_tags(db, [resident_id])
    return tag


def decide_proposal(db: Session, ctx: PeopleContext, who: Principal, resident_id: int, code: str, accept: bool,
                    reason: str, details: dict | None = None) -> ResidentTag:
    """A grid worker or the community confirms (with the tag's details) or rejects what a rule proposed."""
    who.require("people.manage")
    tag = _tag(db, who, resident_id, code)
    if tag.status != "proposed":
        raise AppError("该标签不是待确认状态", code="not_proposed")
    before = _state(tag)
    if accept:
        clean, problems = check_details(ctx, code, details or {})
        if problems:
            raise ValidationFailed(problems)
        tag.status, tag.details = "active", clean
    else:
        reason = _need_reason(reason)
        tag.status = "rejected"
    db.flush()
    _history(db, tag, who, "confirm" if accept else "reject", before, (reason or "").strip()[:300])
    if accept:
        sync_active_tags(db, [resident_id])
    return tag


def propose(db: Session, resident_ids: list[int], code: str, rule: str, reason: str) -> int:
    """Rule proposals for the given people, skipping anyone who has or had this tag in any status."""
    if not resident_ids:
        return 0
    have: set[int] = set()
    for start in range(0, len(resident_ids), 500):
        have.update(db.scalars(select(ResidentTag.resident_id).where(
            ResidentTag.tag_code == code, ResidentTag.resident_id.in_(resident_ids[start:start + 500]))))
    made = 0
    for rid in resident_ids:
        if rid in have:
            continue
        tag = ResidentTag(resident_id=rid, tag_code=code, status="proposed", details={}, source=f"rule:{rule}")
        db.add(tag)
        db.flush()
        _history(db, tag, None, "propose", {}, reason)
        made += 1
    return made


def history(db: Session, who: Principal, resident_id: int) -> list[TagEvent]:
    get_resident(db, who, resident_id)
    return list(db.scalars(select(TagEvent).where(TagEvent.resident_id == resident_id)
                           .order_by(TagEvent.created_at.desc(), TagEvent.id.desc())))

