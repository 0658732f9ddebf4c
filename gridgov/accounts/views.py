from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query

from gridgov.accounts import service
from gridgov.accounts.schemas import MeOut, TokenOut, UserCreate, UserOut, UserPage, UserUpdate
from gridgov.core.config import Settings
from gridgov.core.crypto import data_cipher
from gridgov.core.deps import DB, Who, get_settings
from gridgov.core.errors import AppError

router = APIRouter(prefix="/api/v1", tags=["accounts"])
Config = Annotated[Settings, Depends(get_settings)]


@router.post("/auth/token", response_model=TokenOut)
def token(db: DB, settings: Annotated[Settings, Depends(get_settings)],
          username: Annotated[str, Form()], password: Annotated[str, Form()]):
    try:
        user = service.authenticate(db, settings, username, password)
    except AppError:
        db.commit()  # the failure count must stick even though the log-in is refused
        raise
    raw = service.issue_token(db, user, "bearer", settings.token_hours)
    db.commit()
    return TokenOut(access_token=raw, expires_in=settings.token_hours * 3600)


@router.get("/me", response_model=MeOut)
def me(db: DB, who: Who):
    user = db.get(service.User, who.user_id)
    return MeOut(**UserOut.of(user).model_dump(), permissions=sorted(who.permissions))


@router.get("/users", response_model=UserPage)
def users(db: DB, who: Who, role: str | None = None, q: str | None = None, region_code: str | None = None,
          limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0):
    rows, total = service.list_users(db, who, role=role, q=q, region_code=region_code, limit=limit, offset=offset)
    return UserPage(total=total, items=[UserOut.of(u) for u in rows])


@router.get("/users/{user_id}", response_model=UserOut)
def user(user_id: int, db: DB, who: Who):
    return UserOut.of(service.get_user(db, who, user_id))


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, db: DB, who: Who, settings: Config):
    u = service.create_user(db, who, **body.model_dump(), cipher=data_cipher(settings))
    db.commit()
    return UserOut.of(u)


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: int, body: UserUpdate, db: DB, who: Who, settings: Config):
    changes = body.model_dump(exclude_unset=True)
    u = service.update_user(db, who, user_id, **changes, cipher=data_cipher(settings))
    db.commit()
    return UserOut.of(u)
