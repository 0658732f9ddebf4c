"""Health, readiness and Prometheus metrics, plus the request middleware that feeds them."""

from __future__ import annotations

import logging
import random
import time

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import text
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridgov.core import migrate
from gridgov.core.i18n import pick_language

log = logging.getLogger("gridgov.http")
router = APIRouter(tags=["ops"])
# Any token is a method to HTTP: as a label, each made-up one would be new series that anyone could create.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("gridgov_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("gridgov_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 registry=self.registry)


class RequestObserver:
    """Per HTTP request: the language (`request.state.lang`), a request id (taken from
    `X-Request-ID` or made up, and sent back), Prometheus counts and latency by route, and one JSON
    log line. A plain ASGI middleware: Starlette's BaseHTTPMiddleware runs every request through
    an extra task and memory streams, which cost more than everything this does.

    It also ends keep-alive connections now and then (`Settings.keepalive_requests`, like nginx's
    keepalive_requests), at random so that it needs no per-connection state. Under `serve
    --workers 2`, sixteen clients that connected at once were sometimes all accepted by one
    worker, which then ran at its limit while the other idled: 106–127 cases/s against 197–211
    with an even split. A closed connection comes back to whichever worker accepts first, which
    is seldom the busy one."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        every = fastapi_app.state.settings.keepalive_requests
        self._close_chance = 1 / every if every > 0 else 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.fastapi_app.state
        request = Request(scope)
        request.state.lang = pick_language(request, state.settings.default_language)
        # Only has to tell requests apart in the logs, not be unguessable: os.urandom, behind
        # secrets, is a system call per request.
        request_id = request.headers.get("x-request-id") or f"{random.getrandbits(64):016x}"
        # For the 500 handler, which runs outside this middleware and cannot see this frame.
        request.state.request_id = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                if self._close_chance and random.random() < self._close_chance:
                    headers["connection"] = "close"
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # Also when the view raised: the 500 is sent from outside this middleware (Starlette's
            # ServerErrorMiddleware), and is the one request that must not go uncounted.
            elapsed = time.perf_counter() - started
            route_path = getattr(scope.get("route"), "path", "unmatched")
            method = request.method if request.method in _METHODS else "other"
            metrics: Metrics = state.metrics
            metrics.requests.labels(method, route_path, str(status)).inc()
            metrics.latency.labels(method, route_path).observe(elapsed)
            principal = getattr(request.state, "principal", None)
            log.info("%s %s %s", request.method, request.url.path, status, extra={"fields": {
                "request_id": request_id, "method": request.method, "path": request.url.path,
                "status": status, "ms": round(elapsed * 1000, 2),
                "user": principal.username if principal else None}})


def install_request_middleware(app: FastAPI) -> None:
    app.add_middleware(RequestObserver, fastapi_app=app)


@router.get("/healthz")
def healthz():
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request):
    engine = request.app.state.engine
    checks = {"database": "ok", "migrations": "ok"}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if not migrate.is_current(engine):
            current, head = migrate.current_revision(engine), migrate.head_revision(engine)
            checks["migrations"] = f"behind: at {current}, head {head}"
    except Exception as exc:  # readiness reports, it does not raise
        checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["migrations"] = "unknown"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics")
def metrics(request: Request):
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
