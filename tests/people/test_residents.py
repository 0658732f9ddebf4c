"""Residents through the API: registration rules, one person per ID number, masking per role,
reveal with a reason and its audit entry, pinyin search and jurisdiction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gridgov.core.audit import AuditEntry
from gridgov.people.models import Resident
from tests.people.conftest import COMMUNITY, GRID, OTHER_GRID, STREET, WORKER, fake_id, fake_phone


def test_register_derives_gender_and_birth_and_masks(client, auth, make_resident):
    person = make_resident(name="欧阳明", birth="19850317", male=False)
    assert person["gender"] == "F"
    assert person["birth_date"] == "1985-03-17"
    number, phone = person["_id_number"], person["_phone"]
    assert person["id_number"] == number[:4] + "*" * 10 + number[-4:]
    assert person["phone"] == phone[:3] + "****" + phone[-4:]
    shown = str({k: v for k, v in person.items() if not k.startswith("_")})
    assert number not in shown and phone not in shown


def test_bad_id_number_names_the_field_and_the_rule(client, auth):
    good = fake_id()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    r = client.post("/api/v1/residents", json={"name": "甲", "id_number": bad, "grid_code": GRID},
                    headers=auth(WORKER))
    assert r.status_code == 422
    assert r.json()["error"]["fields"]["id_number"] == "身份证号校验码不正确"
    r = client.post("/api/v1/residents", json={"name": "甲", "id_number": good, "grid_code": GRID,
                                               "phone": "12345"}, headers=auth(WORKER) | {"Accept-Language": "en"})
    assert r.status_code == 422 and "phone" in r.json()["error"]["fields"]


def test_stored_encrypted_with_a_keyed_hash(client, auth, sessions, make_resident):
    person = make_resident(name="加密测试")
    with sessions() as db:
        row = db.get(Resident, person["id"])
        assert person["_id_number"].encode() not in row.id_cipher
        assert person["_phone"].encode() not in (row.phone_cipher or b"")
        assert len(row.id_hash) == 64 and row.id_tail == person["_id_number"][-4:]


def test_same_person_twice_is_one_record_and_disagreements_wait_for_a_person(client, auth, make_resident):
    person = make_resident(name="合并测试", occupation="教师")
    again = {"name": "合并测试", "id_number": person["_id_number"], "grid_code": GRID, "occupation": "医生",
             "employer": "市第一医院"}
    r = client.post("/api/v1/residents", json=again, headers=auth(COMMUNITY))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resident"]["id"] == person["id"] and body["status"] == "updated"
    assert body["conflicts"] == ["occupation"]
    assert body["resident"]["occupation"] == "教师"  # never silently overwritten
    assert body["resident"]["employer"] == "市第一医院"  # a blank is filled
    conflicts = client.get(f"/api/v1/residents/{person['id']}/conflicts", headers=auth(COMMUNITY)).json()
    open_ = [c for c in conflicts if c["status"] == "open"]
    assert [(c["field"], c["current_value"], c["proposed_value"]) for c in open_] == [("occupation", "教师", "医生")]
    r = client.post(f"/api/v1/resident-conflicts/{open_[0]['id']}/replace", headers=auth(COMMUNITY))
    assert r.status_code == 200 and r.json()["status"] == "replaced"
    assert client.get(f"/api/v1/residents/{person['id']}", headers=auth(WORKER)).json()["occupation"] == "医生"
    r = client.post(f"/api/v1/resident-conflicts/{open_[0]['id']}/keep", headers=auth(COMMUNITY))
    assert r.status_code == 400 and r.json()["error"]["code"] == "already_resolved"


@pytest.mark.parametrize("who", [WORKER, COMMUNITY, STREET, "dispatcher", "leader", "admin"])
def test_masked_for_every_role_in_lists_and_details(client, auth, make_resident, who):
    person = make_resident(name="遮蔽测试")
    detail = client.get(f"/api/v1/residents/{person['id']}", headers=auth(who))
    assert detail.status_code == 200, detail.text
    listed = client.get("/api/v1/residents", params={"q": "遮蔽测试"}, headers=auth(who)).json()["items"]
    for shown in [detail.json(), *listed]:
        assert person["_id_number"] not in str(shown) and person["_phone"] not in str(shown)
        assert "*" in shown["id_number"]


def test_roles_without_people_access_see_nothing(client, auth, make_resident):
    person = make_resident(name="部门不可见")
    for who in ("bmgaj01", "bmgaj00"):
        assert client.get(f"/api/v1/residents/{person['id']}", headers=auth(who)).status_code == 403
        assert client.get("/api/v1/residents", params={"q": "部门"}, headers=auth(who)).status_code == 403


@pytest.mark.parametrize("who", [COMMUNITY, STREET, "dispatcher"])
def test_reveal_with_a_reason_is_audited(client, auth, sessions, make_resident, who):
    person = make_resident(name="查看测试")
    r = client.post(f"/api/v1/residents/{person['id']}/reveal", json={"reason": "核实低保申请材料"}, headers=auth(who))
    assert r.status_code == 200, r.text
    assert r.json()["id_number"] == person["_id_number"] and r.json()["phone"] == person["_phone"]
    with sessions() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "reveal")
                           .order_by(AuditEntry.seq.desc())).first()
        assert entry.object_id == str(person["id"]) and entry.reason == "核实低保申请材料"
        assert who in entry.actor_name and "查看测试" in entry.subject
        assert person["_id_number"] not in entry.subject


@pytest.mark.parametrize("who", [WORKER, "leader", "admin"])
def test_reveal_refused_without_the_permission(client, auth, sessions, make_resident, who):
    person = make_resident(name="拒绝查看")
    with sessions() as db:
        before = db.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1))
    r = client.post(f"/api/v1/residents/{person['id']}/reveal", json={"reason": "想看看号码"}, headers=auth(who))
    assert r.status_code == 403
    assert person["_id_number"] not in r.text
    with sessions() as db:
        assert db.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)) == before


def test_reveal_needs_a_reason(client, auth, make_resident):
    person = make_resident(name="原因测试")
    r = client.post(f"/api/v1/residents/{person['id']}/reveal", json={"reason": " "}, headers=auth(COMMUNITY))
    assert r.status_code == 422 and "reason" in r.json()["error"]["fields"]


def test_outside_jurisdiction(client, auth, make_resident):
    person = make_resident(name="别的街道", grid=OTHER_GRID, who="jd" + OTHER_GRID[:9])
    assert client.get(f"/api/v1/residents/{person['id']}", headers=auth(WORKER)).status_code == 403
    r = client.post(f"/api/v1/residents/{person['id']}/reveal", json={"reason": "核实情况需要"},
                    headers=auth(COMMUNITY))
    assert r.status_code == 403
    found = client.get("/api/v1/residents", params={"q": "别的街道"}, headers=auth(STREET)).json()
    assert found["total"] == 0
    found = client.get("/api/v1/residents", params={"q": "别的街道"}, headers=auth("dispatcher")).json()
    assert [p["id"] for p in found["items"]] == [person["id"]]
    r = client.post("/api/v1/residents", json={"name": "越界", "id_number": fake_id(), "grid_code": OTHER_GRID},
                    headers=auth(WORKER))
    assert r.status_code == 422 and r.json()["error"]["fields"]["grid_code"].endswith("不在您的管辖范围内")


def test_pinyin_initials_and_id_tail_search(client, auth, make_resident):
    a = make_resident(name="曾晓岚")
    b = make_resident(name="曾笑")
    names = lambda r: [p["name"] for p in r.json()["items"]]  # noqa: E731
    r = client.get("/api/v1/residents", params={"q": "zengxiaolan"}, headers=auth(WORKER))
    assert names(r) == ["曾晓岚"] and r.json()["items"][0]["matched"] == "pinyin"
    assert r.json()["items"][0]["highlight"]["name"] == [0, 3]
    r = client.get("/api/v1/residents", params={"q": "zx"}, headers=auth(WORKER))
    assert {"曾晓岚", "曾笑"} <= set(names(r))
    hit = next(p for p in r.json()["items"] if p["name"] == "曾笑")
    assert hit["matched"] == "initials" and hit["highlight"]["name"] == [0, 2]
    r = client.get("/api/v1/residents", params={"q": "曾晓"}, headers=auth(WORKER))
    assert names(r) == ["曾晓岚"] and r.json()["items"][0]["highlight"]["name"] == [0, 2]
    # Test people share the fictitious 9xx sequences, so many in this grid end alike: walk every page.
    found, offset = [], 0
    while True:
        r = client.get("/api/v1/residents", params={"q": a["_id_number"][-4:], "limit": 200, "offset": offset},
                       headers=auth(WORKER)).json()
        found += [p["id"] for p in r["items"]]
        offset += 200
        if offset >= r["total"]:
            break
    assert a["id"] in found
    r = client.get("/api/v1/residents", params={"q": b["_id_number"]}, headers=auth(WORKER))
    assert [p["id"] for p in r.json()["items"]] == [b["id"]]
    r = client.get("/api/v1/residents", params={"q": b["_phone"]}, headers=auth(WORKER))
    assert [p["id"] for p in r.json()["items"]] == [b["id"]]
    r = client.get("/api/v1/residents", params={"q": "12"}, headers=auth(WORKER))
    assert r.status_code == 422 and "q" in r.json()["error"]["fields"]


def test_paging_walks_keys_in_order(client, auth, make_resident):
    made = [make_resident(name=f"翻页{n}") for n in "甲乙丙丁戊"]
    seen = []
    for offset in range(0, 6, 2):
        r = client.get("/api/v1/residents", params={"q": "fanye", "limit": 2, "offset": offset},
                       headers=auth(WORKER)).json()
        assert r["total"] == 5
        seen += [p["id"] for p in r["items"]]
    assert sorted(seen) == sorted(p["id"] for p in made) and len(seen) == 5


def test_version_conflict_on_update(client, auth, make_resident):
    person = make_resident(name="并发修改")
    body = {k: person[k] for k in ("name", "kind", "grid_code")} | {"version": person["version"]}
    first = client.put(f"/api/v1/residents/{person['id']}", json=body | {"occupation": "司机"}, headers=auth(WORKER))
    assert first.status_code == 200, first.text
    second = client.put(f"/api/v1/residents/{person['id']}", json=body | {"occupation": "厨师"},
                        headers=auth(COMMUNITY))
    assert second.status_code == 400 and second.json()["error"]["code"] == "version_conflict"


def test_overseas_resident_uses_a_passport(client, auth):
    r = client.post("/api/v1/residents", json={"name": "John Smith", "kind": "overseas", "id_type": "passport",
                                               "id_number": "E12345678", "grid_code": GRID, "gender": "M",
                                               "birth_date": "1979-05-02", "nationality": "英国",
                                               "phone": fake_phone()}, headers=auth(WORKER))
    assert r.status_code == 201, r.text
    out = r.json()["resident"]
    assert out["id_number"] == "E******78" and out["kind"] == "overseas" and out["birth_date"] == "1979-05-02"
    r = client.get("/api/v1/residents", params={"q": "E12345678"}, headers=auth(WORKER))
    assert [p["id"] for p in r.json()["items"]] == [out["id"]]
    r = client.post("/api/v1/residents", json={"name": "甲", "kind": "registered", "id_type": "passport",
                                               "id_number": "E12345679", "grid_code": GRID}, headers=auth(WORKER))
    assert r.status_code == 422 and "id_type" in r.json()["error"]["fields"]


def test_an_address_search_reads_percent_and_underscore_as_themselves(client, auth, make_resident):
    literal = make_resident(name="百分号", address="测试路100%号_甲")
    make_resident(name="无符号", address="测试路1000号X甲")

    def found(address: str) -> dict:
        r = client.get("/api/v1/residents", params={"address": address, "limit": 200}, headers=auth(WORKER))
        assert r.status_code == 200, r.text
        return {p["id"]: p["address"] for p in r.json()["items"]}

    assert list(found("100%号")) == [literal["id"]]
    assert list(found("号_甲")) == [literal["id"]]  # '_' is not "any character"
    assert all("%" in address for address in found("%").values())
