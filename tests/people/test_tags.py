"""Tags: details checked per kind, phones masked, every change kept with who and why; rules
propose, a person confirms or rejects; houses list who lives there."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from gridgov.people.models import Resident, ResidentTag, TagEvent
from gridgov.people.rules import run_rules
from tests.people.conftest import COMMUNITY, GRID, WORKER, fake_phone


def test_tag_details_history_and_masking(client, auth, make_resident):
    person = make_resident(name="独居测试", birth="19400405")
    url = f"/api/v1/residents/{person['id']}/tags"
    r = client.post(url, json={"code": "living_alone", "details": {}, "reason": "走访发现"}, headers=auth(WORKER))
    assert r.status_code == 422
    fields = r.json()["error"]["fields"]
    assert fields["details.emergency_contact"] == "紧急联系人必填" and "details.emergency_phone" in fields
    phone = fake_phone()
    r = client.post(url, json={"code": "living_alone", "reason": "走访发现",
                               "details": {"emergency_contact": "李四（侄子）", "emergency_phone": phone}},
                    headers=auth(WORKER))
    assert r.status_code == 201, r.text
    assert phone not in r.text and phone[:3] + "****" + phone[-4:] in r.text
    again = client.post(url, json={"code": "living_alone", "reason": "重复", "details": {
        "emergency_contact": "李四", "emergency_phone": phone}}, headers=auth(WORKER))
    assert again.status_code == 400 and again.json()["error"]["code"] == "tag_exists"
    r = client.put(url + "/living_alone", headers=auth(COMMUNITY),
                   json={"details": {"emergency_contact": "王五（邻居）"}, "reason": "联系人变更"})
    assert r.status_code == 200, r.text
    assert "王五（邻居）" in r.text and phone[-4:] in r.text  # a phone left blank keeps the stored one
    r = client.post(url + "/living_alone/remove", json={"reason": ""}, headers=auth(WORKER))
    assert r.status_code == 422 and "reason" in r.json()["error"]["fields"]
    r = client.post(url + "/living_alone/remove", json={"reason": "已搬去与子女同住"}, headers=auth(WORKER))
    assert r.status_code == 200 and r.json()[0]["status"] == "removed"
    history = client.get(f"/api/v1/residents/{person['id']}/tag-history", headers=auth(WORKER)).json()
    assert [h["action"] for h in history] == ["remove", "change", "add"]
    assert [h["reason"] for h in history] == ["已搬去与子女同住", "联系人变更", "走访发现"]
    assert all(h["actor"] for h in history)
    assert ("紧急联系人", "李四（侄子）") in [tuple(x) for x in history[1]["before"]]
    assert phone not in str(history)


def test_community_correction_dates_checked(client, auth, make_resident):
    person = make_resident(name="矫正测试")
    r = client.post(f"/api/v1/residents/{person['id']}/tags", headers=auth(COMMUNITY), json={
        "code": "community_correction", "reason": "司法所通报",
        "details": {"term": "一年", "start_date": "2026-05-01", "end_date": "2026-01-01"}})
    assert r.status_code == 422 and "details.end_date" in r.json()["error"]["fields"]
    r = client.post(f"/api/v1/residents/{person['id']}/tags", headers=auth(COMMUNITY), json={
        "code": "community_correction", "reason": "司法所通报",
        "details": {"term": "一年", "start_date": "2026-05-01", "end_date": "2027-04-30", "offence": "盗窃"}})
    assert r.status_code == 201
    found = client.get("/api/v1/residents", params={"tag": "community_correction"}, headers=auth(WORKER)).json()
    assert person["id"] in [p["id"] for p in found["items"]]
    assert all("community_correction" in [t["code"] for t in p["tags"]] for p in found["items"])


def _house(client, auth, name: str) -> int:
    b = client.post("/api/v1/buildings", json={"name": name, "grid_code": GRID, "address": "建设南路"},
                    headers=auth(WORKER))
    assert b.status_code == 201, b.text
    h = client.post("/api/v1/houses", json={"building_id": b.json()["id"], "unit": "1", "room": "101"},
                    headers=auth(WORKER))
    assert h.status_code == 201, h.text
    return h.json()["id"]


def _live(client, auth, person: dict, house: int, relation: str = "居住") -> dict:
    r = client.post("/api/v1/residences", json={"resident_id": person["id"], "house_id": house,
                                                "relation": relation, "start_date": "2020-01-01"},
                    headers=auth(WORKER))
    assert r.status_code == 201, r.text
    return r.json()


def test_houses_list_who_lives_there_and_people_list_their_houses(client, auth, make_resident):
    house = _house(client, auth, "房屋测试1栋")
    owner, tenant = make_resident(name="房东甲"), make_resident(name="租客乙")
    _live(client, auth, owner, house, "产权")
    rented = _live(client, auth, tenant, house, "租住")
    assert client.get(f"/api/v1/houses/{house}", headers=auth(WORKER)).json()["rented"] is True
    occupants = client.get(f"/api/v1/houses/{house}/occupants", headers=auth(WORKER)).json()
    assert {(o["relation"], o["resident"]["name"]) for o in occupants} == {("产权", "房东甲"), ("租住", "租客乙")}
    assert all("*" in o["resident"]["id_number"] for o in occupants)
    mine = client.get(f"/api/v1/residents/{tenant['id']}/houses", headers=auth(WORKER)).json()
    assert [m["house"]["address"] for m in mine] == ["建设南路房屋测试1栋1单元101室"]
    r = client.post(f"/api/v1/residences/{rented['id']}/end", json={"end_date": "2019-01-01"}, headers=auth(WORKER))
    assert r.status_code == 422
    r = client.post(f"/api/v1/residences/{rented['id']}/end", json={"end_date": "2026-10-31"}, headers=auth(WORKER))
    assert r.status_code == 200
    assert client.get(f"/api/v1/houses/{house}", headers=auth(WORKER)).json()["rented"] is False
    dup = client.post("/api/v1/houses", json={"building_id": client.get(f"/api/v1/houses/{house}", headers=auth(
        WORKER)).json()["building_id"], "unit": "1", "room": "101"}, headers=auth(WORKER))
    assert dup.status_code == 422 and "room" in dup.json()["error"]["fields"]


def test_rules_propose_and_a_person_decides(client, auth, sessions, make_resident):
    alone = make_resident(name="独居老人甲", birth="19500101")
    couple = [make_resident(name="空巢老人乙", birth="19520202"), make_resident(name="空巢老人丙", birth="19530303")]
    young = make_resident(name="年轻人丁", birth="19990101")
    _live(client, auth, alone, _house(client, auth, "规则测试1栋"))
    shared = _house(client, auth, "规则测试2栋")
    for p in couple:
        _live(client, auth, p, shared)
    _live(client, auth, young, _house(client, auth, "规则测试3栋"))
    ids = [alone["id"], young["id"], *(p["id"] for p in couple)]
    with sessions() as db:
        made = run_rules(db, ids, today=date(2026, 11, 21))
        db.commit()
    assert made == {"living_alone": 1, "empty_nest": 2}
    with sessions() as db:
        again = run_rules(db, ids, today=date(2026, 11, 21))
        db.commit()
    assert again == {"living_alone": 0, "empty_nest": 0}
    tags = client.get(f"/api/v1/residents/{alone['id']}/tags", headers=auth(WORKER)).json()
    assert [(t["code"], t["status"], t["source"]) for t in tags] == [("living_alone", "proposed", "rule:living_alone")]
    url = f"/api/v1/residents/{alone['id']}/tags/living_alone/decision"
    r = client.post(url, json={"accept": True, "details": {"emergency_contact": "邻居"}}, headers=auth(WORKER))
    assert r.status_code == 422  # confirming needs the tag's details
    r = client.post(url, json={"accept": True, "reason": "走访核实", "details": {
        "emergency_contact": "邻居王某", "emergency_phone": fake_phone()}}, headers=auth(WORKER))
    assert r.status_code == 200 and r.json()[0]["status"] == "active"
    rejected = couple[0]
    r = client.post(f"/api/v1/residents/{rejected['id']}/tags/empty_nest/decision",
                    json={"accept": False, "reason": "子女每周回家同住"}, headers=auth(COMMUNITY))
    assert r.status_code == 200 and r.json()[0]["status"] == "rejected"
    with sessions() as db:
        assert run_rules(db, ids, today=date(2026, 11, 21))["empty_nest"] == 0  # a rejection is not re-proposed
        events = db.scalars(select(TagEvent.action).join(ResidentTag, ResidentTag.id == TagEvent.resident_tag_id)
                            .where(ResidentTag.resident_id == alone["id"]).order_by(TagEvent.id)).all()
    assert events == ["propose", "confirm"]


def test_an_import_proposes_tags_like_the_nightly_run(client, auth, sessions):
    from tests.people.conftest import fake_id
    from tests.people.excel_helpers import HOUSE_HEADERS, RELATION_HEADERS, person, residents_xlsx, upload, xlsx

    number, building = fake_id("19380612"), f"导入规则{fake_id()[-6:]}栋"
    upload(client, auth(WORKER), residents_xlsx([person(number, GRID, "导入独居")]))
    upload(client, auth(WORKER), xlsx({"房屋": (HOUSE_HEADERS, [
        {"所属网格": GRID, "楼栋名称": building, "单元": "1", "房号": "101", "房屋用途": "住宅"}])}), kind="houses")
    run = upload(client, auth(WORKER), xlsx({"人房关系": (RELATION_HEADERS, [
        {"证件号码": number, "所属网格": GRID, "楼栋名称": building, "单元": "1", "房号": "101", "关系": "居住",
         "开始日期": "2001-05-01"}])}), kind="relations")
    assert run["status"] == "done", run
    with sessions() as db:
        tag = db.scalar(select(ResidentTag).join(Resident, Resident.id == ResidentTag.resident_id)
                        .where(Resident.name == "导入独居"))
    assert (tag.tag_code, tag.status, tag.source) == ("living_alone", "proposed", "rule:living_alone")


def test_reveal_includes_the_phones_in_tags_and_audits_them(client, auth, sessions, make_resident):
    from gridgov.core.audit import AuditEntry

    person = make_resident(name="标签电话", birth="19450101")
    guardian = fake_phone()
    r = client.post(f"/api/v1/residents/{person['id']}/tags", headers=auth(WORKER), json={
        "code": "mental_disorder", "reason": "卫健通报",
        "details": {"guardian": "家属甲", "guardian_phone": guardian, "danger_level": "2"}})
    assert r.status_code == 201, r.text
    assert guardian not in r.text
    shown = client.post(f"/api/v1/residents/{person['id']}/reveal", json={"reason": "联系监护人随访"},
                        headers=auth(COMMUNITY)).json()
    assert shown["tag_phones"] == {"mental_disorder": {"guardian_phone": guardian}}
    with sessions() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.object_id == str(person["id"]))).one()
    assert entry.data["fields"] == ["id_number", "phone", "mental_disorder.guardian_phone"]
