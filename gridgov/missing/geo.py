"""Which grids lie within a distance of a point: an STR tree of the grid polygons (kept until the
grid layer changes), then exact distances in metres in a local equidistant plane around the point
(at a few kilometres its error is far below a metre)."""

from __future__ import annotations

import math
import threading

import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.regions.geo import from_geojson
from gridgov.regions.models import Region
from gridgov.regions.service import grid_layer_version

EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEG_LAT = math.pi * EARTH_RADIUS_M / 180


class GridsNearby:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = -1
        self._codes: list[str] = []
        self._tree: shapely.STRtree | None = None
        self._geoms = None

    def _load(self, db: Session) -> None:
        version = grid_layer_version(db)
        if self._tree is not None and version == self._version:
            return
        with self._lock:
            if self._tree is not None and version == self._version:
                return
            rows = db.execute(select(Region.code, Region.geometry).where(Region.level == "grid",
                                                                        Region.geometry.is_not(None))
                              .order_by(Region.code)).all()
            geoms = [from_geojson(r.geometry) for r in rows]
            self._codes, self._geoms = [r.code for r in rows], geoms
            self._tree = shapely.STRtree(geoms)
            self._version = version

    def within(self, db: Session, lon: float, lat: float, radius_m: float) -> list[str]:
        """Codes of the grids whose polygon comes within `radius_m` metres of the point, sorted."""
        self._load(db)
        if not self._codes:
            return []
        m_per_deg_lon = _M_PER_DEG_LAT * math.cos(math.radians(lat))
        dlon, dlat = radius_m / max(m_per_deg_lon, 1e-9), radius_m / _M_PER_DEG_LAT
        box = shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)
        hits = []
        for i in self._tree.query(box):
            local = shapely.transform(self._geoms[i], lambda xy: (xy - (lon, lat)) * (m_per_deg_lon, _M_PER_DEG_LAT))
            if shapely.distance(local, shapely.Point(0, 0)) <= radius_m:
                hits.append(self._codes[i])
        return sorted(hits)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


NEARBY = GridsNearby()
