"""One error shape everywhere: `{"error": {"code", "message", "fields"}}`.

Services raise `AppError` subclasses with a Chinese message (the lookup key for the
English text) and its parameters; the handlers translate at the edge, so the same
error reads right in either language, and nothing but the message reaches the user.
"""

from __future__ import annotations

import ast
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridgov.core.i18n import translate

log = logging.getLogger("gridgov.errors")


class Choices(tuple):
    """Allowed values, listed the way each language lists them."""

    __slots__ = ()

    def render(self, lang: str) -> str:
        return ("、" if lang == "zh" else ", ").join(translate(str(v), lang) for v in self)


def _translated(params: dict[str, Any], lang: str) -> dict[str, Any]:
    # Labels passed as parameters (a state, an action, a role) read in the same language.
    return {k: v.render(lang) if isinstance(v, Choices) else translate(v, lang) if isinstance(v, str) else v
            for k, v in params.items()}


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


_DATE = "日期格式不正确（应为 YYYY-MM-DD）"
_DATETIME = "时间格式不正确（应为 YYYY-MM-DDTHH:MM:SS，可带时区，如 2026-01-31T08:30:00+08:00）"
_OBJECT = "必须是 JSON 对象"

# Every pydantic error type a request can meet, as the rule it broke: (message key, the `ctx` entry that
# fills {limit}). Types of validation the app does not do (callables, dataclasses, function arguments)
# are left to the fallback.
_PYDANTIC_MESSAGES: dict[str, tuple[str, str | None]] = {
    # presence and shape
    "missing": ("必填", None),
    "extra_forbidden": ("不允许提交此字段", None),
    "json_invalid": ("请求体不是合法的 JSON", None),
    "json_type": ("必须是 JSON 文本", None),
    "model_type": (_OBJECT, None),
    "model_attributes_type": (_OBJECT, None),
    "dict_type": (_OBJECT, None),
    "mapping_type": (_OBJECT, None),
    "list_type": ("必须是列表", None),
    "tuple_type": ("必须是列表", None),
    "set_type": ("必须是列表", None),
    "frozen_set_type": ("必须是列表", None),
    "iterable_type": ("必须是列表", None),
    "too_short": ("至少需要 {limit} 项", "min_length"),
    "too_long": ("最多只能有 {limit} 项", "max_length"),
    # text
    "string_type": ("必须是文本", None),
    "string_unicode": ("必须是文本", None),
    "string_not_ascii": ("只能包含英文字母、数字和半角符号", None),
    "string_too_short": ("长度不能少于 {limit}", "min_length"),
    "string_too_long": ("长度不能超过 {limit}", "max_length"),
    # numbers
    "int_type": ("必须是整数", None),
    "int_parsing": ("必须是整数", None),
    "int_from_float": ("必须是整数", None),
    "int_parsing_size": ("数值超出范围", None),
    "float_type": ("必须是数字", None),
    "float_parsing": ("必须是数字", None),
    "finite_number": ("必须是数字", None),
    "decimal_type": ("必须是数字", None),
    "decimal_parsing": ("必须是数字", None),
    "decimal_max_digits": ("数字总位数不能超过 {limit}", "max_digits"),
    "decimal_max_places": ("小数位数不能超过 {limit}", "decimal_places"),
    "decimal_whole_digits": ("整数部分位数不能超过 {limit}", "whole_digits"),
    "greater_than_equal": ("不能小于 {limit}", "ge"),
    "less_than_equal": ("不能大于 {limit}", "le"),
    "greater_than": ("必须大于 {limit}", "gt"),
    "less_than": ("必须小于 {limit}", "lt"),
    "multiple_of": ("必须是 {limit} 的倍数", "multiple_of"),
    # yes or no
    "bool_type": ("必须是 true 或 false", None),
    "bool_parsing": ("必须是 true 或 false", None),
    # dates and times
    "date_type": (_DATE, None),
    "date_parsing": (_DATE, None),
    "date_from_datetime_parsing": (_DATE, None),
    "date_from_datetime_inexact": ("必须是日期（YYYY-MM-DD），不能带时间", None),
    "date_past": ("必须是今天以前的日期", None),
    "date_future": ("必须是今天以后的日期", None),
    "datetime_type": (_DATETIME, None),
    "datetime_parsing": (_DATETIME, None),
    "datetime_from_date_parsing": (_DATETIME, None),
    "datetime_object_invalid": (_DATETIME, None),
    "datetime_past": ("必须是过去的时间", None),
    "datetime_future": ("必须是将来的时间", None),
    "timezone_aware": ("必须带时区，如 +08:00", None),
    "timezone_naive": ("不能带时区", None),
    "time_type": ("时刻格式不正确（应为 HH:MM 或 HH:MM:SS）", None),
    "time_parsing": ("时刻格式不正确（应为 HH:MM 或 HH:MM:SS）", None),
    "time_delta_type": ("时长格式不正确（应为秒数或 ISO 8601 时长，如 PT1H30M）", None),
    "time_delta_parsing": ("时长格式不正确（应为秒数或 ISO 8601 时长，如 PT1H30M）", None),
    # identifiers
    "uuid_type": ("必须是 UUID，如 123e4567-e89b-12d3-a456-426614174000", None),
    "uuid_parsing": ("必须是 UUID，如 123e4567-e89b-12d3-a456-426614174000", None),
    "uuid_version": ("必须是第 {limit} 版 UUID", "expected_version"),
    "url_type": ("必须是网址，如 https://example.org", None),
    "url_parsing": ("必须是网址，如 https://example.org", None),
    "url_syntax_violation": ("必须是网址，如 https://example.org", None),
    "url_too_long": ("网址长度不能超过 {limit}", "max_length"),
}

# A literal's or enum's allowed values as pydantic lists them: each one's repr, joined by ", " and " or ".
# The English "or" must not reach a Chinese message, so the values are taken out one by one.
_LITERAL_TOKEN = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s,'"]+""")
# `pattern="^(open|found|cancelled)$"` is a choice among words: say so, rather than show the regex.
_ALTERNATION = re.compile(r"\^\((?:\?:)?([\w-]+(?:\|[\w-]+)+)\)\$")
# Our own validators raise ValueError with a Chinese message key; anyone else's text is English.
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _choices(expected: str) -> Choices:
    values = []
    for token in _LITERAL_TOKEN.findall(expected):
        if token == "or":  # the separator: a bare word, where every value is a repr (quoted, or a number)
            continue
        try:
            values.append(str(ast.literal_eval(token)))
        except (ValueError, SyntaxError):
            values.append(token)
    return Choices(values)


def _number(value: Any) -> Any:
    # Constraints reach the context as floats for float fields (ge=0 → 0.0); "不能小于 0.0" reads oddly.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def problem_from_pydantic(err: dict) -> FieldProblem:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind in ("literal_error", "enum"):
        return FieldProblem("必须是以下之一：{expected}", expected=_choices(str(ctx.get("expected", ""))))
    if kind == "url_scheme":
        schemes = _choices(str(ctx.get("expected_schemes", "")))
        return FieldProblem("网址协议必须是以下之一：{expected}", expected=schemes)
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        words = _ALTERNATION.fullmatch(pattern)
        if words:
            return FieldProblem("必须是以下之一：{expected}", expected=Choices(words.group(1).split("|")))
        return FieldProblem("格式不正确（应匹配 {pattern}）", pattern=pattern)
    if kind in _PYDANTIC_MESSAGES:
        message, key = _PYDANTIC_MESSAGES[kind]
        return FieldProblem(message, limit=_number(ctx.get(key))) if key else FieldProblem(message)
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error", ""))
        if text.startswith("Expected UploadFile"):  # FastAPI's, when a form sends text where a file belongs
            return FieldProblem("必须是上传的文件")
        if _CJK.search(text):
            return FieldProblem(text)
    # Only the type code: pydantic's own text is English, and would read as such in a Chinese message.
    return FieldProblem("格式不正确（{code}）", code=kind or "unknown")


def field_of(err: dict) -> str:
    if err.get("type") == "json_invalid":
        return "body"  # its loc ends in the character offset of the fault, which is no field
    return field_name(err["loc"])


def field_name(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form", "header", "cookie")]
    return ".".join(parts) or "body"


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/open311/", "/healthz", "/readyz", "/metrics")):
        return False
    return "text/html" in request.headers.get("accept", "")


def internal_error(request: Request) -> tuple[AppError, str]:
    """Logs the exception being handled with the request's id and returns the error to answer with,
    which shows that id: a user's screenshot of the message then leads to the log line with the
    traceback. Call it from an `except` block."""
    request_id = getattr(request.state, "request_id", None) or request.headers.get("x-request-id", "-")
    log.exception("unhandled error on %s %s (request %s)", request.method, request.url.path, request_id,
                  extra={"fields": {"request_id": request_id, "method": request.method, "path": request.url.path}})
    return AppError("服务器内部错误，已记录，请稍后重试（请求编号 {request_id}）", code="internal_error",
                    request_id=request_id), request_id


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
        fields = {field_of(e): problem_from_pydantic(e) for e in exc.errors()}
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
        # Starlette answers this one from outside the request middleware, so the id that middleware
        # put on every other response is put on here.
        err, request_id = internal_error(request)
        response = respond(request, 500, err.body(lang_of(request)))
        response.headers["x-request-id"] = request_id
        return response
