"""What a register meets beyond the common case, on both databases: long foreign names, 港澳台
residence permits (18 digits with a valid checksum), landlines written in different ways, text
longer than its column, and an edit that leaves a blank where a code belongs."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

from stdnum.cn import ric

from gridgov.people import houses, service, tagging
from tests.people.conftest import GRID, WORKER, fake_id, fake_phone
from tests.people.excel_helpers import HOUSE_HEADERS, error_rows, upload, xlsx

_permits = itertools.count(100)


def _permit(area: str) -> str:
    """A 港澳台居民居住证 number: the ID layout (810000 香港, 820000 澳门, 830000 台湾), a valid checksum."""
    body = f"{area}19900101{next(_permits) % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def test_a_long_foreign_name_registers_and_is_found_by_initials(client, auth):
    # 45 letters: every letter of a Latin name is its own "initial".
    name = "MARIA FERNANDA GONZALEZ RODRIGUEZ DE LA CRUZ MONTOYA"
    number = f"P{next(_permits):08d}"
    r = client.post("/api/v1/residents", json={"name": name, "kind": "overseas", "id_type": "passport",
                                               "id_number": number, "grid_code": GRID, "gender": "F",
                                               "nationality": "墨西哥"}, headers=auth(WORKER))
    assert r.status_code == 201, r.text
    found = client.get("/api/v1/residents", params={"q": "mariafernandagonzalez"}, headers=auth(WORKER)).json()
    assert r.json()["resident"]["id"] in [p["id"] for p in found["items"]]


def test_a_residence_permit_is_found_by_its_full_number(client, auth):
    for area in ("830000", "810000"):  # 830000 is no mainland county; 810000 is one in stdnum's table
        number = _permit(area)
        r = client.post("/api/v1/residents", json={"name": "居住证测试", "kind": "overseas",
                                                   "id_type": "permit", "id_number": number, "grid_code": GRID},
                        headers=auth(WORKER))
        assert r.status_code == 201, r.text
        found = client.get("/api/v1/residents", params={"q": number}, headers=auth(WORKER))
        assert found.status_code == 200, found.text
        assert [p["id"] for p in found.json()["items"]] == [r.json()["resident"]["id"]], area
    mistyped = number[:-1] + ("0" if number[-1] != "0" else "1")  # still told, not just not found
    r = client.get("/api/v1/residents", params={"q": mistyped}, headers=auth(WORKER))
    assert r.status_code == 422 and r.json()["error"]["fields"]["q"] == "身份证号校验码不正确"


def test_a_landline_written_two_ways_is_one_number(client, auth):
    number = fake_id()
    body = {"name": "座机测试", "id_number": number, "grid_code": GRID, "phone": "0731-28886543"}
    r = client.post("/api/v1/residents", json=body, headers=auth(WORKER))
    assert r.status_code == 201, r.text
    rid = r.json()["resident"]["id"]
    again = client.post("/api/v1/residents", json=body | {"phone": "（0731）2888 6543"}, headers=auth(WORKER))
    assert again.status_code == 200, again.text
    assert again.json()["conflicts"] == []  # the same number is no disagreement
    for written in ("073128886543", "0731-28886543", "(0731)28886543",
                    "（０７３１）２８８８６５４３", "０７３１－２８８８６５４３"):  # full width, as a Chinese IME types
        found = client.get("/api/v1/residents", params={"q": written}, headers=auth(WORKER)).json()
        assert [p["id"] for p in found["items"]] == [rid], written


def test_building_and_residence_text_longer_than_its_column_is_refused_by_field(client, auth, make_resident):
    too_long = {"structure": "钢筋混凝土框架剪力墙结构（二〇〇五年加固）", "address": "建设中路" * 51}
    for key, value in too_long.items():
        r = client.post("/api/v1/buildings", json={"name": f"长字段楼{key}", "grid_code": GRID, key: value},
                        headers=auth(WORKER))
        assert r.status_code == 422, r.text
        assert r.json()["error"]["fields"][key].startswith("长度不能超过"), r.text
    b = client.post("/api/v1/buildings", json={"name": "长地址楼", "grid_code": GRID, "address": "建设中路" * 50},
                    headers=auth(WORKER))
    assert b.status_code == 201, b.text  # the longest address allowed: the room's own address still fits
    h = client.post("/api/v1/houses", json={"building_id": b.json()["id"], "unit": "12", "room": "1201"},
                    headers=auth(WORKER))
    assert h.status_code == 201, h.text
    person = make_resident(name="长备注")
    r = client.post("/api/v1/residences", json={"resident_id": person["id"], "house_id": h.json()["id"],
                                                "relation": "居住", "note": "说" * 201}, headers=auth(WORKER))
    assert r.status_code == 422 and "note" in r.json()["error"]["fields"], r.text


def test_an_import_names_the_house_cell_that_is_too_long(client, auth):
    rows = [{"所属网格": GRID, "楼栋名称": "长结构楼", "建筑结构": "钢筋混凝土框架剪力墙结构（二〇〇五年加固）",
             "房号": "101"},
            {"所属网格": GRID, "楼栋名称": "长结构楼", "建筑结构": "框架", "房号": "102"}]
    run = upload(client, auth(WORKER), xlsx({"房屋": (HOUSE_HEADERS, rows)}), kind="houses", mode="good_rows")
    assert run["status"] == "done", run
    assert run["bad_rows"] == 1 and run["imported_rows"] == 1, run
    assert error_rows(client, auth(WORKER), run) == [(2, "建筑结构", "长度不能超过 20")]


def test_an_edit_that_leaves_the_kind_blank_keeps_a_kind(client, auth, make_resident):
    person = make_resident(name="编辑类型", phone=fake_phone())
    assert person["kind"] == "registered" and person["nationality"] == "中国"
    body = {"name": "编辑类型", "grid_code": GRID, "occupation": "司机", "version": person["version"]}
    r = client.put(f"/api/v1/residents/{person['id']}", json=body, headers=auth(WORKER))
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "registered" and r.json()["nationality"] == "中国", r.text
    found = client.get("/api/v1/residents", params={"q": "编辑类型", "kind": "registered"},
                       headers=auth(WORKER)).json()
    assert person["id"] in [p["id"] for p in found["items"]]


def _both_at_once(monkeypatch, module, name: str):
    """Holds each of two requests at its first call of `module.name` until both have come that far:
    both have looked and found nothing, as two clicks a moment apart do."""
    real, barrier, held = getattr(module, name), threading.Barrier(2, timeout=20), threading.local()

    def wrapper(*args, **kwargs):
        if not getattr(held, "done", False):
            held.done = True
            barrier.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


def _twice(client, method: str, url: str, headers: dict, body: dict) -> list:
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda _: client.request(method, url, json=body, headers=headers), range(2)))


def test_the_same_person_registered_twice_at_once_is_one_record(client, auth, monkeypatch):
    _both_at_once(monkeypatch, service, "insert_rows")
    body = {"name": "同时登记", "id_number": fake_id(), "grid_code": GRID, "phone": fake_phone()}
    answers = _twice(client, "POST", "/api/v1/residents", auth(WORKER), body)
    assert sorted(r.status_code for r in answers) == [200, 201], [r.text for r in answers]
    assert len({r.json()["resident"]["id"] for r in answers}) == 1
    assert sorted(r.json()["status"] for r in answers) == ["created", "unchanged"]


def test_the_same_tag_added_twice_at_once_is_refused_once(client, auth, make_resident, monkeypatch):
    person = make_resident(name="同时加标签")
    _both_at_once(monkeypatch, tagging, "check_details")
    answers = _twice(client, "POST", f"/api/v1/residents/{person['id']}/tags", auth(WORKER),
                     {"code": "missing_prone", "details": {"condition": "阿尔茨海默病"}, "reason": "家属反映"})
    assert sorted(r.status_code for r in answers) == [201, 400], [r.text for r in answers]
    assert next(r for r in answers if r.status_code == 400).json()["error"]["code"] == "tag_exists"


def test_the_same_building_and_room_created_twice_at_once(client, auth, monkeypatch):
    _both_at_once(monkeypatch, houses, "check_building")
    answers = _twice(client, "POST", "/api/v1/buildings", auth(WORKER), {"name": "同时建楼", "grid_code": GRID})
    assert sorted(r.status_code for r in answers) == [201, 422], [r.text for r in answers]
    building = next(r for r in answers if r.status_code == 201).json()["id"]
    assert next(r for r in answers if r.status_code == 422).json()["error"]["fields"]["name"] == "该网格内已有同名楼栋"
    _both_at_once(monkeypatch, houses, "check_house")
    answers = _twice(client, "POST", "/api/v1/houses", auth(WORKER), {"building_id": building, "room": "101"})
    assert sorted(r.status_code for r in answers) == [201, 422], [r.text for r in answers]
    refused = next(r for r in answers if r.status_code == 422)
    assert refused.json()["error"]["fields"]["room"] == "该楼栋单元内已有此房号"
