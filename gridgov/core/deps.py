"""Request dependencies: the database session, who is asking, and CSRF for cookie logins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from gridgov.accounts import principal_cache
from gridgov.accounts.access import Principal
from gridgov.accounts.service import token_holder
from gridgov.core.config import Settings
from gridgov.core.db import database_key, utcnow
from gridgov.core.errors import AppError, NotAuthenticated
from gridgov.core.security import csrf_matches, token_digest

SESSION_COOKIE = "gg_session"
ANON_COOKIE = "gg_anon"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_db(request: Request) -> AsyncIterator[Session]:
    """A session that is rolled back unless the view committed (see `session_scope`). Async, so
    that opening it (no I/O) and closing an idle one cost no trip through the thread pool; only a
    rollback that must reach the database runs there, off the event loop."""
    db = request.app.state.sessions()
    try:
        yield db
    finally:
        if db.in_transaction():
            with anyio.CancelScope(shield=True):  # a client that hung up must not leak the connection
                await run_in_threadpool(_end, db)
        else:
            db.close()


def _end(db: Session) -> None:
    try:
        db.rollback()
    finally:
        db.close()


DB = Annotated[Session, Depends(get_db)]


class CsrfFailed(AppError):
    status = 403
    code = "csrf_failed"

    def __init__(self) -> None:
        super().__init__("表单已过期，请刷新页面后重试")


async def check_csrf(request: Request, anchor: str | None) -> None:
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        given = (await request.form()).get("csrf_token")
    if not csrf_matches(request.app.state.settings.resolved_secret_key, anchor, given):
        raise CsrfFailed()


async def token_principal(request: Request, raw: str, kind: str) -> Principal | None:
    """Who a token belongs to: from the process's memory when it holds a recent answer (no query,
    no trip through the thread pool), else from the database, remembered for
    `Settings.auth_cache_seconds` (see `gridgov.accounts.principal_cache`).

    The lookup has a short session of its own rather than the request's: then knowing who asks
    needs no database dependency, which FastAPI would set up and tear down on every request,
    while nearly all of them are answered from memory."""
    state = request.app.state
    seconds = state.settings.auth_cache_seconds
    digest = token_digest(raw)
    database = database_key(state.engine)
    if seconds > 0 and (known := principal_cache.cached_principal(database, digest, kind)) is not None:
        return known
    generation = principal_cache.current_generation()
    # A blocking query must not run on the event loop: it would stall every other request.
    held = await run_in_threadpool(_token_holder, state.sessions, digest, kind)
    if held is None:
        return None
    principal, expires_at = held
    if seconds > 0:
        principal_cache.remember_principal(database, digest, kind, principal, seconds,
                                           (expires_at - utcnow()).total_seconds(), generation)
    return principal


def _token_holder(sessions, digest: str, kind: str) -> tuple[Principal, datetime] | None:
    with sessions() as db:
        return token_holder(db, digest, kind)


async def optional_principal(request: Request) -> Principal | None:
    if hasattr(request.state, "principal"):
        return request.state.principal
    principal = None
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        principal = await token_principal(request, auth[7:].strip(), "bearer")
        if principal is None:
            raise NotAuthenticated()
    elif raw := request.cookies.get(SESSION_COOKIE):
        principal = await token_principal(request, raw, "session")
        # Cookies ride along on cross-site requests; bearer tokens do not.
        if principal is not None and request.method in UNSAFE:
            await check_csrf(request, raw)
    request.state.principal = principal
    return principal


async def current_principal(request: Request) -> Principal:
    # Not a dependency on optional_principal: each level of dependencies costs FastAPI time on
    # every request, and this one is on nearly all of them.
    principal = await optional_principal(request)
    if principal is None:
        raise NotAuthenticated()
    return principal


Who = Annotated[Principal, Depends(current_principal)]
MaybeWho = Annotated[Principal | None, Depends(optional_principal)]
