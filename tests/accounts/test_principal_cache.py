"""The process remembers who a token belongs to for `auth_cache_seconds`: changes made through the
services are honoured at once, changes it cannot see (another process, a direct write) within that
time, and never past the token's own expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, update

from gridgov.accounts import principal_cache
from gridgov.accounts.access import Principal
from gridgov.accounts.models import AuthToken
from gridgov.core.db import utcnow
from gridgov.core.security import token_digest
from tests.accounts.test_auth import new_user
from tests.accounts.test_users import bearer
from tests.conftest import hand_clock


@pytest.fixture
def clock(monkeypatch):
    return hand_clock(monkeypatch, principal_cache, "_entries")


def raw_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def test_a_token_deleted_behind_the_process_s_back_works_until_the_memory_runs_out(
        client, sessions, request, clock):
    username, _ = new_user(request)
    headers = bearer(client, username)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with sessions() as db:  # as another process would: not through the services
        db.execute(delete(AuthToken).where(AuthToken.token_hash == token_digest(raw_of(headers))))
        db.commit()
    clock[0] += 1.9
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # within auth_cache_seconds (2)
    clock[0] += 0.2
    r = client.get("/api/v1/me", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_authenticated"


def test_without_the_memory_every_request_asks(client, app, sessions, request, monkeypatch):
    monkeypatch.setattr(app.state.settings, "auth_cache_seconds", 0.0)
    username, _ = new_user(request)
    headers = bearer(client, username)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with sessions() as db:
        db.execute(delete(AuthToken).where(AuthToken.token_hash == token_digest(raw_of(headers))))
        db.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_the_memory_never_outlives_the_token(client, sessions, request, clock):
    username, _ = new_user(request)
    headers = bearer(client, username)
    with sessions() as db:
        db.execute(update(AuthToken).where(AuthToken.token_hash == token_digest(raw_of(headers)))
                   .values(expires_at=utcnow() + timedelta(seconds=30)))
        db.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with sessions() as db:  # the token runs out now; the answer was remembered for at most its life
        db.execute(update(AuthToken).where(AuthToken.token_hash == token_digest(raw_of(headers)))
                   .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.commit()
    clock[0] += 1.0
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # still within 2 s and 30 s
    clock[0] += 1.5
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_a_role_change_through_the_service_is_seen_by_the_next_request(client, auth, request):
    username, uid = new_user(request)
    headers = bearer(client, username)
    assert client.get("/api/v1/me", headers=headers).json()["role"] == "grid_worker"
    r = client.patch(f"/api/v1/users/{uid}", json={"role": "district_dispatcher", "region_code": "430203"},
                     headers=auth("admin"))
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/me", headers=headers).json()["role"] == "district_dispatcher"


def test_an_answer_read_before_a_forget_is_not_remembered_after_it(app):
    who = Principal(user_id=1, username="x", display_name="x", role="admin", region_code="430203",
                    region_path="/430203/", department_id=None)
    url = app.state.engine.url
    generation = principal_cache.current_generation()
    with app.state.sessions() as db:
        principal_cache.forget_principals(db)  # a revocation lands while the answer was on its way
    principal_cache.remember_principal(url, "d1", "bearer", who, 2.0, 3600, generation)
    assert principal_cache.cached_principal(url, "d1", "bearer") is None
    principal_cache.remember_principal(url, "d1", "bearer", who, 2.0, 3600, principal_cache.current_generation())
    assert principal_cache.cached_principal(url, "d1", "bearer") == who
    assert principal_cache.cached_principal(url, "d1", "session") is None  # kinds apart
