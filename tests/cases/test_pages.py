"""Case pages through the real app: lists and their Excel export, the console's rows and its
server-sent events, the report form with its suggestions, the case page's actions."""

from __future__ import annotations

import io
import re
import threading
import time
import uuid

import httpx
from openpyxl import load_workbook
from sqlalchemy import func, select

from gridgov.accounts.models import User
from gridgov.cases.models import Case, CaseAttachment
from tests.cases.test_browser import tiny_png
from tests.cases.test_lifecycle import GRID, WORKER, act, item_at, ok, point_in
from tests.web.test_pages import PAGE_HEADERS, login


def test_case_list_filters_and_exports_what_it_shows(client, auth, sessions):
    lon, lat = point_in(sessions, GRID)
    r = client.post("/api/v1/cases", json={"description": "导出测试：人行道破损", "lon": lon, "lat": lat,
                                           "item_code": item_at(sessions, "district").code}, headers=auth(WORKER))
    number = r.json()["number"]
    login(client, "dispatcher")
    page = client.get("/cases", params={"q": "导出测试", "state": "reported"}, headers=PAGE_HEADERS)
    assert page.status_code == 200 and number in page.text
    none = client.get("/cases", params={"q": "导出测试", "state": "closed"}, headers=PAGE_HEADERS)
    assert number not in none.text and "暂无数据" in none.text
    x = client.get("/cases/export.xlsx", params={"q": "导出测试", "state": "reported"})
    assert x.status_code == 200
    assert x.headers["content-type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(x.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("事件编号", "状态", "时限")
    assert [r[0] for r in rows[1:]] == [number]
    assert rows[1][1] == "待受理"


def test_grid_worker_and_handler_tabs(client, auth, sessions):
    login(client, WORKER)
    page = client.get("/cases", headers=PAGE_HEADERS)
    assert "我上报的" in page.text and "待我核查" in page.text
    login(client, "bmcgj01")
    page = client.get("/cases", headers=PAGE_HEADERS)
    assert "待签收" in page.text and "已超时" in page.text


def test_console_rows_follow_the_filters(client, auth, sessions):
    login(client, "jd430203003")
    page = client.get("/console", headers=PAGE_HEADERS)
    assert page.status_code == 200 and 'id="case-map"' in page.text
    rows = client.get("/console/rows", params={"light": "red"}, headers=PAGE_HEADERS)
    assert rows.status_code == 200
    assert "light-green" not in rows.text and "light-yellow" not in rows.text
    login(client, WORKER)
    assert client.get("/console", headers=PAGE_HEADERS).status_code == 200  # a grid worker may view it too
    assert "调度台" not in client.get("/", headers=PAGE_HEADERS).text.split("<main")[0]  # but it is not in their menu


def test_report_form_suggests_matters_and_warns_of_duplicates(client, auth, sessions):
    item = item_at(sessions, "district")
    lon, lat = point_in(sessions, GRID)
    client.post("/api/v1/cases", json={"description": "重复提醒测试", "lon": lon, "lat": lat, "item_code": item.code},
                headers=auth(WORKER))
    login(client, WORKER)
    partial = client.get("/cases/suggest", params={"description": "小区门口有一堆垃圾没人清理"}, headers=PAGE_HEADERS)
    assert "建议事项" in partial.text and "%" in partial.text
    near = client.get("/cases/suggest", params={"description": "同一个问题", "lon": lon + 0.0001, "lat": lat,
                                                "item_code": item.code}, headers=PAGE_HEADERS)
    assert 'data-testid="duplicates"' in near.text


def test_a_refused_page_action_shows_the_reason(client, auth, sessions):
    lon, lat = point_in(sessions, GRID)
    case = client.post("/api/v1/cases", json={"description": "页面操作测试", "lon": lon, "lat": lat,
                                              "item_code": item_at(sessions, "district").code},
                       headers=auth(WORKER)).json()
    login(client, "dispatcher")
    page = client.get(f"/cases/{case['id']}", headers=PAGE_HEADERS)
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(f"/cases/{case['id']}/act/void", data={"csrf_token": token, "version": case["version"]},
                    headers=PAGE_HEADERS)
    assert r.status_code == 422
    assert "作废需要填写说明" in r.text
    r = client.post(f"/cases/{case['id']}/act/void", data={"csrf_token": token, "version": case["version"],
                                                           "comment": "重复上报"},
                    headers=PAGE_HEADERS, follow_redirects=False)
    assert r.status_code == 303


def test_console_stream_announces_a_new_case(live_server, sessions):
    """Server-sent events on a real port: a case created elsewhere makes the console refresh."""
    with httpx.Client(base_url=live_server, timeout=10) as web:
        token = web.post("/api/v1/auth/token", data={"username": "dispatcher", "password": "demo-2026"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        worker = web.post("/api/v1/auth/token", data={"username": WORKER, "password": "demo-2026"}).json()
        lon, lat = point_in(sessions, GRID)
        seen: list[str] = []

        def create_soon():
            time.sleep(1.0)
            web.post("/api/v1/cases", json={"description": "实时推送测试", "lon": lon, "lat": lat},
                     headers={"Authorization": f"Bearer {worker['access_token']}"})

        threading.Thread(target=create_soon, daemon=True).start()
        deadline = time.monotonic() + 15
        with web.stream("GET", "/console/stream", headers=headers) as stream:
            for line in stream.iter_lines():
                seen.append(line)
                if line.startswith("event: changed") or time.monotonic() > deadline:
                    break
        assert "event: changed" in seen


def test_a_resent_report_form_makes_one_case_and_keeps_its_photos_once(client, auth, sessions, tmp_path):
    """The form sent twice over a bad connection (same hidden idempotency key, same photo): the
    second lands on the first case and attaches nothing more."""
    lon, lat = point_in(sessions, GRID)
    tiny_png(tmp_path / "scene.png")
    photo = (tmp_path / "scene.png").read_bytes()
    text = f"重发表单 {uuid.uuid4().hex[:8]}：路面塌陷"
    form = {"description": text, "lon": str(lon), "lat": str(lat), "idempotency_key": uuid.uuid4().hex}
    sent = [client.post("/cases/new", headers=auth(WORKER), data=form, follow_redirects=False,  # bearer: no CSRF
                        files={"photos": ("scene.png", photo, "image/png")}) for _ in range(2)]
    assert [r.status_code for r in sent] == [303, 303], sent[0].text
    assert sent[0].headers["location"] == sent[1].headers["location"]
    with sessions() as db:
        ids = db.scalars(select(Case.id).where(Case.description == text)).all()
        assert [f"/cases/{i}" for i in ids] == [sent[0].headers["location"]]
        assert db.scalar(select(func.count()).select_from(CaseAttachment).where(CaseAttachment.case_id == ids[0])) == 1


def test_the_export_of_a_default_tab_holds_what_the_tab_shows(client, auth, sessions):
    """A grid worker's list opens on 我上报的; its 导出 Excel link carries the page's query, which
    names no tab, and must export that tab, not every case of the grid."""
    lon, lat = point_in(sessions, GRID)
    text = f"默认标签导出 {uuid.uuid4().hex[:8]}"
    theirs = client.post("/api/v1/cases", json={"description": f"{text}：热线来电", "lon": lon, "lat": lat,
                                                "item_code": item_at(sessions, "district").code},
                         headers=auth("dispatcher")).json()["number"]
    mine = client.post("/api/v1/cases", json={"description": f"{text}：网格员上报", "lon": lon, "lat": lat,
                                              "item_code": item_at(sessions, "district").code},
                       headers=auth(WORKER)).json()["number"]
    login(client, WORKER)
    page = client.get("/cases", params={"q": text}, headers=PAGE_HEADERS)
    assert mine in page.text and theirs not in page.text
    x = client.get("/cases/export.xlsx", params={"q": text})
    assert x.status_code == 200
    rows = list(load_workbook(io.BytesIO(x.content)).active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == [mine]
    everything = client.get("/cases/export.xlsx", params={"q": text, "mine": ""})  # the 全部 tab
    rows = list(load_workbook(io.BytesIO(everything.content)).active.iter_rows(values_only=True))
    assert sorted(r[0] for r in rows[1:]) == sorted([mine, theirs])


def test_a_refused_report_form_leaves_no_photo_on_disk(client, auth, sessions, app, tmp_path):
    """The form's second photo is not an image: nothing is saved, and the first photo, written to
    disk before the second was read, does not stay there without a case or a row naming it."""
    import hashlib

    tiny_png(tmp_path / "scene.png")
    good = (tmp_path / "scene.png").read_bytes() + uuid.uuid4().bytes  # a photo never uploaded before
    stored = app.state.settings.var_dir / "uploads" / hashlib.sha256(good).hexdigest()
    lon, lat = point_in(sessions, GRID)
    text = f"照片回滚 {uuid.uuid4().hex[:8]}"
    r = client.post("/cases/new", headers=auth(WORKER), follow_redirects=False,
                    data={"description": text, "lon": str(lon), "lat": str(lat)},
                    files=[("photos", ("scene.png", good, "image/png")),
                           ("photos", ("notes.png", b"not an image at all", "image/png"))])
    assert r.status_code == 422 and "只接受" in r.text
    with sessions() as db:
        assert db.scalar(select(Case.id).where(Case.description == text)) is None
    assert not stored.exists()
    r = client.post("/cases/new", headers=auth(WORKER), follow_redirects=False,
                    data={"description": text, "lon": str(lon), "lat": str(lat)},
                    files=[("photos", ("scene.png", good, "image/png"))])
    assert r.status_code == 303 and stored.read_bytes() == good


def home_tiles(client) -> dict[str, tuple[str, int]]:
    """The home page's case to-do: label → (link, count)."""
    page = client.get("/", headers=PAGE_HEADERS)
    assert page.status_code == 200
    section = page.text.split('data-testid="home-cases"')[1].split("</section>")[0]
    return {label: (href.replace("&amp;", "&"), int(count)) for href, count, label in re.findall(
        r'<a class="stat[^"]*" href="([^"]+)" data-testid="tile"><span class="num">(\d+)</span>'
        r'<span class="label">([^<]+)</span>', section)}


def listed(client, href: str) -> int:
    page = client.get(href, headers=PAGE_HEADERS)
    assert page.status_code == 200
    return int(re.search(r'data-testid="case-rows" data-total="(\d+)"', page.text).group(1))


def test_home_counts_each_roles_open_cases_as_the_lists_they_link_to(client, auth, sessions, new_case):
    login(client, WORKER)
    before = home_tiles(client)
    assert list(before) == ["我上报的未办结", "待我核查"]
    case = new_case("district")
    login(client, WORKER)
    after = home_tiles(client)
    assert after["我上报的未办结"][1] == before["我上报的未办结"][1] + 1
    for label, (href, count) in after.items():
        assert listed(client, href) == count, label

    login(client, "dispatcher")
    tiles = home_tiles(client)
    assert list(tiles) == ["待受理", "待派遣", "分拣队列", "待结案", "红灯超时", "黄灯预警"]
    assert tiles["待受理"][1] >= 1
    for label, (href, count) in tiles.items():
        assert listed(client, href) == count, label

    case = ok(act(client, auth("dispatcher"), case, "register"))
    case = ok(act(client, auth("dispatcher"), case, "dispatch"))
    with sessions() as db:
        handler = db.get(User, case["handler"]["id"]).username
    login(client, handler)
    tiles = home_tiles(client)
    assert list(tiles) == ["待签收", "办理中", "已超时"]
    assert tiles["待签收"][1] >= 1
    for label, (href, count) in tiles.items():
        assert listed(client, href) == count, label
    # Closed cases are not to-do: void one the worker reported and it leaves their count.
    login(client, WORKER)
    mine = home_tiles(client)["我上报的未办结"][1]
    other = new_case("district")
    ok(act(client, auth("dispatcher"), other, "void", comment="重复上报"))
    assert home_tiles(client)["我上报的未办结"][1] == mine


def test_the_administrator_has_no_case_section_on_home(client):
    login(client, "admin")
    page = client.get("/", headers=PAGE_HEADERS)
    assert page.status_code == 200 and 'data-testid="home-cases"' not in page.text


def test_a_closed_case_shows_no_light_in_the_list_its_export_or_its_page(client, auth, new_case):
    running, voided = new_case(), new_case()
    ok(act(client, auth("dispatcher"), voided, "void", comment="重复上报"))
    login(client, "dispatcher")
    for case, timed in ((running, True), (voided, False)):
        page = client.get("/cases", params={"q": case["number"], "mine": ""}, headers=PAGE_HEADERS)
        row = re.search(rf'<tr[^>]*data-case="{case["id"]}">(.*?)</tr>', page.text, re.S).group(1)
        assert ('class="dot green"' in row) is timed
        detail = client.get(f"/cases/{case['id']}", headers=PAGE_HEADERS).text.split("</h1>")[0]
        assert ('class="dot green"' in detail) is timed
        x = client.get("/cases/export.xlsx", params={"q": case["number"], "mine": ""})
        rows = list(load_workbook(io.BytesIO(x.content)).active.iter_rows(values_only=True))
        assert rows[1][0] == case["number"] and rows[1][2] == ("正常" if timed else None)


def test_a_red_case_says_how_long_it_is_overdue(client, auth, sessions, new_case):
    from datetime import timedelta

    from gridgov.core.db import utcnow

    case = new_case()
    with sessions() as db:
        row = db.get(Case, case["id"])
        row.deadline, row.light = utcnow() - timedelta(days=2, hours=3), "red"
        db.commit()
    login(client, "dispatcher")
    listing = client.get("/cases", params={"q": case["number"]}, headers=PAGE_HEADERS)
    assert '<small class="overdue" data-testid="overdue">已超 2 天</small>' in listing.text
    page = client.get(f"/cases/{case['id']}", headers={**PAGE_HEADERS, "Accept-Language": "en"})
    assert '<small class="overdue" data-testid="overdue">2 d overdue</small>' in page.text
    with sessions() as db:
        db.get(Case, case["id"]).deadline = utcnow() - timedelta(minutes=50)
        db.commit()
    listing = client.get("/cases", params={"q": case["number"]}, headers=PAGE_HEADERS)
    assert "已超 50 分钟" in listing.text or "已超 51 分钟" in listing.text
