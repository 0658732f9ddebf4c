"""The inbox: a JSON API, a page, and the navigation badge. Everyone sees only their own items."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gridgov.core.deps import DB, MaybeWho, Who
from gridgov.notify import service
from gridgov.notify.schemas import InboxItemOut, InboxPage, ReadAll, UnreadCount
from gridgov.web.render import render

router = APIRouter()
PAGE_SIZE = 30


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
def read_all(db: DB, who: Who):
    updated = service.mark_all_read(db, who.user_id)
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
    items, total, unread_n = service.inbox(db, who.user_id, unread_only=unread, limit=PAGE_SIZE,
                                           offset=(page - 1) * PAGE_SIZE)
    zone = ZoneInfo(request.app.state.settings.timezone)

    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    here = f"/inbox?unread=1&page={page}" if unread else f"/inbox?page={page}"
    return render(request, "notify/inbox.html", items=items, total=total, unread=unread_n, unread_only=unread,
                  page=page, pages=max(1, -(-total // PAGE_SIZE)), local=local, here=here)


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
def read_all_page(db: DB, who: Who, next: Annotated[str, Form()] = "/inbox"):
    service.mark_all_read(db, who.user_id)
    db.commit()
    return RedirectResponse(_back(next), status_code=303)


@router.post("/inbox/{item_id}/read", include_in_schema=False)
def read_one_page(db: DB, who: Who, item_id: int, next: Annotated[str, Form()] = "/inbox"):
    service.mark_read(db, who.user_id, item_id)
    db.commit()
    return RedirectResponse(_back(next), status_code=303)
