"""The resident list as Excel, exactly as searched on screen, masked unless revealed with a reason.

The rows are the search's own (`matching_residents`, the caller's jurisdiction and filters, no
count cap), streamed in keyset batches into a write-only workbook. The columns are the import
template's, so an unmasked export imports back; a masked one shows what every screen shows.
Every export of personal data is written to the audit log with its filters and row count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict

from sqlalchemy.orm import Session

from gridgov.accounts.access import Principal
from gridgov.core import audit
from gridgov.core.errors import FieldProblem, Forbidden, ValidationFailed
from gridgov.core.excel import table_workbook
from gridgov.people.identity import GENDERS, ID_TYPES, KINDS
from gridgov.people.search import ResidentQuery, matching_residents
from gridgov.people.service import ID_CONTEXT, PHONE_CONTEXT, PeopleContext, tags_of
from gridgov.people.sheets import RESIDENT_COLUMNS

HEADERS = [c.header for c in RESIDENT_COLUMNS] + ["标签", "数据来源"]
BATCH = 2000


def check_export(who: Principal, unmasked: bool, reason: str) -> str:
    who.require("people.export")
    reason = (reason or "").strip()
    if unmasked:
        if not who.can("people.reveal"):
            raise Forbidden("您的角色无权导出完整的证件号码和电话")
        if len(reason) < 4:
            raise ValidationFailed({"reason": FieldProblem("请写明导出完整号码的原因（至少 4 个字）")})
    if len(reason) > 300:
        raise ValidationFailed({"reason": FieldProblem("长度不能超过 {limit}", limit=300)})
    return reason


def export_residents(db: Session, ctx: PeopleContext, who: Principal, query: ResidentQuery,
                     unmasked: bool = False, reason: str = "") -> tuple[bytes, int]:
    """The workbook and how many people it lists; audited in the caller's transaction."""
    reason = check_export(who, unmasked, reason)
    count = [0]

    def rows() -> Iterator[list]:
        buffer = []
        for hit in matching_residents(db, ctx, who, query, batch=BATCH):
            buffer.append(_row(ctx, hit.resident, unmasked))
            if len(buffer) >= BATCH:
                yield from _with_tags(db, buffer)
                buffer = []
        yield from _with_tags(db, buffer)

    def counted() -> Iterator[list]:
        for row in rows():
            count[0] += 1
            yield row

    data = table_workbook("居民", HEADERS, counted())
    audit.record(db, ctx.cipher, audit.actor_of(who), "export", object_type="resident",
                 subject=f"居民名册（{count[0]} 人）", reason=reason,
                 data={"filters": {k: v for k, v in asdict(query).items() if v}, "rows": count[0],
                       "unmasked": unmasked, "format": "xlsx"})
    return data, count[0]


def _row(ctx: PeopleContext, p, unmasked: bool) -> tuple[int, list]:
    if unmasked:
        id_number = ctx.cipher.decrypt(p.id_cipher, ID_CONTEXT)
        phone = ctx.cipher.decrypt(p.phone_cipher, PHONE_CONTEXT) if p.phone_cipher else ""
    else:
        id_number, phone = p.id_masked, p.phone_masked
    values = [p.name, ID_TYPES.get(p.id_type, p.id_type), id_number, KINDS.get(p.kind, p.kind), p.grid_code, phone,
              GENDERS.get(p.gender, p.gender), p.birth_date, p.nationality, p.ethnicity, p.education, p.occupation,
              p.employer, p.hukou_address, p.address, p.household_status, p.notes]
    return p.id, values + ["", "、".join(p.sources or [])]


def _with_tags(db: Session, buffer: list[tuple[int, list]]) -> Iterator[list]:
    tags = tags_of(db, [rid for rid, _v in buffer])
    for rid, values in buffer:
        values[-2] = "、".join(name for _code, name in tags[rid])
        yield values
