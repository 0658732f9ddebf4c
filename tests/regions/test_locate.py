"""GET /api/v1/grids/locate through the real app: inside, on a shared edge, outside, each CRS."""

from __future__ import annotations

import json

import pytest
import shapely
from sqlalchemy import select

from gridgov.regions.coords import from_wgs84
from gridgov.regions.models import Region

WORKER = "wg43020300100101"


def demo_grids(sessions) -> dict[str, shapely.Geometry]:
    with sessions() as db:
        rows = db.execute(select(Region.code, Region.geometry).where(Region.level == "grid")).all()
    return {code: shapely.from_geojson(geom) for code, geom in rows}


def test_point_inside_a_grid_returns_grid_and_its_lineage(client, auth, sessions):
    grids = demo_grids(sessions)
    code = "43020300200301"
    p = grids[code].representative_point()
    r = client.get("/api/v1/grids/locate", params={"lon": p.x, "lat": p.y}, headers=auth("dispatcher"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["grid"]["code"] == code
    assert body["community"]["code"] == code[:12]
    assert body["street"] == {"code": "430203002", "name": "建设街道", "level": "street"}
    assert body["district"]["name"] == "芦淞区"
    assert body["city"]["code"] == "430200"


def test_point_on_a_shared_edge_goes_to_exactly_one_grid_the_smaller_code(client, auth, sessions):
    grids = demo_grids(sessions)
    a, b = "43020300100101", None
    for code, geom in grids.items():
        if code != a and grids[a].touches(geom) and grids[a].intersection(geom).length > 0:
            b = code
            break
    assert b is not None
    edge = grids[a].intersection(grids[b])
    mid = edge.interpolate(0.5, normalized=True)
    r = client.get("/api/v1/grids/locate", params={"lon": mid.x, "lat": mid.y}, headers=auth("dispatcher"))
    assert r.status_code == 200
    assert r.json()["grid"]["code"] == min(a, b)


def test_point_outside_every_grid_is_a_clear_404(client, auth):
    r = client.get("/api/v1/grids/locate", params={"lon": 113.5, "lat": 27.5}, headers=auth("dispatcher"))
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "outside_grids"
    assert "不在任何网格内" in err["message"]


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_phone_coordinates_are_converted_before_locating(client, auth, sessions, crs):
    grids = demo_grids(sessions)
    code = "43020310000501"
    p = grids[code].representative_point()
    lon, lat = from_wgs84(p.x, p.y, crs)
    # The offset is hundreds of metres: locating the raw value as WGS-84 would miss.
    assert abs(lon - p.x) + abs(lat - p.y) > 0.002
    r = client.get("/api/v1/grids/locate", params={"lon": lon, "lat": lat, "crs": crs}, headers=auth("dispatcher"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["grid"]["code"] == code
    assert body["crs"] == crs
    assert body["wgs84"]["lon"] == pytest.approx(p.x, abs=1e-6)
    assert body["wgs84"]["lat"] == pytest.approx(p.y, abs=1e-6)


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"lon": "abc", "lat": "27.8"}, "lon", "必须是数字"),
    ({"lon": "113.15"}, "lat", "必填"),
    ({"lon": "113.15", "lat": "91"}, "lat", "不能大于 90"),
    ({"lon": "113.15", "lat": "27.8", "crs": "utm"}, "crs", "必须是以下之一"),
    ({"lon": "nan", "lat": "27.8"}, "lon", ""),
])
def test_malformed_coordinates_are_a_422_naming_the_field(client, auth, params, field, message):
    r = client.get("/api/v1/grids/locate", params=params, headers=auth("dispatcher"))
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert field in err["fields"]
    assert message in err["fields"][field]


def test_validation_messages_in_english_on_request(client, auth):
    r = client.get("/api/v1/grids/locate", params={"lon": "x", "lat": 1},
                   headers={**auth("dispatcher"), "Accept-Language": "en"})
    assert r.json()["error"] == {"code": "validation_error", "message": "Invalid request",
                                 "fields": {"lon": "must be a number"}}


def test_locate_needs_a_login(client):
    r = client.get("/api/v1/grids/locate", params={"lon": 113.15, "lat": 27.8})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_authenticated"


def test_index_follows_a_grid_import(client, auth, app, sessions):
    """A grid added by import is found at once, through the layer version in the database."""
    from gridgov.regions.importer import import_layer

    probe = (113.4, 27.6)  # outside the demo district
    r = client.get("/api/v1/grids/locate", params={"lon": probe[0], "lat": probe[1]}, headers=auth("dispatcher"))
    assert r.status_code == 404
    square = shapely.box(113.39, 27.59, 113.41, 27.61)
    feature = {"type": "Feature", "geometry": json.loads(shapely.to_geojson(square)),
               "properties": {"code": "43020310001699", "name": "测试网格", "level": "grid",
                              "parent_code": "430203100016"}}
    with sessions() as db:
        report = import_layer(db, {"type": "FeatureCollection", "features": [feature]})
        assert report.ok, [p.message for p in report.problems]
        db.commit()
    try:
        r = client.get("/api/v1/grids/locate", params={"lon": probe[0], "lat": probe[1]},
                       headers=auth("dispatcher"))
        assert r.status_code == 200
        assert r.json()["grid"]["code"] == "43020310001699"
    finally:
        from gridgov.regions.service import bump_grid_layer

        with sessions() as db:
            db.delete(db.get(Region, "43020310001699"))
            bump_grid_layer(db)
            db.commit()
