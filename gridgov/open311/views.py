"""Open311 GeoReport v2 under `/open311/v2`: services, service definitions, requests, tokens
and the discovery document, in JSON and XML.

Every answer from this router, errors included, is in the spec's shape: the routes use
`Open311Route`, which turns our errors (and the platform's, and FastAPI's) into
`[{"code", "description"}]` / `<errors>`, and a catch-all answers unknown paths and methods
here the same way. Reading needs no key (as the spec says); filing needs an `api_key`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.routing import Match

from gridgov.cases.views import Ctx
from gridgov.core.db import utcnow
from gridgov.core.deps import DB
from gridgov.core.errors import AppError, Conflict, ValidationFailed, internal_error, problem_from_pydantic
from gridgov.core.i18n import translate
from gridgov.open311 import service
from gridgov.open311.formats import FORMATS, errors_response, render
from gridgov.open311.service import Open311Error, Submitted

PREFIX = "/open311/v2"
SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = datetime.fromisoformat("2026-11-21T00:00:00+08:00")  # when this API last changed (the discovery
# document's changeset, unless a service changed since)
# Our field names → the spec's, for the platform's validation errors.
FIELD_NAMES = {"location": "lat/long", "item_code": "service_code", "address": "address_string",
               "reporter_name": "first_name/last_name", "reporter_phone": "phone"}


def _lang(request: Request) -> str:
    return getattr(request.state, "lang", "zh")


def _format_of(request: Request) -> str:
    fmt = request.path_params.get("fmt")
    if fmt in FORMATS:
        return fmt
    return "xml" if request.url.path.endswith(".xml") else "json"


def _http_status(status: int) -> int:
    # The spec: 404 for what does not exist, 403 for the api_key, 400 for anything else.
    if status in (404, 405):
        return status
    if status in (401, 403):
        return 403
    return 500 if status >= 500 else 400


class Open311Route(APIRoute):
    """Answers errors in the spec's shape instead of the platform's `{"error": …}`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def spec_errors(request: Request) -> Response:
            lang = _lang(request)
            try:
                return await handler(request)
            except Open311Error as exc:
                headers = {"Allow": exc.params["allow"]} if exc.status == 405 and "allow" in exc.params else None
                return errors_response(_format_of(request), exc.status, [exc.describe(lang)], headers)
            except RequestValidationError as exc:
                texts = [f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: "
                         f"{problem_from_pydantic(e).render(lang)}" for e in exc.errors()]
                return errors_response(_format_of(request), 400, texts)
            except ValidationFailed as exc:
                texts = [f"{FIELD_NAMES.get(k, k)}: {p.render(lang)}" for k, p in exc.fields.items()]
                return errors_response(_format_of(request), 400, texts or [translate(exc.message, lang)])
            except AppError as exc:
                message = exc.body(lang)["error"]["message"]  # translated as the platform translates it
                return errors_response(_format_of(request), _http_status(exc.status), [message])
            except Exception:
                err, _ = internal_error(request)
                return errors_response(_format_of(request), 500, [err.body(lang)["error"]["message"]])

        return spec_errors


router = APIRouter(prefix=PREFIX, tags=["open311"], route_class=Open311Route)


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, "不支持的格式 {format}，请使用 json 或 xml", format=fmt)
    return fmt


def _tz(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


def _secret(request: Request) -> str:
    return request.app.state.settings.resolved_secret_key


async def submitted(request: Request) -> Submitted:
    """A POST's parameters: form fields first (the spec's x-www-form-urlencoded), then the query."""
    pairs: list[tuple[str, object]] = []
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        try:
            form = await request.form()
        except Exception:
            raise Open311Error(400, "请求体不是合法的表单") from None
        pairs.extend(form.multi_items())
    elif (await request.body()).strip():
        # A JSON (or any other) body would be read as no fields at all, and answered "api_key is missing".
        raise Open311Error(400, "请求体必须是 application/x-www-form-urlencoded 表单（GeoReport v2 的 POST 格式），"
                                "不能是 {content_type}", content_type=content_type.split(";")[0].strip()[:60] or "?")
    pairs.extend(request.query_params.multi_items())
    return Submitted.of(pairs)


@router.get("/discovery.{fmt}")
def discovery(fmt: str, request: Request, db: DB):
    fmt, lang = _fmt(fmt), _lang(request)
    base = str(request.base_url).rstrip("/") + PREFIX
    changeset = service.changeset(db, CHANGESET, _tz(request))
    doc = {"changeset": changeset,
           "contact": translate("请联系区网格化服务管理指挥中心", lang),
           "key_service": translate("API 密钥由平台管理员用 `gridgov open311 add-client 名称` 发放", lang),
           "endpoints": [{"specification": SPEC, "url": base, "changeset": changeset, "type": "production",
                          "formats": ["text/xml", "application/json"]}]}
    return render(fmt, "discovery", doc)


@router.get("/services.{fmt}")
def list_services(fmt: str, request: Request, db: DB):
    fmt, lang = _fmt(fmt), _lang(request)
    groups = service.group_names(db)
    return render(fmt, "services", [service.service_out(i, groups, lang) for i in service.services(db)])


@router.get("/services/{service_code}.{fmt}")
def service_definition(service_code: str, fmt: str, request: Request, db: DB):
    fmt = _fmt(fmt)
    item = service.active_item(db, service_code)
    return render(fmt, "service_definition", service.definition_out(item, _lang(request)))


@router.post("/requests.{fmt}")
def create_request(fmt: str, request: Request, db: DB, ctx: Ctx,
                   sub: Annotated[Submitted, Depends(submitted)],
                   idempotency_key: Annotated[str | None, Header()] = None):
    fmt = _fmt(fmt)
    key = sub.get("api_key")
    if not key:
        raise Open311Error(403, "缺少 api_key")
    client = service.client_for_key(db, key)
    if client is None:
        raise Open311Error(403, "api_key 无效或已停用")
    try:
        case, created = service.file_request(db, ctx, client, sub, idempotency_key)
        db.commit()
    except Conflict as exc:
        if exc.code != "idempotency_race":
            raise
        db.rollback()  # another resend with this key won: answer with its case
        from gridgov.cases.service import idempotent_case

        case, created = idempotent_case(db, service.client_scope(client), idempotency_key), False
    body = [service.created_out(db, case, _lang(request))]
    return render(fmt, "service_requests", body, status=201 if created else 200)


@router.get("/requests.{fmt}")
def list_requests(fmt: str, request: Request, db: DB, service_request_id: str | None = None,
                  service_code: str | None = None, start_date: str | None = None, end_date: str | None = None,
                  status: str | None = None, page: str | None = None, page_size: str | None = None):
    """service_request_id, service_code and status may each be declared more than once (and comma
    separated); page and page_size are the spec's widely implemented pagination extension."""
    fmt, tz, params = _fmt(fmt), _tz(request), request.query_params
    q = service.build_query(params.getlist("service_request_id"), params.getlist("service_code"), start_date,
                            end_date, params.getlist("status"), tz, page, page_size)
    cases = service.find_requests(db, q, utcnow())
    return render(fmt, "service_requests", service.requests_out(db, cases, tz, _lang(request)))


@router.get("/requests/{service_request_id}.{fmt}")
def get_request(service_request_id: str, fmt: str, request: Request, db: DB):
    fmt, tz = _fmt(fmt), _tz(request)
    cases = service.find_requests(db, service.RequestQuery(ids=[service_request_id]), utcnow())
    if not cases:
        raise Open311Error(404, "找不到服务请求 {id}", id=service_request_id)
    return render(fmt, "service_requests", service.requests_out(db, cases, tz, _lang(request)))


@router.get("/tokens/{token}.{fmt}")
def get_token(token: str, fmt: str, request: Request, db: DB):
    fmt = _fmt(fmt)
    case = service.case_for_token(db, _secret(request), token)
    if case is None:
        raise Open311Error(404, "找不到令牌 {token}", token=token[:80])
    return render(fmt, "service_requests", [service.token_out(case, token)])


@router.api_route("/{rest:path}", methods=["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"],
                  include_in_schema=False)
def not_found(rest: str, request: Request):
    """Unknown paths under /open311/v2 (404) and known paths with another method (405), in the spec's shape."""
    allowed: set[str] = set()
    scope = {**request.scope, "path_params": {}}
    for route in router.routes:
        if isinstance(route, APIRoute) and route.endpoint is not not_found:
            match, _ = route.matches(scope)
            if match == Match.PARTIAL:
                allowed |= route.methods or set()
    if allowed:
        raise Open311Error(405, "请求方法不允许", allow=", ".join(sorted(allowed)))
    raise Open311Error(404, "找不到该资源")
