"""Import templates: Chinese headers, drop-downs, text-formatted codes, rules and fictitious
examples; an example row filled from the notes imports cleanly."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from gridgov.core.xlsx_stream import XlsxReader
from gridgov.people.identity import parse_id
from gridgov.people.sheets import RESIDENT_COLUMNS, example_id
from tests.people.conftest import WORKER
from tests.people.excel_helpers import upload


def _template(client, auth, kind):
    r = client.get(f"/api/v1/people/templates/{kind}.xlsx", headers=auth(WORKER))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    return load_workbook(io.BytesIO(r.content)), r.content


@pytest.mark.parametrize("kind,sheet,first", [("residents", "居民", "姓名"), ("houses", "房屋", "所属网格"),
                                              ("relations", "人房关系", "证件类型")])
def test_templates_have_chinese_headers_drop_downs_and_notes(client, auth, kind, sheet, first):
    wb, _ = _template(client, auth, kind)
    assert wb.sheetnames == [sheet, "填写说明"]
    ws = wb[sheet]
    headers = [c.value for c in ws[1]]
    assert headers[0] == first and all(h and not h.isascii() for h in headers)
    assert ws.data_validations.dataValidation, "closed lists are drop-downs"
    notes = list(wb["填写说明"].iter_rows(min_row=2, values_only=True))
    assert {n[1] for n in notes if n[0] == sheet} == set(headers)
    for row in notes:
        if row[1] == "证件号码" and row[4]:
            assert parse_id(row[4]).number == row[4] and row[4][14:16] == "99"  # valid checksum, fictitious


def test_residents_template_keeps_codes_as_text(client, auth):
    wb, _ = _template(client, auth, "residents")
    ws = wb["居民"]
    for i, c in enumerate(RESIDENT_COLUMNS, start=1):
        if c.key in ("id_number", "grid_code", "phone"):
            assert ws.cell(2, i).number_format == "@"
    kinds = next(dv for dv in ws.data_validations.dataValidation if "户籍人口" in (dv.formula1 or ""))
    assert "流动人口" in kinds.formula1


def test_tags_template_has_a_sheet_per_group_with_its_details(client, auth):
    wb, _ = _template(client, auth, "tags")
    assert {"社区矫正", "严重精神障碍", "独居老人", "填写说明"} <= set(wb.sheetnames)
    assert [c.value for c in wb["严重精神障碍"][1]] == ["证件类型", "证件号码", "姓名", "监护人", "监护人电话",
                                                    "危险性评估等级", "诊断", "备注"]
    grade = next(dv for dv in wb["残疾人"].data_validations.dataValidation if "一级" in (dv.formula1 or ""))
    assert "四级" in grade.formula1


def test_the_template_filled_with_its_example_imports(client, auth, tmp_path):
    wb, content = _template(client, auth, "residents")
    examples = {row[1]: row[4] for row in wb["填写说明"].iter_rows(min_row=2, values_only=True) if row[0] == "居民"}
    assert examples["证件号码"] == example_id()
    ws = wb["居民"]
    headers = [c.value for c in ws[1]]
    number = example_id("19790315", 991)
    for i, h in enumerate(headers, start=1):
        value = examples.get(h)
        ws.cell(2, i, number if h == "证件号码" else (value if value not in (None, "") else None))
    out = io.BytesIO()
    wb.save(out)
    path = tmp_path / "filled.xlsx"
    path.write_bytes(out.getvalue())
    assert [n for n, _v in XlsxReader(path).rows("居民") if _v and _v[0]] == [1, 2]
    run = upload(client, auth(WORKER), out.getvalue(), mode="all_or_nothing", source="模板")
    assert (run["status"], run["bad_rows"], run["imported_rows"]) == ("done", 0, 1), run
