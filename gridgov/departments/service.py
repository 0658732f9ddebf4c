"""Departments, their members and area assignments."""

from __future__ import annotations

import re

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from gridgov.accounts.access import Principal
from gridgov.accounts.models import User
from gridgov.accounts.principal_cache import forget_principals
from gridgov.cases.routing import bump_routing
from gridgov.core.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationFailed
from gridgov.departments.models import DEPARTMENT_LEVELS, DEPARTMENT_ROLES, AreaAssignment, Department
from gridgov.regions.models import Region

DEPT_CODE = re.compile(r"^[A-Z0-9]{2,10}$")
NAME_LENGTH = (2, 100)  # the column holds 100


def _visible(who: Principal):
    """Departments serving somewhere inside the user's subtree, or serving an area that
    contains it (a street dispatcher sees the district bureaus it dispatches to)."""
    clauses = [who.within_or_above(Region.path)]
    if who.department_id is not None:
        clauses.append(Department.id == who.department_id)
    return or_(*clauses)


def list_departments(db: Session, who: Principal) -> list[tuple[Department, int, int]]:
    if not who.can("departments.read"):
        raise Forbidden()
    members = (select(User.department_id, func.count().label("n")).group_by(User.department_id).subquery())
    assigns = (select(AreaAssignment.department_id, func.count().label("n"))
               .group_by(AreaAssignment.department_id).subquery())
    q = (select(Department, func.coalesce(members.c.n, 0), func.coalesce(assigns.c.n, 0))
         .join(Region, Region.code == Department.region_code)
         .outerjoin(members, members.c.department_id == Department.id)
         .outerjoin(assigns, assigns.c.department_id == Department.id)
         .where(_visible(who)).order_by(Department.code))
    return [tuple(r) for r in db.execute(q).all()]


def get_department(db: Session, who: Principal, dept_id: int) -> Department:
    if not who.can("departments.read"):
        raise Forbidden()
    q = (select(Department).join(Region, Region.code == Department.region_code)
         .where(Department.id == dept_id, _visible(who)))
    dept = db.scalar(q)
    if dept is None:
        raise NotFound("找不到部门 {id}", id=dept_id)
    return dept


def may_manage(who: Principal, dept: Department) -> bool:
    if not who.can("departments.manage"):
        return False
    if who.department_id is not None:
        return who.department_id == dept.id
    return who.covers(dept.region.path)


def _require_manage(who: Principal, dept: Department) -> None:
    if not may_manage(who, dept):
        raise Forbidden()


def members(db: Session, dept: Department) -> list[User]:
    return list(db.scalars(select(User).where(User.department_id == dept.id).order_by(User.username)))


def assignments(db: Session, dept: Department) -> list[AreaAssignment]:
    q = (select(AreaAssignment).join(Region, Region.code == AreaAssignment.region_code)
         .where(AreaAssignment.department_id == dept.id).order_by(Region.path, AreaAssignment.handler_id))
    return list(db.scalars(q))


def create_department(db: Session, who: Principal, *, code: str, name: str, level: str,
                      region_code: str) -> Department:
    who.require("departments.create")
    code = code.strip().upper()
    problems: dict[str, FieldProblem] = {}
    if not DEPT_CODE.match(code):
        problems["code"] = FieldProblem("部门代码只能是 2–10 位大写字母或数字")
    elif db.scalar(select(Department.id).where(Department.code == code)):
        problems["code"] = FieldProblem("部门代码已存在")
    # Checked here, after trimming: the page posts its form without the API's schema.
    name = name.strip()
    if len(name) < NAME_LENGTH[0]:
        problems["name"] = FieldProblem("长度不能少于 {limit}", limit=NAME_LENGTH[0])
    elif len(name) > NAME_LENGTH[1]:
        problems["name"] = FieldProblem("长度不能超过 {limit}", limit=NAME_LENGTH[1])
    if level not in DEPARTMENT_LEVELS:
        problems["level"] = FieldProblem("未知部门级别 {level}", level=level)
    region = db.get(Region, region_code)
    if region is None:
        problems["region_code"] = FieldProblem("区划不存在")
    elif not who.covers(region.path):
        problems["region_code"] = FieldProblem("超出您的管辖范围")
    if problems:
        raise ValidationFailed(problems)
    dept = Department(code=code, name=name, level=level, region_code=region_code)
    db.add(dept)
    db.flush()
    return dept


def add_assignment(db: Session, who: Principal, dept_id: int, *, handler_id: int,
                   region_code: str) -> AreaAssignment:
    dept = get_department(db, who, dept_id)
    _require_manage(who, dept)
    problems: dict[str, FieldProblem] = {}
    handler = db.get(User, handler_id)
    if handler is None or handler.department_id != dept.id:
        problems["handler_id"] = FieldProblem("处理人必须是本部门成员")
    region = db.get(Region, region_code)
    if region is None:
        problems["region_code"] = FieldProblem("区划不存在")
    elif not region.path.startswith(dept.region.path) or not who.covers(region.path):
        # covers, not sees: a user may read the regions above their own but not route them.
        problems["region_code"] = FieldProblem("超出您的管辖范围")
    if problems:
        raise ValidationFailed(problems)
    exists = db.scalar(select(AreaAssignment.id).where(
        AreaAssignment.department_id == dept.id, AreaAssignment.handler_id == handler_id,
        AreaAssignment.region_code == region_code))
    if exists:
        raise Conflict("该分派规则已存在", code="duplicate_assignment")
    row = AreaAssignment(department_id=dept.id, handler_id=handler_id, region_code=region_code)
    db.add(row)
    db.flush()
    bump_routing(db)
    return row


def remove_assignment(db: Session, who: Principal, dept_id: int, assignment_id: int) -> None:
    dept = get_department(db, who, dept_id)
    _require_manage(who, dept)
    row = db.get(AreaAssignment, assignment_id)
    if row is None or row.department_id != dept.id:
        raise NotFound("找不到分派规则 {id}", id=assignment_id)
    who.require_covers(row.region.path)
    db.delete(row)
    db.flush()
    bump_routing(db)


def add_member(db: Session, who: Principal, dept_id: int, user_id: int) -> User:
    """Putting a person into a department changes who they are, so it needs the account
    manager's permission, not only the department's."""
    who.require("users.manage")
    dept = get_department(db, who, dept_id)
    _require_manage(who, dept)
    user = db.get(User, user_id)
    if user is None or not who.covers(user.region.path):
        raise NotFound("找不到用户 {id}", id=user_id)
    if user.role not in DEPARTMENT_ROLES:
        raise ValidationFailed({"user_id": FieldProblem("只有部门负责人或部门管理员可以加入部门")})
    user.department_id = dept.id
    drop_stale_assignments(db, user)  # those of the department they came from
    db.flush()
    bump_routing(db)
    forget_principals(db)  # what they may see changes with the department
    return user


def remove_member(db: Session, who: Principal, dept_id: int, user_id: int) -> None:
    who.require("users.manage")
    dept = get_department(db, who, dept_id)
    _require_manage(who, dept)
    user = db.get(User, user_id)
    if user is None or user.department_id != dept.id:
        raise NotFound("找不到用户 {id}", id=user_id)
    user.department_id = None
    # A handler who has left must not keep receiving the department's cases.
    drop_stale_assignments(db, user)
    db.flush()
    bump_routing(db)
    forget_principals(db)  # or the log-in cache lets them see its cases a moment longer


def drop_stale_assignments(db: Session, user: User) -> None:
    """Deletes the area assignments of `user` that no longer stand, as they are now (changed, not
    yet flushed, is fine): all of them once the user is stopped, in no department or no longer in a
    department role; otherwise those of departments other than their own. Every change of those
    calls it in its own transaction (accounts' `update_user`, adding and removing members), the
    caller bumping the routing version. Routing passes such assignments over anyway
    (`cases.routing._COVERING_ASSIGNMENTS`), but the department's page and API kept listing the
    person as answering for the area, and a handler taken back later would have found them again."""
    stmt = delete(AreaAssignment).where(AreaAssignment.handler_id == user.id)
    if user.is_active and user.role in DEPARTMENT_ROLES and user.department_id is not None:
        stmt = stmt.where(AreaAssignment.department_id != user.department_id)
    db.execute(stmt)
