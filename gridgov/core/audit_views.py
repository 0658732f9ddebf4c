"""The audit log for those who hold `audit.read`: the entries with filters, as JSON, as a page and as
Excel; the page also checks the hash chain on request. Reading it is not itself an entry, exporting
it is (the export leaves the system with whose records were seen and why)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import func, select

from gridgov.core import audit
from gridgov.core.audit import AuditEntry
from gridgov.core.crypto import data_cipher
from gridgov.core.deps import DB, Who
from gridgov.core.excel import table_workbook, xlsx_response
from gridgov.web.render import render

router = APIRouter()
PAGE_SIZE = 50
EXPORT_MAX = 100_000
ACTION_LABELS = {"reveal": "查看完整信息", "export": "导出", "user.create": "新建账户", "user.update": "修改账户"}


@dataclass
class AuditFilter:
    action: str | None = None
    actor: str | None = None  # part of the actor's name or account
    object_type: str | None = None
    date_from: date | None = None  # local dates, both included
    date_to: date | None = None


def entries(db, f: AuditFilter, tz: str, limit: int, offset: int) -> tuple[list[AuditEntry], int]:
    """Newest first, with the number that match."""
    q = select(AuditEntry)
    if f.action:
        q = q.where(AuditEntry.action == f.action)
    if f.actor:
        q = q.where(AuditEntry.actor_name.contains(f.actor.strip(), autoescape=True))
    if f.object_type:
        q = q.where(AuditEntry.object_type == f.object_type)
    zone = ZoneInfo(tz)
    if f.date_from:
        q = q.where(AuditEntry.at >= datetime.combine(f.date_from, time.min, zone))
    if f.date_to:
        q = q.where(AuditEntry.at < datetime.combine(f.date_to + timedelta(days=1), time.min, zone))
    total = db.scalar(select(func.count()).select_from(q.subquery()))
    rows = db.scalars(q.order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor_id: int | None
    actor_name: str
    action: str
    action_label: str
    object_type: str
    object_id: str
    subject: str
    reason: str
    data: dict


class AuditPage(BaseModel):
    total: int
    items: list[AuditEntryOut]


def _out(e: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(seq=e.seq, at=e.at, actor_id=e.actor_id, actor_name=e.actor_name, action=e.action,
                         action_label=ACTION_LABELS.get(e.action, e.action), object_type=e.object_type,
                         object_id=e.object_id, subject=e.subject, reason=e.reason, data=e.data or {})


def _filter(action: str | None, actor: str | None, object_type: str | None, date_from: date | None,
            date_to: date | None) -> AuditFilter:
    return AuditFilter(action or None, actor or None, object_type or None, date_from, date_to)


@router.get("/api/v1/audit", response_model=AuditPage, tags=["audit"])
def audit_list(request: Request, db: DB, who: Who, action: str | None = None, actor: str | None = None,
               object_type: str | None = None, date_from: date | None = None, date_to: date | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE, offset: Annotated[int, Query(ge=0)] = 0):
    who.require("audit.read")
    rows, total = entries(db, _filter(action, actor, object_type, date_from, date_to),
                          request.app.state.settings.timezone, limit, offset)
    return AuditPage(total=total, items=[_out(e) for e in rows])


@dataclass
class PageFilter:
    """The page's and its export's filters as the form sends them: a date the form could not have
    sent is left out of the filter and named on the page, rather than failing it."""

    filter: AuditFilter
    bad_dates: list[str]

    @property
    def query(self) -> str:
        """The filter as a query string, for the pager, the chain check and the export links."""
        return urlencode({k: v for k, v in vars(self.filter).items() if v})


def page_filter(action: str = "", actor: str = "", object_type: str = "", date_from: str = "",
                date_to: str = "") -> PageFilter:
    return PageFilter(_filter(action, actor, object_type, _day(date_from), _day(date_to)),
                      [text for text in (date_from, date_to) if text and _day(text) is None])


Filtered = Annotated[PageFilter, Depends(page_filter)]


@router.get("/admin/audit", include_in_schema=False)
def audit_page(request: Request, db: DB, who: Who, pf: Filtered, page: Annotated[int, Query(ge=1)] = 1,
               verify: bool = False):
    who.require("audit.read")
    settings = request.app.state.settings
    rows, total = entries(db, pf.filter, settings.timezone, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    chain = audit.verify_chain(db, data_cipher(settings)) if verify else None
    actions = sorted({*ACTION_LABELS, *db.scalars(select(AuditEntry.action).distinct())})
    return render(request, "audit/list.html", rows=rows, total=total, page=page, f=pf.filter, chain=chain,
                  pages=max(1, -(-total // PAGE_SIZE)), actions=actions, labels=ACTION_LABELS, query=pf.query,
                  bad_dates=pf.bad_dates)


@router.get("/admin/audit/export.xlsx", include_in_schema=False)
def audit_export(request: Request, db: DB, who: Who, pf: Filtered):
    who.require("audit.read")
    settings = request.app.state.settings
    f = pf.filter
    rows, total = entries(db, f, settings.timezone, EXPORT_MAX, 0)
    data = table_workbook("审计日志", ["序号", "时间", "操作人", "操作", "对象类型", "对象编号", "涉及", "原因"], (
        [e.seq, e.at, e.actor_name, ACTION_LABELS.get(e.action, e.action), e.object_type, e.object_id, e.subject,
         e.reason] for e in rows), tz=settings.timezone)
    audit.record(db, data_cipher(settings), audit.actor_of(who), "export", object_type="audit_log",
                 subject=f"审计日志 {len(rows)} 条", data={"filters": {k: str(v) for k, v in vars(f).items() if v}})
    db.commit()
    return xlsx_response(data, "审计日志.xlsx")


def _day(text: str) -> date | None:
    # A page's date box sends "" when empty; a malformed one is ignored rather than failing the page.
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
