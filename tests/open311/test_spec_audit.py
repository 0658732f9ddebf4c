"""Points where the API and the GeoReport v2 text (http://wiki.open311.org/GeoReport_v2) once
disagreed: each test names the rule it holds the API to."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from gridgov.cases.models import Case
from gridgov.catalog.models import CatalogItem, Category
from gridgov.core.db import utcnow
from gridgov.core.logs import JsonFormatter
from tests.core.test_errors_ops import request_log
from tests.open311.conftest import DISPATCHER, V2, case_by_number, handler_username, items_at
from tests.open311.test_requests import REQUEST_FIELDS, created, numbers, one
from tests.open311.test_services import assert_spec_error, xml_of

SHANGHAI = ZoneInfo("Asia/Shanghai")


# --- POST: "service_request_id … should not be returned if token is returned" (and the reverse) ---

def test_a_realtime_post_answers_with_the_request_id_and_no_token(file):
    body = created(file())
    assert list(body) == ["service_request_id", "service_notice", "account_id"]
    root = xml_of(file(fmt="xml"))
    assert [c.tag for c in root[0]] == ["service_request_id", "service_notice", "account_id"]


def test_the_tokens_endpoint_still_answers_for_a_request_token(file, api, token_of):
    number = created(file())["service_request_id"]
    token = token_of(number)
    assert api.get(f"{V2}/tokens/{token}.json").json() == [{"service_request_id": number, "token": token}]


# --- GET requests: service_code and status "can be declared multiple times" ---

def test_filters_declared_several_times_are_all_applied(file, api, act, db_sessions):
    code_a, code_b = items_at(db_sessions, n=2)
    a = created(file(service_code=code_a))["service_request_id"]
    b = created(file(service_code=code_b))["service_request_id"]
    both = numbers(api.get(f"{V2}/requests.json", params=[("service_code", code_a), ("service_code", code_b)]))
    assert {a, b} <= set(both)
    act(case_by_number(db_sessions, b).id, "void", DISPATCHER, comment="重复上报")
    statuses = numbers(api.get(f"{V2}/requests.json", params=[("status", "open"), ("status", "closed")]))
    assert {a, b} <= set(statuses)
    ids = numbers(api.get(f"{V2}/requests.json", params=[("service_request_id", a), ("service_request_id", b)]))
    assert sorted(ids) == sorted([a, b])


# --- start_date / end_date: "Must use w3 format" ---

def test_every_w3c_precision_is_accepted(file, api):
    number = created(file())["service_request_id"]
    now = datetime.now(SHANGHAI)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (month + timedelta(days=32)).replace(day=1)
    # YYYY-MM, read in the installation's time zone
    assert number in numbers(api.get(f"{V2}/requests.json", params={
        "start_date": month.strftime("%Y-%m"), "end_date": following.strftime("%Y-%m")}))
    # YYYY: the year's first instant
    r = api.get(f"{V2}/requests.json", params={"start_date": str(now.year)})
    assert r.status_code == 200, r.text
    # hh:mm with an offset, no seconds; fractions of a second
    assert number in numbers(api.get(f"{V2}/requests.json", params={
        "start_date": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M+08:00"),
        "end_date": (now + timedelta(hours=1)).astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.25Z")}))


@pytest.mark.parametrize("bad", ["2026-W47", "20261121", "2026-11-21T10", "2026-11-21 10:00:00Z", "2026-1-5",
                                 "2026-11-21T10:00:00+8", "0000-01-01"])
def test_dates_that_are_not_w3c_are_refused(api, bad):
    text = assert_spec_error(api.get(f"{V2}/requests.json", params={"start_date": bad}), 400)
    assert "start_date" in text and "W3C" in text


def test_dates_at_the_ends_of_the_calendar_are_answered_not_a_server_error(api):
    for params in ({"end_date": "0001-01-01T00:00:00Z"}, {"start_date": "9999-12-31T23:59:59Z"},
                   {"start_date": "0001-01-01T00:00:00Z", "end_date": "0001-01-02T00:00:00Z"}):
        r = api.get(f"{V2}/requests.json", params=params)
        assert r.status_code == 200 and r.json() == [], (params, r.text)
    text = assert_spec_error(api.get(f"{V2}/requests.json", params={"start_date": "0001-01-01T00:00:00+08:00"}), 400)
    assert "start_date" in text
    en = assert_spec_error(api.get(f"{V2}/requests.json", params={"end_date": "0001-01-01T00:00:00+08:00",
                                                                  "lang": "en"}), 400)
    assert en.startswith("end_date")


# --- Response Volume: page and page_size, the spec's most widely implemented extension ---

def test_pages_of_requests(file, api):
    first, second, third = (created(file())["service_request_id"] for _ in range(3))
    assert numbers(api.get(f"{V2}/requests.json", params={"page_size": 2})) == [third, second]
    assert numbers(api.get(f"{V2}/requests.json", params={"page_size": "2", "page": "2"}))[0] == first
    assert numbers(api.get(f"{V2}/requests.json", params={"page": "", "page_size": ""}))[:3] == [third, second, first]
    for bad in ({"page": "0"}, {"page": "x"}, {"page_size": "0"}, {"page_size": "1001"}, {"page": "1.5"}):
        name = next(iter(bad))
        assert name in assert_spec_error(api.get(f"{V2}/requests.json", params=bad), 400)


# --- expected_datetime: "when the service request can be expected to be fulfilled" ---

def test_expected_datetime_is_the_handling_deadline(file, api, act, db_sessions):
    number = created(file())["service_request_id"]
    case = case_by_number(db_sessions, number)
    assert case.deadline is not None and case.step == "register"
    assert one(api, number)["expected_datetime"] is None  # a registration deadline is no promise of a fix
    handler = handler_username(db_sessions, case)
    act(case.id, "register", DISPATCHER)
    act(case.id, "dispatch", DISPATCHER)
    assert one(api, number)["expected_datetime"] is None
    act(case.id, "sign", handler)
    handling = case_by_number(db_sessions, number)
    expected = one(api, number)["expected_datetime"]
    assert handling.step == "handle" and expected is not None
    assert datetime.fromisoformat(expected) == handling.deadline.replace(microsecond=0)
    act(case.id, "report_back", handler, comment="已处理")
    assert one(api, number)["expected_datetime"] is None  # fixed: waiting for verification, not for a fix


# --- no personal data: matters kept out of the public list are not readable by a guessed number ---

def _private_case(sessions, **where) -> Case:
    with sessions() as db:
        majors = select(Category.id).where(Category.parent_id.is_(None), Category.kind == "social")
        items = select(CatalogItem.id).join(Category, Category.id == CatalogItem.category_id).where(
            Category.parent_id.in_(majors))
        q = select(Case).where(Case.item_id.in_(items), *[getattr(Case, k) == v for k, v in where.items()])
        return db.scalars(q.order_by(Case.id)).first()


def test_private_matters_reported_elsewhere_are_not_readable_by_number(api, db_sessions):
    case = _private_case(db_sessions, source="grid_worker")
    assert case is not None, "the demo history has grid workers' reports of social matters"
    assert case.number.startswith("SJ")  # date + sequence: easy to guess
    assert_spec_error(api.get(f"{V2}/requests/{case.number}.json"), 404)
    assert_spec_error(api.get(f"{V2}/requests/{case.number}.xml"), 404)
    assert numbers(api.get(f"{V2}/requests.json", params={"service_request_id": case.number})) == []


def test_a_private_matter_filed_here_can_be_followed_without_its_place_or_words(file, api, db_sessions):
    with db_sessions() as db:
        social = db.scalars(select(CatalogItem.code).join(Category, Category.id == CatalogItem.category_id)
                            .where(Category.parent_id.in_(select(Category.id).where(Category.kind == "social")),
                                   CatalogItem.active.is_(True)).order_by(CatalogItem.code)).first()
    number = created(file(service_code=social, description="隔壁家暴，地址 建设南路 3 栋 201",
                          address_string="建设南路 3 栋 201", media_url="https://img.example.com/p.jpg"))[
        "service_request_id"]
    r = one(api, number)
    assert list(r) == REQUEST_FIELDS
    assert r["status"] == "open" and r["status_notes"] == "待受理" and r["service_code"] == social
    for hidden in ("description", "address", "lat", "long", "media_url"):
        assert r[hidden] is None, hidden
    assert "建设南路" not in api.get(f"{V2}/requests/{number}.xml").text


# --- discovery: "an updated changeset indicates … an update to the … Service Definitions" ---

def test_the_discovery_changeset_moves_when_the_catalog_changes(api, db_sessions):
    def changesets() -> tuple[datetime, datetime]:
        body = api.get(f"{V2}/discovery.json").json()
        return datetime.fromisoformat(body["changeset"]), datetime.fromisoformat(body["endpoints"][0]["changeset"])

    before = changesets()
    code = items_at(db_sessions)[0]
    with db_sessions() as db:
        old = db.scalar(select(CatalogItem.updated_at).where(CatalogItem.code == code))
        later = utcnow() + timedelta(minutes=5)
        db.execute(update(CatalogItem).where(CatalogItem.code == code).values(updated_at=later))
        db.commit()
    try:
        after = changesets()
        assert after[0] > before[0] and after[1] > before[1]
        assert after[0].utcoffset() is not None
    finally:
        with db_sessions() as db:
            db.execute(update(CatalogItem).where(CatalogItem.code == code).values(updated_at=old))
            db.commit()


# --- errors in the spec's shape, whatever the method ---

def test_head_and_options_are_answered_in_the_spec_shape(api):
    r = api.options(f"{V2}/services.json")
    assert_spec_error(r, 405)
    assert "GET" in r.headers["allow"]
    r = api.head(f"{V2}/requests.xml")
    assert r.status_code == 405 and r.headers["content-type"].startswith("text/xml")
    assert "POST" in r.headers["allow"]


# --- POST bodies: "Content-Type: application/x-www-form-urlencoded" ---

def test_a_json_body_is_refused_with_a_clear_error(api, db_sessions):
    body = {"api_key": "demo-open311-key", "service_code": items_at(db_sessions)[0], "lat": 27.8, "long": 113.15}
    text = assert_spec_error(api.post(f"{V2}/requests.json", json=body), 400)
    assert "application/x-www-form-urlencoded" in text
    en = assert_spec_error(api.post(f"{V2}/requests.xml", json=body, headers={"Accept-Language": "en"}), 400)
    assert en.startswith("The request body must be")


# --- errors: the spec's shape, even for our own failures ---

def test_a_server_error_is_in_the_spec_shape_and_names_its_request_id(api, monkeypatch):
    """A 500 inside Open311 is answered in the spec's error list (a civic client parses that), and
    like every other 500 of the platform it shows the request's id, which the log line carries with
    the traceback; the exception's text is not shown."""
    from gridgov.open311 import service

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(service, "find_requests", broken)
    with request_log("gridgov.errors") as failures:
        text = assert_spec_error(api.get(f"{V2}/requests.json", headers={"X-Request-ID": "req-311"}), 500)
        xml = api.get(f"{V2}/requests.xml", headers={"X-Request-ID": "req-311-en", "Accept-Language": "en"})
    assert text == "服务器内部错误，已记录，请稍后重试（请求编号 req-311）"
    assert assert_spec_error(xml, 500) == (
        "Internal error; it has been logged, please try again later (request req-311-en)")
    assert xml.headers["x-request-id"] == "req-311-en"
    errors = [json.loads(JsonFormatter().format(r)) for r in failures]
    assert [x["request_id"] for x in errors] == ["req-311", "req-311-en"]
    assert all("hunter2" in x["exc"] for x in errors)  # the traceback is the operator's, in the log
    assert "hunter2" not in text + xml.text
