"""Finding a resident inside one's jurisdiction: by name, full pinyin or initials, ID or phone
(whole, or the last four), plus filters for tag, grid, kind and address.

What the query looks like decides which keys it is matched against. Each key is walked in index
order, (key, id), and the keys are taken one after another ("张三" the name before someone whose
initials happen to match), so a page is a few index ranges however large the register is. Counts
stop at COUNT_CAP: "1,000+" is all a person needs to know that they should narrow the search.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, func, not_, or_, select, true
from sqlalchemy.orm import Session

from gridgov.accounts.access import Principal
from gridgov.core.errors import FieldProblem, ValidationFailed
from gridgov.people.identity import ID_TYPES, KINDS, IdentityError, name_syllables, parse_id, parse_phone
from gridgov.people.models import Resident, ResidentTag
from gridgov.people.service import PeopleContext, id_hash, phone_hash
from gridgov.regions.models import CODE_LENGTHS

COUNT_CAP = 1000
TOP = "\U0010ffff"  # above every character: `key >= q AND key < q + TOP` is "starts with q"
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
LATIN = re.compile(r"^[a-z]+$")


@dataclass
class ResidentQuery:
    q: str = ""
    tag: str = ""
    grid: str = ""
    kind: str = ""
    address: str = ""


@dataclass(frozen=True)
class _Clause:
    matched: str  # name | pinyin | initials | id_number | id_tail | phone | phone_tail | all
    condition: ColumnElement[bool]
    order: tuple


@dataclass
class Hit:
    resident: Resident
    matched: str
    highlight: dict[str, tuple[int, int]] = field(default_factory=dict)  # field → [start, end) to mark


@dataclass
class SearchPage:
    total: int
    capped: bool  # there are more than `total`; the count stopped
    hits: list[Hit]


def _prefix(column, q: str) -> ColumnElement[bool]:
    return and_(column >= q, column < q + TOP)


def _clauses(ctx: PeopleContext, q: str) -> list[_Clause]:
    q = q.strip()
    by_id = (Resident.id,)
    if not q:
        return [_Clause("all", true(), by_id)]
    if CJK.search(q):
        return [_Clause("name", _prefix(Resident.name, q), (Resident.name, Resident.id))]
    compact = re.sub(r"[\s'’-]", "", q).lower()
    if LATIN.match(compact):
        return [_Clause("pinyin", _prefix(Resident.name_pinyin, compact), (Resident.name_pinyin, Resident.id)),
                _Clause("initials", _prefix(Resident.name_initials, compact), (Resident.name_initials, Resident.id))]
    digits = re.sub(r"[\s-]", "", q).upper()
    if re.fullmatch(r"\d{3}[\dX]", digits):
        return [_Clause("id_tail", Resident.id_tail == digits, (Resident.id_tail, Resident.id)),
                _Clause("phone_tail", Resident.phone_tail == digits, (Resident.phone_tail, Resident.id))]
    if re.fullmatch(r"\d{17}[\dX]", digits):
        try:
            number = parse_id(digits, "ric")
        except IdentityError as exc:
            raise ValidationFailed({"q": FieldProblem(exc.rule)}) from None
        return [_Clause("id_number", Resident.id_hash == id_hash(ctx, number), by_id)]
    try:
        phone = parse_phone(q)
    except IdentityError:
        phone = ""
    if phone:
        return [_Clause("phone", Resident.phone_hash == phone_hash(ctx, phone), by_id)]
    if re.fullmatch(r"[A-Z0-9]{5,20}", digits):
        hashes = [id_hash(ctx, parse_id(digits, t)) for t in ID_TYPES if t != "ric"]
        return [_Clause("id_number", Resident.id_hash.in_(hashes), by_id)]
    raise ValidationFailed({"q": FieldProblem(
        "请输入姓名、拼音或首字母、证件号码后 4 位或完整号码、完整手机号")})


def _in_one_grid(who: Principal) -> bool:
    return len(who.region_code) == CODE_LENGTHS["grid"]


def _scope(who: Principal) -> ColumnElement[bool]:
    """A grid worker's residents are exactly those of their grid: one indexed equality instead of
    a prefix that no index serves once it is combined with the search key's own range."""
    if _in_one_grid(who):
        return Resident.grid_code == who.region_code
    return who.within(Resident.region_path)


def _filters(who: Principal, query: ResidentQuery) -> list[ColumnElement[bool]]:
    conditions = [_scope(who)]
    if query.grid:
        conditions.append(Resident.grid_code == query.grid)
    if query.kind:
        if query.kind not in KINDS:
            raise ValidationFailed({"kind": FieldProblem("必须是以下之一：{expected}", expected="、".join(KINDS))})
        conditions.append(Resident.kind == query.kind)
    if query.address:
        like = f"%{query.address.strip()}%"
        conditions.append(or_(Resident.address.like(like), Resident.hukou_address.like(like)))
    if query.tag:
        # IN rather than EXISTS: SQLite runs a correlated EXISTS once per resident, a full scan for a rare tag.
        conditions.append(Resident.id.in_(select(ResidentTag.resident_id).where(
            ResidentTag.tag_code == query.tag, ResidentTag.status == "active")))
    return conditions


def search_residents(db: Session, ctx: PeopleContext, who: Principal, query: ResidentQuery,
                     limit: int = 20, offset: int = 0) -> SearchPage:
    who.require("people.read")
    clauses = _clauses(ctx, query.q)
    filters = _filters(who, query)
    hits: list[Hit] = []
    total, capped = 0, False
    earlier: list[ColumnElement[bool]] = []
    skip, want = offset, limit
    in_one_grid = _in_one_grid(who)
    for clause in clauses:
        where = and_(clause.condition, *filters, *[not_(c) for c in earlier])
        order = clause.order
        if clause.matched == "all" and in_one_grid:
            # The grid's residents in id order from (grid_code, id): ordered by id alone, PostgreSQL
            # walks the whole register's primary key hoping to meet the grid's few tagged people early.
            order = (Resident.grid_code, Resident.id)
        count = db.scalar(select(func.count()).select_from(
            select(Resident.id).where(where).limit(COUNT_CAP + 1).subquery()))
        capped = capped or count > COUNT_CAP
        count = min(count, COUNT_CAP)
        total += count
        if want > 0 and skip < count:
            rows = db.scalars(select(Resident).where(where).order_by(*order).offset(skip).limit(want)).all()
            hits.extend(Hit(r, clause.matched, _highlight(r, clause.matched, query.q)) for r in rows)
            want -= len(rows)
        skip = max(0, skip - count)
        earlier.append(clause.condition)
    return SearchPage(total=total, capped=capped, hits=hits)


def _highlight(r: Resident, matched: str, q: str) -> dict[str, tuple[int, int]]:
    q = q.strip()
    if matched == "name":
        return {"name": (0, len(q))}
    if matched in ("pinyin", "initials"):
        key = re.sub(r"[\s'’-]", "", q).lower()
        covered, used = 0, 0
        for syllable in name_syllables(r.name):
            if used >= len(key):
                break
            used += len(syllable) if matched == "pinyin" else 1
            covered += 1
        return {"name": (0, min(covered, len(r.name)))}
    if matched in ("id_tail", "id_number"):
        n = len(r.id_masked)
        return {"id_number": (n - 4 if matched == "id_tail" else 0, n)}
    if matched in ("phone_tail", "phone"):
        n = len(r.phone_masked)
        return {"phone": (n - 4 if matched == "phone_tail" else 0, n)}
    return {}



def matching_residents(db: Session, ctx: PeopleContext, who: Principal, query: ResidentQuery,
                       batch: int = 2000) -> Iterator[Hit]:
    """Every match, in the order of the search pages and without the count cap: for exports.
    Batched by keyset on id, so memory stays flat however many rows there are."""
    who.require("people.read")
    filters = _filters(who, query)
    earlier: list[ColumnElement[bool]] = []
    for clause in _clauses(ctx, query.q):
        where = and_(clause.condition, *filters, *[not_(c) for c in earlier])
        last = 0
        while True:
            rows = db.scalars(select(Resident).where(where, Resident.id > last).order_by(Resident.id)
                              .limit(batch)).all()
            if not rows:
                break
            for r in rows:
                yield Hit(r, clause.matched, _highlight(r, clause.matched, query.q))
            last = rows[-1].id
            db.expunge_all()
        earlier.append(clause.condition)
