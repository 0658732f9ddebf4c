"""Health, readiness and Prometheus metrics, plus the request middleware that feeds them."""

from __future__ import annotations

import logging
import time
import uuid

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import text

from gridgov.core import migrate
from gridgov.core.i18n import pick_language

log = logging.getLogger("gridgov.http")
router = APIRouter(tags=["ops"])


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("gridgov_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("gridgov_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 registry=self.registry)


def install_request_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def observe(request: Request, call_next):
        request.state.lang = pick_language(request, app.state.settings.default_language)
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        route_path = getattr(route, "path", "unmatched")
        metrics: Metrics = app.state.metrics
        metrics.requests.labels(request.method, route_path, str(response.status_code)).inc()
        metrics.latency.labels(request.method, route_path).observe(elapsed)
        response.headers["x-request-id"] = request_id
        principal = getattr(request.state, "principal", None)
        log.info("%s %s %s", request.method, request.url.path, response.status_code, extra={"fields": {
            "request_id": request_id, "method": request.method, "path": request.url.path,
            "status": response.status_code, "ms": round(elapsed * 1000, 2),
            "user": principal.username if principal else None}})
        return response


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
