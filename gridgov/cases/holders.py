"""Who holds a case — the people a change is announced to — for one case or a whole batch,
in at most two queries either way.

Each function reads only the attributes of `Held`, so besides `Case` objects it takes result rows
carrying those columns (the sweep passes the rows its UPDATE returns instead of loading objects).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from gridgov.accounts.models import User
from gridgov.cases.lifecycle import LEVEL_ROLE, region_at_level
from gridgov.cases.routing import StaffMemo
from gridgov.core.db import database_key
from gridgov.regions.models import Region


class Held(Protocol):
    """What deciding a case's holders reads: a `Case`, or a row with these columns."""

    @property
    def id(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def region_path(self) -> str: ...
    @property
    def grid_code(self) -> str: ...
    @property
    def handler_id(self) -> int | None: ...


def _desk(case: Held) -> tuple[str, str]:
    """The dispatcher role and region path at the case's current level."""
    return LEVEL_ROLE[case.level], region_at_level(case.region_path, case.level)


# Built once: a triage intake and every sweep batch run them, and building one cost more than running it.
_DISPATCHERS = (select(User.id, User.role, Region.path).join(Region, Region.code == User.region_code)
                .where(User.is_active.is_(True), User.role.in_(bindparam("roles", expanding=True)),
                       Region.path.in_(bindparam("paths", expanding=True))).order_by(User.id))
_GRID_WORKERS = (select(User.id, User.region_code)
                 .where(User.role == "grid_worker", User.is_active.is_(True),
                        User.region_code.in_(bindparam("grids", expanding=True))).order_by(User.id))


_desks = StaffMemo()  # (database URL, role, region path) → user ids


def dispatchers(db: Session, cases: Sequence[Held]) -> dict[int, list[int]]:
    """The dispatchers at each case's desk. Who sits at a desk is kept per process (`StaffMemo`):
    every triage intake and sweep batch asks, and the answer changes only with the staff."""
    wanted = {_desk(c) for c in cases}
    versions = _desks.versions(db) if wanted else ()
    url = database_key(db)
    found: dict[tuple[str, str], tuple[int, ...]] = {}
    for desk in wanted:
        if (held := _desks.get((url, *desk), versions)) is not None:
            found[desk] = held
    if missing := wanted - found.keys():
        read: dict[tuple[str, str], list[int]] = {desk: [] for desk in missing}
        params = {"roles": sorted({r for r, _ in missing}), "paths": sorted({p for _, p in missing})}
        for uid, role, path in db.execute(_DISPATCHERS, params):
            if (role, path) in read:
                read[(role, path)].append(uid)
        for desk, ids in read.items():
            found[desk] = tuple(ids)
            _desks.put((url, *desk), versions, found[desk])
    return {c.id: list(found[_desk(c)]) for c in cases}


def grid_workers(db: Session, cases: Sequence[Held]) -> dict[int, list[int]]:
    grids = {c.grid_code for c in cases}
    found: dict[str, list[int]] = {}
    if grids:
        for uid, grid in db.execute(_GRID_WORKERS, {"grids": sorted(grids)}):
            found.setdefault(grid, []).append(uid)
    return {c.id: found.get(c.grid_code, []) for c in cases}


def holders(db: Session, cases: Sequence[Held]) -> dict[int, list[int]]:
    """The handler while a department has the case, the grid worker while it waits for
    verification, otherwise the dispatchers of its level."""
    with_handler = [c for c in cases if c.state in ("dispatched", "handling") and c.handler_id]
    to_verify = [c for c in cases if c.state == "handled"]
    taken = {c.id for c in with_handler + to_verify}
    out = {c.id: [c.handler_id] for c in with_handler}
    out.update(grid_workers(db, to_verify))
    out.update(dispatchers(db, [c for c in cases if c.id not in taken]))
    return out
