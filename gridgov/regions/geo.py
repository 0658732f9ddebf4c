"""Geometry helpers shared by the importer, the demo and the API."""

from __future__ import annotations

import json

import shapely
from pyproj import Geod
from shapely.geometry import mapping, shape

_GEOD = Geod(ellps="WGS84")


def area_m2(geom: shapely.Geometry) -> float:
    """Geodesic area on the WGS-84 ellipsoid, in square metres."""
    if geom.is_empty:
        return 0.0
    # pyproj adds ring areas signed by their winding, and GeoJSON in the wild winds rings either
    # way: a hole wound like its shell would be added, a part wound against the others subtracted.
    area, _ = _GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))
    return abs(area)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return _GEOD.inv(lon1, lat1, lon2, lat2)[2]


def to_geojson_text(geom: shapely.Geometry) -> str:
    return json.dumps(mapping(geom), separators=(",", ":"))


def from_geojson(obj: dict | str) -> shapely.Geometry:
    return shape(json.loads(obj) if isinstance(obj, str) else obj)
