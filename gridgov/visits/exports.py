"""Visit and service lists as Excel. They name people with their tags (吸毒人员, 社区矫正, 严重精神
障碍 …) and what was found at their door: exporting them takes `people.export`, like the register,
and each export is in the audit log, in the caller's transaction."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

from sqlalchemy.orm import Session

from gridgov.accounts.access import Principal
from gridgov.core import audit
from gridgov.core.crypto import DataCipher
from gridgov.core.excel import table_workbook
from gridgov.visits import service
from gridgov.visits.schemas import ServiceOut, VisitOut

LIMIT = 100_000
VISIT_HEADERS = ["编号", "居民", "标签", "状态", "应访日期", "网格", "网格员", "走访时间", "地点", "见到", "发现的问题",
                 "后续跟进", "事件"]
SERVICE_HEADERS = ["编号", "服务类型", "标题", "内容", "服务时间", "网格", "服务对象", "网格员"]


def export_visits(db: Session, cipher: DataCipher, who: Principal, f: service.VisitFilter, today: date,
                  tz: str) -> bytes:
    who.require("people.export")
    rows, _ = service.list_visits(db, who, f, today, limit=LIMIT)
    data = table_workbook("走访", VISIT_HEADERS, (
        [v.id, v.resident_name, v.tag_name or "临时走访", service.STATUSES[v.status], v.due_date, v.grid_code,
         v.worker_name, v.visited_at, v.place, v.met, v.findings, v.follow_up, v.case_id or ""]
        for v in VisitOut.many(db, rows, today)), tz=tz)
    _audited(db, cipher, who, "visit", f"走访列表（{len(rows)} 条）", f, len(rows))
    return data


def export_services(db: Session, cipher: DataCipher, who: Principal, f: service.ServiceFilter, tz: str) -> bytes:
    who.require("people.export")
    rows, _ = service.list_services(db, who, f, tz, limit=LIMIT)
    data = table_workbook("服务记录", SERVICE_HEADERS, (
        [r.id, r.role_label, r.title, r.content, r.served_at, r.grid_code, r.resident_name, r.worker_name]
        for r in ServiceOut.many(db, rows)), tz=tz)
    _audited(db, cipher, who, "service", f"服务记录（{len(rows)} 条）", f, len(rows))
    return data


def _audited(db: Session, cipher: DataCipher, who: Principal, object_type: str, subject: str, f, count: int) -> None:
    audit.record(db, cipher, audit.actor_of(who), "export", object_type=object_type, subject=subject,
                 data={"filters": {k: v for k, v in asdict(f).items() if v}, "rows": count, "format": "xlsx"})
