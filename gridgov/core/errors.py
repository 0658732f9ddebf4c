"""One error shape everywhere: `{"error": {"code", "message", "fields"}}`.

Services raise `AppError` subclasses with a Chinese message (the lookup key for the
English text) and its parameters; the handlers translate at the edge, so the same
error reads right in either language, and nothing but the message reaches the user.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridgov.core.i18n import translate

log = logging.getLogger("gridgov.errors")


def _translated(params: dict[str, Any], lang: str) -> dict[str, Any]:
    # Labels passed as parameters (a state, an action, a role) read in the same language.
    return {k: translate(v, lang) if isinstance(v, str) else v for k, v in params.items()}


class FieldProblem:
    """A field's problem: a message key plus its parameters, translated late."""

    __slots__ = ("message", "params")

    def __init__(self, message: str, **params: Any) -> None:
        self.message = message
        self.params = params

    def render(self, lang: str) -> str:
        return translate(self.message, lang, **_translated(self.params, lang))


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: dict[str, FieldProblem] | None = None,
                 code: str | None = None, **params: Any) -> None:
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.params = params
        self.fields = fields or {}
        if code:
            self.code = code

    def body(self, lang: str) -> dict:
        return {"error": {
            "code": self.code,
            "message": translate(self.message, lang, **_translated(self.params, lang)),
            "fields": {k: v.render(lang) for k, v in self.fields.items()},
        }}


class ValidationFailed(AppError):
    status = 422
    code = "validation_error"

    def __init__(self, fields: dict[str, FieldProblem], message: str = "请求参数有误") -> None:
        super().__init__(message, fields=fields)


class NotAuthenticated(AppError):
    status = 401
    code = "not_authenticated"

    def __init__(self) -> None:
        super().__init__("未登录或登录已过期")


class Forbidden(AppError):
    status = 403
    code = "forbidden"

    def __init__(self, message: str = "没有权限执行此操作", **params: Any) -> None:
        super().__init__(message, **params)


class OutsideJurisdiction(Forbidden):
    code = "outside_jurisdiction"

    def __init__(self) -> None:
        super().__init__("超出您的管辖范围")


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class Locked(AppError):
    status = 423
    code = "account_locked"


_PYDANTIC_MESSAGES = {
    "missing": ("必填", None),
    "float_parsing": ("必须是数字", None),
    "float_type": ("必须是数字", None),
    "finite_number": ("必须是数字", None),
    "int_parsing": ("必须是整数", None),
    "int_type": ("必须是整数", None),
    "string_type": ("必须是文本", None),
    "greater_than_equal": ("不能小于 {limit}", "ge"),
    "less_than_equal": ("不能大于 {limit}", "le"),
    "greater_than": ("必须大于 {limit}", "gt"),
    "less_than": ("必须小于 {limit}", "lt"),
    "string_too_short": ("长度不能少于 {limit}", "min_length"),
    "string_too_long": ("长度不能超过 {limit}", "max_length"),
    "json_invalid": ("请求体不是合法的 JSON", None),
}


def problem_from_pydantic(err: dict) -> FieldProblem:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind in ("literal_error", "enum"):
        return FieldProblem("必须是以下之一：{expected}", expected=ctx.get("expected", ""))
    if kind in _PYDANTIC_MESSAGES:
        message, key = _PYDANTIC_MESSAGES[kind]
        return FieldProblem(message, limit=ctx.get(key)) if key else FieldProblem(message)
    if kind == "value_error" and "error" in ctx:
        # Our own validators raise ValueError with a Chinese message key.
        return FieldProblem(str(ctx["error"]))
    return FieldProblem("格式不正确：{detail}", detail=err.get("msg", ""))


def field_name(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form", "header", "cookie")]
    return ".".join(parts) or "body"


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/open311/", "/healthz", "/readyz", "/metrics")):
        return False
    return "text/html" in request.headers.get("accept", "")


def install_error_handlers(app: FastAPI) -> None:
    def lang_of(request: Request) -> str:
        return getattr(request.state, "lang", "zh")

    def respond(request: Request, status: int, body: dict) -> Any:
        if wants_html(request):
            if status == 401:
                return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
            from gridgov.web.render import error_page

            return error_page(request, status, body["error"]["message"])
        return JSONResponse(body, status_code=status)

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError):
        return respond(request, exc.status, exc.body(lang_of(request)))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        fields = {field_name(e["loc"]): problem_from_pydantic(e) for e in exc.errors()}
        return respond(request, 422, ValidationFailed(fields).body(lang_of(request)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        lang = lang_of(request)
        if exc.status_code == 404:
            err = NotFound("找不到该资源")
        elif exc.status_code == 405:
            err = AppError("请求方法不允许", code="method_not_allowed")
            err.status = 405
        elif exc.status_code == 400:
            # Starlette's own (a form it cannot parse, too many fields): English, and not ours to show.
            err = AppError("请求格式不正确")
        else:
            err = AppError(str(exc.detail), code="http_error")
            err.status = exc.status_code
        return respond(request, err.status, err.body(lang))

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError):
        # Optimistic concurrency: whoever flushed second lost; tell them, never lose the update.
        err = Conflict("记录已被他人同时更新，请刷新后重试", code="version_conflict")
        return respond(request, err.status, err.body(lang_of(request)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        err = AppError("服务器内部错误，已记录，请稍后重试", code="internal_error")
        return respond(request, 500, err.body(lang_of(request)))
