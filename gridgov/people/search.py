"""Finding a resident inside one's jurisdiction: by name, full pinyin or initials, ID or phone
(whole, or the last four), plus filters for tag, grid, kind and address.

What the query looks like decides which keys it is matched against. Each key is walked in index
order, (key, id), and the keys are taken one after another ("张三" the name before someone whose
initials happen to match), so a page is a few index ranges however large the register is. Counts
stop at COUNT_CAP: "1,000+" is all a person needs to know that they should narrow the search, and
the same walk of up to COUNT_CAP + 1 ids gives the count and the page. The jurisdiction and a tag
are checked on the index entries walked (grid_code and residents.active_tags are in the indexes),
never by reading rows that turn out not to match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session
from stdnum.cn import ric

from gridgov.accounts.access import Principal
from gridgov.core.db import one_of
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
    digits = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", q)).upper()  # full-width digits as typed
    if re.fullmatch(r"[0-9]{3}[0-9X]", digits):
        return [_Clause("id_tail", Resident.id_tail == digits, (Resident.id_tail, Resident.id)),
                _Clause("phone_tail", Resident.phone_tail == digits, (Resident.phone_tail, Resident.id))]
    if re.fullmatch(r"[0-9]{17}[0-9X]", digits):
        # The layout of a 居民身份证, and of the 港澳台居民居住证 (810000, 820000, 830000), registered
        # as permits: the number is looked up as either. Every such document carries the check
        # character, so one that fails it is mistyped, and the rule says so.
        hashes = [id_hash(ctx, parse_id(digits, t)) for t in ID_TYPES if t != "ric"]
        try:
            hashes.append(id_hash(ctx, parse_id(digits, "ric")))
        except IdentityError as exc:
            if ric.calc_check_digit(digits) != digits[-1]:
                raise ValidationFailed({"q": FieldProblem(exc.rule)}) from None
        return [_Clause("id_number", Resident.id_hash.in_(hashes), by_id)]
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


def _one_grid(who: Principal, query: ResidentQuery) -> bool:
    return _in_one_grid(who) or bool(query.grid)


def _scope(who: Principal) -> ColumnElement[bool]:
    """The user's residents, as a condition on grid_code where it can be: the search indexes carry
    grid_code, so the jurisdiction is checked without reading rows. A grid worker's is one equality,
    which the (grid_code, key) indexes serve directly."""
    if _in_one_grid(who):
        return Resident.grid_code == who.region_code
    if _codes_nest(who):
        return _codes_under(Resident.grid_code, who.region_code)
    return who.within(Resident.region_path)


def _codes_nest(who: Principal) -> bool:
    """From the district down, a region's code begins the code of every region inside it (the region
    importer enforces it); a city's districts have codes of their own (株洲市 430200, 芦淞区 430203).
    A city's code is as long as a district's, but only a district has one such code above it, its
    city's. A district at the root of the tree keeps the path, which is right for every level."""
    if len(who.region_code) > CODE_LENGTHS["district"]:
        return True
    above = [code for code in who.region_path.split("/") if code][:-1]
    return bool(above) and len(above[-1]) == CODE_LENGTHS["city"]


def _codes_under(column, code: str) -> ColumnElement[bool]:
    """`column` starts with `code`. Codes are digits, so the bound above is the next number: it sorts
    right in any collation, which `code + TOP` on a column without the C collation would not.

    The bounds are written into the SQL, not sent as parameters. psycopg prepares a statement run
    five times, and PostgreSQL may then plan it once for any parameters: it takes an unknown range
    for 0.5% of the register, where a district's is all of it, and that plan walked all 5,000,000
    index entries and sorted them (1.6 s instead of 3 ms for a tag alone)."""
    following = str(int(code) + 1).zfill(len(code))
    if len(following) > len(code):  # 999…: nothing sorts above it
        return column >= _inline(code)
    return and_(column >= _inline(code), column < _inline(following))


def _inline(value: str):
    return literal(value, String(), literal_execute=True)


def _filters(who: Principal, query: ResidentQuery) -> list[ColumnElement[bool]]:
    """Every condition but the searched key and the tag (see _Tag)."""
    conditions = [_scope(who)]
    if query.grid:
        conditions.append(Resident.grid_code == query.grid)
    if query.kind:
        if query.kind not in KINDS:
            raise ValidationFailed({"kind": FieldProblem("必须是以下之一：{expected}", expected="、".join(KINDS))})
        conditions.append(Resident.kind == query.kind)
    if query.address:
        words = query.address.strip()
        conditions.append(or_(Resident.address.contains(words, autoescape=True),
                              Resident.hukou_address.contains(words, autoescape=True)))
    return conditions


@dataclass(frozen=True)
class _Tag:
    """How a tag filter is applied. Along a searched key's range, or in one grid, it is checked on
    each index entry walked (active_tags is in those indexes; with a key, the tagged people's own
    indexes are walked). Alone across a wider jurisdiction, the search starts from the tag's own
    index entries instead (_walk_tag).

    Starting from a rare tag's people when a key is searched was measured and left out: reading
    their rows by id costs ~6.5 µs each from memory and up to ~100 µs from disk (5,000,000 residents
    on PostgreSQL), where the tagged people under a name are walked at ~0.3 µs each, and even the
    commonest surname (王, 7% of a real district) has only ~50,000 of them."""

    code: str
    in_one_grid: bool

    def walks(self, clause: _Clause) -> bool:
        return clause.matched == "all" and not self.in_one_grid

    def on_rows(self, clause: _Clause) -> ColumnElement[bool]:
        """What is checked on each resident's index entry."""
        # `<> ''` as the tagged people's indexes say it (models.TAGGED), a literal, not a parameter:
        # that is how both databases see those indexes hold every match.
        tagged = Resident.active_tags != literal_column("''")
        if self.walks(clause):
            return tagged
        # Escaped: tag codes hold '_', which LIKE reads as any character.
        return and_(tagged, Resident.active_tags.contains(f",{self.code},", autoescape=True))

    def condition(self, clause: _Clause) -> ColumnElement[bool]:
        if self.walks(clause):
            # IN rather than EXISTS: SQLite runs a correlated EXISTS once per resident, a full scan for a rare tag.
            return and_(self.on_rows(clause), Resident.id.in_(_tagged(self.code)))
        return self.on_rows(clause)


def _tagged(code: str, after: int = 0):
    """The tag's people in id order (its index's order)."""
    return (select(ResidentTag.resident_id)
            .where(ResidentTag.tag_code == code, ResidentTag.status == "active", ResidentTag.resident_id > after)
            .order_by(ResidentTag.resident_id))


def _walk_tag(db: Session, code: str, rest: ColumnElement[bool]) -> list[int]:
    """The first COUNT_CAP + 1 of a tag's people who match `rest`, in id order: the tag's people a
    chunk at a time, each chunk checked against the rest on the tagged people's index (1,001 probes,
    a few ms). Asked as one query (IN the tag's people, ORDER BY id), PostgreSQL took the tagged
    people's condition for one that rejects 85% of them, expected fewer matches than the cap, and
    chose, tag by tag, a merge, a nested loop or parallel workers fetching all the tag's people and
    sorting them: 3 to 60 ms a query among 5,000,000 residents, p95 65-95 ms."""
    found: list[int] = []
    after, size = 0, COUNT_CAP + 1
    while len(found) <= COUNT_CAP:
        chunk = list(db.scalars(_tagged(code, after).limit(size)))
        if chunk:
            found += db.scalars(select(Resident.id).where(rest, one_of(db, Resident.id, chunk)).order_by(Resident.id))
        if len(chunk) < size:
            break
        after, size = chunk[-1], size * 2  # a narrower jurisdiction keeps fewer of each chunk
    return found[:COUNT_CAP + 1]


def _where(clause: _Clause, filters: list[ColumnElement[bool]], tag: _Tag | None,
           earlier: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """The clause's matches that no earlier clause matched."""
    tagged = [tag.condition(clause)] if tag else []
    return and_(clause.condition, *filters, *tagged, *[not_(c) for c in earlier])


def search_residents(db: Session, ctx: PeopleContext, who: Principal, query: ResidentQuery,
                     limit: int = 20, offset: int = 0) -> SearchPage:
    who.require("people.read")
    clauses = _clauses(ctx, query.q)
    filters = _filters(who, query)
    tag = _Tag(query.tag, _one_grid(who, query)) if query.tag else None
    hits: list[Hit] = []
    total, capped = 0, False
    earlier: list[ColumnElement[bool]] = []
    skip, want = offset, limit
    for clause in clauses:
        where = _where(clause, filters, tag, earlier)
        order = clause.order
        if clause.matched == "all" and _one_grid(who, query):
            # The grid's residents in id order from (grid_code, id): ordered by id alone, PostgreSQL
            # walks the whole register's primary key hoping to meet the grid's few tagged people early.
            order = (Resident.grid_code, Resident.id)
        if tag and tag.walks(clause):
            ids = _walk_tag(db, tag.code, and_(clause.condition, *filters, tag.on_rows(clause)))
        else:
            ids = _first_ids(db, where, order)
        count = min(len(ids), COUNT_CAP)
        capped = capped or len(ids) > COUNT_CAP
        total += count
        if want > 0 and skip < count:
            rows = _page(db, where, order, ids, skip, want)
            hits.extend(Hit(r, clause.matched, _highlight(r, clause.matched, query.q)) for r in rows)
            want -= len(rows)
        skip = max(0, skip - count)
        earlier.append(clause.condition)
    return SearchPage(total=total, capped=capped, hits=hits)


def _first_ids(db: Session, where: ColumnElement[bool], order: tuple) -> list[int]:
    """The first COUNT_CAP + 1 matches' ids in page order: one walk gives both the count and the
    page, where a count and then a page query walked the same range twice."""
    return list(db.scalars(select(Resident.id).where(where).order_by(*order).limit(COUNT_CAP + 1)))


def _page(db: Session, where: ColumnElement[bool], order: tuple, ids: list[int], skip: int,
          want: int) -> list[Resident]:
    if skip + want > len(ids) > COUNT_CAP:  # the page runs past the ids walked: walk it again
        return list(db.scalars(select(Resident).where(where).order_by(*order).offset(skip).limit(want)))
    wanted = ids[skip:skip + want]
    rows = {r.id: r for r in db.scalars(select(Resident).where(Resident.id.in_(wanted)))}
    return [rows[i] for i in wanted if i in rows]  # one deleted since the walk is left out


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
    clauses = _clauses(ctx, query.q)
    filters = _filters(who, query)
    tag = _Tag(query.tag, _one_grid(who, query)) if query.tag else None
    earlier: list[ColumnElement[bool]] = []
    for clause in clauses:
        where = _where(clause, filters, tag, earlier)
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
