"""Roles and what they may do (DESIGN §2). Anything not granted here is denied."""

from __future__ import annotations

from dataclasses import dataclass

STAFF_READ = {"regions.read", "grids.locate", "cases.read", "catalog.read", "calendar.read"}
REPORT = {"cases.create"}
DISPATCH = {"cases.dispatch"}  # the live console
# A hotline caller's number in full, to call back: whoever dispatches or handles the case; audited.
CALLER_REVEAL = {"cases.reveal"}
# People and houses: read is always masked; reveal shows ID and phone numbers, with a reason, audited.
PEOPLE_READ = {"people.read", "missing.read"}
PEOPLE_WORK = PEOPLE_READ | {"people.manage", "people.export", "visits.log", "missing.report"}
REVEAL = {"people.reveal"}
# The three levels' dispatchers (community, street, district).
DESK = STAFF_READ | REPORT | DISPATCH | PEOPLE_WORK | REVEAL | CALLER_REVEAL


@dataclass(frozen=True)
class Role:
    name: str
    label: str  # Chinese; English through i18n
    permissions: frozenset[str]
    levels: tuple[str, ...]  # region levels a jurisdiction of this role may be
    needs_department: bool = False


def _role(name, label, perms, levels, needs_department=False) -> Role:
    return Role(name, label, frozenset(perms), tuple(levels), needs_department)


_ALL_LEVELS = ("city", "district", "street", "community", "grid")

ROLES: dict[str, Role] = {r.name: r for r in [
    _role("grid_worker", "网格员", STAFF_READ | REPORT | PEOPLE_WORK, ["grid"]),
    _role("community_admin", "社区管理员", DESK | {"users.read"}, ["community"]),
    _role("street_dispatcher", "街道调度员", DESK | {"users.read", "departments.read"}, ["street"]),
    _role("district_dispatcher", "区指挥中心调度员", DESK | {"users.read", "departments.read"}, ["district"]),
    # Departments see missing-person alerts (the police is one of them), not the register.
    _role("dept_handler", "部门负责人", STAFF_READ | CALLER_REVEAL | {"departments.read", "missing.read"},
          ["district", "street"], needs_department=True),
    _role("dept_admin", "部门管理员", STAFF_READ | {"departments.read", "departments.manage", "missing.read"},
          ["district", "street"], needs_department=True),
    _role("mediator", "调解员", STAFF_READ | PEOPLE_READ, ["district", "street", "community"]),
    _role("leader", "领导", STAFF_READ | DISPATCH | PEOPLE_READ | {"users.read", "departments.read"},
          ["city", "district", "street"]),
    # The administrator runs the system and imports data, but does not see personal data unmasked.
    _role("admin", "系统管理员", STAFF_READ | PEOPLE_WORK | {"users.read", "users.manage", "departments.read",
                                                       "departments.manage", "departments.create", "grids.manage",
                                                       "catalog.manage", "calendar.manage", "tags.manage",
                                                       "audit.read", "notify.manage"},
          _ALL_LEVELS),
    _role("citizen", "群众", {"grids.locate"}, _ALL_LEVELS),
]}
