"""One authorization layer: a role's permissions × the jurisdiction subtree.

Every list and detail query passes through `Principal.scope(...)` (or one of the helpers
here), so what a user may see is decided in SQL, never after the fact in a template.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_

from gridgov.accounts.roles import ROLES
from gridgov.core.errors import Forbidden, OutsideJurisdiction


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    display_name: str
    role: str
    region_code: str
    region_path: str
    department_id: int | None

    @property
    def permissions(self) -> frozenset[str]:
        role = ROLES.get(self.role)
        return role.permissions if role else frozenset()

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise Forbidden()

    def covers(self, region_path: str) -> bool:
        """True when the region lies inside this user's jurisdiction subtree."""
        return region_path.startswith(self.region_path)

    def sees(self, region_path: str) -> bool:
        """Inside the subtree, or one of its ancestors (a grid worker may read the name of
        their own community and street, but not a neighbouring grid)."""
        return self.covers(region_path) or self.region_path.startswith(region_path)

    def require_covers(self, region_path: str) -> None:
        if not self.covers(region_path):
            raise OutsideJurisdiction()

    def within(self, path_column) -> ColumnElement[bool]:
        return path_column.startswith(self.region_path, autoescape=True)

    def within_or_above(self, path_column) -> ColumnElement[bool]:
        ancestors = _ancestor_paths(self.region_path)
        return or_(self.within(path_column), path_column.in_(ancestors))


def _ancestor_paths(path: str) -> list[str]:
    codes = [c for c in path.split("/") if c]
    return ["/" + "/".join(codes[:i]) + "/" for i in range(1, len(codes) + 1)]
