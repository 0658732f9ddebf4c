"""`gridgov calendar …` on a database of its own (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gridgov.workcal.cli import calendar_app
from tests.conftest import migrated


@pytest.fixture
def run(backend, databases, tmp_path, monkeypatch):
    url = databases.new(backend)
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", url)
    monkeypatch.setenv("GRIDGOV_VAR_DIR", str(tmp_path / "var"))
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(calendar_app, list(args))
        assert result.exit_code == code, (result.output, result.exception)
        return result.output

    invoke.url = url
    return invoke


def test_commands_need_a_migrated_database(run):
    assert "gridgov migrate" in run("show", "2026", code=2)


def test_seed_show_set_and_deadline(run):
    migrated(run.url)
    assert "写入" in run("seed")
    assert "无需更改" in run("seed")
    shown = run("show", "2026")
    assert "国庆节" in shown and "2026-10-10" in shown and "国庆节调休" in shown
    assert "chinesecalendar" in shown
    out = run("deadline", "2026-09-30T17:00", "1", "work_days")
    assert "2026-10-08 17:00" in out and "2026-10-08T09:00:00+00:00" in out and "注意" not in out
    # 2027: no data, Monday–Friday, and it says so.
    assert "没有节假日安排数据" in run("show", "2027")
    out = run("deadline", "2027-02-04T09:00+08:00", "3", "work_days")
    assert "2027-02-09 09:00" in out and "2027 年没有节假日安排数据" in out
    out = run("set", "2027", "--holiday", "2027-02-05..2027-02-12:春节", "--holiday", "2027-10-01",
              "--workday", "2027-02-20:春节调休", "--note", "测试")
    assert "放假 7 天" in out and "调休上班 1 天" in out
    shown = run("show", "2027")
    assert "管理员录入" in shown and "2027-02-08" in shown and "春节调休" in shown
    assert "2027-02-06" not in shown  # a Saturday in the range is off anyway
    out = run("deadline", "2027-02-04T09:00+08:00", "3", "work_days")
    assert "2027-02-17 09:00" in out and "注意" not in out
    assert "无需更改" in run("seed")  # the admin's 2027 is left alone
    assert "管理员录入的年份未覆盖" not in run("seed")  # 2027 is not a package year
    run("set", "2026", "--holiday", "2026-10-01:国庆节")
    assert "管理员录入的年份未覆盖：2026" in run("seed")
    assert "已删除 2027 年" in run("clear", "2027")
    assert "没有节假日安排数据" in run("show", "2027")


def test_bad_input_says_why(run):
    migrated(run.url)
    out = run("set", "2027", "--holiday", "2027-02-13:春节", code=1)
    assert "2027-02-13 是周末" in out
    assert "日期格式不正确" in run("set", "2027", "--workday", "2027-13-01", code=1)
    assert "未知的时限单位" in run("deadline", "2026-09-30T17:00", "1", "weeks", code=1)
    assert "开始时间格式不正确" in run("deadline", "tomorrow", "1", "work_days", code=1)
    assert "年份必须在" in run("show", "1900", code=1)


def test_a_weekend_only_holiday_range_is_refused_and_errors_name_the_option(run):
    migrated(run.url)
    out = run("set", "2027", "--holiday", "2027-02-06..2027-02-07:春节", code=1)
    assert "--holiday: 2027-02-06..2027-02-07 都是周六、周日" in out
    assert "没有节假日安排数据" in run("show", "2027")  # not recorded as a confirmed Monday–Friday year
    assert "--workday: 2027-02-08 是周一至周五" in run("set", "2027", "--workday", "2027-02-08", code=1)
    out = run("set", "2027", "--holiday", "2027-02-12..2027-02-08", code=1)
    assert "--holiday: 日期范围不正确：2027-02-12..2027-02-08" in out
