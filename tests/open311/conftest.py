"""Fixtures for the Open311 tests: an app on the shared demo database with the Open311 router
(included here when the app does not already carry it) and the demo client, plus helpers to
file requests and to act on cases as demo staff. Everything a module creates is removed when
the module ends, so the demo database is left as it was found."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update

from gridgov.accounts.models import User
from gridgov.cases.models import Case
from gridgov.catalog.models import CatalogItem
from gridgov.notify.models import OutboxMessage
from gridgov.open311.models import Open311Client
from gridgov.open311.service import DEMO_KEY, ensure_demo_client
from gridgov.regions.models import Region
from tests.conftest import settings_for

V2 = "/open311/v2"
GRID = "43020300200301"
WORKER = "wg43020300200301"
DISPATCHER = "dispatcher"
PASSWORD = "demo-2026"


@pytest.fixture(scope="module")
def o311_app(demo_url, tmp_path_factory):
    from gridgov.app import create_app

    app = create_app(settings_for(demo_url, tmp_path_factory.mktemp("open311-var")))
    sessions = app.state.sessions
    with sessions() as db:
        first_case = db.scalar(select(func.max(Case.id))) or 0
        first_client = db.scalar(select(func.max(Open311Client.id))) or 0
        ensure_demo_client(db)
        db.commit()
    yield app
    with sessions() as db:
        mine = list(db.scalars(select(Case.id).where(Case.id > first_case)))
        if mine:
            db.execute(update(Case).where(Case.id.in_(mine)).values(merged_into_id=None))
            db.execute(delete(OutboxMessage).where(OutboxMessage.payload["case_id"].as_integer().in_(mine)))
            db.execute(delete(Case).where(Case.id.in_(mine)))  # their events cascade
        db.execute(delete(Open311Client).where(Open311Client.id > first_client))
        db.commit()
    app.state.engine.dispose()


@pytest.fixture
def api(o311_app) -> Iterator[TestClient]:
    with TestClient(o311_app, headers={"Accept-Language": "zh-CN"}) as c:
        yield c


@pytest.fixture
def db_sessions(o311_app):
    return o311_app.state.sessions


def point_in(sessions, grid_code: str = GRID) -> tuple[float, float]:
    """(lat, long) well inside a grid."""
    with sessions() as db:
        geom = shapely.from_geojson(db.get(Region, grid_code).geometry)
    p = shapely.Polygon(geom.exterior).buffer(-0.0004).representative_point()
    return p.y, p.x


def items_at(sessions, level: str = "district", n: int = 2) -> list[str]:
    with sessions() as db:
        q = (select(CatalogItem.code).where(CatalogItem.handling_level == level, CatalogItem.active.is_(True))
             .order_by(CatalogItem.code).limit(n))
        return list(db.scalars(q))


@pytest.fixture
def file(api, db_sessions):
    """`file(**fields)` → the response of POST /requests.json with the demo key and a valid location."""

    def post(fmt: str = "json", headers: dict | None = None, **fields):
        lat, lon = point_in(db_sessions)
        body = {"api_key": DEMO_KEY, "service_code": items_at(db_sessions)[0], "lat": str(lat), "long": str(lon),
                "description": f"Open311 测试 {uuid.uuid4().hex[:8]}：路面有暴露垃圾"}
        body.update(fields)
        body = {k: v for k, v in body.items() if v is not None}
        return api.post(f"{V2}/requests.{fmt}", data=body, headers=headers or {})

    return post


@pytest.fixture
def staff(api, o311_app):
    """`staff(username)` → bearer headers for a demo account."""
    tokens: dict[str, str] = {}

    def headers(username: str) -> dict[str, str]:
        if username not in tokens:
            r = api.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {tokens[username]}"}

    return headers


@pytest.fixture
def token_of(o311_app):
    """`token_of(number)` → the request's token, as GET /tokens/{token} knows it (a realtime POST answers
    with the service_request_id instead, the spec allowing one or the other)."""
    from gridgov.open311.service import request_token

    def token(number: str) -> str:
        return request_token(o311_app.state.settings.resolved_secret_key, case_by_number(o311_app.state.sessions,
                                                                                         number).id)

    return token


def case_by_number(sessions, number: str) -> Case:
    with sessions() as db:
        return db.scalar(select(Case).where(Case.number == number))


def handler_username(sessions, case: Case) -> str:
    with sessions() as db:
        return db.get(User, case.handler_id).username


@pytest.fixture
def act(api, staff):
    """`act(case_id, action, username, **body)` through our own case API; returns the case JSON."""

    def run(case_id: int, action: str, username: str, **body) -> dict:
        current = api.get(f"/api/v1/cases/{case_id}", headers=staff(DISPATCHER))
        assert current.status_code == 200, current.text
        r = api.post(f"/api/v1/cases/{case_id}/actions/{action}",
                     json={"version": current.json()["version"], **body}, headers=staff(username))
        assert r.status_code == 200, r.text
        return r.json()

    return run
