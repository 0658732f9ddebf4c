"""Log-in, lock-out, tokens and user management."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import bindparam, case, delete, func, select, update
from sqlalchemy.orm import Session

from gridgov.accounts.access import Principal
from gridgov.accounts.models import AuthToken, LoginFailure, User
from gridgov.accounts.principal_cache import forget_principals
from gridgov.accounts.roles import ROLES
from gridgov.cases.routing import bump_routing
from gridgov.core import audit
from gridgov.core.config import Settings
from gridgov.core.crypto import DataCipher
from gridgov.core.db import add_unique, dialect_insert, utcnow
from gridgov.core.errors import AppError, FieldProblem, Locked, NotFound, ValidationFailed
from gridgov.core.i18n import translate
from gridgov.core.security import hash_password, new_token, token_digest, verify_password
from gridgov.departments.models import Department
from gridgov.departments.service import drop_stale_assignments
from gridgov.people.identity import IdentityError, mask_phone, parse_mobile
from gridgov.regions.models import LEVEL_LABELS, Region

USERNAME = re.compile(r"^[a-z0-9_.]{3,40}$")
MOBILE_CONTEXT = "user.mobile"  # AES-GCM associated data of a staff member's mobile


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


# Names without an account whose failed log-ins are kept (`LoginFailure`): a small table, whatever
# is sent. Past it, rows that say nothing go first, then the longest quiet (`_bound_unknown_names`).
UNKNOWN_NAMES_KEPT = 10_000


def authenticate(db: Session, settings: Settings, username: str, password: str) -> User:
    """Checks a password and keeps the failure count. The caller commits in every case, so
    that a failure is counted even though this raises.

    A name without an account is answered as an account is answered for a wrong password: the
    same argon2 work (`verify_password` checks against a dummy hash), the same 401, and after
    `login_max_failures` failures the same 423 for `login_lock_minutes`, during which the same
    "locked" answer comes whatever password is sent. Otherwise the lock-out itself would tell an
    attacker which usernames exist: five wrong passwords end in 423 for a real name and never for
    a made-up one. The made-up name's count is kept in `login_failures`, not in `users` (no row is
    made or changed there), and in the database rather than in memory, so that every process of
    an installation answers alike."""
    name = username.strip().lower()
    user = db.scalar(select(User).where(User.username == name))
    now = utcnow()
    if user is None:
        _refuse_unknown(db, settings, name, password, now)
    if user.locked_until and user.locked_until > now:
        raise _still_locked(user.locked_until, now)
    if not verify_password(user.password_hash, password):
        _count_failure(db, settings, user)
        raise LoginFailed("用户名或密码错误")
    if not user.is_active:
        raise LoginFailed("账户已停用", code="account_disabled")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user


def _still_locked(until: datetime, now: datetime) -> Locked:
    return Locked("账户已锁定，请 {minutes} 分钟后再试", minutes=_minutes_left(until - now))


def _locked_now(settings: Settings) -> Locked:
    return Locked("密码连续错误 {failures} 次，账户已锁定，请 {minutes} 分钟后再试",
                  failures=settings.login_max_failures, minutes=settings.login_lock_minutes)


def _count_failure(db: Session, settings: Settings, user: User) -> None:
    # An atomic increment: two wrong passwords sent at once both count.
    db.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
    db.refresh(user, ["failed_logins"])
    if user.failed_logins >= settings.login_max_failures:
        user.locked_until = utcnow() + timedelta(minutes=settings.login_lock_minutes)
        user.failed_logins = 0
        db.flush()
        raise _locked_now(settings)


def _name_digest(settings: Settings, name: str) -> str:
    """Keyed, so that the table does not let anyone test guesses of what was typed offline."""
    return hmac.new(settings.resolved_secret_key.encode(), f"login:{name}".encode(), hashlib.sha256).hexdigest()


def _refuse_unknown(db: Session, settings: Settings, name: str, password: str, now: datetime) -> NoReturn:
    """The answer for a name without an account, step for step the one `authenticate` gives an
    account: locked → the lock; else the password check, a failure counted, the lock at the limit."""
    digest = _name_digest(settings, name)
    locked_until = db.scalar(select(LoginFailure.locked_until).where(LoginFailure.name_digest == digest))
    if locked_until and locked_until > now:
        raise _still_locked(locked_until, now)
    verify_password(None, password)  # the time a real account's check takes: timing tells nothing either
    # An atomic upsert, as the account's increment is: two failures sent at once both count.
    upsert = dialect_insert(db.get_bind().dialect.name)(LoginFailure).values(
        name_digest=digest, failures=1, last_failed_at=now)
    upsert = upsert.on_conflict_do_update(
        index_elements=[LoginFailure.name_digest],
        set_={"failures": LoginFailure.failures + 1, "last_failed_at": now}).returning(LoginFailure.failures)
    failures = db.execute(upsert).scalar_one()
    if failures == 1:
        _bound_unknown_names(db, now)
    if failures >= settings.login_max_failures:
        db.execute(update(LoginFailure).where(LoginFailure.name_digest == digest).values(
            failures=0, locked_until=now + timedelta(minutes=settings.login_lock_minutes)))
        raise _locked_now(settings)
    raise LoginFailed("用户名或密码错误")


def _bound_unknown_names(db: Session, now: datetime) -> None:
    """Keeps `login_failures` to UNKNOWN_NAMES_KEPT rows. First to go are rows that say nothing: no
    failure since their lock ended, so they answer as a name never tried. Only under a flood of
    made-up names do more go, the longest quiet first and a live lock last; their counts start again."""
    kept = db.scalar(select(func.count()).select_from(LoginFailure)) or 0
    if kept <= UNKNOWN_NAMES_KEPT:
        return
    db.execute(delete(LoginFailure).where(LoginFailure.failures == 0, LoginFailure.locked_until <= now)
               .execution_options(synchronize_session=False))
    excess = (db.scalar(select(func.count()).select_from(LoginFailure)) or 0) - UNKNOWN_NAMES_KEPT
    if excess <= 0:
        return
    oldest = (select(LoginFailure.name_digest)
              .order_by(case((LoginFailure.locked_until > now, 1), else_=0), LoginFailure.last_failed_at,
                        LoginFailure.name_digest)
              .limit(excess))
    db.execute(delete(LoginFailure).where(LoginFailure.name_digest.in_(oldest.scalar_subquery()))
               .execution_options(synchronize_session=False))


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
        stmt = stmt.where(User.username.contains(q.strip().lower(), autoescape=True)
                          | User.display_name.contains(q.strip(), autoescape=True))
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


def _check_mobile(value: str | None, problems: dict[str, FieldProblem]) -> str | None:
    """The parsed mobile ('' to have none), or None when `value` is None (left as it is); a bad
    one goes into `problems` under `mobile`."""
    if value is None:
        return None
    try:
        return parse_mobile(value)
    except IdentityError as exc:
        problems["mobile"] = FieldProblem(exc.rule)
        return None


def _set_mobile(user: User, mobile: str, cipher: DataCipher | None) -> None:
    """Stores the mobile encrypted, with its masked copy for screens; '' takes it away."""
    if mobile and cipher is None:
        raise TypeError("storing a mobile needs the data cipher")
    user.mobile_cipher = cipher.encrypt(mobile, MOBILE_CONTEXT) if mobile else None
    user.mobile_masked = mask_phone(mobile)


def create_user(db: Session, who: Principal, *, username: str, display_name: str, password: str,
                role: str, region_code: str, department_id: int | None = None,
                cipher: DataCipher, password_hash: str | None = None, mobile: str | None = None) -> User:
    """A new account, written to the audit log (`cipher` keys it, and encrypts the mobile). `mobile`
    (optional, blank for none) is checked and stored encrypted."""
    who.require("users.manage")
    username = username.strip().lower()
    problems = _check_assignment(db, who, role, region_code, department_id)
    phone = _check_mobile(mobile, problems)
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
    _set_mobile(user, phone or "", cipher)
    # A department admin is whom the department's unassigned cases go to; a dispatcher, whom a
    # desk's cases are announced to.
    bump_routing(db)
    if not add_unique(db, user):
        # Taken since the look above: two admins created the same name at the same moment. The
        # one who lost is told what the look would have told them, not a server error.
        raise ValidationFailed({"username": FieldProblem("用户名已存在")}) from None
    _audit_account(db, cipher, who, "user.create", user, _account_facts(user))
    return user


def _account_facts(user: User) -> dict:
    """What the audit log keeps of an account: never a password, the mobile only masked."""
    return {"role": user.role, "region_code": user.region_code, "department_id": user.department_id,
            "is_active": user.is_active, "display_name": user.display_name, "mobile": user.mobile_masked or ""}


def _audit_account(db: Session, cipher: DataCipher, who: Principal, action: str, user: User, data: dict) -> None:
    audit.record(db, cipher, audit.actor_of(who), action, object_type="user", object_id=user.id,
                 subject=f"账户 {user.username}（{user.display_name}）", data=data)


def update_user(db: Session, who: Principal, user_id: int, *, display_name: str | None = None,
                role: str | None = None, region_code: str | None = None,
                department_id: int | None | type(...) = ..., is_active: bool | None = None,
                password: str | None = None, mobile: str | None = None, cipher: DataCipher) -> User:
    """Changes what is given; None leaves a field as it is. `mobile`: a new number (stored
    encrypted with `cipher`), or '' to take the number away. What changed (before → after, a new
    password only as such) goes to the audit log."""
    who.require("users.manage")
    user = get_user(db, who, user_id)
    before = _account_facts(user)
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
    phone = _check_mobile(mobile, problems)
    if problems:
        raise ValidationFailed(problems)
    if phone is not None:
        _set_mobile(user, phone, cipher)
    if display_name is not None and display_name.strip():
        user.display_name = display_name.strip()
    user.role, user.region_code, user.department_id = new_role, new_region, new_dept
    if is_active is not None:
        user.is_active = is_active
    # Moved to another department, no longer a department's person or stopped: the areas they
    # answered for go in this transaction, routing's version bumped above.
    drop_stale_assignments(db, user)
    if password or is_active is False:
        # A new password, or a stop: the log-ins made before end for good, and do not come back
        # with the account if it is taken into service again.
        db.execute(delete(AuthToken).where(AuthToken.user_id == user.id))
    if password:
        user.password_hash = hash_password(password)
        user.failed_logins, user.locked_until = 0, None
    after = _account_facts(user)
    changes = {key: [was, after[key]] for key, was in before.items() if after[key] != was}
    if password:
        changes["password"] = "重设 / reset"
    if changes:
        _audit_account(db, cipher, who, "user.update", user, changes)
    db.flush()
    db.refresh(user, ["region"])
    return user

