from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.accounts.models import User
from gridgov.cases.lifecycle import OPEN_STATES, STATES
from gridgov.cases.models import Case, CaseEvent
from gridgov.catalog.models import CatalogItem
from gridgov.core.db import utcnow
from gridgov.departments.models import Department


class CaseIn(BaseModel):
    description: str = Field(min_length=1, max_length=2000)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    item_code: str | None = Field(default=None, max_length=12)
    urgency: Literal["normal", "urgent"] = "normal"
    address: str = Field(default="", max_length=200)
    source: Literal["grid_worker", "hotline", "citizen", "open311", "video", "referral"] | None = None
    reporter_name: str = Field(default="", max_length=60)
    reporter_phone: str = Field(default="", max_length=40)


class ActionIn(BaseModel):
    version: int
    comment: str = Field(default="", max_length=2000)
    item_code: str | None = None
    department_id: int | None = None
    handler_id: int | None = None
    target_case_id: int | None = None
    amount: float | None = Field(default=None, gt=0, le=10000)
    satisfaction: str | None = None
    supervision: str | None = None
    level: str | None = None


class Ref(BaseModel):
    id: int
    code: str | None = None
    name: str


class CaseOut(BaseModel):
    id: int
    number: str
    state: str
    state_label: str
    version: int
    source: str
    description: str
    address: str
    reporter_name: str
    # The full number only through POST /api/v1/cases/{id}/reveal, audited.
    reporter_phone_masked: str = Field(description="来电号码（脱敏）")
    lon: float
    lat: float
    grid_code: str
    level: str
    urgency: str
    item: Ref | None
    department: Ref | None
    handler: Ref | None
    routing_rule: str
    routing_reason: str
    triage_reason: str
    step: str | None
    deadline: datetime | None
    light: str
    supervision: str
    extension_requested: bool
    merged_into_id: int | None
    satisfaction: str
    created_at: datetime
    closed_at: datetime | None

    @property
    def timed(self) -> bool:
        """Whether the light means anything: a closed, voided or merged case has no clock running."""
        return self.state in OPEN_STATES

    @property
    def overdue(self) -> tuple[int, str] | None:
        """How long a red case is past its deadline, in its largest whole unit: (3, "天")."""
        if not (self.timed and self.light == "red" and self.deadline):
            return None
        minutes = int((utcnow() - self.deadline).total_seconds() // 60)
        if minutes < 0:
            return None
        for size, unit in ((1440, "天"), (60, "小时")):
            if minutes >= size:
                return minutes // size, unit
        return minutes, "分钟"


def case_outs(db: Session, cases: list[Case], items: dict[int, CatalogItem] | None = None,
              departments: dict[int, Department] | None = None, names: dict[int, str] | None = None
              ) -> list[CaseOut]:
    """Serialises a page of cases with three lookups in all, not three per case. Items, departments
    and handler names the caller already holds (a create that just routed) are not looked up again."""
    items, depts, users = dict(items or {}), dict(departments or {}), dict(names or {})
    if missing := {c.item_id for c in cases if c.item_id and c.item_id not in items}:
        items.update((i.id, i) for i in db.scalars(select(CatalogItem).where(CatalogItem.id.in_(missing))))
    if missing := {c.department_id for c in cases if c.department_id and c.department_id not in depts}:
        depts.update((d.id, d) for d in db.scalars(select(Department).where(Department.id.in_(missing))))
    if missing := {c.handler_id for c in cases if c.handler_id and c.handler_id not in users}:
        users.update(db.execute(select(User.id, User.display_name).where(User.id.in_(missing))).all())
    out = []
    for c in cases:
        item, dept = items.get(c.item_id), depts.get(c.department_id)
        out.append(CaseOut(
            id=c.id, number=c.number, state=c.state, state_label=STATES[c.state][0], version=c.version,
            source=c.source, description=c.description, address=c.address, reporter_name=c.reporter_name,
            reporter_phone_masked=c.reporter_phone_masked, lon=c.lon, lat=c.lat,
            grid_code=c.grid_code, level=c.level, urgency=c.urgency,
            item=Ref(id=item.id, code=item.code, name=item.name) if item else None,
            department=Ref(id=dept.id, code=dept.code, name=dept.name) if dept else None,
            handler=Ref(id=c.handler_id, name=users[c.handler_id]) if c.handler_id in users else None,
            routing_rule=c.routing_rule, routing_reason=c.routing_reason, triage_reason=c.triage_reason,
            step=c.step, deadline=c.deadline, light=c.light, supervision=c.supervision,
            extension_requested=c.extension_requested, merged_into_id=c.merged_into_id,
            satisfaction=c.satisfaction, created_at=c.created_at, closed_at=c.closed_at))
    return out


class CasePage(BaseModel):
    total: int
    items: list[CaseOut]


class EventOut(BaseModel):
    id: int
    action: str
    from_state: str
    to_state: str
    actor: Ref | None
    comment: str
    data: dict
    created_at: datetime

    @classmethod
    def many(cls, db: Session, events: list[CaseEvent]) -> list[EventOut]:
        names = dict(db.execute(select(User.id, User.display_name).where(
            User.id.in_({e.actor_id for e in events if e.actor_id}))).all())
        return [cls(id=e.id, action=e.action, from_state=e.from_state, to_state=e.to_state,
                    actor=Ref(id=e.actor_id, name=names[e.actor_id]) if e.actor_id in names else None,
                    comment=e.comment, data=e.data or {}, created_at=e.created_at) for e in events]


class RevealedPhone(BaseModel):
    reporter_phone: str


class ActionOut(BaseModel):
    name: str
    label: str
    needs_comment: bool
