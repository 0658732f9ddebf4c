"""The resident export: the search's filters and jurisdiction, masked per role, unmasked only with
the reveal permission and a reason, and audited either way."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select

from gridgov.core.audit import AuditEntry
from tests.people.conftest import COMMUNITY, GRID, OTHER_GRID, WORKER


def _sheet(response) -> list[dict]:
    assert response.status_code == 200, response.text
    ws = load_workbook(io.BytesIO(response.content)).active
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def _last_export(sessions) -> AuditEntry:
    with sessions() as db:
        return db.scalar(select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.seq.desc()))


def test_export_follows_the_filters_and_the_jurisdiction_masked(client, auth, sessions, make_resident):
    mine = make_resident(name="导出甲乙", grid=GRID)
    make_resident(name="导出甲丙", grid=GRID)
    make_resident(name="导出甲丁", grid=OTHER_GRID, who="jd" + OTHER_GRID[:9])
    rows = _sheet(client.get("/api/v1/residents/export.xlsx", params={"q": "导出甲"}, headers=auth(WORKER)))
    assert sorted(r["姓名"] for r in rows) == ["导出甲丙", "导出甲乙"]  # not the other street's
    first = next(r for r in rows if r["姓名"] == "导出甲乙")
    assert first["证件号码"] == mine["id_number"] != mine["_id_number"] and "*" in first["证件号码"]
    assert "*" in first["联系电话"] and first["所属网格"] == GRID
    entry = _last_export(sessions)
    assert entry.data == {"filters": {"q": "导出甲"}, "rows": 2, "unmasked": False, "format": "xlsx"}
    assert entry.actor_name.endswith(f"（{WORKER}）") and entry.reason == ""
    # The same as the list on screen.
    listed = client.get("/api/v1/residents", params={"q": "导出甲", "limit": 200}, headers=auth(WORKER)).json()
    assert sorted(i["name"] for i in listed["items"]) == sorted(r["姓名"] for r in rows)
    only = _sheet(client.get("/api/v1/residents/export.xlsx", params={"q": "导出甲乙", "grid": GRID},
                             headers=auth(WORKER)))
    assert [r["姓名"] for r in only] == ["导出甲乙"]
    # The district sees all three, still masked for an admin who cannot reveal.
    rows = _sheet(client.get("/api/v1/residents/export.xlsx", params={"q": "导出甲"}, headers=auth("admin")))
    assert len(rows) == 3 and all("*" in r["证件号码"] for r in rows)


def test_unmasked_export_needs_the_permission_and_a_reason(client, auth, sessions, make_resident):
    person = make_resident(name="明文导出", grid=GRID)
    params = {"q": "明文导出", "unmasked": "1", "reason": "核对低保名单"}
    before = _last_export(sessions)
    r = client.get("/api/v1/residents/export.xlsx", params=params, headers=auth(WORKER))
    assert r.status_code == 403 and "无权导出完整" in r.json()["error"]["message"]
    r = client.get("/api/v1/residents/export.xlsx", params={**params, "reason": " "}, headers=auth(COMMUNITY))
    assert r.status_code == 422 and "reason" in r.json()["error"]["fields"]
    r = client.get("/api/v1/residents/export.xlsx", params=params, headers=auth("leader"))
    assert r.status_code == 403  # leaders read, they do not export
    after_refusals = _last_export(sessions)
    assert (after_refusals.seq if after_refusals else 0) == (before.seq if before else 0)  # refused: nothing out
    rows = _sheet(client.get("/api/v1/residents/export.xlsx", params=params, headers=auth(COMMUNITY)))
    assert [(r["证件号码"], r["联系电话"]) for r in rows] == [(person["_id_number"], person["_phone"])]
    entry = _last_export(sessions)
    assert entry.reason == "核对低保名单" and entry.data["unmasked"] is True and entry.data["rows"] == 1
    assert entry.actor_name.endswith(f"（{COMMUNITY}）")


def test_an_unmasked_export_imports_back_unchanged(client, auth, make_resident):
    from tests.people.excel_helpers import upload

    make_resident(name="回导测试", grid=GRID)
    r = client.get("/api/v1/residents/export.xlsx", params={"q": "回导测试", "unmasked": "1", "reason": "导出后回导"},
                   headers=auth(COMMUNITY))
    run = upload(client, auth(COMMUNITY), r.content, source="回导")
    assert (run["status"], run["bad_rows"], run["conflicts"], run["imported_rows"]) == ("done", 0, 0, 1)
