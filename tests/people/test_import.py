"""Excel import of the people register: every kind of bad row in both modes, merging the same
person from two departments into conflicts settled through the API, houses, relations and tags,
streaming a few thousand rows, the CLI, and a run whose process died."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from gridgov.core.xlsx_stream import XlsxReader
from gridgov.people.identity import parse_id
from gridgov.people.imports import mark_stale, run_import
from gridgov.people.models import House, ImportRun, Residence, Resident, ResidentConflict, ResidentTag
from gridgov.people.service import id_hash, people_context
from tests.people.conftest import COMMUNITY, GRID, OTHER_GRID, STREET, WORKER, fake_id, fake_phone
from tests.people.excel_helpers import (
    HOUSE_HEADERS,
    RELATION_HEADERS,
    error_rows,
    person,
    principal,
    residents_xlsx,
    upload,
    xlsx,
)

MISSING_GRID = "43020300100199"


def _registered(sessions, app, number: str) -> Resident | None:
    ctx = people_context(app.state.settings)
    with sessions() as db:
        return db.scalar(select(Resident).where(Resident.id_hash == id_hash(ctx, parse_id(number))))


def _bad_file():
    good = fake_id()
    dup = fake_id()
    broken = fake_id()
    broken = broken[:-1] + ("0" if broken[-1] != "0" else "1")
    rows = [
        person(good, GRID, "好人甲", 联系电话=fake_phone(), 出生日期="1980-01-01"),  # 2: good
        person(broken, GRID),  # 3: checksum
        person(fake_id(), GRID, **{"证件类型": "护照", "证件号码": "E1234567", "出生日期": "1990-13-45"}),  # 4: date
        person(fake_id(), GRID, 人口类型="外星人"),  # 5: unknown code
        person(fake_id(), OTHER_GRID),  # 6: outside the grid worker's jurisdiction
        person(fake_id(), MISSING_GRID),  # 7: no such grid
        person(dup, GRID, "重复甲"),  # 8: good
        person(dup, GRID, "重复乙"),  # 9: duplicate of row 8
    ]
    return rows, good, dup


EXPECTED = {
    (3, "证件号码", "身份证号校验码不正确"),
    (4, "出生日期", "出生日期应为日期，如 2026-01-31"),
    (5, "人口类型", "必须是以下之一：户籍人口、流动人口、境外人员"),
    (6, "所属网格", f"网格 {OTHER_GRID} 不在您的管辖范围内"),
    (7, "所属网格", f"网格 {MISSING_GRID} 不存在"),
    (9, "证件号码", "与第 8 行重复"),
}


def test_all_or_nothing_reports_every_bad_row_and_writes_nothing(client, auth, sessions, app):
    rows, good, dup = _bad_file()
    run = upload(client, auth(WORKER), residents_xlsx(rows), mode="all_or_nothing")
    assert run["status"] == "done"
    assert (run["total_rows"], run["bad_rows"], run["imported_rows"]) == (8, 6, 0)
    assert "未导入任何数据" in run["message"]
    assert set(error_rows(client, auth(WORKER), run)) == EXPECTED
    assert _registered(sessions, app, good) is None and _registered(sessions, app, dup) is None


def test_good_rows_imports_the_good_ones_and_returns_the_rest(client, auth, sessions, app):
    rows, good, dup = _bad_file()
    run = upload(client, auth(WORKER), residents_xlsx(rows), mode="good_rows")
    assert (run["status"], run["bad_rows"], run["imported_rows"]) == ("done", 6, 2)
    assert set(error_rows(client, auth(WORKER), run)) == EXPECTED
    first = _registered(sessions, app, good)
    assert first.name == "好人甲" and first.grid_code == GRID and first.sources == ["卫健局"]
    assert first.birth_date == parse_id(good).birth_date  # the ID number decides, not the 出生日期 column
    assert _registered(sessions, app, dup).name == "重复甲"
    # The bad rows come back as they were, with their row numbers and reasons, ready to fix.
    r = client.get(run["error_url"], headers=auth(WORKER))
    copy = load_workbook(io.BytesIO(r.content))["错误行-居民"]
    header = [c.value for c in copy[1]]
    assert header[-2:] == ["原行号", "错误原因"]
    assert [row[-2] for row in copy.iter_rows(min_row=2, values_only=True)] == [3, 4, 5, 6, 7, 9]


def test_someone_registered_outside_the_jurisdiction_is_a_bad_row(client, auth, sessions, app, make_resident):
    other = make_resident(name="外网格人", grid=OTHER_GRID, who="jd" + OTHER_GRID[:9])
    run = upload(client, auth(WORKER), residents_xlsx([person(other["_id_number"], GRID, "外网格人")]),
                 mode="good_rows")
    assert (run["bad_rows"], run["imported_rows"]) == (1, 0)
    [(row, column, reason)] = error_rows(client, auth(WORKER), run)
    assert (row, column) == (2, "证件号码") and "管辖范围以外" in reason


def test_same_person_from_two_departments_makes_conflicts_settled_through_the_api(client, auth, sessions, app):
    number, phone_a, phone_b = fake_id(), fake_phone(), fake_phone()
    first = upload(client, auth(COMMUNITY), residents_xlsx([person(number, GRID, "李冲突", 联系电话=phone_a,
                                                                   职业="教师")]), source="公安局")
    assert (first["status"], first["imported_rows"], first["conflicts"]) == ("done", 1, 0)
    second = upload(client, auth(COMMUNITY), residents_xlsx([person(number, GRID, "李冲突", 联系电话=phone_b,
                                                                    职业="医生", 民族="汉族")]),
                    source="卫健局", mode="all_or_nothing")
    # Disagreements do not make the row bad and do not overwrite: they wait for a person.
    assert (second["status"], second["bad_rows"], second["imported_rows"], second["conflicts"]) == ("done", 0, 1, 2)
    person_row = _registered(sessions, app, number)
    assert person_row.occupation == "教师" and person_row.ethnicity == "汉族"  # blank filled, value kept
    assert person_row.sources == ["公安局", "卫健局"]
    listed = client.get("/api/v1/people/conflicts", headers=auth(COMMUNITY)).json()
    mine = {c["field"]: c for c in listed["items"] if c["resident_id"] == person_row.id}
    assert set(mine) == {"phone", "occupation"}
    assert mine["phone"]["proposed_value"] == phone_b[:3] + "****" + phone_b[-4:]  # masked
    assert mine["occupation"]["source"] == "卫健局"
    # Another community's admin does not see them.
    other = client.get("/api/v1/people/conflicts", headers=auth("sq" + OTHER_GRID[:12])).json()
    assert all(c["resident_id"] != person_row.id for c in other["items"])
    r = client.post(f"/api/v1/resident-conflicts/{mine['occupation']['id']}/replace", headers=auth(COMMUNITY))
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/resident-conflicts/{mine['phone']['id']}/keep", headers=auth(COMMUNITY))
    assert r.status_code == 200, r.text
    after = _registered(sessions, app, number)
    assert after.occupation == "医生" and after.phone_masked == phone_a[:3] + "****" + phone_a[-4:]
    left = client.get("/api/v1/people/conflicts", headers=auth(COMMUNITY)).json()
    assert all(c["resident_id"] != person_row.id for c in left["items"])
    # Importing the second file again adds no new conflict for the settled fields' same values.
    with sessions() as db:
        open_now = db.scalar(select(func.count()).select_from(ResidentConflict).where(
            ResidentConflict.resident_id == person_row.id, ResidentConflict.status == "open"))
    assert open_now == 0


def test_conflict_page_settles_with_a_button(client, auth, sessions, app):
    number = fake_id()
    upload(client, auth(COMMUNITY), residents_xlsx([person(number, GRID, "页面冲突", 职业="司机")]), source="甲")
    upload(client, auth(COMMUNITY), residents_xlsx([person(number, GRID, "页面冲突", 职业="厨师")]), source="乙")
    with sessions() as db:
        conflict = db.scalar(select(ResidentConflict).join(Resident, Resident.id == ResidentConflict.resident_id)
                             .where(Resident.name == "页面冲突", ResidentConflict.status == "open"))
    page = client.get("/people/conflicts", headers=auth(COMMUNITY))
    assert page.status_code == 200 and f'id="conflict-{conflict.id}"' in page.text and "厨师" in page.text
    r = client.post(f"/people/conflicts/{conflict.id}/replace", headers=auth(COMMUNITY))
    assert r.status_code == 200 and "已采用导入值" in r.text
    assert _registered(sessions, app, number).occupation == "厨师"


def test_refusals_before_anything_is_stored(client, auth):
    data = residents_xlsx([person(fake_id(), GRID)])
    files = {"file": ("a.xlsx", data, "application/octet-stream")}
    r = client.post("/api/v1/people/imports", headers=auth("leader"), data={"kind": "residents"}, files=files)
    assert r.status_code == 403  # a leader reads the register but does not import
    r = client.post("/api/v1/people/imports", headers=auth(WORKER), data={"kind": "cars", "mode": "x"}, files=files)
    assert r.status_code == 422 and set(r.json()["error"]["fields"]) == {"kind", "mode"}
    r = client.post("/api/v1/people/imports", headers=auth(WORKER), data={"kind": "residents"},
                    files={"file": ("a.xlsx", b"not a workbook", "application/octet-stream")})
    assert r.status_code == 422 and "不是有效的 Excel" in r.json()["error"]["fields"]["file"]
    run = upload(client, auth(WORKER), xlsx({"居民": (["姓名", "电话"], [{"姓名": "甲"}])}))
    assert run["status"] == "failed" and "缺少必填列" in run["message"] and "证件号码" in run["message"]
    # Someone else's run is not found, nor its errors.
    assert client.get(f"/api/v1/people/imports/{run['id']}", headers=auth(COMMUNITY)).status_code == 404


def test_houses_relations_and_tags(client, auth, sessions, app):
    building = f"测试小区{fake_id()[-6:]}栋"
    houses = [
        {"所属网格": GRID, "楼栋名称": building, "楼栋地址": "建设中路1号", "总层数": 6, "单元": "1", "房号": "101",
         "建筑面积（㎡）": 80.5, "房屋用途": "住宅", "是否出租": "否"},
        {"所属网格": GRID, "楼栋名称": building, "单元": "1", "房号": "102", "房屋用途": "马厩"},  # unknown use
        {"所属网格": OTHER_GRID, "楼栋名称": building, "房号": "101"},  # outside
        {"所属网格": GRID, "楼栋名称": building, "单元": "1", "房号": "101"},  # duplicate of row 2
        {"所属网格": GRID, "楼栋名称": building, "单元": "1", "房号": "103", "是否出租": "也许"},
    ]
    run = upload(client, auth(WORKER), xlsx({"房屋": (HOUSE_HEADERS, houses)}), kind="houses", mode="good_rows")
    assert (run["imported_rows"], run["bad_rows"]) == (1, 4), run
    assert {(r, c) for r, c, _ in error_rows(client, auth(WORKER), run)} == {
        (3, "房屋用途"), (4, "所属网格"), (5, "房号"), (6, "是否出租")}
    with sessions() as db:
        house = db.scalar(select(House).where(House.address.like(f"%{building}%")))
        assert (house.unit, house.room, house.area_m2, house.grid_code) == ("1", "101", 80.5, GRID)
    number = fake_id()
    upload(client, auth(WORKER), residents_xlsx([person(number, GRID, "住户甲")]))
    relations = [
        {"证件号码": number, "所属网格": GRID, "楼栋名称": building, "单元": "1", "房号": "101", "关系": "租住",
         "开始日期": "2024-03-01"},
        {"证件号码": fake_id(), "所属网格": GRID, "楼栋名称": building, "单元": "1", "房号": "101", "关系": "居住"},
        {"证件号码": number, "所属网格": GRID, "楼栋名称": building, "单元": "1", "房号": "999", "关系": "居住"},
        {"证件号码": number, "所属网格": GRID, "楼栋名称": building, "单元": "1", "房号": "101", "关系": "借住"},
        {"证件号码": number, "所属网格": GRID, "楼栋名称": building, "单元": "1", "房号": "101", "关系": "产权",
         "开始日期": "2024-03-01", "结束日期": "2023-01-01"},
    ]
    data = xlsx({"人房关系": (RELATION_HEADERS, relations)})
    run = upload(client, auth(WORKER), data, kind="relations", mode="all_or_nothing")
    assert (run["imported_rows"], run["bad_rows"]) == (0, 4)
    assert {(r, c) for r, c, _ in error_rows(client, auth(WORKER), run)} == {
        (3, "证件号码"), (4, "房号"), (5, "关系"), (6, "结束日期")}
    run = upload(client, auth(WORKER), data, kind="relations", mode="good_rows")
    assert run["imported_rows"] == 1
    again = upload(client, auth(WORKER), data, kind="relations", mode="good_rows")
    assert "新建 0" in again["message"]  # importing again doubles nothing
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Residence).where(Residence.house_id == house.id)) == 1
        assert db.get(House, house.id).rented is True
    tags = xlsx({
        "独居老人": (["证件号码", "姓名", "紧急联系人", "紧急联系电话"],
                 [{"证件号码": number, "紧急联系人": "王某", "紧急联系电话": fake_phone()},
                  {"证件号码": number, "紧急联系人": "李某", "紧急联系电话": fake_phone()},
                  {"证件号码": fake_id(), "紧急联系人": "", "紧急联系电话": "123"}]),
        "残疾人": (["证件号码", "残疾类别", "残疾等级"],
                [{"证件号码": number, "残疾类别": "视力", "残疾等级": "五级"}]),
    })
    run = upload(client, auth(WORKER), tags, kind="tags", mode="good_rows")
    assert (run["imported_rows"], run["bad_rows"]) == (1, 3), run
    got = set(error_rows(client, auth(WORKER), run))
    assert (3, "证件号码", "与第 2 行重复") in got
    assert (4, "紧急联系人", "紧急联系人必填") in got
    assert (2, "残疾等级", "残疾等级必须是以下之一：一级、二级、三级、四级") in got
    assert any(r == 4 and c == "紧急联系电话" for r, c, _ in got)
    with sessions() as db:
        tag = db.scalar(select(ResidentTag).join(Resident, Resident.id == ResidentTag.resident_id)
                        .where(Resident.name == "住户甲"))
        assert (tag.tag_code, tag.status, tag.details["emergency_contact"]) == ("living_alone", "active", "王某")
        assert tag.details["emergency_phone"]["masked"].count("*") == 4
    run = upload(client, auth(WORKER), xlsx({"不存在的组": (["证件号码"], [{"证件号码": number}])}), kind="tags")
    assert run["status"] == "failed" and "无法识别的工作表" in run["message"]


def test_streamed_import_of_thousands_of_rows_with_progress(sessions, app, tmp_path):
    ctx = people_context(app.state.settings)
    who = principal(sessions, STREET)
    numbers = [fake_id(birth=f"19{60 + i % 40:02d}{1 + i % 12:02d}{1 + i % 28:02d}") for i in range(3000)]
    numbers = list(dict.fromkeys(numbers))
    rows = [person(n, GRID, f"批量{i}", 联系电话=f"137{i:08d}", 现住址=f"建设路{i}号") for i, n in enumerate(numbers)]
    path = tmp_path / "many.xlsx"
    path.write_bytes(xlsx({"居民": (list(rows[0]), rows)}, write_only=True))
    assert sum(1 for _ in XlsxReader(path).rows("居民")) == len(rows) + 1
    calls = []
    run = run_import(sessions, ctx, who, "residents", path, "all_or_nothing", "民政局",
                     progress=lambda done, total: calls.append((done, total)))
    assert (run.status, run.total_rows, run.bad_rows, run.imported_rows) == ("done", len(rows), 0, len(rows))
    assert len(calls) >= 4 and calls[-1][0] == calls[-1][1] == 2 * len(rows)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:], strict=False))
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Resident).where(Resident.name.like("批量%"))) == len(rows)
    again = run_import(sessions, ctx, who, "residents", path, "all_or_nothing", "民政局")
    assert (again.imported_rows, again.conflicts) == (len(rows), 0) and "未变 " + str(len(rows)) in again.message


def test_cli_imports_with_progress_and_exit_codes(sessions, app, tmp_path, monkeypatch, cli_on_app):
    from gridgov.cli import app as cli

    good, bad = tmp_path / "good.xlsx", tmp_path / "bad.xlsx"
    number = fake_id()
    good.write_bytes(residents_xlsx([person(number, GRID, "命令行甲")]))
    bad.write_bytes(residents_xlsx([person(fake_id(), GRID, "命令行乙"), person("123", GRID, "命令行丙")]))
    runner = CliRunner()
    r = runner.invoke(cli, ["import", "residents", str(good), "--source", "卫健局", "--as", WORKER])
    assert r.exit_code == 0, r.output
    assert "导入 residents" in r.output and "已写入" in r.output
    assert _registered(sessions, app, number).sources == ["卫健局"]
    r = runner.invoke(cli, ["import", "residents", str(bad), "--mode", "all_or_nothing", "--source", "卫健局"])
    assert r.exit_code == 1, r.output
    assert "未导入任何数据" in r.output and "错误文件" in r.output
    r = runner.invoke(cli, ["import", "residents", str(bad), "--mode", "good_rows", "--source", "卫健局"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["import", "residents", str(good), "--as", "nobody-here"])
    assert r.exit_code == 2
    outside = tmp_path / "outside.xlsx"
    outside.write_bytes(residents_xlsx([person(fake_id(), OTHER_GRID, "命令行丁")]))
    r = runner.invoke(cli, ["import", "residents", str(outside), "--as", WORKER])
    assert r.exit_code == 1 and "1" in r.output


def test_a_run_whose_process_died_is_marked_failed(client, auth, sessions):
    with sessions() as db:
        user_id = db.scalar(select(ImportRun.user_id).where(ImportRun.user_id.is_not(None)).limit(1))
        run = ImportRun(kind="residents", mode="good_rows", filename="x.xlsx", source="测试", status="running",
                        user_id=user_id, heartbeat_at=datetime.now(UTC) - timedelta(minutes=30))
        fresh = ImportRun(kind="residents", mode="good_rows", filename="y.xlsx", source="测试", status="running",
                          user_id=user_id, heartbeat_at=datetime.now(UTC))
        db.add_all([run, fresh])
        db.commit()
        assert mark_stale(db) >= 1
        db.commit()
        db.refresh(run)
        db.refresh(fresh)
        assert run.status == "failed" and "进程已停止" in run.message and run.finished_at is not None
        assert fresh.status == "running"
        fresh.status = "done"
        db.commit()


@pytest.mark.parametrize("value", ["2026-13-01", "明天"])
def test_dates_that_are_not_dates(value, sessions, app, tmp_path):
    who = principal(sessions, WORKER)
    path = tmp_path / "d.xlsx"
    path.write_bytes(residents_xlsx([person("E7654321", GRID, 证件类型="护照", 出生日期=value)]))
    run = run_import(sessions, people_context(app.state.settings), who, "residents", path, "good_rows", "")
    assert (run.bad_rows, run.imported_rows) == (1, 0)


def test_a_run_that_breaks_says_so_without_quoting_the_rows(sessions, app, tmp_path, monkeypatch):
    """An unexpected error while writing ends the run failed, with a message for the uploader
    that does not repeat the error's text (a database error quotes the row it failed on)."""
    from gridgov.people import imports

    def broken(*_args, **_kwargs):
        raise RuntimeError("duplicate key: 测试李四 13700000001")

    monkeypatch.setattr(imports, "_write_pass", broken)
    path = tmp_path / "one.xlsx"
    row = person(fake_id(), GRID, "中断测试", 联系电话="13700000001")
    path.write_bytes(xlsx({"居民": (list(row), [row])}))
    run = run_import(sessions, people_context(app.state.settings), principal(sessions, STREET), "residents", path,
                     "all_or_nothing", "民政局")
    assert run.status == "failed" and "服务器内部错误" in run.message
    assert "测试李四" not in run.message and "13700000001" not in run.message
