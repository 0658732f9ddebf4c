"""Lists as Excel (`gridgov.core.excel`): local times, and no rows left behind in temporary files
when writing the list fails half-way."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet import _writer

from gridgov.core.excel import table_workbook


def test_a_list_is_one_sheet_with_local_times():
    data = table_workbook("事件", ["编号", "上报时间"], [("SJ1", datetime(2026, 11, 21, 16, 30, tzinfo=UTC))])
    ws = load_workbook(io.BytesIO(data)).active
    assert ws.title == "事件"
    assert [c.value for c in ws[1]] == ["编号", "上报时间"]
    assert [c.value for c in ws[2]] == ["SJ1", datetime(2026, 11, 22, 0, 30)]


def test_a_list_that_fails_half_way_leaves_no_temporary_file():
    def rows():
        yield ("张三", "4302**********1234")
        raise RuntimeError("the database went away")

    before = set(_writer.ALL_TEMP_FILES)
    with pytest.raises(RuntimeError):
        table_workbook("居民", ["姓名", "身份证号"], rows())
    left = [path for path in set(_writer.ALL_TEMP_FILES) - before if os.path.exists(path)]
    assert left == []
