"""Bad input is answered with the field and the rule it broke, in Chinese, or in English on request:
never with pydantic's own English text inside a Chinese message."""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Annotated

import pytest
from fastapi import Query
from fastapi.testclient import TestClient
from pydantic import AfterValidator

from gridgov.app import create_app
from gridgov.core import errors
from gridgov.core.i18n import EN
from tests.conftest import settings_for

WORKER = "wg43020300100101"
EN_HEADERS = {"Accept-Language": "en"}


def fields(r) -> dict[str, str]:
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
    return r.json()["error"]["fields"]


def test_a_case_body_of_wrong_types_names_each_rule(client, auth):
    # 1e400 is valid JSON that Python reads as infinity: a number, but not one a coordinate can be.
    body = b'{"description": 5, "lon": "x", "lat": 1e400, "crs": "utm", "urgency": null}'
    for lang, expected in (
        ("zh-CN", {"description": "必须是文本", "lon": "必须是数字", "lat": "必须是数字",
                   "crs": "必须是以下之一：wgs84、gcj02、bd09", "urgency": "必须是以下之一：normal、urgent"}),
        ("en", {"description": "must be text", "lon": "must be a number", "lat": "must be a number",
                "crs": "must be one of: wgs84, gcj02, bd09", "urgency": "must be one of: normal, urgent"}),
    ):
        r = client.post("/api/v1/cases", content=body, headers={
            **auth(WORKER), "Content-Type": "application/json", "Accept-Language": lang})
        assert fields(r) == expected


def test_a_body_that_is_not_a_json_object(client, auth):
    for content in (b"[]", b'"text"'):
        r = client.post("/api/v1/cases", content=content, headers={**auth(WORKER), "Content-Type": "application/json"})
        assert fields(r) == {"body": "必须是 JSON 对象"}
    r = client.post("/api/v1/cases", content=b"[]", headers={
        **auth(WORKER), "Content-Type": "application/json", **EN_HEADERS})
    assert fields(r) == {"body": "must be a JSON object"}


def test_broken_json_is_reported_on_the_body_not_on_a_character_offset(client, auth):
    r = client.post("/api/v1/cases", content=b'{"description": "x",\n oops', headers={
        **auth(WORKER), "Content-Type": "application/json"})
    assert fields(r) == {"body": "请求体不是合法的 JSON"}


def test_whole_numbers(client, auth):
    r = client.get("/api/v1/cases", params={"limit": "1.5", "offset": "9" * 5000}, headers=auth(WORKER))
    assert fields(r) == {"limit": "必须是整数", "offset": "数值超出范围"}
    r = client.get("/api/v1/cases", params={"offset": "9" * 5000}, headers={**auth(WORKER), **EN_HEADERS})
    assert fields(r) == {"offset": "is out of range"}
    # A JSON number with a fraction is a number, but not a whole one: pydantic's own type for it.
    r = client.post("/api/v1/cases/1/actions/register", json={"version": 1.5}, headers=auth(WORKER))
    assert fields(r) == {"version": "必须是整数"}
    assert fields(client.get("/api/v1/cases/abc", headers=auth(WORKER))) == {"case_id": "必须是整数"}
    r = client.get("/api/v1/cases/abc", headers={**auth(WORKER), **EN_HEADERS})
    assert fields(r) == {"case_id": "must be an integer"}


def test_a_yes_or_no_parameter(client, auth):
    assert fields(client.get("/api/v1/inbox", params={"unread_only": "maybe"}, headers=auth(WORKER))) == {
        "unread_only": "必须是 true 或 false"}
    r = client.post("/api/v1/residents/1/tags/x/decision", json={"accept": "maybe"},
                    headers={**auth(WORKER), **EN_HEADERS})
    assert fields(r) == {"accept": "must be true or false"}


def test_a_pattern_that_lists_words_reads_as_a_choice(client, auth):
    r = client.get("/api/v1/missing-alerts", params={"status": "bad"}, headers=auth(WORKER))
    assert fields(r) == {"status": "必须是以下之一：open、found、cancelled"}
    r = client.get("/api/v1/missing-alerts", params={"status": "bad"}, headers={**auth(WORKER), **EN_HEADERS})
    assert fields(r) == {"status": "must be one of: open, found, cancelled"}


def test_dates_times_and_float_limits(client, auth):
    params = {"start": "2026-13-01", "unit": "weeks", "amount": "-1", "at": "yesterday"}
    r = client.get("/api/v1/calendar/deadline", params=params, headers=auth("admin"))
    when = "时间格式不正确（应为 YYYY-MM-DDTHH:MM:SS，可带时区，如 2026-01-31T08:30:00+08:00）"
    assert fields(r) == {
        "start": when, "at": when, "amount": "不能小于 0",  # ge=0 on a float: not "0.0"
        "unit": "必须是以下之一：urgent_hours、work_hours、work_days、calendar_days"}
    r = client.get("/api/v1/calendar/deadline", params=params, headers={**auth("admin"), **EN_HEADERS})
    when = "must be a date and time as YYYY-MM-DDTHH:MM:SS, with an optional time zone, e.g. 2026-01-31T08:30:00+08:00"
    assert fields(r) == {"start": when, "at": when, "amount": "must be at least 0",
                         "unit": "must be one of: urgent_hours, work_hours, work_days, calendar_days"}


def test_a_list_of_objects_with_dates(client, auth):
    body = {"holidays": [{"date": "2026-02-30"}, "2026-10-01", {"date": "2026-10-01T10:00:00"}]}
    assert fields(client.put("/api/v1/calendar/2026", json=body, headers=auth("admin"))) == {
        "holidays.0.date": "日期格式不正确（应为 YYYY-MM-DD）",
        "holidays.1": "必须是 JSON 对象",
        "holidays.2.date": "必须是日期（YYYY-MM-DD），不能带时间"}
    r = client.put("/api/v1/calendar/2026", json=body, headers={**auth("admin"), **EN_HEADERS})
    assert fields(r) == {"holidays.0.date": "must be a date as YYYY-MM-DD", "holidays.1": "must be a JSON object",
                         "holidays.2.date": "must be a date (YYYY-MM-DD) without a time of day"}
    r = client.put("/api/v1/calendar/2026", json={"holidays": "2026-10-01"}, headers=auth("admin"))
    assert fields(r) == {"holidays": "必须是列表"}


def test_lists_and_objects_inside_a_body(client, auth):
    contacts = [{"name": "张三", "phone": "13900000000"}] * 6
    assert fields(client.post("/api/v1/missing", json={"contacts": contacts}, headers=auth(WORKER))) == {
        "contacts": "最多只能有 5 项"}
    r = client.post("/api/v1/missing", json={"contacts": contacts}, headers={**auth(WORKER), **EN_HEADERS})
    assert fields(r) == {"contacts": "must have at most 5 items"}
    r = client.post("/api/v1/residents/1/tags", json={"code": "x", "details": ["a"]}, headers=auth(WORKER))
    assert fields(r) == {"details": "必须是 JSON 对象"}


def test_text_where_a_file_belongs(client, auth):
    """FastAPI says so in a ValueError of its own, in English."""
    r = client.post("/api/v1/missing/1/photo", data={"file": "photo.jpg"}, headers=auth(WORKER))
    assert fields(r) == {"file": "必须是上传的文件"}
    r = client.post("/api/v1/missing/1/photo", data={"file": "photo.jpg"}, headers={**auth(WORKER), **EN_HEADERS})
    assert fields(r) == {"file": "must be an uploaded file"}


def _even(value: str) -> str:
    if len(value) % 2:
        raise ValueError("length must be even")  # as a library's validator would: English
    return value


def _not_future(value: str) -> str:
    if value > "2026":
        raise ValueError("不能晚于今天")  # as our own validators do: a Chinese catalog key
    return value


@pytest.fixture(scope="module")
def odd_client(demo_url, tmp_path_factory):
    """The app with fields whose errors no request schema of ours produces yet."""
    app = create_app(settings_for(demo_url, tmp_path_factory.mktemp("var")))

    @app.get("/api/v1/odd")
    def odd(ip: IPv4Address | None = None, even: Annotated[str | None, AfterValidator(_even)] = None,
            day: Annotated[str | None, AfterValidator(_not_future), Query()] = None):
        return {}

    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def test_an_unknown_error_type_names_its_code_not_pydantic_english(odd_client):
    zh = fields(odd_client.get("/api/v1/odd", params={"ip": "300.1.1.1", "even": "abc"}))
    assert zh == {"ip": "格式不正确（ip_v4_address）", "even": "格式不正确（value_error）"}
    en = fields(odd_client.get("/api/v1/odd", params={"ip": "300.1.1.1", "even": "abc"}, headers=EN_HEADERS))
    assert en == {"ip": "is invalid (ip_v4_address)", "even": "is invalid (value_error)"}


def test_our_own_validator_message_is_kept_and_translated(odd_client):
    assert fields(odd_client.get("/api/v1/odd", params={"day": "2030"})) == {"day": "不能晚于今天"}
    r = odd_client.get("/api/v1/odd", params={"day": "2030"}, headers=EN_HEADERS)
    assert fields(r) == {"day": "cannot be in the future"}


def test_every_validation_message_has_its_english():
    keys = {message for message, _ in errors._PYDANTIC_MESSAGES.values()}
    keys |= {"必须是以下之一：{expected}", "网址协议必须是以下之一：{expected}", "格式不正确（应匹配 {pattern}）",
             "必须是上传的文件", "格式不正确（{code}）"}
    assert sorted(k for k in keys if k not in EN) == []
