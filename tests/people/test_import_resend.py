"""A resent Excel upload does not start a second import (DESIGN §10, the Idempotency-Key): through
the API's header and the page form's hidden key, one after the other and two at once, per user; a
refused upload (empty, no workbook, a bad choice, too long a key) makes no run, leaves no file and
spends no key, so the corrected one with the same key runs."""

from __future__ import annotations

import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gridgov.people import imports
from gridgov.people.models import ImportRun
from tests.people.conftest import COMMUNITY, GRID, WORKER, fake_id
from tests.people.excel_helpers import ended, person, principal, residents_xlsx

API = "/api/v1/people/imports"


def _post(client, headers, data: bytes, key: str | None = None, kind: str = "residents",
          mode: str = "all_or_nothing"):
    return client.post(API, headers={**headers, **({"Idempotency-Key": key} if key is not None else {})},
                       data={"kind": kind, "mode": mode, "source": "民政局"},
                       files={"file": ("重传.xlsx", data, "application/octet-stream")})


def _stored(monkeypatch) -> list[Path]:
    """Every upload stored under var/imports from now on, in order."""
    paths: list[Path] = []
    real = imports.save_upload

    def save_upload(*args, **kwargs):
        path = real(*args, **kwargs)
        paths.append(path)
        return path

    monkeypatch.setattr(imports, "save_upload", save_upload)
    return paths


def _runs(sessions, username: str, key: str | None = None, since: int = 0) -> list[int]:
    """The ids of the user's runs with this key (any, without one) from run `since` on."""
    user_id = principal(sessions, username).user_id
    where = [ImportRun.user_id == user_id, ImportRun.id >= since]
    if key is not None:
        where.append(ImportRun.idempotency_key == key)
    with sessions() as db:
        return list(db.scalars(select(ImportRun.id).where(*where).order_by(ImportRun.id)))


def _last_run(sessions) -> int:
    with sessions() as db:
        return db.scalar(select(func.max(ImportRun.id))) or 0


def _people(n: int, name: str) -> bytes:
    return residents_xlsx([person(fake_id(), GRID, f"{name}{i}") for i in range(n)])


def test_a_resent_upload_answers_with_the_first_run_and_imports_once(client, auth, sessions, monkeypatch):
    headers, key = auth(WORKER), uuid.uuid4().hex
    stored = _stored(monkeypatch)
    since = _last_run(sessions) + 1
    data = _people(3, "重传")
    first = _post(client, headers, data, key)
    assert first.status_code == 202, first.text
    again = _post(client, headers, data, key)  # while the first may still be queued or running
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["filename"] == "重传.xlsx"
    done = ended(client, headers, first.json()["id"])
    assert done["status"] == "done" and done["imported_rows"] == 3 and "新建 3" in done["message"], done
    late = _post(client, headers, data, key)  # the answer was lost; the client tries once more, later
    assert late.status_code == 200 and late.json()["id"] == done["id"]
    assert (late.json()["status"], late.json()["imported_rows"], late.json()["progress"]) == ("done", 3, 100)
    assert _runs(sessions, WORKER, since=since) == [done["id"]]  # no second run, keyed or not
    assert len(stored) == 1 and not stored[0].exists()  # stored once, and deleted when its run ended
    fresh = _post(client, headers, data, uuid.uuid4().hex)  # a new key is a new import (its rows merge)
    assert fresh.status_code == 202 and fresh.json()["id"] != done["id"]
    assert "未变 3" in ended(client, headers, fresh.json()["id"])["message"]


def test_a_key_is_the_uploaders_own(client, auth, sessions):
    key = uuid.uuid4().hex
    data = _people(1, "各自的键")
    mine = _post(client, auth(WORKER), data, key)
    theirs = _post(client, auth(COMMUNITY), data, key)
    assert (mine.status_code, theirs.status_code) == (202, 202), (mine.text, theirs.text)
    assert mine.json()["id"] != theirs.json()["id"]
    assert _runs(sessions, WORKER, key) == [mine.json()["id"]]
    assert _runs(sessions, COMMUNITY, key) == [theirs.json()["id"]]
    assert _post(client, auth(COMMUNITY), data, key).json()["id"] == theirs.json()["id"]
    for headers, run in ((auth(WORKER), mine), (auth(COMMUNITY), theirs)):
        assert ended(client, headers, run.json()["id"])["status"] == "done"


def _held_at_store(monkeypatch) -> list[Path]:
    """Holds each of two uploads after its look for the key until both have looked (and found
    nothing), as two sent a moment apart do; returns the list of what they store."""
    real, barrier, paths = imports.save_upload, threading.Barrier(2, timeout=20), []

    def save_upload(*args, **kwargs):
        barrier.wait()
        paths.append(real(*args, **kwargs))
        return paths[-1]

    monkeypatch.setattr(imports, "save_upload", save_upload)
    return paths


def test_two_uploads_with_one_key_at_once_make_one_run(client, auth, sessions, monkeypatch):
    headers, key = auth(WORKER), uuid.uuid4().hex
    stored = _held_at_store(monkeypatch)
    since = _last_run(sessions) + 1
    data = _people(2, "同时重传")
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: _post(client, headers, data, key), range(2)))
    assert sorted(r.status_code for r in answers) == [200, 202], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    run_id = answers[0].json()["id"]
    assert _runs(sessions, WORKER, since=since) == [run_id]
    assert len(stored) == 2 and sum(p.exists() for p in stored) <= 1  # the copy that lost is gone at once
    done = ended(client, headers, run_id)
    assert done["status"] == "done" and done["imported_rows"] == 2 and "新建 2" in done["message"], done
    assert not any(p.exists() for p in stored)  # …and the run's own when it ended: no stray file


def test_a_refused_upload_spends_no_key_and_leaves_no_file(client, auth, sessions, monkeypatch, app):
    headers, key = auth(WORKER), uuid.uuid4().hex
    stored = _stored(monkeypatch)
    empty = _post(client, headers, b"", key)
    assert empty.status_code == 422 and set(empty.json()["error"]["fields"]) == {"file"}, empty.text
    not_excel = _post(client, headers, b"name,id\n" + "张三,430203".encode(), key)
    assert not_excel.status_code == 422, not_excel.text
    assert "不是有效的 Excel" in not_excel.json()["error"]["fields"]["file"]
    old = _post(client, headers, imports.CFB + b"\0" * 504 + b"Workbook", key)
    assert old.status_code == 422 and "旧版 Excel" in old.json()["error"]["fields"]["file"], old.text
    choices = _post(client, headers, _people(1, "选错"), key, kind="cars")
    assert choices.status_code == 422 and set(choices.json()["error"]["fields"]) == {"kind"}
    assert _post(client, auth("leader"), _people(1, "无权"), key).status_code == 403
    too_long = _post(client, headers, _people(1, "长键"), "k" * 201)
    assert too_long.status_code == 422, too_long.text
    assert _runs(sessions, WORKER, key) == [] and _runs(sessions, WORKER, "k" * 200) == []
    assert len(stored) == 2 and not any(p.exists() for p in stored)  # the two that were no workbook
    good = _post(client, headers, _people(2, "改正后"), key)
    assert good.status_code == 202, good.text
    done = ended(client, headers, good.json()["id"])
    assert done["status"] == "done" and done["imported_rows"] == 2, done
    assert _runs(sessions, WORKER, key) == [done["id"]]
    assert _post(client, headers, _people(2, "改正后"), key).json()["id"] == done["id"]
    assert client.post(f"{API}?lang=en", headers=headers, data={"kind": "residents"},
                       files={"file": ("a.xlsx", b"not a workbook", "application/octet-stream")}
                       ).json()["error"]["fields"]["file"] == "not a valid Excel (.xlsx) file"
    assert not any(p.exists() for p in stored)


def _page_key(client, headers) -> str:
    page = client.get("/people/import", headers=headers)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    return re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', page.text).group(1)


def _submit(client, headers, data: bytes, key: str, kind: str = "residents"):
    return client.post("/people/import", headers=headers, follow_redirects=False,  # a bearer token: no CSRF
                       data={"kind": kind, "mode": "all_or_nothing", "source": "民政局", "idempotency_key": key},
                       files={"file": ("页面重传.xlsx", data, "application/octet-stream")})


def test_a_double_submitted_form_shows_the_first_runs_progress(client, auth, sessions, monkeypatch):
    headers = auth(COMMUNITY)
    stored = _stored(monkeypatch)
    key = _page_key(client, headers)
    assert _page_key(client, headers) != key  # every rendering of the form is a new import
    since = _last_run(sessions) + 1
    data = _people(2, "页面重传")
    sent = [_submit(client, headers, data, key) for _ in range(2)]
    assert [r.status_code for r in sent] == [303, 303], sent[0].text
    assert sent[0].headers["location"] == sent[1].headers["location"]
    run_id = int(sent[0].headers["location"].rsplit("/", 1)[1])
    assert _runs(sessions, COMMUNITY, since=since) == [run_id] and len(stored) == 1
    assert ended(client, headers, run_id)["imported_rows"] == 2
    page = client.get(sent[1].headers["location"], headers=headers)
    assert page.status_code == 200 and "页面重传.xlsx" in page.text


def test_a_form_sent_twice_at_once_makes_one_run(client, auth, sessions, monkeypatch):
    headers = auth(COMMUNITY)
    _held_at_store(monkeypatch)
    key = _page_key(client, headers)
    since = _last_run(sessions) + 1
    data = _people(1, "页面同时")
    with ThreadPoolExecutor(2) as pool:
        sent = list(pool.map(lambda _: _submit(client, headers, data, key), range(2)))
    assert [r.status_code for r in sent] == [303, 303], [r.text for r in sent]
    assert sent[0].headers["location"] == sent[1].headers["location"]
    run_id = int(sent[0].headers["location"].rsplit("/", 1)[1])
    assert _runs(sessions, COMMUNITY, since=since) == [run_id]
    assert ended(client, headers, run_id)["status"] == "done"


def test_a_refused_form_keeps_its_key_and_the_corrected_one_runs(client, auth, sessions):
    headers = auth(COMMUNITY)
    key = _page_key(client, headers)
    refused = _submit(client, headers, b"not a workbook", key)
    assert refused.status_code == 422 and "不是有效的 Excel" in refused.text
    assert f'name="idempotency_key" value="{key}"' in refused.text
    assert refused.headers["cache-control"] == "no-store"
    assert _runs(sessions, COMMUNITY, key) == []
    good = _submit(client, headers, _people(1, "页面改正"), key)
    assert good.status_code == 303, good.text
    run_id = int(good.headers["location"].rsplit("/", 1)[1])
    assert _runs(sessions, COMMUNITY, key) == [run_id]
    assert ended(client, headers, run_id)["status"] == "done"


@pytest.mark.parametrize("key", ["", None])
def test_an_upload_without_a_key_is_a_new_run_each_time(client, auth, sessions, key):
    headers = auth(WORKER)
    data = _people(1, "无键")
    runs = [_post(client, headers, data, key) for _ in range(2)]
    assert [r.status_code for r in runs] == [202, 202]
    assert runs[0].json()["id"] != runs[1].json()["id"]
    for r in runs:
        ended(client, headers, r.json()["id"])
    with sessions() as db:
        assert db.scalar(select(ImportRun.idempotency_key).where(ImportRun.id == runs[0].json()["id"])) is None
