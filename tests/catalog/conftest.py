"""Catalog fixtures: a database of our own per backend (demo district + demo catalog, built with
the real builders) and an app on it. Tests that add records remove them again: the 150-item
count is checked at the end of the session's other catalog tests too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gridgov.accounts.access import Principal
from gridgov.core.db import make_engine, make_sessionmaker
from tests.conftest import migrated, settings_for

PAGE = {"Accept": "text/html", "Accept-Language": "zh-CN"}
ADMIN = Principal(user_id=0, username="tests", display_name="测试", role="admin", region_code="430200",
                  region_path="/430200/", department_id=None)
WORKER = Principal(user_id=0, username="tests-wg", display_name="测试", role="grid_worker",
                   region_code="43020300100101", region_path="/430200/430203/430203001/430203001001/43020300100101/",
                   department_id=None)


@pytest.fixture(scope="session")
def catalog_url(backend, databases) -> str:
    from gridgov.catalog.demo import build_demo_catalog
    from gridgov.demo.service import build_demo

    url = databases.new(backend)
    migrated(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        build_demo(db)
        build_demo_catalog(db)
        db.commit()
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def catalog_sessions(catalog_url):
    engine = make_engine(catalog_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def db(catalog_sessions):
    with catalog_sessions() as session:
        yield session
        session.rollback()


@pytest.fixture(scope="session")
def catalog_app(catalog_url, tmp_path_factory):
    from gridgov.app import create_app

    app = create_app(settings_for(catalog_url, tmp_path_factory.mktemp("catalog-var")))
    yield app
    app.state.engine.dispose()


@pytest.fixture
def cat_client(catalog_app) -> Iterator[TestClient]:
    with TestClient(catalog_app, headers={"Accept-Language": "zh-CN"}) as c:
        yield c


_tokens: dict[tuple[int, str], str] = {}


@pytest.fixture
def bearer(cat_client, catalog_app):
    """`bearer("admin")` → headers with a bearer token for that demo account."""

    def headers(username: str) -> dict[str, str]:
        key = (id(catalog_app), username)
        if key not in _tokens:
            r = cat_client.post("/api/v1/auth/token", data={"username": username, "password": "demo-2026"})
            assert r.status_code == 200, r.text
            _tokens[key] = r.json()["access_token"]
        return {"Authorization": f"Bearer {_tokens[key]}"}

    return headers


def page_login(client: TestClient, username: str) -> None:
    page = client.get("/login", headers=PAGE)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"username": username, "password": "demo-2026", "csrf_token": token, "next": "/"},
                    headers=PAGE, follow_redirects=False)
    assert r.status_code == 303, r.text


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
