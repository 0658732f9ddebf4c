"""A large good_rows import is checked by a second process while this one writes: the outcome is
the same as the two passes in turn — the same rows written, the same error workbook, the same
counts and a progress that only goes forward — and a check that fails still ends the run."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gridgov.people import imports
from gridgov.people.imports import progress_of, run_import
from gridgov.people.models import ImportRun, Resident
from gridgov.people.service import people_context
from tests.people.conftest import GRID, STREET, WORKER, fake_id
from tests.people.excel_helpers import error_rows, person, principal, residents_xlsx, upload, xlsx
from tests.people.test_import import EXPECTED, _bad_file, _registered


@pytest.fixture
def pipelined(monkeypatch):
    """Every good_rows import goes through the checking process, however small its file."""
    monkeypatch.setattr(imports, "PIPELINE_MIN_BYTES", 0)


def test_pipelined_import_writes_the_good_rows_and_returns_the_rest(pipelined, client, auth, sessions, app):
    rows, good, dup = _bad_file()
    run = upload(client, auth(WORKER), residents_xlsx(rows), mode="good_rows")
    assert (run["status"], run["total_rows"], run["bad_rows"], run["imported_rows"]) == ("done", 8, 6, 2), run
    assert set(error_rows(client, auth(WORKER), run)) == EXPECTED
    assert _registered(sessions, app, good).name == "好人甲"
    assert _registered(sessions, app, dup).name == "重复甲"


def test_all_or_nothing_never_pipelines(pipelined, client, auth, sessions, app):
    rows, good, _dup = _bad_file()
    run = upload(client, auth(WORKER), residents_xlsx(rows), mode="all_or_nothing")
    assert (run["status"], run["imported_rows"]) == ("done", 0)
    assert _registered(sessions, app, good) is None


def test_pipelined_progress_goes_forward_to_the_end(pipelined, sessions, app, tmp_path):
    ctx = people_context(app.state.settings)
    who = principal(sessions, STREET)
    numbers = list(dict.fromkeys(fake_id(birth=f"19{50 + i % 40:02d}{1 + i % 12:02d}{1 + i % 28:02d}")
                                 for i in range(2500)))
    rows = [person(n, GRID, f"并行{i}", 联系电话=f"139{i:08d}") for i, n in enumerate(numbers)]
    rows.append(person("123", GRID, "并行坏行"))
    path = tmp_path / "pipelined.xlsx"
    path.write_bytes(xlsx({"居民": (list(rows[0]), rows)}, write_only=True))
    calls = []
    run = run_import(sessions, ctx, who, "residents", path, "good_rows", "民政局",
                     progress=lambda done, total: calls.append((done, total)))
    n = len(numbers)
    assert (run.status, run.total_rows, run.bad_rows, run.imported_rows) == ("done", n + 1, 1, n), run.message
    assert run.error_file and progress_of(run) == 100
    assert calls and calls[-1] == (n + 1 + n, n + 1 + n)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:], strict=False))
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Resident).where(Resident.name.like("并行%"))) == n
    again = run_import(sessions, ctx, who, "residents", path, "good_rows", "民政局")
    assert (again.imported_rows, again.bad_rows) == (n, 1) and f"未变 {n}" in again.message


def test_a_check_that_fails_in_the_checking_process_fails_the_run(pipelined, sessions, app, tmp_path):
    ctx = people_context(app.state.settings)
    who = principal(sessions, STREET)
    no_ids = tmp_path / "no-ids.xlsx"
    no_ids.write_bytes(xlsx({"居民": (["姓名", "所属网格"], [{"姓名": "缺列", "所属网格": GRID}])}))
    run = run_import(sessions, ctx, who, "residents", no_ids, "good_rows", "民政局")
    assert run.status == "failed" and "缺少必填列" in run.message and "证件号码" in run.message
    not_excel = tmp_path / "not.xlsx"
    not_excel.write_bytes(b"PK\x03\x04 this is not a workbook")
    run = run_import(sessions, ctx, who, "residents", not_excel, "good_rows", "民政局")
    assert run.status == "failed" and "不是有效的 Excel" in run.message
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(ImportRun).where(ImportRun.status.in_(
            ("queued", "running")))) == 0


def test_the_progress_bar_of_a_pipelined_run_counts_both_halves():
    run = ImportRun(status="running", message=imports.PIPELINED, total_rows=1000, processed_rows=600,
                    imported_rows=400)
    assert progress_of(run) == 50  # 30 of the checking half, 20 of the writing half
    run.processed_rows, run.imported_rows = 1000, 1000
    assert progress_of(run) == 99  # until the run says it is done


def test_a_pipelined_run_reads_every_sheet_with_the_columns_and_names_the_others(pipelined, client, auth, sessions,
                                                                                 app):
    from tests.people.test_import_files import book

    first, second = fake_id(), fake_id()
    header = ["姓名", "证件号码", "所属网格"]
    data = book(("封面", [["民政局导出"]]), ("一组", [["某社区名单"], header, ["并行一组", first, GRID]]),
                ("二组", [header, ["并行二组", second, GRID], ["并行坏行", "123", GRID]]))
    run = upload(client, auth(WORKER), data, mode="good_rows")
    assert (run["status"], run["total_rows"], run["bad_rows"], run["imported_rows"]) == ("done", 3, 1, 2), run
    assert run["message"].endswith("已跳过没有所需列名的工作表：封面")
    assert error_rows(client, auth(WORKER), run) == [(3, "证件号码", "身份证号应为 18 位")]
    assert _registered(sessions, app, first).name == "并行一组"
    assert _registered(sessions, app, second).name == "并行二组"
