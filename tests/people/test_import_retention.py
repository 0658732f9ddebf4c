"""What imports leave under var/imports is deleted when no longer needed: an error workbook (the
bad rows as uploaded, personal data in the clear) `import_files_days` after its run, and files no
run points to; the run then says its workbook is gone."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from gridgov.core.db import utcnow
from gridgov.core.jobs import registered_jobs
from gridgov.people.jobs import purge_imports
from gridgov.people.models import ImportRun
from tests.people.conftest import GRID, WORKER, fake_id
from tests.people.excel_helpers import person, residents_xlsx, upload


def bad_import(client, headers) -> dict:
    broken = fake_id()
    broken = broken[:-1] + ("0" if broken[-1] != "0" else "1")
    run = upload(client, headers, residents_xlsx([person(broken, GRID, "保留期测试")]))
    assert run["bad_rows"] == 1 and run["error_url"], run
    return run


def test_error_workbooks_and_stray_files_go_after_the_retention(client, auth, sessions, app):
    headers = auth(WORKER)
    old, young = bad_import(client, headers), bad_import(client, headers)
    with sessions() as db:
        old_file, young_file = (Path(db.get(ImportRun, r["id"]).error_file) for r in (old, young))
        db.execute(update(ImportRun).where(ImportRun.id == old["id"]).values(finished_at=utcnow() - timedelta(days=8)))
        db.commit()
    folder = old_file.parent
    stray_old, stray_young = folder / "upload-left-behind.xlsx", folder / "upload-just-now.xlsx"
    for stray in (stray_old, stray_young):
        stray.write_bytes(b"PK")
    eight_days_ago = time.time() - 8 * 86400
    os.utime(stray_old, (eight_days_ago, eight_days_ago))
    assert client.get(old["error_url"], headers=headers).status_code == 200
    # The English workbook beside each (?lang=en) holds the same rows, and goes with it.
    old_en, young_en = (f.with_name(f"{f.stem}.en.xlsx") for f in (old_file, young_file))
    assert old_en.exists() and young_en.exists()
    for f in (old_en, young_en):  # as old as their runs
        os.utime(f, (eight_days_ago, eight_days_ago))

    purged = purge_imports(sessions, app.state.settings)  # as the worker runs it
    assert purged.error_files == 1 and purged.stray_files == 1
    assert not old_file.exists() and not stray_old.exists() and not old_en.exists()
    assert young_file.exists() and stray_young.exists() and young_en.exists()  # its run still keeps it
    with sessions() as db:
        assert db.get(ImportRun, old["id"]).error_file == ""
    r = client.get(old["error_url"], headers=headers)
    assert r.status_code == 404 and "保留期限" in r.json()["error"]["message"]
    assert client.get(young["error_url"], headers=headers).status_code == 200
    page = client.get(f"/people/import/{old['id']}/progress", headers=headers).text
    assert 'data-testid="error-purged"' in page and "7 天" in page
    assert client.get(f"/api/v1/people/imports/{old['id']}", headers=headers).json()["error_url"] is None
    again = purge_imports(sessions, app.state.settings)  # nothing left to do; a second worker finds the same
    assert again.error_files == 0 and again.stray_files == 0
    stray_young.unlink()


def test_the_purge_runs_hourly_with_the_other_jobs():
    by_name = {j.name: j for j in registered_jobs()}
    assert by_name["people.purge_imports"].interval_seconds == 3600


def test_a_failed_run_leaves_no_temporary_copy_of_its_bad_rows(client, auth, monkeypatch, tmp_path):
    """openpyxl keeps a write-only sheet's rows in a temporary file until the book is saved: a run
    that failed must not leave its bad rows there for as long as the server runs."""
    import tempfile

    from tests.people.excel_helpers import xlsx

    _let_other_imports_end()  # an earlier test's import still running would make its files here too
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where openpyxl makes them
    run = upload(client, auth(WORKER), xlsx({"居民": (["姓名", "电话"], [{"姓名": "甲", "电话": "13800138000"}])}))
    assert run["status"] == "failed" and "缺少必填列" in run["message"]
    _let_other_imports_end()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("openpyxl.")) == []


def _let_other_imports_end() -> None:
    """Waits for the import threads of this process (named import-<run id>) to finish."""
    import threading

    for thread in threading.enumerate():
        if thread.name.startswith("import-"):
            thread.join(timeout=120)
