"""Server-rendered pages. Each handler reads through the same services as the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from gridgov.accounts import service as accounts
from gridgov.accounts.models import User
from gridgov.cases.pages import home_context as case_home
from gridgov.core.crypto import data_cipher
from gridgov.core.deps import ANON_COOKIE, DB, SESSION_COOKIE, MaybeWho, Who, check_csrf
from gridgov.core.errors import AppError, ValidationFailed
from gridgov.core.i18n import LANGS
from gridgov.departments import service as departments
from gridgov.departments.models import DEPARTMENT_LEVELS, DEPARTMENT_ROLES, Department
from gridgov.regions import service as regions
from gridgov.regions.models import Region
from gridgov.visits.pages import home_context as visit_home
from gridgov.web.render import render

router = APIRouter(include_in_schema=False)
DEMO_PASSWORD = "demo-2026"


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an open redirect would let a phishing link borrow our log-in page.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _form_int(form, key: str) -> int | None:
    """A select's value as an id; a tampered or empty value is None, which the service refuses."""
    value = str(form.get(key) or "").strip()
    return int(value) if value.isdigit() else None


def _form_mobile(form) -> str | None:
    """The edit form's mobile: what was typed; else '' (take it away) when 清除手机号 is ticked; else
    None (unchanged). The page never shows the whole number, so an empty field cannot mean "none"."""
    typed = str(form.get("mobile") or "").strip()
    if typed:
        return typed
    return "" if form.get("clear_mobile") == "1" else None


def _demo_logins(db) -> list[tuple[str, str, str]]:
    wanted = ["admin", "leader", "dispatcher"]
    rows = [db.scalar(select(User).where(User.username == u)) for u in wanted]
    for prefix in ("jd", "sq", "wg", "bm"):
        first = select(User).where(User.username.startswith(prefix, autoescape=True)).order_by(User.username)
        rows.append(db.scalar(first))
    return [(u.username, u.role, u.display_name) for u in rows if u is not None]


@router.get("/login")
def login_page(request: Request, db: DB, next: str | None = None):
    return render(request, "login.html", next=_safe_next(next), error=None,
                  demo_logins=_demo_logins(db), demo_password=DEMO_PASSWORD)


@router.post("/login")
async def login(request: Request, db: DB, username: Annotated[str, Form()] = "",
                password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"):
    await check_csrf(request, request.cookies.get(ANON_COOKIE))
    settings = request.app.state.settings
    try:
        user = accounts.authenticate(db, settings, username, password)
    except AppError as exc:
        db.commit()  # keep the failure count
        return render(request, "login.html", status_code=exc.status, next=_safe_next(next),
                      error=exc.body(request.state.lang)["error"]["message"], username=username,
                      demo_logins=_demo_logins(db), demo_password=DEMO_PASSWORD)
    raw = accounts.issue_token(db, user, "session", settings.session_hours)
    db.commit()
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, raw, httponly=True, samesite="lax", secure=settings.cookie_secure,
                        max_age=settings.session_hours * 3600)
    return response


@router.post("/logout")
def logout(request: Request, db: DB, who: Who):
    accounts.revoke_token(db, request.cookies.get(SESSION_COOKIE, ""))
    db.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{code}")
def switch_language(code: str, next: str | None = None):
    response = RedirectResponse(_safe_next(next), status_code=303)
    if code in LANGS:
        response.set_cookie("lang", code, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/")
def home(request: Request, db: DB, who: MaybeWho):
    if who is None:
        return RedirectResponse("/login", status_code=303)
    region = regions.get_region(db, who.region_code)
    context = {"region": region, "lineage": regions.lineage(db, region)}
    if who.can("regions.read"):
        context["counts"] = regions.count_by_level(db, who)
        context["children"] = regions.children(db, who, region.code) if region.level != "grid" else []
    if who.department_id is not None:
        dept = db.get(Department, who.department_id)
        context["department"] = dept
        context["my_areas"] = [a for a in departments.assignments(db, dept) if a.handler_id == who.user_id]
    if who.role == "grid_worker":
        context["workers"] = [region]
    context.update(case_home(db, who))
    context.update(visit_home(request, db, who))
    return render(request, "home.html", **context)


@router.get("/regions")
def region_browser(request: Request, db: DB, who: Who, code: str | None = None):
    who.require("regions.read")
    root = regions.visible_region(db, who, who.region_code)
    focus = regions.visible_region(db, who, code) if code else root
    tree = _tree(db, who, root)
    return render(request, "regions.html", root=root, focus=focus, tree=tree,
                  lineage=regions.lineage(db, focus))


def _tree(db, who, root: Region) -> dict:
    rows = db.scalars(select(Region).where(who.within(Region.path)).order_by(Region.code)).all()
    kids: dict[str | None, list[Region]] = {}
    for r in rows:
        kids.setdefault(r.parent_code, []).append(r)
    return kids


# --- users ---

@router.get("/admin/users")
def users_page(request: Request, db: DB, who: Who, q: str | None = None, role: str | None = None,
               page: int = 1):
    size = 50
    page = max(page, 1)
    rows, total = accounts.list_users(db, who, q=q, role=role or None, limit=size, offset=(page - 1) * size)
    return render(request, "users.html", users=rows, total=total, q=q or "", role_filter=role or "",
                  page=page, pages=max(1, -(-total // size)))


def _user_form_context(db, who, user=None, errors=None, values=None):
    depts = db.scalars(select(Department).order_by(Department.code)).all()
    regions_in_scope = db.scalars(select(Region).where(who.within(Region.path))
                                  .order_by(Region.path)).all()
    return {"user": user, "errors": errors or {}, "values": values or {}, "departments": depts,
            "regions": regions_in_scope}


@router.get("/admin/users/new")
def new_user_page(request: Request, db: DB, who: Who):
    who.require("users.manage")
    return render(request, "user_form.html", **_user_form_context(db, who))


@router.post("/admin/users")
async def create_user_page(request: Request, db: DB, who: Who):
    form = dict(await request.form())
    try:
        user = accounts.create_user(
            db, who, username=form.get("username", ""), display_name=form.get("display_name", ""),
            password=form.get("password", ""), role=form.get("role", ""), region_code=form.get("region_code", ""),
            department_id=_form_int(form, "department_id"), mobile=form.get("mobile", ""),
            cipher=data_cipher(request.app.state.settings))
    except ValidationFailed as exc:
        errors = {k: v.render(request.state.lang) for k, v in exc.fields.items()}
        return render(request, "user_form.html", status_code=422,
                      **_user_form_context(db, who, errors=errors, values=form))
    db.commit()
    return RedirectResponse(f"/admin/users/{user.id}?saved=1", status_code=303)


@router.get("/admin/users/{user_id}")
def user_page(request: Request, db: DB, who: Who, user_id: int, saved: int = 0):
    user = accounts.get_user(db, who, user_id)
    return render(request, "user_form.html", saved=bool(saved), **_user_form_context(db, who, user=user))


@router.post("/admin/users/{user_id}")
async def update_user_page(request: Request, db: DB, who: Who, user_id: int):
    form = dict(await request.form())
    try:
        accounts.update_user(
            db, who, user_id, display_name=form.get("display_name"), role=form.get("role") or None,
            region_code=form.get("region_code") or None,
            department_id=_form_int(form, "department_id"),
            is_active=form.get("is_active") == "1", password=form.get("password") or None,
            mobile=_form_mobile(form), cipher=data_cipher(request.app.state.settings))
    except ValidationFailed as exc:
        errors = {k: v.render(request.state.lang) for k, v in exc.fields.items()}
        user = accounts.get_user(db, who, user_id)
        db.rollback()
        return render(request, "user_form.html", status_code=422,
                      **_user_form_context(db, who, user=user, errors=errors, values=form))
    db.commit()
    return RedirectResponse(f"/admin/users/{user_id}?saved=1", status_code=303)


# --- departments ---

@router.get("/departments")
def departments_page(request: Request, db: DB, who: Who):
    rows = departments.list_departments(db, who)
    scope = db.scalars(select(Region).where(who.within(Region.path), Region.level.in_(["district", "street"]))
                       .order_by(Region.path)).all()
    return render(request, "departments.html", rows=rows, levels=DEPARTMENT_LEVELS, scope=scope,
                  errors={}, values={})


@router.post("/departments")
async def create_department_page(request: Request, db: DB, who: Who):
    form = dict(await request.form())
    try:
        dept = departments.create_department(db, who, code=form.get("code", ""), name=form.get("name", ""),
                                             level=form.get("level", ""), region_code=form.get("region_code", ""))
    except ValidationFailed as exc:
        db.rollback()
        rows = departments.list_departments(db, who)
        scope = db.scalars(select(Region).where(who.within(Region.path),
                                                Region.level.in_(["district", "street"]))).all()
        errors = {k: v.render(request.state.lang) for k, v in exc.fields.items()}
        return render(request, "departments.html", status_code=422, rows=rows, levels=DEPARTMENT_LEVELS,
                      scope=scope, errors=errors, values=form)
    db.commit()
    return RedirectResponse(f"/departments/{dept.id}", status_code=303)


def _department_context(db, who, dept_id: int) -> dict:
    dept = departments.get_department(db, who, dept_id)
    people = departments.members(db, dept)
    # Only what this user may assign: inside the department's area and inside their own.
    area_choices = db.scalars(select(Region).where(Region.path.startswith(dept.region.path, autoescape=True),
                                                   who.within(Region.path), Region.level != "grid")
                              .order_by(Region.path)).all()
    candidates = []
    if who.can("users.manage") and departments.may_manage(who, dept):
        candidates = db.scalars(select(User).join(Region, Region.code == User.region_code).where(
            User.role.in_(DEPARTMENT_ROLES), who.within(Region.path),
            (User.department_id.is_(None)) | (User.department_id != dept.id)).order_by(User.username)).all()
    return {"dept": dept, "members": people, "assignments": departments.assignments(db, dept),
            "candidates": candidates,
            "handlers": {u.id: u for u in people}, "may_manage": departments.may_manage(who, dept),
            "area_choices": area_choices, "levels": DEPARTMENT_LEVELS, "errors": {}}


@router.get("/departments/{dept_id}")
def department_page(request: Request, db: DB, who: Who, dept_id: int):
    return render(request, "department.html", **_department_context(db, who, dept_id))


def _on_department_page(request: Request, db, who, dept_id: int, change) -> Response:
    """Runs a change from the department page: back to the page when it worked, the page
    with the reason when it did not."""
    try:
        change()
    except AppError as exc:
        db.rollback()
        ctx = _department_context(db, who, dept_id)
        body = exc.body(request.state.lang)["error"]
        ctx["errors"] = body["fields"] or {"_": body["message"]}
        return render(request, "department.html", status_code=exc.status, **ctx)
    db.commit()
    return RedirectResponse(f"/departments/{dept_id}", status_code=303)


@router.post("/departments/{dept_id}/assignments")
async def add_assignment_page(request: Request, db: DB, who: Who, dept_id: int):
    form = await request.form()
    return _on_department_page(request, db, who, dept_id, lambda: departments.add_assignment(
        db, who, dept_id, handler_id=_form_int(form, "handler_id") or 0, region_code=form.get("region_code", "")))


@router.post("/departments/{dept_id}/members")
async def add_member_page(request: Request, db: DB, who: Who, dept_id: int):
    form = await request.form()
    return _on_department_page(request, db, who, dept_id,
                               lambda: departments.add_member(db, who, dept_id, _form_int(form, "user_id") or 0))


@router.post("/departments/{dept_id}/members/{user_id}/delete")
def remove_member_page(db: DB, who: Who, dept_id: int, user_id: int):
    departments.remove_member(db, who, dept_id, user_id)
    db.commit()
    return RedirectResponse(f"/departments/{dept_id}", status_code=303)


@router.post("/departments/{dept_id}/assignments/{assignment_id}/delete")
def remove_assignment_page(db: DB, who: Who, dept_id: int, assignment_id: int):
    departments.remove_assignment(db, who, dept_id, assignment_id)
    db.commit()
    return RedirectResponse(f"/departments/{dept_id}", status_code=303)


@router.get("/docs")
def api_docs():
    return get_swagger_ui_html(openapi_url="/openapi.json", title="GridGov API",
                               swagger_js_url="/static/vendor/swagger/swagger-ui-bundle.js",
                               swagger_css_url="/static/vendor/swagger/swagger-ui.css",
                               swagger_favicon_url="/static/favicon.svg",
                               # The default validator badge calls an outside service.
                               swagger_ui_parameters={"validatorUrl": None})

