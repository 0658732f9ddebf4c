"""One error shape, in Chinese and in English, no stack traces; health, readiness, metrics, logs."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from gridgov.app import create_app
from gridgov.core.logs import JsonFormatter
from tests.conftest import settings_for


@contextmanager
def request_log(name: str = "gridgov.http") -> Iterator[list[logging.LogRecord]]:
    """The request log's records (or another gridgov logger's) while the block runs (the test
    settings log warnings only)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger, root = logging.getLogger(name), logging.getLogger("gridgov")
    level = root.level
    logger.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        root.setLevel(level)


def test_unknown_route_is_a_json_404(client):
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "not_found", "message": "找不到该资源", "fields": {}}}


def test_wrong_method_is_a_json_405_in_english_on_request(client):
    r = client.delete("/api/v1/grids/locate", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert r.status_code == 405
    assert r.json()["error"] == {"code": "method_not_allowed", "message": "Method not allowed", "fields": {}}


def test_unexpected_failure_is_a_500_without_a_stack_trace(demo_url, tmp_path):
    app = create_app(settings_for(demo_url, tmp_path))

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/boom")
        page = c.get("/boom-page-does-not-exist", headers={"Accept": "text/html"})
    app.state.engine.dispose()
    assert r.status_code == 500
    body = r.json()
    assert body["error"]["code"] == "internal_error"
    assert "已记录" in body["error"]["message"]
    assert "hunter2" not in r.text and "Traceback" not in r.text
    assert page.status_code == 404 and "Traceback" not in page.text


def test_an_unreadable_form_is_a_400_in_the_requested_language(client):
    """Starlette's own texts ("Missing boundary in multipart.") are not shown: one shape, one language."""
    for body, kind in ((b"x", "multipart/form-data"), (b"x", "multipart/form-data; boundary=zz"),
                       ("&".join(f"f{i}=1" for i in range(1200)).encode(), "application/x-www-form-urlencoded")):
        r = client.post("/api/v1/auth/token", content=body, headers={"Content-Type": kind})
        assert r.status_code == 400
        assert r.json() == {"error": {"code": "bad_request", "message": "请求格式不正确", "fields": {}}}
    r = client.post("/api/v1/auth/token", content=b"x", headers={"Content-Type": "multipart/form-data",
                                                                 "Accept-Language": "en"})
    assert r.json()["error"]["message"] == "The request is malformed"


def test_json_body_errors_name_each_field(client, auth):
    r = client.post("/api/v1/users", json={"username": "x"}, headers=auth("admin"))
    assert r.status_code == 422
    fields = r.json()["error"]["fields"]
    assert fields["username"] == "长度不能少于 3"
    assert fields["password"] == "必填"
    assert fields["role"] == "必填"


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}


def test_metrics_count_requests_by_route_template(client, auth):
    client.get("/api/v1/regions/430203001", headers=auth("dispatcher"))
    text = client.get("/metrics").text
    assert 'gridgov_http_requests_total{method="GET",route="/api/v1/regions/{code}",status="200"}' in text
    assert "gridgov_http_request_seconds_bucket" in text


def test_metrics_take_no_label_from_a_made_up_method(client):
    """Any token is a method to HTTP: each one a label would be a new series for anyone to create."""
    for n in range(3):
        assert client.request(f"PROBE{n}", "/api/v1/me").status_code == 405
    text = client.get("/metrics").text
    assert "PROBE" not in text
    assert 'gridgov_http_requests_total{method="other",route="/api/v1/me",status="405"}' in text


def test_an_unexpected_failure_is_counted_and_logged(demo_url, tmp_path):
    """The 500 is sent from outside the request middleware (Starlette's ServerErrorMiddleware): the
    middleware still has to count it and write its log line."""
    app = create_app(settings_for(demo_url, tmp_path))

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("boom")

    try:
        with request_log() as records, TestClient(app, raise_server_exceptions=False) as c:
            assert c.get("/api/v1/boom", headers={"X-Request-ID": "req-500"}).status_code == 500
            text = c.get("/metrics").text
    finally:
        app.state.engine.dispose()
    assert 'gridgov_http_requests_total{method="GET",route="/api/v1/boom",status="500"} 1.0' in text
    lines = [json.loads(JsonFormatter().format(r)) for r in records]
    assert [(x["request_id"], x["status"]) for x in lines if x["path"] == "/api/v1/boom"] == [("req-500", 500)]


def test_a_500_carries_its_request_id_so_a_screenshot_leads_to_the_log(demo_url, tmp_path):
    """Starlette answers the 500 from outside the request middleware that puts X-Request-ID on every
    other answer. The id has to be on it too, in the message a user sees and in the error's log line."""
    app = create_app(settings_for(demo_url, tmp_path))

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    @app.get("/boom")
    def boom_page():
        raise RuntimeError("secret internals: password=hunter2")

    try:
        with request_log() as requests, request_log("gridgov.errors") as failures, \
                TestClient(app, raise_server_exceptions=False) as c:
            sent = c.get("/api/v1/boom", headers={"X-Request-ID": "req-from-phone"})
            made = c.get("/api/v1/boom")
            english = c.get("/api/v1/boom", headers={"X-Request-ID": "req-en", "Accept-Language": "en"})
            page = c.get("/boom", headers={"Accept": "text/html", "X-Request-ID": "req-page"})
    finally:
        app.state.engine.dispose()

    assert sent.status_code == 500 and sent.headers["x-request-id"] == "req-from-phone"
    assert sent.json() == {"error": {"code": "internal_error", "fields": {},
                                     "message": "服务器内部错误，已记录，请稍后重试（请求编号 req-from-phone）"}}
    made_id = made.headers["x-request-id"]
    assert re.fullmatch("[0-9a-f]{16}", made_id)
    assert made.json()["error"]["message"].endswith(f"（请求编号 {made_id}）")
    assert english.headers["x-request-id"] == "req-en"
    assert english.json()["error"]["message"] == (
        "Internal error; it has been logged, please try again later (request req-en)")
    assert page.status_code == 500 and page.headers["x-request-id"] == "req-page"
    assert "req-page" in page.text
    for r in (sent, made, english, page):
        assert "hunter2" not in r.text and "Traceback" not in r.text

    ids = ["req-from-phone", made_id, "req-en", "req-page"]
    logged = [json.loads(JsonFormatter().format(r)) for r in requests]
    assert [x["request_id"] for x in logged if x["status"] == 500] == ids
    errors = [json.loads(JsonFormatter().format(r)) for r in failures]
    assert [x["request_id"] for x in errors] == ids
    assert all("hunter2" in x["exc"] for x in errors)  # the traceback is the operator's, in the log
    assert all(x["msg"].endswith(f"(request {i})") for x, i in zip(errors, ids, strict=True))  # plain-text logs


def test_requests_are_logged_as_json_lines(client, auth, app):
    with request_log() as records:
        client.get("/api/v1/me", headers={**auth("dispatcher"), "X-Request-ID": "req-123"})
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["request_id"] == "req-123"
    assert line["path"] == "/api/v1/me"
    assert line["status"] == 200
    assert line["user"] == "dispatcher"
    assert line["level"] == "info"


def test_keep_alive_connections_are_recycled_as_configured(demo_url, tmp_path):
    """`keepalive_requests` 1: every answer closes its connection; 0: none does."""
    for every, closes in ((1, True), (0, False)):
        settings = settings_for(demo_url, tmp_path)
        settings.keepalive_requests = every
        app = create_app(settings)
        with TestClient(app) as c:
            answers = [c.get("/healthz") for _ in range(20)]
        app.state.engine.dispose()
        assert all(r.status_code == 200 for r in answers)
        assert all((r.headers.get("connection") == "close") is closes for r in answers)
