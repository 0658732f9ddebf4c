from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gridgov.accounts.models import User
from gridgov.accounts.roles import ROLES
from gridgov.regions.schemas import RegionRef


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    role_label: str
    region: RegionRef
    department_id: int | None
    is_active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    mobile_masked: str = Field(description="the mobile as shown on screens (138****8000), '' for none; "
                                           "the whole number is never shown")

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(id=u.id, username=u.username, display_name=u.display_name, role=u.role,
                   role_label=ROLES[u.role].label if u.role in ROLES else u.role,
                   region=RegionRef.of(u.region), department_id=u.department_id, is_active=u.is_active,
                   locked_until=u.locked_until, last_login_at=u.last_login_at, mobile_masked=u.mobile_masked or "")


class MeOut(UserOut):
    permissions: list[str]


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=40)
    display_name: str = Field(min_length=1, max_length=60)
    password: str = Field(max_length=200)  # the length rule lives in the service, one message everywhere
    role: str
    region_code: str
    department_id: int | None = None
    mobile: str | None = Field(default=None, max_length=40,
                               description="mobile for SMS notices (11 digits, 1[3-9]…); omitted or blank: none")


class UserUpdate(BaseModel):
    display_name: str | None = Field(default=None, max_length=60)
    role: str | None = None
    region_code: str | None = None
    department_id: int | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, max_length=200)
    mobile: str | None = Field(default=None, max_length=40,
                               description='a new mobile; "" takes it away; omitted or null: unchanged')


class UserPage(BaseModel):
    total: int
    items: list[UserOut]
