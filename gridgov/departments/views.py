from __future__ import annotations

from fastapi import APIRouter, Response

from gridgov.accounts.schemas import UserOut
from gridgov.core.deps import DB, Who
from gridgov.departments import service
from gridgov.departments.schemas import (
    AssignmentCreate,
    AssignmentOut,
    DepartmentCreate,
    DepartmentDetail,
    DepartmentOut,
    MemberAdd,
)

router = APIRouter(prefix="/api/v1/departments", tags=["departments"])


@router.get("", response_model=list[DepartmentOut])
def departments(db: DB, who: Who):
    return [DepartmentOut.of(d, m, a) for d, m, a in service.list_departments(db, who)]


@router.post("", response_model=DepartmentOut, status_code=201)
def create_department(body: DepartmentCreate, db: DB, who: Who):
    dept = service.create_department(db, who, **body.model_dump())
    db.commit()
    return DepartmentOut.of(dept, 0, 0)


@router.get("/{dept_id}", response_model=DepartmentDetail)
def department(dept_id: int, db: DB, who: Who):
    dept = service.get_department(db, who, dept_id)
    people = service.members(db, dept)
    rules = service.assignments(db, dept)
    return DepartmentDetail(**DepartmentOut.of(dept, len(people), len(rules)).model_dump(),
                            members=[UserOut.of(u) for u in people],
                            assignments=[AssignmentOut.of(a) for a in rules])


@router.post("/{dept_id}/assignments", response_model=AssignmentOut, status_code=201)
def add_assignment(dept_id: int, body: AssignmentCreate, db: DB, who: Who):
    row = service.add_assignment(db, who, dept_id, **body.model_dump())
    db.commit()
    return AssignmentOut.of(row)


@router.delete("/{dept_id}/assignments/{assignment_id}", status_code=204)
def remove_assignment(dept_id: int, assignment_id: int, db: DB, who: Who):
    service.remove_assignment(db, who, dept_id, assignment_id)
    db.commit()
    return Response(status_code=204)


@router.post("/{dept_id}/members", response_model=UserOut, status_code=201)
def add_member(dept_id: int, body: MemberAdd, db: DB, who: Who):
    user = service.add_member(db, who, dept_id, body.user_id)
    db.commit()
    return UserOut.of(user)


@router.delete("/{dept_id}/members/{user_id}", status_code=204)
def remove_member(dept_id: int, user_id: int, db: DB, who: Who):
    service.remove_member(db, who, dept_id, user_id)
    db.commit()
    return Response(status_code=204)
