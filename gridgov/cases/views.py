from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from gridgov.cases import service
from gridgov.cases.lifecycle import ACTIONS, allowed_actions
from gridgov.cases.schemas import ActionIn, ActionOut, CaseIn, CaseOut, CasePage, EventOut, RevealedPhone, case_outs
from gridgov.core.audit import RevealIn
from gridgov.core.db import session_scope
from gridgov.core.deps import DB, Who
from gridgov.core.errors import Conflict

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


def context_of(request: Request) -> service.CaseContext:
    state = request.app.state
    return service.CaseContext(settings=state.settings, locator=state.locator, borders=state.borders)


async def case_context(request: Request) -> service.CaseContext:
    # async: it only reads app state, and a plain def would cost a trip through the thread pool.
    return context_of(request)


Ctx = Annotated[service.CaseContext, Depends(case_context)]


@router.post("", response_model=CaseOut, status_code=201)
def create_case(body: CaseIn, request: Request, who: Who,
                idempotency_key: Annotated[str | None, Header(max_length=200)] = None):
    # The busiest endpoint takes neither the DB nor the context dependency: FastAPI sets each up
    # and tears it down on every request, at a cost beside the work itself. It opens its session
    # here, in the thread pool, and closes it there.
    ctx = context_of(request)
    source = body.source or ("grid_worker" if who.role == "grid_worker" else "hotline")
    data = service.NewCase(**body.model_dump(exclude={"source"}), source=source)
    scope = f"user:{who.user_id}"
    with session_scope(request.app.state.sessions) as db:
        try:
            # A resend is found by its key's conflict, not by a query before every create.
            done = service.intake(db, ctx, who, data, scope, idempotency_key, look_first=False)
            db.commit()
        except Conflict as exc:
            if exc.code != "idempotency_race":
                raise
            db.rollback()
            done = service.Intake(service.idempotent_case(db, scope, idempotency_key), False)
        case = done.case
        # A new case is answered from what routing already read: no query after the commit.
        out = case_outs(db, [case], items={done.item.id: done.item} if done.item else None,
                        departments={done.department.id: done.department} if done.department else None,
                        names={case.handler_id: done.handler_name} if done.handler_name else None)[0]
    # Serialised by pydantic straight to bytes, not to a dict for json.dumps.
    return Response(out.model_dump_json(), status_code=201 if done.created else 200, media_type="application/json")


@router.get("", response_model=CasePage)
def list_cases(db: DB, who: Who, state: str | None = None, light: str | None = None, street: str | None = None,
               item_code: str | None = None, department_id: int | None = None, triage: bool | None = None,
               mine: str | None = None, q: str | None = None, open_only: bool = False,
               limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0):
    f = service.CaseFilter(state=state, light=light, street=street, item_code=item_code,
                           department_id=department_id, triage=triage, mine=mine, q=q, open_only=open_only)
    rows, total = service.list_cases(db, who, f, limit, offset)
    return CasePage(total=total, items=case_outs(db, rows))


@router.get("/{case_id}", response_model=CaseOut)
def get_case(case_id: int, db: DB, who: Who):
    return case_outs(db, [service.get_case(db, who, case_id)])[0]


@router.get("/{case_id}/events", response_model=list[EventOut])
def case_events(case_id: int, db: DB, who: Who):
    return EventOut.many(db, service.events(db, who, case_id))


@router.get("/{case_id}/actions", response_model=list[ActionOut])
def case_actions(case_id: int, db: DB, who: Who):
    case = service.get_case(db, who, case_id)
    return [ActionOut(name=a.name, label=a.label, needs_comment=a.needs_comment)
            for a in allowed_actions(who, service.view_of(db, case))]


@router.post("/{case_id}/reveal", response_model=RevealedPhone)
def reveal_reporter_phone(case_id: int, body: RevealIn, db: DB, who: Who, ctx: Ctx):
    """The hotline caller's number in full, with a reason; written to the audit log."""
    phone = service.reveal_reporter_phone(db, ctx, who, case_id, body.reason)
    db.commit()
    return RevealedPhone(reporter_phone=phone)


@router.post("/{case_id}/actions/{action}", response_model=CaseOut)
def take_action(case_id: int, action: str, body: ActionIn, db: DB, who: Who, ctx: Ctx):
    if action not in ACTIONS:
        from gridgov.core.errors import NotFound

        raise NotFound("没有名为 {action} 的操作", action=action)
    case = service.act(db, ctx, who, case_id, action, service.ActionInput(**body.model_dump()))
    db.commit()
    return case_outs(db, [case])[0]
