"""Routing (派单) through the real app: whom a case goes to follows the department's members."""

from __future__ import annotations

from sqlalchemy import select

from gridgov.accounts.models import User
from gridgov.departments.models import AreaAssignment, Department
from tests.cases.test_lifecycle import item_at


def test_a_handler_moved_to_another_department_gets_none_of_the_old_ones_cases(client, auth, sessions, new_case):
    """An admin moves a handler to another department (PATCH /users): the old department's cases
    must not go to someone who is no longer its member (they could not even see them). The move
    drops their areas there; this test gives them back afterwards, for the tests that follow."""
    item = item_at(sessions, "district")  # the item new_case() reports under
    moved = new_case()["handler"]["id"]
    with sessions() as db:
        other = db.scalar(select(Department.id).where(Department.id != item.department_id).order_by(Department.id))
        areas = db.scalars(select(AreaAssignment.region_code).where(
            AreaAssignment.handler_id == moved, AreaAssignment.department_id == item.department_id)).all()
    assert areas
    r = client.patch(f"/api/v1/users/{moved}", json={"department_id": other}, headers=auth("admin"))
    assert r.status_code == 200, r.text
    try:
        case = new_case()
        assert case["handler"] is None or case["handler"]["id"] != moved
        if case["handler"] is not None:
            with sessions() as db:
                assert db.get(User, case["handler"]["id"]).department_id == item.department_id
    finally:
        r = client.patch(f"/api/v1/users/{moved}", json={"department_id": item.department_id}, headers=auth("admin"))
        assert r.status_code == 200, r.text
        for code in areas:
            r = client.post(f"/api/v1/departments/{item.department_id}/assignments", headers=auth("admin"),
                            json={"handler_id": moved, "region_code": code})
            assert r.status_code == 201, r.text
