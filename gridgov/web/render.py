"""Page rendering: templates get the user, the language, a CSRF token and the navigation."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from sqlalchemy import select

from gridgov.accounts.roles import ROLES
from gridgov.core.deps import ANON_COOKIE, SESSION_COOKIE
from gridgov.core.i18n import translate
from gridgov.core.security import csrf_for
from gridgov.regions.models import LEVEL_LABELS, MetaValue

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


@pass_context
def _localtime(ctx, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (UTC) time on the installation's clock: the zone deadlines are counted in."""
    return value.astimezone(ZoneInfo(ctx["settings"].timezone)).strftime(fmt) if value else ""  # ZoneInfo caches


templates.env.filters["localtime"] = _localtime

NAV = [  # (path, label, permission or None)
    ("/", "首页", None),
    ("/console", "调度台", "cases.dispatch"),
    ("/cases", "事件", "cases.read"),
    ("/people", "实有人口", "people.read"),
    ("/houses", "实有房屋", "people.read"),
    ("/visits", "走访", "people.read"),
    ("/missing", "易走失人员", "missing.read"),
    ("/regions", "区划与网格", "regions.read"),
    ("/departments", "部门", "departments.read"),
    ("/admin/catalog", "事项清单", "catalog.read"),
    ("/admin/calendar", "工作日历", "calendar.read"),
    ("/admin/users", "用户管理", "users.read"),
    ("/admin/outbox", "通知投递", "notify.manage"),
    ("/admin/audit", "审计日志", "audit.read"),
]


def is_demo(request: Request) -> bool:
    cache = request.app.state.__dict__.setdefault("_demo_flag", {})
    if "v" not in cache:
        with request.app.state.sessions() as db:
            cache["v"] = db.scalar(select(MetaValue.value).where(MetaValue.key == "demo")) == "1"
    return cache["v"]


def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    lang = getattr(request.state, "lang", "zh")
    principal = getattr(request.state, "principal", None)
    session = request.cookies.get(SESSION_COOKIE)
    anon = request.cookies.get(ANON_COOKIE) or secrets.token_urlsafe(24)
    secret = request.app.state.settings.resolved_secret_key
    ctx = {
        "_": lambda text, **kw: translate(text, lang, **kw),
        "lang": lang,
        "me": principal,
        "role": ROLES.get(principal.role) if principal else None,
        "roles": ROLES,
        "level_labels": LEVEL_LABELS,
        "csrf_token": csrf_for(secret, session if principal and session else anon),
        "nav": [(p, label) for p, label, perm in NAV if principal and (perm is None or principal.can(perm))],
        "path": request.url.path,
        "demo": is_demo(request),
        "settings": request.app.state.settings,
    }
    ctx.update(context)
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    if not request.cookies.get(ANON_COOKIE):
        response.set_cookie(ANON_COOKIE, anon, httponly=True, samesite="lax",
                            secure=request.app.state.settings.cookie_secure)
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status_code=status, status=status, message=message)
