"""The inbox: a JSON API, a page, and the navigation badge. Everyone sees only their own items.
Delivery, for an administrator: what waits, what was given up and why, how the gateway is doing,
and sending again (`/api/v1/outbox`, `/admin/outbox`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gridgov.core.deps import DB, MaybeWho, Who
from gridgov.notify import outbox, service
from gridgov.notify.schemas import (
    ChannelCountsOut,
    GatewayOut,
    InboxItemOut,
    InboxPage,
    OutboxMessageOut,
    OutboxPage,
    OutboxStatus,
    ReadAll,
    RetryIn,
    RetryOut,
    UnreadCount,
)
from gridgov.web.render import render

router = APIRouter()
PAGE_SIZE = 30
MANAGE = "notify.manage"


# --- API ---

@router.get("/api/v1/inbox", response_model=InboxPage, tags=["notify"])
def list_inbox(db: DB, who: Who, unread_only: bool = False, limit: Annotated[int, Query(ge=1, le=200)] = 50,
               offset: Annotated[int, Query(ge=0)] = 0):
    items, total, unread = service.inbox(db, who.user_id, unread_only=unread_only, limit=limit, offset=offset)
    return InboxPage(items=[InboxItemOut.of(i) for i in items], total=total, unread=unread)


@router.get("/api/v1/inbox/unread-count", response_model=UnreadCount, tags=["notify"])
def unread_count(db: DB, who: Who):
    return UnreadCount(unread=service.unread_count(db, who.user_id))


@router.post("/api/v1/inbox/read-all", response_model=ReadAll, tags=["notify"])
def read_all(db: DB, who: Who, up_to: Annotated[int | None, Query(
        ge=0, description="Only items up to this id (the newest the reader was shown); all when omitted.")] = None):
    updated = service.mark_all_read(db, who.user_id, up_to=up_to)
    db.commit()
    return ReadAll(updated=updated, unread=service.unread_count(db, who.user_id))


@router.post("/api/v1/inbox/{item_id}/read", response_model=InboxItemOut, tags=["notify"])
def read_one(item_id: int, db: DB, who: Who):
    item = service.mark_read(db, who.user_id, item_id)
    db.commit()
    return InboxItemOut.of(item)


# --- pages ---

def _back(target: str | None) -> str:
    # Only back to the inbox itself: never an open redirect.
    if target and target.startswith("/inbox") and not target.startswith("//"):
        return target
    return "/inbox"


@router.get("/inbox", include_in_schema=False)
def inbox_page(request: Request, db: DB, who: Who, unread: bool = False, page: Annotated[int, Query(ge=1)] = 1):
    # Before the list: "mark all read" covers nothing newer than what this page could have shown.
    up_to = service.newest_item_id(db, who.user_id)
    items, total, unread_n = service.inbox(db, who.user_id, unread_only=unread, limit=PAGE_SIZE,
                                           offset=(page - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:  # past the end (the last unread one on the last page was just read): the last page
        page = pages
        items, total, unread_n = service.inbox(db, who.user_id, unread_only=unread, limit=PAGE_SIZE,
                                               offset=(page - 1) * PAGE_SIZE)
    zone = ZoneInfo(request.app.state.settings.timezone)

    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    here = f"/inbox?unread=1&page={page}" if unread else f"/inbox?page={page}"
    return render(request, "notify/inbox.html", items=items, total=total, unread=unread_n, unread_only=unread,
                  page=page, pages=pages, local=local, here=here, up_to=up_to)


@router.get("/inbox/badge", include_in_schema=False)
def inbox_badge(request: Request, db: DB, who: MaybeWho):
    """The navigation badge, an HTMX partial that refreshes itself; empty when logged out."""
    if who is None:
        return HTMLResponse("")
    return render(request, "notify/badge.html", unread=service.unread_count(db, who.user_id))


@router.get("/inbox/{item_id}/open", include_in_schema=False)
def open_item(db: DB, who: Who, item_id: int):
    """Following an item marks it read and goes where it points."""
    item = service.mark_read(db, who.user_id, item_id)
    db.commit()
    target = item.link if item.link.startswith("/") and not item.link.startswith("//") else "/inbox"
    return RedirectResponse(target, status_code=303)


@router.post("/inbox/read-all", include_in_schema=False)
def read_all_page(db: DB, who: Who, next: Annotated[str, Form()] = "/inbox",
                  up_to: Annotated[int | None, Form()] = None):
    service.mark_all_read(db, who.user_id, up_to=up_to)
    db.commit()
    return RedirectResponse(_back(next), status_code=303)


@router.post("/inbox/{item_id}/read", include_in_schema=False)
def read_one_page(db: DB, who: Who, item_id: int, next: Annotated[str, Form()] = "/inbox"):
    service.mark_read(db, who.user_id, item_id)
    db.commit()
    return RedirectResponse(_back(next), status_code=303)


# --- delivery, for an administrator ---

def _status(db, settings) -> OutboxStatus:
    return OutboxStatus(channels=[ChannelCountsOut(**vars(c)) for c in outbox.counts(db)],
                        gateway=GatewayOut(**vars(outbox.gateway(db, settings))),
                        sent_kept_days=settings.outbox_keep_days)


@router.get("/api/v1/outbox/status", response_model=OutboxStatus, tags=["notify"])
def outbox_status(request: Request, db: DB, who: Who):
    """Per channel, how many messages wait and how many were given up; how the gateway is doing; how
    many days a delivered message is kept."""
    who.require(MANAGE)
    return _status(db, request.app.state.settings)


@router.get("/api/v1/outbox", response_model=OutboxPage, tags=["notify"])
def outbox_list(db: DB, who: Who, status: Literal["dead", "waiting"] = "dead",
                channel: Literal["inbox", "webhook"] | None = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Annotated[int, Query(ge=0)] = 0):
    """Messages given up (the last first) or still waiting (the oldest first), with the last error."""
    who.require(MANAGE)
    rows, total = outbox.messages(db, status, channel, limit, offset)
    return OutboxPage(items=[OutboxMessageOut.of(m, name) for m, name in rows], total=total)


@router.post("/api/v1/outbox/retry", response_model=RetryOut, tags=["notify"])
def outbox_retry(db: DB, who: Who, body: RetryIn | None = None):
    """Sends again the given messages that were given up (all when no `ids`), and tries what waits
    for the gateway now instead of at the end of its pause."""
    who.require(MANAGE)
    requeued, due = outbox.retry(db, body.ids if body else None)
    db.commit()
    return RetryOut(requeued=requeued, due_now=due)


@router.get("/admin/outbox", include_in_schema=False)
def outbox_page(request: Request, db: DB, who: Who, status: Literal["dead", "waiting"] = "dead",
                page: Annotated[int, Query(ge=1)] = 1):
    who.require(MANAGE)
    settings = request.app.state.settings
    rows, total = outbox.messages(db, status, None, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    zone = ZoneInfo(settings.timezone)

    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"

    return render(request, "notify/outbox.html", rows=rows, total=total, shown=status, page=page,
                  pages=max(1, -(-total // PAGE_SIZE)), counts=outbox.counts(db),
                  gateway=outbox.gateway(db, settings), local=local)


@router.post("/admin/outbox/retry", include_in_schema=False)
def outbox_retry_page(db: DB, who: Who, id: Annotated[int | None, Form()] = None):
    who.require(MANAGE)
    outbox.retry(db, [id] if id is not None else None)
    db.commit()
    return RedirectResponse("/admin/outbox", status_code=303)
