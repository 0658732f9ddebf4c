from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridgov.core.db import Base, UTCDateTime, utcnow
from gridgov.regions.models import Region


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)  # stored lower-case
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(24), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The staff member's mobile, for the SMS gateway: AES-GCM (context `user.mobile`), with a masked
    # copy for screens; like residents' and reporters' phones, never stored in the clear.
    mobile_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    mobile_masked: Mapped[str] = mapped_column(String(20), default="")

    region: Mapped[Region] = relationship(lazy="joined")


class AuthToken(Base):
    """A log-in: a bearer token for API clients or a browser session. Only a hash of the
    token is stored, so a leaked table does not let anyone in."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # bearer | session
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """Failed log-ins under a username that has no account, counted as `User.failed_logins` counts
    them for one that has, so that the lock-out answers alike for both and does not tell who exists
    (see `gridgov.accounts.service.authenticate`). A name is kept only as a keyed digest: what people
    type into the username box is sometimes their password. Bounded in rows by the service."""

    __tablename__ = "login_failures"

    name_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
