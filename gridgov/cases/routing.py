"""派单: catalog item + level → department; department + region → the named handler.

Every decision carries the rule that made it and a sentence a dispatcher can read, so the
dispatcher sees why and can overrule. Cases with no catalog match, or within 20 m of a
street boundary, go to the triage queue instead of guessing.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import shapely
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from gridgov.accounts.models import User
from gridgov.catalog.models import HANDLING_LEVELS, CatalogItem
from gridgov.core.db import database_key
from gridgov.departments.models import DEPARTMENT_ROLES, AreaAssignment, Department
from gridgov.regions.geo import from_geojson
from gridgov.regions.models import Region
from gridgov.regions.service import GRID_LAYER, bump_meta, grid_layer_version, meta_version, path_codes

BORDER_METRES = 20.0
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0


@dataclass(frozen=True)
class Decision:
    level: str
    department_id: int | None
    handler_id: int | None
    rule: str
    reason: str
    triage_reason: str = ""
    handler_name: str | None = None  # the handler's display name, for the answer to the create


class StreetBorders:
    """Street boundaries in local metres, rebuilt when the grid layer changes."""

    def __init__(self) -> None:
        self._version = -1
        self._lines: shapely.Geometry | None = None
        self._lat0 = 0.0
        self._lock = threading.Lock()

    def _build(self, db: Session) -> None:
        rows = db.execute(select(Region.code, Region.geometry).where(Region.level == "grid",
                                                                     Region.geometry.is_not(None))).all()
        by_street: dict[str, list[shapely.Geometry]] = {}
        for code, geom in rows:
            by_street.setdefault(code[:9], []).append(from_geojson(geom))
        lats = [g.centroid.y for gs in by_street.values() for g in gs]
        self._lat0 = sum(lats) / len(lats) if lats else 0.0
        boundaries = [self._to_metres(shapely.union_all(gs).boundary) for gs in by_street.values()]
        self._lines = shapely.union_all(boundaries) if boundaries else None
        if self._lines is not None:
            shapely.prepare(self._lines)

    def _to_metres(self, geom: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(geom, lambda xy: xy * [self._kx(), M_PER_DEG_LAT])

    def _kx(self) -> float:
        return M_PER_DEG_LON_EQUATOR * math.cos(math.radians(self._lat0))

    def distance_m(self, db: Session, lon: float, lat: float) -> float | None:
        version = grid_layer_version(db)
        if version != self._version:
            with self._lock:
                if version != self._version:
                    self._build(db)
                    self._version = version
        if self._lines is None:
            return None
        point = shapely.Point(lon * self._kx(), lat * M_PER_DEG_LAT)  # as _to_metres, without its array round trip
        if not shapely.dwithin(self._lines, point, BORDER_METRES):
            return None
        return float(shapely.distance(self._lines, point))


def open_load(db: Session, handler_ids: list[int]) -> dict[int, int]:
    from gridgov.cases.models import Case

    q = (select(Case.handler_id, func.count()).where(Case.handler_id.in_(handler_ids),
                                                      Case.state.in_(["dispatched", "handling"]))
         .group_by(Case.handler_id))
    return dict(db.execute(q).all())


@dataclass(frozen=True)
class HandlerChoice:
    handler_id: int | None
    rule: str
    reason: str
    handler_name: str | None = None


_COVERING_ASSIGNMENTS = (  # built once: every routed intake runs it
    select(AreaAssignment.handler_id, User.display_name, Region.path, Region.name)
    .join(Region, Region.code == AreaAssignment.region_code).join(User, User.id == AreaAssignment.handler_id)
    .where(AreaAssignment.department_id == bindparam("dept"), User.is_active.is_(True),
           # A move to another department or role drops the handler's assignments (departments'
           # drop_stale_assignments); this keeps routing right should one be left all the same.
           User.department_id == AreaAssignment.department_id, User.role.in_(DEPARTMENT_ROLES),
           AreaAssignment.region_code.in_(bindparam("codes", expanding=True))))


# `meta` version: bumped by every change to assignments and users (handlers, department admins, dispatchers)
ROUTING_KEY = "routing"
_clock = time.monotonic


class StaffMemo:
    """Answers a process keeps that change only with the staff, their assignments or the grid
    layer (whom a case goes to, who sits at a desk): one stands while the routing and grid-layer
    versions are as they were when it was read, and for at most TTL seconds, which bounds a write
    made behind the services' back. Emptied when it reaches MAX entries."""

    TTL = 300.0
    MAX = 100_000

    def __init__(self) -> None:
        self._held: dict = {}  # key → (versions, time read, answer)

    @staticmethod
    def versions(db: Session) -> tuple:
        return meta_version(db, ROUTING_KEY), meta_version(db, GRID_LAYER)

    def get(self, key, versions: tuple):
        """The answer kept for `key` if it still stands, else None."""
        held = self._held.get(key)
        if held is not None and held[0] == versions and _clock() - held[1] < self.TTL:
            return held[2]
        return None

    def put(self, key, versions: tuple, answer) -> None:
        """Keeps an answer read under `versions` (read before the answer, so a change that
        commits in between is seen at the next look)."""
        if len(self._held) >= self.MAX:
            self._held.clear()
        self._held[key] = (versions, _clock(), answer)


_candidates = StaffMemo()  # (database URL, department id, grid path) → _Candidates


@dataclass(frozen=True)
class _Candidates:
    covering: tuple[tuple[int, str, str, str], ...]  # (handler id, name, area path, area name) covering the grid
    admin: tuple[int, str] | None  # the department admin (id, name), asked only when nobody covers it


def bump_routing(db: Session) -> None:
    """Called by every change that can change whom a case is routed to or announced to: area
    assignments, a user added or changed (a handler's standing or name, a department's members
    and admins, the dispatchers at a desk)."""
    bump_meta(db, ROUTING_KEY)


def _candidates_for(db: Session, dept: Department, grid_path: str) -> _Candidates:
    """Who may take a case of `dept` in the grid: kept per process (`StaffMemo`), since every
    routed intake asks and the answer changes only when an admin changes assignments or people."""
    versions = _candidates.versions(db)
    key = (database_key(db), dept.id, grid_path)
    if (held := _candidates.get(key, versions)) is not None:
        return held
    # Only assignments to the grid or one of its ancestors can cover it: ask for those alone,
    # with the handlers' names, instead of every assignment of the department.
    rows = db.execute(_COVERING_ASSIGNMENTS, {"dept": dept.id, "codes": path_codes(grid_path)}).all()
    covering = tuple((r.handler_id, r.display_name, r.path, r.name) for r in rows if grid_path.startswith(r.path))
    admin = None
    if not covering:
        admin = db.execute(select(User.id, User.display_name).where(
            User.department_id == dept.id, User.role == "dept_admin", User.is_active.is_(True))
            .order_by(User.username)).first()
    found = _Candidates(covering, (admin[0], admin[1]) if admin else None)
    _candidates.put(key, versions, found)
    return found


def pick_handler(db: Session, dept: Department, grid_path: str) -> HandlerChoice:
    """The handler for a department and the grid at `grid_path`, with the rule and explanation."""
    found = _candidates_for(db, dept, grid_path)
    if found.covering:
        depth = max(len(path) for _h, _n, path, _a in found.covering)
        best = sorted({(hid, area) for hid, _n, path, area in found.covering if len(path) == depth})
        names = {hid: name for hid, name, _p, _a in found.covering}
        if len(best) == 1:
            hid, area = best[0]
            return HandlerChoice(hid, "area_assignment", f"分派规则：{area} → {names[hid]}（覆盖该网格的最具体区划）",
                                 names[hid])
        load = open_load(db, [b[0] for b in best])
        hid, area = min(best, key=lambda b: (load.get(b[0], 0), b[0]))
        loads = "，".join(f"{names[h]} {load.get(h, 0)} 件" for h, _ in best)
        why = f"分派规则：{area} 有 {len(best)} 名负责人，派给在办最少的 {names[hid]}（{loads}）"
        return HandlerChoice(hid, "least_loaded", why, names[hid])
    if found.admin is not None:
        admin_id, admin_name = found.admin
        why = f"{dept.name} 没有覆盖该网格的分派规则，派给部门管理员 {admin_name}"
        return HandlerChoice(admin_id, "department_admin", why, admin_name)
    return HandlerChoice(None, "no_handler", f"{dept.name} 没有覆盖该网格的分派规则，也没有部门管理员")


def choose_handler(db: Session, dept: Department, grid: Region) -> tuple[int | None, str, str]:
    """(handler id, rule, explanation) for a department and a grid."""
    choice = pick_handler(db, dept, grid.path)
    return choice.handler_id, choice.rule, choice.reason


def route(db: Session, item: CatalogItem | None, grid_path: str, lon: float, lat: float,
          borders: StreetBorders) -> Decision:
    """The decision for a case of `item` at (lon, lat) in the grid whose region path is `grid_path`."""
    if item is None:
        return Decision("district", None, None, "triage_no_item", "没有匹配的事项，进入分拣队列由调度员判断",
                        "没有匹配的事项")
    dept = item.department  # loaded with the item
    head = f"事项「{item.name}」({item.code}) 由{dept.name}负责，处置层级：{HANDLING_LEVELS[item.handling_level]}"
    near = borders.distance_m(db, lon, lat)
    if near is not None:
        why = f"位置距街道边界 {near:.0f} 米（不足 {BORDER_METRES:.0f} 米），归属需人工确认"
        return Decision("district", dept.id, None, "triage_border", f"{head}；{why}，进入分拣队列", why)
    choice = pick_handler(db, dept, grid_path)
    if choice.handler_id is None:
        return Decision("district", dept.id, None, "triage_no_handler", f"{head}；{choice.reason}，进入分拣队列",
                        choice.reason)
    return Decision(item.handling_level, dept.id, choice.handler_id, choice.rule, f"{head}；{choice.reason}",
                    handler_name=choice.handler_name)
