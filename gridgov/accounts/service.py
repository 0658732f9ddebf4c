"""Log-in, lock-out, tokens and user management."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from gridgov.accounts.access import Principal
from gridgov.accounts.models import AuthToken, User
from gridgov.accounts.principal_cache import forget_principals
from gridgov.accounts.roles import ROLES
from gridgov.cases.routing import bump_routing
from gridgov.core.config import Settings
from gridgov.core.db import utcnow
from gridgov.core.errors import AppError, FieldProblem, Locked, NotFound, ValidationFailed
from gridgov.core.i18n import translate
from gridgov.core.security import hash_password, new_token, token_digest, verify_password
from gridgov.departments.models import Department
from gridgov.regions.models import LEVEL_LABELS, Region

USERNAME = re.compile(r"^[a-z0-9_.]{3,40}$")


class LoginFailed(AppError):
    status = 401
    code = "login_failed"


class _LevelProblem(FieldProblem):
    """The role and level names are words of the message too: translated with it, not frozen in Chinese."""

    def __init__(self, role_label: str, levels: tuple[str, ...]) -> None:
        super().__init__("{role} 的管辖区划必须是{level}", role=role_label,
                         level="、".join(LEVEL_LABELS[lv] for lv in levels))
        self.role_label, self.levels = role_label, levels

    def render(self, lang: str) -> str:
        names = [translate(LEVEL_LABELS[lv], lang) for lv in self.levels]
        level = "、".join(names) if lang == "zh" else " or ".join(names)
        return translate(self.message, lang, role=translate(self.role_label, lang), level=level)


def principal_of(user: User) -> Principal:
    return Principal(user_id=user.id, username=user.username, display_name=user.display_name,
                     role=user.role, region_code=user.region_code, region_path=user.region.path,
                     department_id=user.department_id)


def authenticate(db: Session, settings: Settings, username: str, password: str) -> User:
    """Checks a password and keeps the failure count. The caller commits in every case, so
    that a failure is counted even though this raises."""
    user = db.scalar(select(User).where(User.username == username.strip().lower()))
    now = utcnow()
    if user is not None and user.locked_until and user.locked_until > now:
        raise Locked("账户已锁定，请 {minutes} 分钟后再试", minutes=_minutes_left(user.locked_until - now))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        if user is not None:
            _count_failure(db, settings, user)
        raise LoginFailed("用户名或密码错误")
    if not user.is_active:
        raise LoginFailed("账户已停用", code="account_disabled")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user


def _count_failure(db: Session, settings: Settings, user: User) -> None:
    # An atomic increment: two wrong passwords sent at once both count.
    db.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
    db.refresh(user, ["failed_logins"])
    if user.failed_logins >= settings.login_max_failures:
        user.locked_until = utcnow() + timedelta(minutes=settings.login_lock_minutes)
        user.failed_logins = 0
        db.flush()
        raise Locked("密码连续错误 {failures} 次，账户已锁定，请 {minutes} 分钟后再试",
                     failures=settings.login_max_failures, minutes=settings.login_lock_minutes)


def _minutes_left(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds() / 60))


def issue_token(db: Session, user: User, kind: str, hours: int) -> str:
    raw = new_token()
    now = utcnow()
    db.execute(delete(AuthToken).where(AuthToken.user_id == user.id, AuthToken.expires_at < now))
    db.add(AuthToken(token_hash=token_digest(raw), kind=kind, user_id=user.id, expires_at=now + timedelta(hours=hours)))
    db.flush()
    return raw


def user_for_token(db: Session, raw: str, kind: str) -> User | None:
    q = (select(User).join(AuthToken, AuthToken.user_id == User.id)
         .where(AuthToken.token_hash == token_digest(raw), AuthToken.kind == kind,
                AuthToken.expires_at > utcnow(), User.is_active.is_(True)))
    return db.scalar(q)


# Built once: every authenticated request that the cache cannot answer runs it, and building a
# statement (and its cache key) costs about as much as running it. Only the parameters change.
_PRINCIPAL_FOR_TOKEN = (
    select(User.id, User.username, User.display_name, User.role, User.region_code, Region.path, User.department_id,
           AuthToken.expires_at)
    .join(AuthToken, AuthToken.user_id == User.id).join(Region, Region.code == User.region_code)
    .where(AuthToken.token_hash == bindparam("digest"), AuthToken.kind == bindparam("kind"),
           AuthToken.expires_at > bindparam("now", type_=AuthToken.expires_at.type), User.is_active.is_(True)))


def token_holder(db: Session, digest: str, kind: str) -> tuple[Principal, datetime] | None:
    """Who a live token of this kind (given by its digest) belongs to, an active user, and when
    the token expires; or None. The same test as `user_for_token`, asked for the Principal's
    columns alone: loading the whole user with its region cost more than the rest of a read."""
    row = db.execute(_PRINCIPAL_FOR_TOKEN, {"digest": digest, "kind": kind, "now": utcnow()}).first()
    if row is None:
        return None
    return Principal(user_id=row[0], username=row[1], display_name=row[2], role=row[3], region_code=row[4],
                     region_path=row[5], department_id=row[6]), row[7]


def revoke_token(db: Session, raw: str) -> None:
    forget_principals(db)
    db.execute(delete(AuthToken).where(AuthToken.token_hash == token_digest(raw)))


# --- user management ---

def list_users(db: Session, who: Principal, *, role: str | None = None, q: str | None = None,
               region_code: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[User], int]:
    who.require("users.read")
    stmt = select(User).join(Region, Region.code == User.region_code).where(who.within(Region.path))
    if role:
        stmt = stmt.where(User.role == role)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where((User.username.like(like)) | (User.display_name.like(f"%{q.strip()}%")))
    if region_code:
        region = db.get(Region, region_code)
        stmt = stmt.where(Region.path.startswith(region.path if region else "/none/", autoescape=True))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(stmt.order_by(User.username).limit(limit).offset(offset)).all()
    return list(rows), total


def get_user(db: Session, who: Principal, user_id: int) -> User:
    who.require("users.read")
    user = db.get(User, user_id)
    if user is None or not who.covers(user.region.path):
        # Outside the jurisdiction looks the same as absent: no probing for who exists.
        raise NotFound("找不到用户 {id}", id=user_id)
    return user


def _check_assignment(db: Session, who: Principal, role: str, region_code: str,
                      department_id: int | None) -> dict[str, FieldProblem]:
    problems: dict[str, FieldProblem] = {}
    spec = ROLES.get(role)
    if spec is None:
        problems["role"] = FieldProblem("未知角色 {role}", role=role)
        return problems
    region = db.get(Region, region_code)
    if region is None:
        problems["region_code"] = FieldProblem("区划不存在")
    elif not who.covers(region.path):
        problems["region_code"] = FieldProblem("不能把账户授权到您管辖范围之外")
    elif region.level not in spec.levels:
        problems["region_code"] = _LevelProblem(spec.label, spec.levels)
    if department_id is not None and db.get(Department, department_id) is None:
        problems["department_id"] = FieldProblem("部门不存在")
    elif spec.needs_department and department_id is None:
        problems["department_id"] = FieldProblem("该角色必须属于一个部门")
    elif not spec.needs_department and department_id is not None:
        # A department grants too (its cases, the police's view of a missing person's contacts).
        problems["department_id"] = FieldProblem("该角色不属于任何部门")
    return problems


def create_user(db: Session, who: Principal, *, username: str, display_name: str, password: str,
                role: str, region_code: str, department_id: int | None = None,
                password_hash: str | None = None) -> User:
    who.require("users.manage")
    username = username.strip().lower()
    problems = _check_assignment(db, who, role, region_code, department_id)
    if not USERNAME.match(username):
        problems["username"] = FieldProblem("只能包含字母、数字、下划线和点，3–40 位")
    elif db.scalar(select(User.id).where(User.username == username)):
        problems["username"] = FieldProblem("用户名已存在")
    if password_hash is None and len(password) < 8:
        problems["password"] = FieldProblem("密码至少 8 位")
    if problems:
        raise ValidationFailed(problems)
    user = User(username=username, display_name=display_name.strip() or username, role=role,
                region_code=region_code, department_id=department_id,
                password_hash=password_hash or hash_password(password))
    db.add(user)
    db.flush()
    # A department admin is whom the department's unassigned cases go to; a dispatcher, whom a
    # desk's cases are announced to.
    bump_routing(db)
    return user


def update_user(db: Session, who: Principal, user_id: int, *, display_name: str | None = None,
                role: str | None = None, region_code: str | None = None,
                department_id: int | None | type(...) = ..., is_active: bool | None = None,
                password: str | None = None) -> User:
    who.require("users.manage")
    user = get_user(db, who, user_id)
    forget_principals(db)  # its role, region, name or standing may change, its tokens may go
    bump_routing(db)  # and so may whom cases are routed to
    new_role = role or user.role
    new_region = region_code or user.region_code
    new_dept = user.department_id if department_id is ... else department_id
    if department_id is ... and new_role in ROLES and not ROLES[new_role].needs_department:
        new_dept = None  # no longer a department's person: the department goes with the role
    problems = _check_assignment(db, who, new_role, new_region, new_dept)
    if password is not None and password != "" and len(password) < 8:
        problems["password"] = FieldProblem("密码至少 8 位")
    if problems:
        raise ValidationFailed(problems)
    if display_name is not None and display_name.strip():
        user.display_name = display_name.strip()
    user.role, user.region_code, user.department_id = new_role, new_region, new_dept
    if is_active is not None:
        user.is_active = is_active
    if password or is_active is False:
        # A new password, or a stop: the log-ins made before end for good, and do not come back
        # with the account if it is taken into service again.
        db.execute(delete(AuthToken).where(AuthToken.user_id == user.id))
    if password:
        user.password_hash = hash_password(password)
        user.failed_logins, user.locked_until = 0, None
    db.flush()
    db.refresh(user, ["region"])
    return user

