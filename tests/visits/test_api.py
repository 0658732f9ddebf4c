"""Visits and services through the HTTP API and the pages: recording with versions, jurisdiction,
ad hoc visits, photos, a finding turned into a case or a dispute, services and their export,
the tag frequency table, overdue visits on the home page and the community's list."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook
from sqlalchemy import func, select

from gridgov.cases.models import Case
from gridgov.catalog.models import CatalogItem, Category
from gridgov.core.audit import AuditEntry
from gridgov.people.models import Resident
from gridgov.visits import service
from gridgov.visits.models import Visit
from tests.visits.conftest import COMMUNITY_ADMIN, GRID, OTHER_GRID_WORKER, WORKER, point_in
from tests.web.test_pages import PAGE_HEADERS, login

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _overdue_visit(app, resident, name: str) -> dict:
    """A resident whose weekly visit fell due well before today."""
    added = datetime.now(UTC) - timedelta(days=12)
    rid = resident(name, tags={"living_alone": added})
    with app.state.sessions() as db:
        path = db.scalar(select(Resident.region_path).where(Resident.id == rid))
        service.generate_due_visits(db, service.local_today(app.state.settings), region_path=path)
        db.commit()
        visit = db.scalar(select(Visit).where(Visit.resident_id == rid))
        return {"id": visit.id, "version": visit.version, "resident_id": rid}


def test_record_a_due_visit_with_version_and_jurisdiction(app, client, auth, resident, sessions):
    v = _overdue_visit(app, resident, "记录走访")
    listed = client.get("/api/v1/visits", params={"status": "overdue", "mine": "true"}, headers=auth(WORKER)).json()
    assert v["id"] in [i["id"] for i in listed["items"]]
    assert client.get(f"/api/v1/visits/{v['id']}", headers=auth(OTHER_GRID_WORKER)).status_code == 404
    assert client.get("/api/v1/visits", headers=auth("bmgaj01")).status_code == 403
    lon, lat = point_in(sessions, GRID)
    bad = client.post(f"/api/v1/visits/{v['id']}/record", json={"version": v["version"]}, headers=auth(WORKER))
    assert bad.status_code == 422 and "met" in bad.json()["error"]["fields"]
    body = {"version": v["version"], "met": "本人", "lon": lon, "lat": lat, "findings": "屋内电线老化，存在火灾隐患",
            "follow_up": "联系物业检修"}
    done = client.post(f"/api/v1/visits/{v['id']}/record", json=body, headers=auth(WORKER))
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done" and done.json()["done_by"]
    stale = client.post(f"/api/v1/visits/{v['id']}/record", json=body, headers=auth(WORKER))
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "version_conflict"
    again = client.post(f"/api/v1/visits/{v['id']}/record", json={**body, "version": done.json()["version"]},
                        headers=auth(WORKER))
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_done"
    photo = client.post(f"/api/v1/visits/{v['id']}/photos", files={"file": ("a.png", PNG, "image/png")},
                        headers=auth(WORKER))
    assert photo.status_code == 201
    assert client.get(photo.json()["url"], headers=auth(WORKER)).content == PNG
    assert client.get(photo.json()["url"], headers=auth(OTHER_GRID_WORKER)).status_code == 404
    fake = client.post(f"/api/v1/visits/{v['id']}/photos", files={"file": ("a.png", b"not an image", "image/png")},
                       headers=auth(WORKER))
    assert fake.status_code == 422 and "photo" in fake.json()["error"]["fields"]


def test_a_finding_becomes_a_case_once_and_a_dispute_lands_in_the_dispute_category(app, client, auth, resident,
                                                                                   sessions):
    lon, lat = point_in(sessions, GRID)
    rid = resident("转事件")
    made = client.post("/api/v1/visits", json={"resident_id": rid, "met": "家属", "lon": lon, "lat": lat,
                                                "findings": "楼道堆放杂物堵塞消防通道"}, headers=auth(WORKER))
    assert made.status_code == 201, made.text
    vid = made.json()["id"]
    first = client.post(f"/api/v1/visits/{vid}/case", headers=auth(WORKER))
    assert first.status_code == 201, first.text
    second = client.post(f"/api/v1/visits/{vid}/case", headers=auth(WORKER))
    assert second.status_code == 200 and second.json()["case_id"] == first.json()["case_id"]
    with sessions() as db:
        case = db.get(Case, first.json()["case_id"])
        assert case.description.startswith("走访发现：楼道堆放杂物") and case.grid_code == GRID
        assert db.get(Visit, vid).case_id == case.id
    rid2 = resident("转纠纷")
    v2 = client.post("/api/v1/visits", json={"resident_id": rid2, "met": "本人", "lon": lon, "lat": lat,
                                             "findings": "与楼上邻居因漏水吵架，矛盾激化"}, headers=auth(WORKER)).json()
    wrong = client.post(f"/api/v1/visits/{v2['id']}/dispute", json={"item_code": "010101"}, headers=auth(WORKER))
    assert wrong.status_code == 422 and "item_code" in wrong.json()["error"]["fields"]
    dispute = client.post(f"/api/v1/visits/{v2['id']}/dispute", json={}, headers=auth(WORKER))
    assert dispute.status_code == 201, dispute.text
    with sessions() as db:
        case = db.get(Case, dispute.json()["case_id"])
        item = db.get(CatalogItem, case.item_id)
        major = db.get(Category, db.get(Category, item.category_id).parent_id)
        assert major.name == "矛盾纠纷"
    nothing = client.post("/api/v1/visits", json={"resident_id": resident("无发现"), "met": "本人", "place": "家中"},
                          headers=auth(WORKER)).json()
    refused = client.post(f"/api/v1/visits/{nothing['id']}/case", headers=auth(WORKER))
    assert refused.status_code == 422 and {"findings", "location"} <= set(refused.json()["error"]["fields"])


def test_an_ad_hoc_visit_for_a_tag_completes_its_due_visit(app, client, auth, resident):
    v = _overdue_visit(app, resident, "临时走访")
    r = client.post("/api/v1/visits", json={"resident_id": v["resident_id"], "tag_code": "living_alone",
                                            "met": "本人", "place": "小区花园"}, headers=auth(WORKER))
    assert r.status_code == 201 and r.json()["id"] == v["id"] and r.json()["status"] == "done"
    no_tag = client.post("/api/v1/visits", json={"resident_id": v["resident_id"], "tag_code": "drug_user",
                                                 "met": "本人", "place": "家中"}, headers=auth(WORKER))
    assert no_tag.status_code == 422 and "tag_code" in no_tag.json()["error"]["fields"]
    outside = client.post("/api/v1/visits", json={"resident_id": v["resident_id"], "met": "本人", "place": "家中"},
                          headers=auth(OTHER_GRID_WORKER))
    assert outside.status_code == 404


def test_services_are_logged_filtered_and_exported(client, auth, resident):
    rid = resident("服务对象")
    r = client.post("/api/v1/services", json={"role": "help", "title": "帮助申请临时救助", "resident_id": rid},
                    headers=auth(WORKER))
    assert r.status_code == 201 and r.json()["grid_code"] == GRID and r.json()["role_label"] == "困难帮扶"
    bad = client.post("/api/v1/services", json={"role": "cook", "title": ""}, headers=auth(WORKER))
    assert bad.status_code == 422 and {"role", "title"} <= set(bad.json()["error"]["fields"])
    client.post("/api/v1/services", json={"role": "law", "title": "普法讲座进小区"}, headers=auth(WORKER))
    helped = client.get("/api/v1/services", params={"role": "help", "q": "临时救助"}, headers=auth(WORKER)).json()
    assert helped["total"] >= 1 and all(i["role"] == "help" for i in helped["items"])
    assert r.json()["id"] not in [i["id"] for i in client.get("/api/v1/services", headers=auth(OTHER_GRID_WORKER))
                                  .json()["items"]]
    login(client, COMMUNITY_ADMIN)
    x = client.get("/services/export.xlsx", params={"role": "help", "q": "临时救助"})
    rows = list(load_workbook(io.BytesIO(x.content)).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("编号", "服务类型", "标题") and {row[1] for row in rows[1:]} == {"困难帮扶"}
    assert r.json()["id"] in [row[0] for row in rows[1:]]


def test_tag_frequencies_are_edited_by_the_admin_only(client, auth):
    kinds = client.get("/api/v1/tag-kinds", headers=auth(WORKER)).json()
    assert {"code": "community_correction", "name": "社区矫正", "visit_days": 7, "active": True} in kinds
    assert client.patch("/api/v1/tag-kinds/key_youth", json={"visit_days": 14}, headers=auth(WORKER)).status_code == 403
    bad = client.patch("/api/v1/tag-kinds/key_youth", json={"visit_days": 400}, headers=auth("admin"))
    assert bad.status_code == 422 and "visit_days" in bad.json()["error"]["fields"]
    ok = client.patch("/api/v1/tag-kinds/key_youth", json={"visit_days": 14}, headers=auth("admin"))
    assert ok.status_code == 200 and ok.json()["visit_days"] == 14
    client.patch("/api/v1/tag-kinds/key_youth", json={"visit_days": 30}, headers=auth("admin"))


def test_overdue_visits_show_on_the_home_page_and_the_community_list(app, client, auth, resident):
    v = _overdue_visit(app, resident, "逾期首页")
    login(client, WORKER)
    home = client.get("/", headers=PAGE_HEADERS)
    assert 'data-testid="home-visits"' in home.text and "逾期首页" in home.text
    login(client, COMMUNITY_ADMIN)
    page = client.get("/visits", params={"status": "overdue"}, headers=PAGE_HEADERS)
    assert page.status_code == 200 and f'/visits/{v["id"]}' in page.text
    x = client.get("/visits/export.xlsx", params={"status": "overdue", "q": "逾期首页"})
    rows = list(load_workbook(io.BytesIO(x.content)).active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == [v["id"]] and rows[1][3] == "已逾期"
    empty = client.get("/visits", params={"status": "overdue", "q": "没有这个人"}, headers=PAGE_HEADERS)
    assert 'data-testid="empty"' in empty.text


def test_the_visit_page_turns_a_finding_into_a_case_in_one_click(app, client, auth, resident, sessions):
    import re

    lon, lat = point_in(sessions, GRID)
    body = {"resident_id": resident("页面转事件"), "met": "本人", "lon": lon, "lat": lat,
            "findings": "院墙开裂有倒塌危险"}
    vid = client.post("/api/v1/visits", json=body, headers=auth(WORKER)).json()["id"]
    login(client, WORKER)
    page = client.get(f"/visits/{vid}", headers=PAGE_HEADERS)
    assert 'data-testid="to-case"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(f"/visits/{vid}/to-case", data={"csrf_token": token, "kind": "case"}, headers=PAGE_HEADERS,
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/cases/")
    assert client.get(r.headers["location"], headers=PAGE_HEADERS).status_code == 200


def test_a_photo_resent_over_a_bad_connection_is_kept_once(app, client, auth, resident):
    v = _overdue_visit(app, resident, "照片重发")
    url = f"/api/v1/visits/{v['id']}/photos"
    first = client.post(url, files={"file": ("a.png", PNG, "image/png")}, headers=auth(WORKER))
    again = client.post(url, files={"file": ("a.png", PNG, "image/png")}, headers=auth(WORKER))
    assert first.status_code == again.status_code == 201 and again.json()["id"] == first.json()["id"]
    other = client.post(url, files={"file": ("b.png", PNG + b"\x01", "image/png")}, headers=auth(WORKER))
    photos = client.get(f"/api/v1/visits/{v['id']}", headers=auth(WORKER)).json()["photos"]
    assert [p["id"] for p in photos] == [first.json()["id"], other.json()["id"]]


def test_times_without_a_time_zone_are_refused_for_that_reason(client, auth, resident):
    body = {"role": "help", "title": "上门帮扶", "resident_id": resident("无时区"), "served_at": "2026-01-05T10:00:00"}
    r = client.post("/api/v1/services", json=body, headers=auth(WORKER))
    assert r.status_code == 422 and r.json()["error"]["fields"]["served_at"] == "时间须带时区"


def test_an_ad_hoc_visit_resent_over_a_bad_connection_is_recorded_once(app, client, auth, resident, sessions):
    v = _overdue_visit(app, resident, "重发走访")
    body = {"resident_id": v["resident_id"], "tag_code": "living_alone", "met": "本人", "place": "家中",
            "visited_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
    first = client.post("/api/v1/visits", json=body, headers=auth(WORKER))
    again = client.post("/api/v1/visits", json=body, headers=auth(WORKER))  # the first answer was lost
    assert first.status_code == again.status_code == 201 and again.json()["id"] == first.json()["id"] == v["id"]
    untagged = {**body, "tag_code": "", "place": "小区花园"}
    one = client.post("/api/v1/visits", json=untagged, headers=auth(WORKER))
    two = client.post("/api/v1/visits", json=untagged, headers=auth(WORKER))
    assert one.status_code == two.status_code == 201 and two.json()["id"] == one.json()["id"]
    with sessions() as db:
        assert db.scalar(select(func.count(Visit.id)).where(Visit.resident_id == v["resident_id"])) == 2


def test_visit_and_service_exports_are_for_who_may_export_and_audited(app, client, auth, resident, sessions):
    """They name people with their tags: a leader reads the lists but exports neither, and each
    export by one who may is in the audit log with how many rows it held."""
    v = _overdue_visit(app, resident, "导出审计")
    login(client, "leader")
    page = client.get("/visits", params={"q": "导出审计"}, headers=PAGE_HEADERS)
    assert page.status_code == 200 and 'data-testid="export"' not in page.text
    for path in ("/visits/export.xlsx", "/services/export.xlsx"):
        assert client.get(path).status_code == 403, path
    login(client, COMMUNITY_ADMIN)
    x = client.get("/visits/export.xlsx", params={"status": "overdue", "q": "导出审计"})
    assert x.status_code == 200
    rows = list(load_workbook(io.BytesIO(x.content)).active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == [v["id"]]
    with sessions() as db:
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.seq.desc()))
        assert (entry.object_type, entry.data["rows"], entry.data["filters"]["q"]) == ("visit", 1, "导出审计")
    assert client.get("/services/export.xlsx").status_code == 200
    with sessions() as db:
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.seq.desc()))
        assert entry.object_type == "service" and entry.subject.startswith("服务记录")
