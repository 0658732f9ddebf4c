"""The region tree: reading it inside a jurisdiction, and locating points in grids."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gridgov.accounts.access import Principal
from gridgov.core.errors import NotFound, OutsideJurisdiction
from gridgov.regions.geo import from_geojson
from gridgov.regions.models import MetaValue, Region
from gridgov.regions.spatial import GridIndex

GRID_LAYER = "grid_layer"


def path_codes(path: str) -> list[str]:
    return [c for c in path.split("/") if c]


def child_path(parent: Region | None, code: str) -> str:
    return f"{parent.path if parent else '/'}{code}/"


def get_region(db: Session, code: str) -> Region:
    region = db.get(Region, code)
    if region is None:
        raise NotFound("找不到区划 {code}", code=code)
    return region


def visible_region(db: Session, who: Principal, code: str) -> Region:
    region = get_region(db, code)
    if not who.sees(region.path):
        raise OutsideJurisdiction()
    return region


def lineage(db: Session, region: Region) -> list[Region]:
    """The region's ancestors and itself, root first."""
    codes = path_codes(region.path)
    found = {r.code: r for r in db.scalars(select(Region).where(Region.code.in_(codes)))}
    return [found[c] for c in codes if c in found]


def children(db: Session, who: Principal, code: str) -> list[Region]:
    parent = visible_region(db, who, code)
    q = (select(Region).where(Region.parent_code == parent.code, who.within(Region.path))
         .order_by(Region.code))
    return list(db.scalars(q))


def grids_under(db: Session, who: Principal, code: str) -> list[Region]:
    region = visible_region(db, who, code)
    # The narrower of the two subtrees: the region asked for, or the user's own.
    prefix = region.path if region.path.startswith(who.region_path) else who.region_path
    q = (select(Region).where(Region.level == "grid", Region.path.startswith(prefix, autoescape=True))
         .order_by(Region.code))
    return list(db.scalars(q))


def count_by_level(db: Session, who: Principal) -> dict[str, int]:
    q = select(Region.level, func.count()).where(who.within(Region.path)).group_by(Region.level)
    return dict(db.execute(q).all())


# --- the grid layer version: bumped by every grid import, read by every locator ---

def grid_layer_version(db: Session) -> int:
    return db.scalar(select(MetaValue.counter).where(MetaValue.key == GRID_LAYER)) or 0


def bump_grid_layer(db: Session) -> None:
    updated = db.execute(update(MetaValue).where(MetaValue.key == GRID_LAYER)
                         .values(counter=MetaValue.counter + 1))
    if updated.rowcount == 0:
        db.add(MetaValue(key=GRID_LAYER, value="grids", counter=1))
        db.flush()


@dataclass(frozen=True)
class Located:
    grid: Region
    lineage: list[Region]


class GridLocator:
    """Keeps one in-memory index of the grid layer and rebuilds it when the layer's
    version in the database changes, so several processes stay in step after an import."""

    def __init__(self) -> None:
        self._index: GridIndex | None = None
        self._version = -1
        self._lock = threading.Lock()

    def index(self, db: Session) -> GridIndex:
        version = grid_layer_version(db)
        if self._index is None or version != self._version:
            with self._lock:
                if self._index is None or version != self._version:
                    rows = db.execute(select(Region.code, Region.geometry)
                                      .where(Region.level == "grid", Region.geometry.is_not(None))).all()
                    self._index = GridIndex([r.code for r in rows], [from_geojson(r.geometry) for r in rows])
                    self._version = version
        return self._index

    def grid_code_for_point(self, db: Session, lon: float, lat: float) -> str | None:
        return self.index(db).locate(lon, lat)

    def grid_for_point(self, db: Session, lon: float, lat: float) -> Located:
        code = self.grid_code_for_point(db, lon, lat)
        if code is None:
            raise NotFound("该点 ({lon}, {lat}) 不在任何网格内", code="outside_grids",
                           lon=round(lon, 6), lat=round(lat, 6))
        grid = get_region(db, code)
        return Located(grid=grid, lineage=lineage(db, grid))


def grids_feature_collection(db: Session, who: Principal, code: str) -> dict:
    """The grids under a region as GeoJSON, each with its community, street and grid worker,
    so a map can show them without asking again per grid."""
    import json

    from gridgov.accounts.models import User

    grids = grids_under(db, who, code)
    parent_codes = {c for g in grids for c in path_codes(g.path)}
    names = dict(db.execute(select(Region.code, Region.name).where(Region.code.in_(parent_codes))).all())
    workers: dict[str, list[str]] = {}
    q = (select(User.region_code, User.display_name)
         .where(User.role == "grid_worker", User.is_active.is_(True),
                User.region_code.in_([g.code for g in grids])).order_by(User.username))
    for region_code, name in db.execute(q):
        workers.setdefault(region_code, []).append(name)
    features = []
    for g in grids:
        codes = path_codes(g.path)
        community, street = (codes[-2] if len(codes) >= 2 else None), (codes[-3] if len(codes) >= 3 else None)
        features.append({
            "type": "Feature",
            "id": g.code,
            "geometry": json.loads(g.geometry) if g.geometry else None,
            "properties": {
                "code": g.code, "name": g.name,
                "community_code": community, "community_name": names.get(community),
                "street_code": street, "street_name": names.get(street),
                "grid_workers": workers.get(g.code, []),
                "area_m2": round(g.area_m2, 1) if g.area_m2 is not None else None,
            },
        })
    return {"type": "FeatureCollection", "features": features}
