from __future__ import annotations

from pydantic import BaseModel, Field

from gridgov.accounts.schemas import UserOut
from gridgov.departments.models import DEPARTMENT_LEVELS, AreaAssignment, Department
from gridgov.regions.schemas import RegionRef


class DepartmentOut(BaseModel):
    id: int
    code: str
    name: str
    level: str
    level_label: str
    region: RegionRef
    member_count: int | None = None
    assignment_count: int | None = None

    @classmethod
    def of(cls, d: Department, members: int | None = None, assignments: int | None = None) -> DepartmentOut:
        return cls(id=d.id, code=d.code, name=d.name, level=d.level, level_label=DEPARTMENT_LEVELS[d.level],
                   region=RegionRef.of(d.region), member_count=members, assignment_count=assignments)


class AssignmentOut(BaseModel):
    id: int
    handler_id: int
    region: RegionRef

    @classmethod
    def of(cls, a: AreaAssignment) -> AssignmentOut:
        return cls(id=a.id, handler_id=a.handler_id, region=RegionRef.of(a.region))


class DepartmentDetail(DepartmentOut):
    members: list[UserOut]
    assignments: list[AssignmentOut]


class DepartmentCreate(BaseModel):
    code: str = Field(max_length=40)  # the code rule is checked after trimming, in the service
    name: str = Field(min_length=2, max_length=100)
    level: str
    region_code: str


class AssignmentCreate(BaseModel):
    handler_id: int
    region_code: str


class MemberAdd(BaseModel):
    user_id: int
