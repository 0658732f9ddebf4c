"""People pages through the real app: search with highlights and masking, the resident page per
role, registration errors in the form, the house page, and the cookie-session API calls with CSRF."""

from __future__ import annotations

import re

from tests.people.conftest import COMMUNITY, GRID, WORKER, fake_id
from tests.web.test_pages import PAGE_HEADERS, login


def test_search_page_highlights_and_masks(client, auth, make_resident):
    person = make_resident(name="司马光华")
    login(client, WORKER)
    page = client.get("/people", params={"q": "smg"}, headers=PAGE_HEADERS)
    assert page.status_code == 200
    assert "<mark>司马光</mark>华" in page.text
    assert person["_id_number"] not in page.text and person["_phone"] not in page.text
    assert person["id_number"] in page.text
    empty = client.get("/people", params={"q": "没有这个人名字"}, headers=PAGE_HEADERS)
    assert 'data-testid="empty"' in empty.text
    bad = client.get("/people", params={"q": "12"}, headers=PAGE_HEADERS)
    assert bad.status_code == 200 and "后 4 位" in bad.text


def test_resident_page_reveal_only_for_roles_that_may(client, auth, make_resident):
    person = make_resident(name="页面查看")
    login(client, WORKER)
    page = client.get(f"/people/{person['id']}", headers=PAGE_HEADERS)
    assert page.status_code == 200 and person["id_number"] in page.text
    assert "无权查看完整信息" in page.text and "/reveal" not in page.text
    assert 'data-testid="log-visit"' in page.text
    login(client, COMMUNITY)
    page = client.get(f"/people/{person['id']}", headers=PAGE_HEADERS)
    assert f"/api/v1/residents/{person['id']}/reveal" in page.text
    assert person["_id_number"] not in page.text
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text).group(1)
    r = client.post(f"/api/v1/residents/{person['id']}/reveal", json={"reason": "页面核实身份"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = client.post(f"/api/v1/residents/{person['id']}/reveal", json={"reason": "页面核实身份"},
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["id_number"] == person["_id_number"]


def test_register_form_shows_errors_and_merges(client, auth):
    login(client, WORKER)
    page = client.get("/people/new", headers=PAGE_HEADERS)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    number = fake_id("19701203")
    form = {"csrf_token": token, "name": "表单登记", "id_number": number[:-1] + ("1" if number[-1] == "0" else "0"),
            "grid_code": GRID, "phone": "1381234"}
    r = client.post("/people/new", data=form, headers=PAGE_HEADERS)
    assert r.status_code == 422
    assert "身份证号校验码不正确" in r.text and "手机号应为" in r.text and 'value="表单登记"' in r.text
    r = client.post("/people/new", data=form | {"id_number": number, "phone": "13812345678"}, headers=PAGE_HEADERS,
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("registered=created")
    r = client.post("/people/new", data=form | {"id_number": number, "phone": "13812345679"}, headers=PAGE_HEADERS,
                    follow_redirects=True)
    assert "已合并到原记录" in r.text and 'data-testid="conflicts"' in r.text and "138****5679" in r.text


def test_house_page_lists_occupants(client, auth, make_resident):
    person = make_resident(name="住户页面")
    b = client.post("/api/v1/buildings", json={"name": "页面测试楼", "grid_code": GRID}, headers=auth(WORKER)).json()
    h = client.post("/api/v1/houses", json={"building_id": b["id"], "unit": "2", "room": "302"},
                    headers=auth(WORKER)).json()
    client.post("/api/v1/residences", json={"resident_id": person["id"], "house_id": h["id"], "relation": "居住"},
                headers=auth(WORKER))
    login(client, WORKER)
    page = client.get(f"/houses/{h['id']}", headers=PAGE_HEADERS)
    assert page.status_code == 200 and "页面测试楼2单元302室" in page.text and "住户页面" in page.text
    detail = client.get(f"/people/{person['id']}", headers=PAGE_HEADERS)
    assert f"/houses/{h['id']}" in detail.text
    english = client.get(f"/houses/{h['id']}", headers=PAGE_HEADERS | {"Accept-Language": "en"},
                         params={"lang": "en"})
    assert "Residents and owners" in english.text


def test_houses_and_building_pages(client, auth):
    b = client.post("/api/v1/buildings", json={"name": "楼栋列表测试", "grid_code": GRID, "address": "董家塅路8号"},
                    headers=auth(WORKER)).json()
    client.post("/api/v1/houses", json={"building_id": b["id"], "unit": "3", "room": "501", "rented": True},
                headers=auth(WORKER))
    login(client, WORKER)
    page = client.get("/houses", params={"q": "楼栋列表"}, headers=PAGE_HEADERS)
    assert page.status_code == 200 and f"/buildings/{b['id']}" in page.text and "董家塅路8号" in page.text
    assert 'data-testid="new-building"' in page.text  # a grid worker registers buildings and homes
    rooms = client.get(f"/buildings/{b['id']}", headers=PAGE_HEADERS)
    assert rooms.status_code == 200 and ">501<" in rooms.text and 'data-testid="new-house"' in rooms.text
    login(client, "leader")  # reads the register, does not keep it
    page = client.get("/houses", params={"q": "楼栋列表"}, headers=PAGE_HEADERS)
    assert page.status_code == 200 and 'data-testid="new-building"' not in page.text
    assert 'data-testid="new-house"' not in client.get(f"/buildings/{b['id']}", headers=PAGE_HEADERS).text
    login(client, "jd" + "430203002")
    assert client.get(f"/buildings/{b['id']}", headers=PAGE_HEADERS).status_code == 403
