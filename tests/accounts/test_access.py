"""Role permission × jurisdiction, proven through the API, plus the Principal rules underneath."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gridgov.accounts.access import Principal
from gridgov.accounts.models import User
from gridgov.core.errors import Forbidden
from gridgov.regions.models import Region

WORKER, GRID, NEIGHBOUR_GRID = "wg43020300100101", "43020300100101", "43020300100102"
COMMUNITY, STREET, DISTRICT = "430203001001", "430203001", "430203"
STREET_DISPATCHER, OTHER_STREET = "jd430203001", "430203002"
COMMUNITY_ADMIN = "sq430203001001"


def usernames_under(sessions, path: str) -> set[str]:
    with sessions() as db:
        q = (select(User.username).join(Region, Region.code == User.region_code)
             .where(Region.path.startswith(path)))
        return set(db.scalars(q))


def user_id(sessions, username: str) -> int:
    with sessions() as db:
        return db.scalar(select(User.id).where(User.username == username))


def all_users(client, headers, **params) -> dict:
    r = client.get("/api/v1/users", params={"limit": 500, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


# --- grid worker ---

def test_grid_worker_cannot_read_a_neighbouring_grid(client, auth):
    r = client.get(f"/api/v1/regions/{NEIGHBOUR_GRID}", headers=auth(WORKER))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "outside_jurisdiction"
    assert r.json()["error"]["message"] == "超出您的管辖范围"


@pytest.mark.parametrize("code", [OTHER_STREET, "430203002001", "43020300200101"])
def test_grid_worker_cannot_read_another_street(client, auth, code):
    r = client.get(f"/api/v1/regions/{code}", headers=auth(WORKER))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "outside_jurisdiction"


def test_grid_worker_reads_own_grid_and_the_names_above_it(client, auth):
    r = client.get(f"/api/v1/regions/{GRID}", headers=auth(WORKER))
    assert r.status_code == 200
    body = r.json()
    assert body["level"] == "grid"
    assert [x["code"] for x in body["lineage"]] == ["430200", DISTRICT, STREET, COMMUNITY, GRID]
    for code, level in [(COMMUNITY, "community"), (STREET, "street"), (DISTRICT, "district")]:
        r = client.get(f"/api/v1/regions/{code}", headers=auth(WORKER))
        assert r.status_code == 200, code
        assert r.json()["level"] == level
    assert client.get(f"/api/v1/regions/{STREET}", headers=auth(WORKER)).json()["name"] == "贺家土街道"


def test_grid_worker_map_and_children_show_only_own_grid(client, auth):
    for code in (COMMUNITY, STREET):
        r = client.get(f"/api/v1/regions/{code}/grids.geojson", headers=auth(WORKER))
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/geo+json")
        features = r.json()["features"]
        assert [f["id"] for f in features] == [GRID], code
        assert features[0]["properties"]["community_code"] == COMMUNITY
        assert features[0]["properties"]["street_name"] == "贺家土街道"

    r = client.get(f"/api/v1/regions/{COMMUNITY}/children", headers=auth(WORKER))
    assert r.status_code == 200
    assert [c["code"] for c in r.json()] == [GRID]
    # The street's children are sibling communities: none of them is inside the worker's grid.
    r = client.get(f"/api/v1/regions/{STREET}/children", headers=auth(WORKER))
    assert r.status_code == 200
    assert r.json() == []


def test_the_community_admin_sees_every_grid_of_the_community(client, auth):
    """The contrast to the worker above: the same request, a wider jurisdiction."""
    r = client.get(f"/api/v1/regions/{COMMUNITY}/grids.geojson", headers=auth(COMMUNITY_ADMIN))
    ids = [f["id"] for f in r.json()["features"]]
    assert ids == [f"{COMMUNITY}0{n}" for n in range(1, 5)]
    r = client.get(f"/api/v1/regions/{NEIGHBOUR_GRID}", headers=auth(COMMUNITY_ADMIN))
    assert r.status_code == 200


def test_grid_worker_has_no_user_or_department_permission(client, auth):
    for path in ("/api/v1/users", "/api/v1/users/1", "/api/v1/departments"):
        r = client.get(path, headers=auth(WORKER))
        assert r.status_code == 403, path
        assert r.json()["error"]["code"] == "forbidden"
        assert r.json()["error"]["message"] == "没有权限执行此操作"


# --- street dispatcher ---

def test_street_dispatcher_cannot_see_another_street(client, auth):
    for path in (f"/api/v1/regions/{OTHER_STREET}", f"/api/v1/regions/{OTHER_STREET}/children",
                 f"/api/v1/regions/{OTHER_STREET}/grids.geojson"):
        r = client.get(path, headers=auth(STREET_DISPATCHER))
        assert r.status_code == 403, path
        assert r.json()["error"]["code"] == "outside_jurisdiction"
    r = client.get(f"/api/v1/regions/{STREET}/children", headers=auth(STREET_DISPATCHER))
    assert [c["code"] for c in r.json()] == [f"{STREET}{n:03d}" for n in range(1, 10)]


def test_street_dispatcher_lists_only_users_inside_the_street(client, auth, sessions):
    expected = usernames_under(sessions, f"/430200/{DISTRICT}/{STREET}/")
    body = all_users(client, auth(STREET_DISPATCHER))
    names = {u["username"] for u in body["items"]}
    assert names == expected
    assert body["total"] == len(expected)
    assert {STREET_DISPATCHER, COMMUNITY_ADMIN, WORKER} <= names
    assert not names & {"admin", "leader", "dispatcher", "bmcgj01", "jd430203002", "wg43020300200101"}


def test_street_dispatcher_filter_cannot_reach_outside(client, auth):
    body = all_users(client, auth(STREET_DISPATCHER), region_code=OTHER_STREET)
    assert body == {"total": 0, "items": []}
    body = all_users(client, auth(STREET_DISPATCHER), q="wg430203002")
    assert body["total"] == 0


def test_street_dispatcher_gets_404_for_a_user_of_another_street(client, auth, sessions):
    outsider = user_id(sessions, "wg43020300200101")
    r = client.get(f"/api/v1/users/{outsider}", headers=auth(STREET_DISPATCHER))
    assert r.status_code == 404
    assert r.json()["error"] == {"code": "not_found", "message": f"找不到用户 {outsider}", "fields": {}}
    # ... exactly as for an id nobody has: no probing for who exists.
    r = client.get("/api/v1/users/999999999", headers=auth(STREET_DISPATCHER))
    assert r.status_code == 404
    insider = user_id(sessions, WORKER)
    r = client.get(f"/api/v1/users/{insider}", headers=auth(STREET_DISPATCHER))
    assert r.status_code == 200
    assert r.json()["username"] == WORKER


# --- community admin, department handler ---

def test_community_admin_sees_only_the_community(client, auth, sessions):
    expected = usernames_under(sessions, f"/430200/{DISTRICT}/{STREET}/{COMMUNITY}/")
    names = {u["username"] for u in all_users(client, auth(COMMUNITY_ADMIN))["items"]}
    assert names == expected
    assert {COMMUNITY_ADMIN, WORKER, f"wg{NEIGHBOUR_GRID}"} <= names
    assert STREET_DISPATCHER not in names
    assert "sq430203001002" not in names
    r = client.get(f"/api/v1/users/{user_id(sessions, STREET_DISPATCHER)}", headers=auth(COMMUNITY_ADMIN))
    assert r.status_code == 404


def test_department_handler_lists_departments_but_not_users(client, auth):
    r = client.get("/api/v1/departments", headers=auth("bmcgj01"))
    assert r.status_code == 200
    assert "CGJ" in {d["code"] for d in r.json()}
    r = client.get("/api/v1/users", headers=auth("bmcgj01"))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"


def test_district_dispatcher_reads_users_but_may_not_manage_them(client, auth, sessions):
    body = all_users(client, auth("dispatcher"), q="bmcgj")
    assert {u["username"] for u in body["items"]} == {f"bmcgj{n:02d}" for n in range(10)}
    r = client.patch(f"/api/v1/users/{user_id(sessions, WORKER)}", json={"display_name": "改名"},
                     headers=auth("dispatcher"))
    assert r.status_code == 403


# --- Principal, unit level ---

def principal(path: str, role: str = "street_dispatcher", department_id: int | None = None) -> Principal:
    code = [c for c in path.split("/") if c][-1]
    return Principal(user_id=1, username="u", display_name="u", role=role, region_code=code,
                     region_path=path, department_id=department_id)


STREET_PATH = f"/430200/{DISTRICT}/{STREET}/"


def test_covers_is_the_subtree_only():
    who = principal(STREET_PATH)
    assert who.covers(STREET_PATH)
    assert who.covers(f"{STREET_PATH}{COMMUNITY}/{GRID}/")
    assert not who.covers(f"/430200/{DISTRICT}/")
    assert not who.covers(f"/430200/{DISTRICT}/{OTHER_STREET}/")


def test_covers_does_not_match_a_code_that_merely_starts_the_same():
    who = principal("/43/4302/")
    assert not who.covers("/43/43021/")
    assert not who.sees("/43/43021/")


def test_sees_adds_the_ancestors_but_not_their_other_branches():
    who = principal(f"{STREET_PATH}{COMMUNITY}/{GRID}/", role="grid_worker")
    assert who.sees(STREET_PATH)
    assert who.sees("/430200/")
    assert not who.covers(STREET_PATH)
    assert not who.sees(f"{STREET_PATH}{COMMUNITY}/{NEIGHBOUR_GRID}/")
    assert not who.sees(f"{STREET_PATH}430203001002/")


def test_permissions_follow_the_role_and_unknown_roles_get_nothing():
    assert principal(STREET_PATH).can("users.read")
    assert not principal(STREET_PATH).can("users.manage")
    nobody = principal(STREET_PATH, role="janitor")
    assert nobody.permissions == frozenset()
    with pytest.raises(Forbidden):
        nobody.require("regions.read")


def test_within_and_within_or_above_in_sql(sessions):
    who = principal(f"{STREET_PATH}{COMMUNITY}/")
    with sessions() as db:
        inside = set(db.scalars(select(Region.code).where(who.within(Region.path))))
        around = set(db.scalars(select(Region.code).where(who.within_or_above(Region.path))))
        every = {code: path for code, path in db.execute(select(Region.code, Region.path))}
    assert inside == {code for code, path in every.items() if path.startswith(who.region_path)}
    assert inside == {COMMUNITY} | {f"{COMMUNITY}0{n}" for n in range(1, 5)}
    assert around == inside | {"430200", DISTRICT, STREET}


def test_a_user_search_reads_underscore_as_itself(client, auth):
    every = all_users(client, auth("dispatcher"))["items"]
    assert any("_" not in u["username"] for u in every)  # so an unescaped '_' would match them
    assert all("_" in u["username"] or "_" in u["display_name"]
               for u in all_users(client, auth("dispatcher"), q="_")["items"])
