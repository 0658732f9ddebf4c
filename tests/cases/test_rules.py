"""Every action, for every role, in every reachable state: what GET /actions offers is what
POST accepts, and everything else is refused with a reason. Plus concurrency and routing."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from gridgov.accounts.models import User
from gridgov.cases.lifecycle import ACTIONS
from gridgov.cases.models import Case
from gridgov.cases.routing import bump_routing
from gridgov.departments.models import AreaAssignment, Department
from tests.cases.test_lifecycle import GRID, WORKER, act, item_at, ok, point_in

PATHS = {  # state → the actions (and who takes them) that lead there from "reported"
    "reported": [],
    "registered": [("register", "dispatcher", {})],
    "dispatched": [("register", "dispatcher", {}), ("dispatch", "dispatcher", {})],
    "handling": [("register", "dispatcher", {}), ("dispatch", "dispatcher", {}), ("sign", "HANDLER", {})],
    "handled": [("register", "dispatcher", {}), ("dispatch", "dispatcher", {}), ("sign", "HANDLER", {}),
                ("report_back", "HANDLER", {"comment": "已处置"})],
    "verified": [("register", "dispatcher", {}), ("dispatch", "dispatcher", {}), ("sign", "HANDLER", {}),
                 ("report_back", "HANDLER", {"comment": "已处置"}), ("verify", WORKER, {})],
    "closed": [("register", "dispatcher", {}), ("dispatch", "dispatcher", {}), ("sign", "HANDLER", {}),
               ("report_back", "HANDLER", {"comment": "已处置"}), ("verify", WORKER, {}), ("close", "dispatcher", {})],
    "deferred": [("register", "dispatcher", {}), ("defer", "dispatcher", {"comment": "等待"})],
}
PEOPLE = [WORKER, "wg43020300100101", "sq" + GRID[:12], "jd" + GRID[:9], "jd430203001", "dispatcher", "HANDLER",
          "bmjyj01", "leader", "admin"]


def case_in_state(client, auth, sessions, state: str) -> tuple[dict, str]:
    lon, lat = point_in(sessions, GRID)
    case = ok_created(client.post("/api/v1/cases", json={"description": f"规则测试 {state}", "lon": lon, "lat": lat,
                                                         "item_code": item_at(sessions, "district").code},
                                  headers=auth(WORKER)))
    with sessions() as db:
        handler = db.get(User, case["handler"]["id"]).username
    for action, who, body in PATHS[state]:
        case = ok(act(client, auth(handler if who == "HANDLER" else who), case, action, **body))
    assert case["state"] == state
    return case, handler


def ok_created(r) -> dict:
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize("state", list(PATHS))
def test_offered_actions_match_what_is_accepted_and_the_rest_is_refused(client, auth, sessions, state):
    case, handler = case_in_state(client, auth, sessions, state)
    for person in PEOPLE:
        username = handler if person == "HANDLER" else person
        headers = auth(username)
        r = client.get(f"/api/v1/cases/{case['id']}/actions", headers=headers)
        offered = {a["name"] for a in r.json()} if r.status_code == 200 else set()
        assert r.status_code in (200, 404), r.text  # 404: outside the person's view altogether
        for name in ACTIONS:
            if name in offered:
                continue
            refused = client.post(f"/api/v1/cases/{case['id']}/actions/{name}",
                                  json={"version": case["version"], "comment": "试一下", "amount": 1,
                                        "satisfaction": "satisfied", "target_case_id": case["id"]},
                                  headers=headers)
            assert refused.status_code in (403, 404, 409), (state, username, name, refused.text)
            assert refused.json()["error"]["message"]
        current = client.get(f"/api/v1/cases/{case['id']}", headers=auth("dispatcher")).json()
        assert current["version"] == case["version"], f"{username} changed the case with a refused action"
        # Each offered action is one the rules table allows this person in this state.
        for name in offered:
            assert case["state"] in ACTIONS[name].sources


def test_two_dispatchers_at_once_one_wins_the_other_gets_a_conflict(client, auth, sessions):
    case, _ = case_in_state(client, auth, sessions, "reported")
    barrier = threading.Barrier(2)
    results = {}

    def go(action, body):
        barrier.wait()
        results[action] = act(client, auth("dispatcher"), case, action, **body)

    threads = [threading.Thread(target=go, args=("register", {})),
               threading.Thread(target=go, args=("void", {"comment": "无效"}))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409], {k: v.text for k, v in results.items()}
    loser = next(r for r in results.values() if r.status_code == 409)
    assert loser.json()["error"]["code"] in ("version_conflict", "action_not_allowed")
    with sessions() as db:
        assert db.get(Case, case["id"]).version == case["version"] + 1


def test_routing_explains_ties_and_falls_back_to_the_department_admin(client, auth, sessions):
    item = item_at(sessions, "district")
    lon, lat = point_in(sessions, GRID)
    with sessions() as db:
        dept = db.get(Department, item.department_id)
        handlers = list(db.scalars(select(User).where(User.department_id == dept.id, User.role == "dept_handler")
                                   .order_by(User.username)))
        saved = [(a.handler_id, a.region_code) for a in db.scalars(
            select(AreaAssignment).where(AreaAssignment.department_id == dept.id))]
        db.query(AreaAssignment).filter(AreaAssignment.department_id == dept.id).delete()
        for h in handlers[:2]:
            db.add(AreaAssignment(department_id=dept.id, handler_id=h.id, region_code=GRID[:9]))
        bump_routing(db)  # written behind the services' back: the processes' routing caches must move on
        db.commit()
    try:
        tie = ok_created(client.post("/api/v1/cases", json={"description": "路由测试", "lon": lon, "lat": lat,
                                                            "item_code": item.code}, headers=auth(WORKER)))
        assert tie["routing_rule"] == "least_loaded"
        assert "在办最少" in tie["routing_reason"]
        assert tie["handler"]["id"] in {h.id for h in handlers[:2]}
        with sessions() as db:
            db.query(AreaAssignment).filter(AreaAssignment.department_id == dept.id).delete()
            bump_routing(db)
            db.commit()
        fallback = ok_created(client.post("/api/v1/cases", json={"description": "路由测试", "lon": lon, "lat": lat,
                                                                 "item_code": item.code}, headers=auth(WORKER)))
        assert fallback["routing_rule"] == "department_admin"
        assert "部门管理员" in fallback["routing_reason"]
    finally:
        with sessions() as db:
            db.query(AreaAssignment).filter(AreaAssignment.department_id == dept.id).delete()
            for handler_id, region in saved:
                db.add(AreaAssignment(department_id=dept.id, handler_id=handler_id, region_code=region))
            bump_routing(db)
            db.commit()


def test_refusals_in_english(client, auth, sessions):
    case, _ = case_in_state(client, auth, sessions, "reported")
    r = client.post(f"/api/v1/cases/{case['id']}/actions/sign", json={"version": case["version"]},
                    headers={**auth("dispatcher"), "Accept-Language": "en"})
    assert r.status_code == 409
    assert r.json()["error"]["message"] == "The case is “Reported”: it cannot take “Sign”"
