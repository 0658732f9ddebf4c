"""The region tree: reading it inside a jurisdiction, and locating points in grids."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, defer

from gridgov.accounts.access import Principal
from gridgov.accounts.principal_cache import forget_principals
from gridgov.core.db import add_unique, database_key
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


# --- versions in `meta`: the grid layer's is bumped by every grid import, read by every locator ---

_META_SNAPSHOT = "gridgov.meta_snapshot"
_META_BUMPED = "gridgov.meta_bumped"
_META_ROWS = select(MetaValue.key, MetaValue.counter, MetaValue.value)  # built once: run on most requests
META_CHECK_SECONDS = 1.0  # how long a process answers versions from its last read
_shared_meta: dict = {}  # database URL → (monotonic time read, values), for the whole process
_dropped: dict = {}  # database URL → how many times this process dropped its answer (see _drop_shared)
_clock = time.monotonic


def meta_snapshot(db: Session) -> dict[str, tuple[int, str]]:
    """Every `meta` row as key → (counter, value). A case intake asks for the grid layer's
    version twice (locator, street borders) and the calendar's once: one small query answers all
    of them, kept for the transaction. The process also keeps the last answer for
    META_CHECK_SECONDS and hands it to the next transactions, which then ask nothing (the query
    was a twentieth of an intake); so a change committed by another process is seen within that
    second, one committed by this process at once (its commit drops the shared answer, and an
    answer read before that drop is not shared after it).

    A session that bumped a version (`forget_meta_snapshot`) reads for itself and publishes
    nothing: its bump may still be rolled back, and a version number must never stand for data
    that was not committed."""
    held = db.info.get(_META_SNAPSHOT)
    transaction = db.get_transaction()
    if held is not None and held[0] is transaction:
        return held[1]
    db.connection()  # begins the transaction the answer is kept for
    transaction = db.get_transaction()
    bumped = db.info.get(_META_BUMPED) is transaction
    url = database_key(db)
    now = _clock()
    shared = _shared_meta.get(url)
    if not bumped and shared is not None and now - shared[0] < META_CHECK_SECONDS:
        values = shared[1]
    else:
        dropped = _dropped.get(url, 0)
        values = {key: (counter or 0, value or "") for key, counter, value in db.execute(_META_ROWS)}
        if not bumped and _dropped.get(url, 0) == dropped:
            _shared_meta[url] = (now, values)
    db.info[_META_SNAPSHOT] = (transaction, values)
    return values


def _drop_shared(url) -> None:
    _dropped[url] = _dropped.get(url, 0) + 1
    _shared_meta.pop(url, None)


def forget_meta_snapshot(db: Session) -> None:
    """Called before a session bumps a version: from here to its commit it reads versions for
    itself, and its commit drops what the process keeps, so that the next reader asks again."""
    db.info.pop(_META_SNAPSHOT, None)
    db.connection()
    db.info[_META_BUMPED] = db.get_transaction()
    url = database_key(db)
    _drop_shared(url)
    event.listen(db, "after_commit", lambda _session: _drop_shared(url), once=True)


def grid_layer_version(db: Session) -> tuple[int, str]:
    """(counter, token): a layer built in a transaction whose import was rolled back never stands
    for a later import that reached the same counter."""
    return meta_version(db, GRID_LAYER)


def meta_version(db: Session, key: str) -> tuple[int, str]:
    """A version kept in `meta`: (counter, token); (0, "") before its first bump."""
    return meta_snapshot(db).get(key, (0, ""))


def bump_meta(db: Session, key: str) -> None:
    """Moves a version in `meta` on: its counter up by one, and a fresh token as well, so that a
    version seen in a transaction that was rolled back never comes back standing for other data."""
    forget_meta_snapshot(db)
    token = uuid.uuid4().hex
    bump = update(MetaValue).where(MetaValue.key == key).values(counter=MetaValue.counter + 1, value=token)
    if db.execute(bump).rowcount == 0 and not add_unique(db, MetaValue(key=key, value=token, counter=1)):
        db.execute(bump)  # the first bump of this key, made by someone else a moment ago: move theirs on


def bump_grid_layer(db: Session) -> None:
    bump_meta(db, GRID_LAYER)
    forget_principals(db)  # an import may have moved a region, and with it a user's jurisdiction


@dataclass(frozen=True)
class Located:
    grid: Region
    lineage: list[Region]


@dataclass(frozen=True)
class _Layer:
    version: tuple[int, str]
    index: GridIndex
    paths: dict[str, str]  # grid code → its region path, as of `version`


class GridLocator:
    """Keeps one in-memory index of the grid layer and rebuilds it when the layer's
    version in the database changes, so several processes stay in step after an import.
    It also keeps each grid's region path: an import that changes a grid (its parent too)
    bumps the version, so the path is exactly as current as the polygon it was read with."""

    def __init__(self) -> None:
        self._layer: _Layer | None = None  # replaced whole, so a reader never sees half of a rebuild
        self._lock = threading.Lock()

    def _current(self, db: Session) -> _Layer:
        version = grid_layer_version(db)
        layer = self._layer
        if layer is None or version != layer.version:
            with self._lock:
                layer = self._layer
                if layer is None or version != layer.version:
                    rows = db.execute(select(Region.code, Region.path, Region.geometry)
                                      .where(Region.level == "grid", Region.geometry.is_not(None))).all()
                    layer = self._layer = _Layer(version, GridIndex([r.code for r in rows],
                                                                    [from_geojson(r.geometry) for r in rows]),
                                                 {r.code: r.path for r in rows})
        return layer

    def index(self, db: Session) -> GridIndex:
        return self._current(db).index

    def grid_code_for_point(self, db: Session, lon: float, lat: float) -> str | None:
        return self.index(db).locate(lon, lat)

    def grid_path_for_point(self, db: Session, lon: float, lat: float) -> tuple[str, str] | None:
        """(grid code, region path) of the grid containing the point, without reading the grid."""
        layer = self._current(db)
        code = layer.index.locate(lon, lat)
        return None if code is None else (code, layer.paths[code])

    def grid_for_point(self, db: Session, lon: float, lat: float) -> Located:
        found = self.grid_path_for_point(db, lon, lat)
        if found is None:
            raise NotFound("该点 ({lon}, {lat}) 不在任何网格内", code="outside_grids",
                           lon=round(lon, 6), lat=round(lat, 6))
        code, path = found
        # The grid and its ancestors in one query; their polygons are not needed to name them.
        codes = path_codes(path)
        rows = {r.code: r for r in db.scalars(select(Region).options(defer(Region.geometry))
                                              .where(Region.code.in_(codes)))}
        grid = rows.get(code)
        if grid is None or grid.path != path:  # changed since the layer was read: ask the tree itself
            grid = get_region(db, code)
            return Located(grid=grid, lineage=lineage(db, grid))
        return Located(grid=grid, lineage=[rows[c] for c in codes if c in rows])


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
