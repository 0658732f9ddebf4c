"""The audit log as its readers see it: account changes recorded, the list with filters (API and
page), the chain check on the page, and the Excel export, itself recorded."""

from __future__ import annotations

import io
from datetime import date, timedelta

from openpyxl import load_workbook

from gridgov.core.audit import verify_chain
from gridgov.core.crypto import data_cipher
from tests.accounts.test_auth import PASSWORD, page_login
from tests.accounts.test_users import fresh_name

GRID = "43020300100101"


def audit(client, auth, **filters) -> dict:
    r = client.get("/api/v1/audit", params=filters, headers=auth("admin"))
    assert r.status_code == 200, r.text
    return r.json()


def test_account_changes_are_recorded_without_passwords_or_full_mobiles(client, auth, request):
    username = fresh_name(request)
    created = client.post("/api/v1/users", headers=auth("admin"), json={
        "username": username, "display_name": "审计甲", "password": PASSWORD, "role": "grid_worker",
        "region_code": GRID, "mobile": "13800138000"})
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    changed = client.patch(f"/api/v1/users/{uid}", headers=auth("admin"), json={
        "role": "community_admin", "region_code": GRID[:12], "password": "another-pass-2026", "mobile": "13900139000"})
    assert changed.status_code == 200, changed.text
    unchanged = client.patch(f"/api/v1/users/{uid}", headers=auth("admin"), json={"display_name": "审计甲"})
    assert unchanged.status_code == 200

    # By subject too: on SQLite the ids of accounts other tests removed come round again.
    entries = [e for e in audit(client, auth, object_type="user")["items"]
               if e["object_id"] == str(uid) and username in e["subject"]]
    assert [e["action"] for e in entries] == ["user.update", "user.create"]  # newest first; no entry for no change
    update, create = entries
    assert create["action_label"] == "新建账户" and create["subject"] == f"账户 {username}（审计甲）"
    assert create["data"]["role"] == "grid_worker" and create["data"]["mobile"] == "138****8000"
    assert update["data"]["role"] == ["grid_worker", "community_admin"]
    assert update["data"]["region_code"] == [GRID, GRID[:12]]
    assert update["data"]["mobile"] == ["138****8000", "139****9000"]
    assert update["data"]["password"] == "重设 / reset"
    assert update["actor_name"].endswith("（admin）")
    text = str(entries)
    assert "13800138000" not in text and "13900139000" not in text and "another-pass-2026" not in text


def test_filters_narrow_the_list(client, auth, request):
    username = fresh_name(request)
    assert client.post("/api/v1/users", headers=auth("admin"), json={
        "username": username, "display_name": "审计乙", "password": PASSWORD, "role": "grid_worker",
        "region_code": GRID}).status_code == 201
    everything = audit(client, auth)
    assert everything["total"] >= 1
    by_action = audit(client, auth, action="user.create")
    assert by_action["items"] and {e["action"] for e in by_action["items"]} == {"user.create"}
    assert audit(client, auth, actor="admin")["total"] >= 1
    assert audit(client, auth, actor="没有这个人")["total"] == 0
    today = date.today()
    assert audit(client, auth, date_from=str(today + timedelta(days=2)))["total"] == 0
    assert audit(client, auth, date_from=str(today - timedelta(days=1)), date_to=str(today + timedelta(days=1)),
                 action="user.create")["total"] >= 1


def test_only_those_who_hold_audit_read_see_it(client, auth):
    worker = auth(f"wg{GRID}")
    assert client.get("/api/v1/audit", headers=worker).status_code == 403
    assert client.get("/admin/audit", headers=worker).status_code == 403
    assert client.get("/api/v1/audit").status_code == 401


def test_the_page_lists_checks_the_chain_and_exports(app, client, auth, request):
    username = fresh_name(request)
    assert client.post("/api/v1/users", headers=auth("admin"), json={
        "username": username, "display_name": "审计丙", "password": PASSWORD, "role": "grid_worker",
        "region_code": GRID}).status_code == 201
    page_login(client, "admin", "demo-2026")
    page = client.get("/admin/audit", params={"action": "user.create"})
    assert page.status_code == 200
    assert 'data-testid="audit-entry"' in page.text and f"账户 {username}（审计丙）" in page.text
    assert "审计日志" in page.text and 'href="/admin/audit"' in page.text  # in the menu
    checked = client.get("/admin/audit", params={"verify": "1"})
    # What the page says is what the check finds (its own tests break chains on purpose; here other
    # test modules share this database under keys of their own, so either answer may be the truth).
    with app.state.sessions() as db:
        truth = verify_chain(db, data_cipher(app.state.settings))
    if truth.ok:
        assert 'data-testid="chain-ok"' in checked.text and f"{truth.entries} 条记录" in checked.text
    else:
        assert 'data-testid="chain-broken"' in checked.text and truth.problem.reason in checked.text
    assert 'data-testid="chain' not in client.get("/admin/audit").text  # checked only on request
    # The links carry the filter, not the chain check nor the page they were on.
    linked = client.get("/admin/audit", params={"action": "user.create", "verify": "1", "page": "1"}).text
    assert 'href="/admin/audit/export.xlsx?action=user.create"' in linked
    assert 'href="/admin/audit?action=user.create&verify=1"' in linked
    nothing = client.get("/admin/audit", params={"actor": "没有这个人"})
    assert 'data-testid="audit-empty"' in nothing.text
    bad = client.get("/admin/audit", params={"date_from": "2026-13-40"})
    assert bad.status_code == 200 and 'data-testid="bad-dates"' in bad.text and "2026-13-40" in bad.text

    exported = client.get("/admin/audit/export.xlsx", params={"action": "user.create"})
    assert exported.status_code == 200
    sheet = load_workbook(io.BytesIO(exported.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("序号", "时间", "操作人", "操作")
    assert any(r[6] == f"账户 {username}（审计丙）" and r[3] == "新建账户" for r in rows[1:])
    newest = audit(client, auth, action="export", object_type="audit_log")["items"][0]
    assert newest["subject"] == f"审计日志 {len(rows) - 1} 条"
    assert newest["data"]["filters"] == {"action": "user.create"}
