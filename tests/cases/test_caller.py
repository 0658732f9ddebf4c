"""The hotline caller's number (DESIGN §11): checked, encrypted at rest, masked in every answer,
and shown in full only to those who call back, with a reason, in the audit log. (The migration
that encrypted the numbers already stored: tests/cases/test_migrations.py.)"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from gridgov.cases.models import Case
from gridgov.cases.service import REPORTER_PHONE_CONTEXT
from gridgov.core.audit import AuditEntry
from gridgov.core.crypto import cipher_for
from tests.cases.test_lifecycle import GRID, WORKER, item_at, point_in
from tests.conftest import TEST_DATA_KEY

STREET = "jd" + GRID[:9]
OTHER_STREET = "jd430203001" if GRID[:9] != "430203001" else "jd430203002"
PHONE = "13800138000"


def hotline_case(client, auth, sessions, phone: str = "138 0013-8000", user: str = "dispatcher", **extra):
    lon, lat = point_in(sessions, GRID)
    body = {"description": f"来电反映 {uuid.uuid4().hex[:6]}：小区门口路灯不亮", "lon": lon, "lat": lat,
            "item_code": item_at(sessions, "district").code, "source": "hotline", "reporter_name": "赵来电",
            "reporter_phone": phone, **extra}
    return client.post("/api/v1/cases", json=body, headers=auth(user))


def last_audit(sessions) -> AuditEntry | None:
    with sessions() as db:
        return db.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()


def audit_length(sessions) -> int:
    with sessions() as db:
        return db.scalar(select(func.count()).select_from(AuditEntry))


def test_a_bad_number_is_refused_by_name_and_nothing_is_written(client, auth, sessions):
    with sessions() as db:
        before = db.scalar(select(func.count()).select_from(Case))
    r = hotline_case(client, auth, sessions, phone="12345")
    assert r.status_code == 422, r.text
    assert "手机号" in r.json()["error"]["fields"]["reporter_phone"]
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Case)) == before


def test_the_number_is_encrypted_at_rest_and_masked_in_every_answer(client, auth, sessions):
    r = hotline_case(client, auth, sessions, phone="+86 138-0013-8000")
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["reporter_name"], case["reporter_phone_masked"]) == ("赵来电", "138****8000")
    assert case["source"] == "hotline"
    headers = auth("dispatcher")
    answers = [r.text, client.get(f"/api/v1/cases/{case['id']}", headers=headers).text,
               client.get(f"/api/v1/cases/{case['id']}/events", headers=headers).text,
               client.get("/api/v1/cases", params={"q": case["number"]}, headers=headers).text,
               client.get(f"/cases/{case['id']}", headers=headers).text]
    assert "138****8000" in answers[1] and "138****8000" in answers[4]
    assert not any(PHONE in text for text in answers)
    with sessions() as db:
        row = db.execute(sa.text("SELECT * FROM cases WHERE id = :id"), {"id": case["id"]}).mappings().one()
    assert "reporter_phone" not in row
    assert not any(PHONE.encode() in (v if isinstance(v, bytes) else str(v).encode()) for v in row.values())
    assert cipher_for(TEST_DATA_KEY).decrypt(bytes(row["reporter_phone_cipher"]), REPORTER_PHONE_CONTEXT) == PHONE


@pytest.mark.parametrize("who", ["dispatcher", STREET, "handler"])
def test_those_who_call_back_see_it_with_a_reason_audited(client, auth, sessions, who):
    case = hotline_case(client, auth, sessions).json()
    if who == "handler":
        from gridgov.accounts.models import User

        with sessions() as db:
            who = db.get(User, case["handler"]["id"]).username
    r = client.post(f"/api/v1/cases/{case['id']}/reveal", json={"reason": "回访来电群众"}, headers=auth(who))
    assert r.status_code == 200, r.text
    assert r.json() == {"reporter_phone": PHONE}
    entry = last_audit(sessions)
    assert (entry.action, entry.object_type, entry.object_id, entry.reason) == ("reveal", "case", str(case["id"]),
                                                                                "回访来电群众")
    assert f"（{who}）" in entry.actor_name and "138****8000" in entry.subject and PHONE not in entry.subject


@pytest.mark.parametrize("who, status", [(WORKER, 403), ("leader", 403), ("admin", 403), (OTHER_STREET, 404)])
def test_others_do_not_and_nothing_is_logged(client, auth, sessions, who, status):
    case = hotline_case(client, auth, sessions).json()
    before = audit_length(sessions)
    r = client.post(f"/api/v1/cases/{case['id']}/reveal", json={"reason": "想看看号码"}, headers=auth(who))
    assert r.status_code == status, r.text
    assert PHONE not in r.text
    assert audit_length(sessions) == before


def test_a_reveal_needs_a_reason_and_a_number(client, auth, sessions):
    case = hotline_case(client, auth, sessions).json()
    r = client.post(f"/api/v1/cases/{case['id']}/reveal", json={"reason": " 看 "}, headers=auth("dispatcher"))
    assert r.status_code == 422 and "reason" in r.json()["error"]["fields"]
    silent = hotline_case(client, auth, sessions, phone="").json()
    assert silent["reporter_phone_masked"] == ""
    r = client.post(f"/api/v1/cases/{silent['id']}/reveal", json={"reason": "回访来电群众"}, headers=auth("dispatcher"))
    assert r.status_code == 404 and silent["number"] in r.json()["error"]["message"]


def test_the_case_page_offers_the_reveal_only_to_who_may(client, auth, sessions):
    case = hotline_case(client, auth, sessions).json()
    page = client.get(f"/cases/{case['id']}", headers=auth("dispatcher")).text
    assert "赵来电" in page and "12345 热线" in page and f"/api/v1/cases/{case['id']}/reveal" in page
    page = client.get(f"/cases/{case['id']}", headers=auth(WORKER)).text
    assert "138****8000" in page and "/reveal" not in page


def test_the_hotline_form_checks_the_number(client, auth, sessions):
    lon, lat = point_in(sessions, GRID)
    r = client.post("/cases/new", headers=auth("dispatcher"), follow_redirects=False,  # a bearer token: no CSRF
                    data={"description": "来电：井盖缺失", "lon": lon, "lat": lat,
                          "reporter_name": "钱来电", "reporter_phone": "0731-2888"})
    assert r.status_code == 422 and "固定电话应带区号" in r.text
    assert 'value="0731-2888"' in r.text  # what was typed is kept for correcting
