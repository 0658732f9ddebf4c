"""Routing (派单) through the real app: whom a case goes to follows the department's members."""

from __future__ import annotations

from sqlalchemy import select

from gridgov.accounts.models import User
from gridgov.departments.models import Department
from tests.cases.test_lifecycle import item_at, new_case  # noqa: F401  (new_case: a fixture)


def test_a_handler_moved_to_another_department_gets_none_of_the_old_ones_cases(client, auth, sessions, new_case):  # noqa: F811
    """An admin moves a handler to another department (PATCH /users): their area assignment in the
    old department is left behind, but the old department's cases must not go to someone who is no
    longer its member (they could not even see them)."""
    item = item_at(sessions, "district")  # the item new_case() reports under
    moved = new_case()["handler"]["id"]
    with sessions() as db:
        other = db.scalar(select(Department.id).where(Department.id != item.department_id).order_by(Department.id))
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
