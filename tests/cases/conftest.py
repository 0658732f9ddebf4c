"""Fixtures the case tests share."""

from __future__ import annotations

import uuid

import pytest

from tests.cases.test_lifecycle import GRID, WORKER, item_at, point_in


@pytest.fixture
def new_case(client, auth, sessions):
    """Reports a case through the API as a grid worker (by default) and returns the created case."""
    def make(level: str = "district", user: str = WORKER, grid: str = GRID, **extra) -> dict:
        lon, lat = point_in(sessions, grid)
        body = {"description": f"测试事件 {uuid.uuid4().hex[:6]}：路边暴露垃圾", "lon": lon, "lat": lat,
                "item_code": item_at(sessions, level).code, **extra}
        r = client.post("/api/v1/cases", json=body, headers=auth(user))
        assert r.status_code == 201, r.text
        return r.json()

    return make
