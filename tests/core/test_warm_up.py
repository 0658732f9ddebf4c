"""The server loads what the first report needs when it starts (Settings.warm_up), in the
background, so the first grid worker does not wait for it."""

from __future__ import annotations

import shapely
from fastapi.testclient import TestClient
from sqlalchemy import event

from gridgov.app import create_app
from gridgov.regions.models import Region
from tests.conftest import settings_for

WORKER, GRID = "wg43020300100101", "43020300100101"


def test_the_first_report_after_start_reads_no_layer(demo_url, tmp_path):
    app = create_app(settings_for(demo_url, tmp_path).model_copy(update={"warm_up": True}))
    seen: list[str] = []
    event.listen(app.state.engine, "before_cursor_execute", lambda _c, _cur, stmt, *_a: seen.append(stmt))
    try:
        with TestClient(app) as client:
            app.state.warm_up.join(timeout=120)
            assert not app.state.warm_up.is_alive() and app.state.warmed_in is not None
            assert any("regions.geometry" in s for s in seen)  # the grid layer, read at start
            with app.state.sessions() as db:
                grid = shapely.from_geojson(db.get(Region, GRID).geometry)
            point = shapely.Polygon(grid.exterior).buffer(-0.0004).representative_point()
            token = client.post("/api/v1/auth/token", data={"username": WORKER, "password": "demo-2026"})
            seen.clear()
            r = client.post("/api/v1/cases", json={"description": "人行道上有暴露垃圾", "lon": point.x, "lat": point.y},
                            headers={"Authorization": f"Bearer {token.json()['access_token']}"})
            assert r.status_code == 201, r.text
            assert r.json()["grid_code"] == GRID
            assert seen and not any("regions.geometry" in s for s in seen)  # nor the street borders
    finally:
        app.state.engine.dispose()


def test_a_database_not_ready_leaves_the_warm_up_to_the_first_report(tmp_path):
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path).model_copy(update={"warm_up": True}))
    try:
        with TestClient(app) as client:
            app.state.warm_up.join(timeout=60)
            assert app.state.warmed_in is None  # it stopped, and said so in the log
            assert client.get("/healthz").status_code == 200
    finally:
        app.state.engine.dispose()
