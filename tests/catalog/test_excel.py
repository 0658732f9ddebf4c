"""The catalog through Excel: export, import in both modes, row-level errors, the error workbook.
Nothing here commits: each test's session is rolled back."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from gridgov.catalog import excel
from gridgov.catalog.models import CatalogItem, Category
from gridgov.core.errors import ValidationFailed
from tests.workbooks import workbook as sheets


def snapshot(db) -> dict[str, tuple]:
    rows = db.scalars(select(CatalogItem).order_by(CatalogItem.code)).all()
    cats = {c.id: (c.code, c.name, c.parent_id, c.kind) for c in db.scalars(select(Category))}
    return {i.code: (i.name, cats[i.category_id], i.department_id, i.handling_level, i.registration_standard,
                     i.closure_standard, i.time_limits, i.keywords, i.self_handle, i.active, i.updated_at)
            for i in rows} | {"categories": tuple(sorted(cats.values()))}


def workbook(rows: list[dict], headers: list[str] | None = None) -> bytes:
    headers = headers or excel.HEADERS
    wb = Workbook()
    ws = wb.active
    ws.title = excel.SHEET
    ws.append(headers)
    for row in rows:
        ws.append([row.get(h) for h in headers])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def new_row(**changes) -> dict:
    row = {"事项编码": "019901", "事项名称": "测试新事项", "大类编码": "01", "大类名称": "市容环境", "小类编码": "0199",
           "小类名称": "测试小类", "责任部门代码": "CGJ", "处置层级": "区", "立案标准": "发现即立案",
           "结案标准": "清理完毕", "派遣时限": 1, "派遣时限单位": "工作时", "处置时限": 2, "处置时限单位": "工作日",
           "关键词": "测试 新事项", "网格员可自处理": "否", "启用": "是"}
    row.update(changes)
    return row


def errors_of(report) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.problem.render("zh")) for e in report.errors]


def count(db) -> int:
    return db.scalar(select(func.count(CatalogItem.id)))


def test_export_has_chinese_headers_and_one_row_per_item(db):
    ws = load_workbook(io.BytesIO(excel.export_workbook(db)))[excel.SHEET]
    headers = [c.value for c in ws[1]]
    for h in ["事项编码", "事项名称", "大类编码", "大类名称", "小类编码", "小类名称", "责任部门代码", "处置层级",
              "立案标准", "结案标准", "派遣时限", "派遣时限单位", "处置时限", "处置时限单位", "关键词",
              "网格员可自处理"]:
        assert h in headers
    rows = {r[0]: dict(zip(headers, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assert len(rows) == count(db)
    garbage = rows["010101"]
    assert (garbage["事项名称"], garbage["大类编码"], garbage["大类名称"], garbage["小类编码"]) == (
        "暴露垃圾", "01", "市容环境", "0101")
    assert (garbage["责任部门代码"], garbage["处置层级"], garbage["网格员可自处理"]) == ("CGJ", "区", "是")
    assert (garbage["处置时限"], garbage["处置时限单位"]) == (4, "工作时")
    gas = next(r for r in rows.values() if r["事项名称"] == "燃气泄漏")
    assert gas["处置时限单位"] == "紧急工作时" and gas["立案时限"] == 0.5


def test_export_then_import_changes_nothing(db):
    before = snapshot(db)
    report = excel.import_workbook(db, excel.export_workbook(db))
    assert errors_of(report) == []
    assert (report.ok, report.written, report.created, report.updated, report.unchanged) == (
        True, True, 0, 0, len(before) - 1)
    assert (report.categories_created, report.categories_updated) == (0, 0)
    db.expire_all()
    assert snapshot(db) == before
    assert report.error_workbook() is None


def test_import_updates_by_code_and_creates_missing_categories(db):
    n = count(db)
    data = workbook([new_row(大类编码="99", 大类名称="测试大类", 小类编码="9901", 小类名称="测试小类",
                             事项编码="990101", 处置层级="社区", 关键词="甲 乙，丙"),
                     new_row(事项编码="010101", 事项名称="暴露垃圾（改）", 小类编码="0101", 小类名称="", 大类名称="")])
    report = excel.import_workbook(db, data, "all_or_nothing")
    assert errors_of(report) == []
    assert (report.created, report.updated, report.categories_created) == (1, 1, 2)
    item = db.scalar(select(CatalogItem).where(CatalogItem.code == "990101"))
    assert (item.category.code, item.handling_level, item.keywords) == ("9901", "community", "甲 乙 丙")
    assert item.time_limits == {"dispatch": {"amount": 1, "unit": "work_hours"},
                                "handle": {"amount": 2, "unit": "work_days"}}
    major = db.scalar(select(Category).where(Category.code == "99"))
    assert (major.name, major.parent_id, major.kind) == ("测试大类", None, "social")
    assert db.scalar(select(Category).where(Category.code == "9901")).parent_id == major.id
    assert db.scalar(select(CatalogItem.name).where(CatalogItem.code == "010101")) == "暴露垃圾（改）"
    assert count(db) == n + 1


BAD_ROWS = [
    new_row(),  # row 2: good
    new_row(事项编码="019902", 责任部门代码="XYZ"),  # row 3
    new_row(事项编码="019903", 处置时限=-1, 派遣时限单位="周"),  # row 4
    new_row(事项名称="重复编码"),  # row 5: same code as row 2
    new_row(事项编码="029904", 处置层级="省"),  # row 6
    new_row(事项编码="019905", 小类编码="0299", 小类名称="别的小类"),  # row 7: 小类 not under 大类 01
    new_row(事项编码="019906", 小类名称="另一个名字", 网格员可自处理="也许"),  # row 8
]
UNITS = "urgent_hours（紧急工作时）、work_hours（工作时）、work_days（工作日）、calendar_days（自然日）"
BAD_EXPECTED = [
    (3, "责任部门代码", "部门代码 XYZ 不存在"),
    (4, "派遣时限单位", "时限单位必须是以下之一：" + UNITS),
    (4, "处置时限", "必须大于 0"),
    (5, "事项编码", "事项编码与第 2 行重复"),
    (6, "事项编码", "事项编码必须以小类编码 0199 开头"),
    (6, "处置层级", "处置层级必须是以下之一：community（社区）、street（街道）、district（区）"),
    (7, "小类编码", "小类编码必须以大类编码 01 开头"),
    (8, "小类名称", "与第 2 行的名称“测试小类”不一致"),
    (8, "网格员可自处理", "必须是“是”或“否”"),
]


def test_all_or_nothing_reports_every_bad_row_and_writes_nothing(db):
    before = snapshot(db)
    report = excel.import_workbook(db, workbook(BAD_ROWS), "all_or_nothing")
    assert errors_of(report) == BAD_EXPECTED
    assert (report.ok, report.written, report.rows, report.good_rows, report.created) == (False, False, 7, 1, 0)
    db.expire_all()
    assert snapshot(db) == before
    assert db.scalar(select(Category).where(Category.code == "0199")) is None
    body = report.as_dict("en")
    assert body["bad_rows"] == 6
    assert body["errors"][0] == {"row": 3, "column": "责任部门代码", "reason": "department code XYZ does not exist"}


def test_good_rows_writes_the_good_ones_and_returns_the_bad_as_a_workbook(db):
    n = count(db)
    report = excel.import_workbook(db, workbook(BAD_ROWS), "good_rows")
    assert errors_of(report) == BAD_EXPECTED
    assert (report.written, report.created, report.categories_created) == (True, 1, 1)
    assert count(db) == n + 1
    assert db.scalar(select(CatalogItem.name).where(CatalogItem.code == "019901")) == "测试新事项"
    assert db.scalar(select(func.count()).where(CatalogItem.code.in_(["019902", "019903", "029904"]))) == 0

    ws = load_workbook(io.BytesIO(report.error_workbook()))[excel.SHEET]
    headers = [c.value for c in ws[1]]
    assert headers == excel.HEADERS + ["原行号", "错误原因"]
    rows = [dict(zip(headers, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert [r["原行号"] for r in rows] == [3, 4, 5, 6, 7, 8]
    assert [r["事项编码"] for r in rows] == ["019902", "019903", "019901", "029904", "019905", "019906"]
    assert rows[1]["错误原因"] == f"派遣时限单位：时限单位必须是以下之一：{UNITS}；处置时限：必须大于 0"


def test_the_fixed_error_workbook_imports(db):
    report = excel.import_workbook(db, workbook([new_row(), new_row(事项编码="019902", 责任部门代码="XYZ")]))
    assert [e.row for e in report.errors] == [3] and not report.written
    ws = load_workbook(io.BytesIO(report.error_workbook()))[excel.SHEET]
    ws.cell(2, excel.HEADERS.index("责任部门代码") + 1).value = "ZJJ"
    out = io.BytesIO()
    ws.parent.save(out)
    fixed = excel.import_workbook(db, out.getvalue())  # 原行号 and 错误原因 are ignored
    assert errors_of(fixed) == []
    assert (fixed.written, fixed.created) == (True, 1)
    assert db.scalar(select(CatalogItem).where(CatalogItem.code == "019902")).department.code == "ZJJ"


def test_a_new_category_needs_a_name_and_codes_typed_as_numbers_are_padded(db):
    report = excel.import_workbook(db, workbook([new_row(小类名称=None)]))
    assert errors_of(report) == [(2, "小类名称", "新类别 0199 必须填写名称")]
    # Excel turns a typed 010101 into 10101; the importer reads it back as 010101 (an update, not a new item).
    report = excel.import_workbook(db, workbook([new_row(事项编码=10101, 大类编码=1, 小类编码=101, 小类名称="环境卫生",
                                                         事项名称="暴露垃圾")]))
    assert errors_of(report) == [] and (report.created, report.updated) == (0, 1)


def test_missing_columns_and_broken_files_are_refused(db):
    headers = [h for h in excel.HEADERS if h not in ("责任部门代码", "处置时限单位")]
    report = excel.import_workbook(db, workbook([new_row()], headers))
    assert errors_of(report) == [(1, "责任部门代码", "缺少此列"), (1, "处置时限单位", "时限和时限单位两列必须同时出现")]
    assert not report.written
    with pytest.raises(ValidationFailed) as exc:
        excel.import_workbook(db, b"not a spreadsheet")
    assert exc.value.fields["file"].render("zh") == "不是有效的 Excel（.xlsx）文件"
    with pytest.raises(ValidationFailed) as exc:
        excel.import_workbook(db, workbook([]), "sometimes")
    assert "mode" in exc.value.fields


def test_absent_optional_columns_keep_current_values(db):
    item = db.scalar(select(CatalogItem).where(CatalogItem.code == "040201"))
    limits, keywords = dict(item.time_limits), item.keywords
    headers = ["事项编码", "事项名称", "大类编码", "小类编码", "责任部门代码", "处置层级", "处置时限", "处置时限单位"]
    report = excel.import_workbook(db, workbook([{"事项编码": "040201", "事项名称": "燃气泄漏", "大类编码": "04",
                                                  "小类编码": "0402", "责任部门代码": "ZJJ", "处置层级": "区",
                                                  "处置时限": 1, "处置时限单位": "紧急工作时"}], headers))
    assert errors_of(report) == [] and report.updated == 1
    assert item.keywords == keywords
    assert item.time_limits == {**limits, "handle": {"amount": 1, "unit": "urgent_hours"}}


def test_codes_in_full_width_digits_are_refused_not_made_into_new_categories(db):
    # Typed with a Chinese IME in full-width mode: they look like 01/0199/019901 but are other
    # characters, and must not become a second 市容环境 大类 beside 01.
    before = snapshot(db)
    row = new_row(事项编码="０１９９０１", 大类编码="０１", 小类编码="０１９９")
    report = excel.import_workbook(db, workbook([row]))
    assert errors_of(report) == [(2, "事项编码", "事项编码必须是 6 位数字"), (2, "大类编码", "大类编码必须是 2 位数字"),
                                 (2, "小类编码", "小类编码必须是 4 位数字")]
    assert not report.written
    db.expire_all()
    assert snapshot(db) == before


def test_blank_yes_no_cells_keep_an_items_flags_and_give_a_new_one_the_defaults(db):
    """An item switched off (or open to self-handling) stays so when its 启用/网格员可自处理 cells
    are left blank; a new item with them blank is enabled and not for self-handling."""
    item = db.scalar(select(CatalogItem).where(CatalogItem.code == "010101"))
    item.active, item.self_handle = False, True
    db.flush()
    existing = new_row(事项编码="010101", 事项名称=item.name, 小类编码="0101", 小类名称="", 大类名称="",
                       责任部门代码=item.department.code, 网格员可自处理=None, 启用=None)
    report = excel.import_workbook(db, workbook([existing, new_row(网格员可自处理=None, 启用=None)]))
    assert errors_of(report) == []
    assert (item.active, item.self_handle) == (False, True)
    new = db.scalar(select(CatalogItem).where(CatalogItem.code == "019901"))
    assert (new.active, new.self_handle) == (True, False)


# --- what Excel, WPS and the admins do to the file on its way back ---

def test_text_that_looks_like_a_formula_stays_text_and_survives_the_round_trip(db):
    # openpyxl writes a string that starts with "=" as a formula: Excel would run it, and the
    # import read it back empty, erasing the standard.
    item = db.scalar(select(CatalogItem).where(CatalogItem.code == "010101"))
    item.registration_standard, item.closure_standard = "=发现即立案", "=HYPERLINK(\"http://x\")"
    db.flush()
    before = snapshot(db)
    data = excel.export_workbook(db)
    ws = load_workbook(io.BytesIO(data))[excel.SHEET]
    row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == "010101")
    standard = row[excel.HEADERS.index("立案标准")]
    assert (standard.value, standard.data_type) == ("=发现即立案", "s")
    report = excel.import_workbook(db, data)
    assert errors_of(report) == [] and (report.updated, report.unchanged) == (0, len(before) - 1)
    db.expire_all()
    assert snapshot(db) == before


def test_line_breaks_typed_on_the_page_survive_the_round_trip(db):
    # A browser sends a textarea's line breaks as \r\n; an .xlsx gives them back as \n.
    from gridgov.catalog import service
    from tests.catalog.conftest import ADMIN

    service.update_item(db, ADMIN, "010101", {"registration_standard": "发现即立案\r\n夜间除外\r",
                                              "closure_standard": "清理完毕\x0b拍照上传"})  # \x0b: Word's line break
    item = db.scalar(select(CatalogItem).where(CatalogItem.code == "010101"))
    assert (item.registration_standard, item.closure_standard) == ("发现即立案\n夜间除外", "清理完毕\n拍照上传")
    before = snapshot(db)
    report = excel.import_workbook(db, excel.export_workbook(db))
    assert errors_of(report) == [] and report.updated == 0
    db.expire_all()
    assert snapshot(db) == before


def test_control_characters_never_break_the_export(db):
    from gridgov.catalog import service
    from tests.catalog.conftest import ADMIN

    service.update_item(db, ADMIN, "010101", {"name": "暴露\x01垃圾\n", "keywords": "垃圾\x07 堆放"})
    item = db.scalar(select(CatalogItem).where(CatalogItem.code == "010101"))
    assert (item.name, item.keywords) == ("暴露垃圾", "垃圾 堆放")
    item.registration_standard = "旧数据\x02"  # written before these were cleaned
    db.flush()
    ws = load_workbook(io.BytesIO(excel.export_workbook(db)))[excel.SHEET]
    row = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == "010101")
    assert row[excel.HEADERS.index("立案标准")] == "旧数据"


def test_headers_below_a_title_in_english_in_any_order_on_a_renamed_sheet(db):
    # WPS users add a merged title row, rename the sheet and move the notes before it; an English
    # reader writes the headers in English. Rows are still reported by their number in the sheet.
    from gridgov.core.i18n import EN

    order = ["处置层级", "事项名称", "小类编码", "事项编码", "责任部门代码", "大类编码", "处置时限单位", "处置时限"]
    good = new_row(事项编码="010199", 小类编码="0101")
    bad = new_row(事项编码="010198", 小类编码="0101", 责任部门代码="XYZ")
    english = [f" {EN[h].upper()} " if i % 2 else EN[h] for i, h in enumerate(order)]
    data = sheets(("说明", [["请按下表填写"]]),
                  ("Sheet1", [["芦淞区事项清单（2026 年版）"], [], english, [good[h] for h in order], [],
                              [bad[h] for h in order]]), merged={"Sheet1": ["A1:H1"]})
    report = excel.import_workbook(db, data)
    assert errors_of(report) == [(6, "责任部门代码", "部门代码 XYZ 不存在")]
    assert not report.written
    wrong = sheets(("Sheet1", [["芦淞区事项清单"], ["编码", "名称"]]))  # no header row to be found
    assert (1, "事项编码", "缺少此列") in errors_of(excel.import_workbook(db, wrong))
    report = excel.import_workbook(db, data, "good_rows")
    assert report.created == 1
    assert db.scalar(select(CatalogItem).where(CatalogItem.code == "010199")).time_limits == {
        "handle": {"amount": 2, "unit": "work_days"}}
    ws = load_workbook(io.BytesIO(report.error_workbook("en")))[excel.SHEET]
    assert [c.value for c in ws[1]] == [h.strip() for h in english] + ["原行号", "错误原因"]
    assert [c.value for c in ws[2]][-2:] == [6, "Department code：department code XYZ does not exist"]
    assert ws.cell(2, 5).fill.fgColor.rgb.endswith("F8D7DA")  # 责任部门代码 is the 5th column here


def test_cells_excel_turned_into_dates_are_refused_not_imported_as_text(db):
    # Typed 3-15 (消费者权益日) in 关键词 or 1/2 in a limit, Excel stores a date; read as text it
    # would become "2026-03-15 00:00:00" in the catalog.
    from datetime import datetime

    row = new_row(关键词=datetime(2026, 3, 15), 处置时限=datetime(2026, 1, 2, 8, 30))
    report = excel.import_workbook(db, workbook([row]))
    hint = "：请把该列设为“文本”格式后重新填写"
    assert errors_of(report) == [(2, "处置时限", "Excel 把此格识别成了日期或时间（2026-01-02T08:30:00）" + hint),
                                 (2, "关键词", "Excel 把此格识别成了日期或时间（2026-03-15）" + hint)]
    assert not report.written


def test_the_department_name_must_be_the_codes_and_finds_the_code_when_it_is_blank(db):
    before = snapshot(db)
    rows = [new_row(责任部门名称="芦淞区城市管理和综合执法局"),  # CGJ's own name: fine
            new_row(事项编码="019902", 责任部门名称="芦淞区住房和城乡建设局"),  # changed in Excel, code kept
            new_row(事项编码="019903", 责任部门代码=None, 责任部门名称="芦淞区公安分局"),  # no such department
            new_row(事项编码="019904", 责任部门代码=None, 责任部门名称=" 芦淞区城市管理和综合执法局 ")]
    report = excel.import_workbook(db, workbook(rows))
    assert errors_of(report) == [
        (3, "责任部门名称", "与责任部门代码 CGJ 不符：该代码是“芦淞区城市管理和综合执法局”"),
        (4, "责任部门代码", "必填"), (4, "责任部门名称", "部门“芦淞区公安分局”不存在")]
    db.expire_all()
    assert snapshot(db) == before
    report = excel.import_workbook(db, workbook([rows[0], rows[3]]))
    assert errors_of(report) == [] and report.created == 2
    assert db.scalar(select(CatalogItem).where(CatalogItem.code == "019904")).department.code == "CGJ"


def test_a_bad_row_renames_no_category_in_good_rows_mode(db):
    rows = [new_row(事项编码="010199", 小类编码="0101", 小类名称="被改的名字", 责任部门代码="XYZ"),  # bad
            new_row(事项编码="010198", 小类编码="0101", 小类名称=None)]  # good, names nothing
    report = excel.import_workbook(db, workbook(rows), "good_rows")
    assert [e.row for e in report.errors] == [2] and report.created == 1
    assert db.scalar(select(Category.name).where(Category.code == "0101")) == "环境卫生"
    assert report.categories_updated == 0


def cfb(*streams: str) -> bytes:
    """The start of an OLE2 compound file naming its streams, as Excel writes an .xls or, holding
    the encrypted workbook, an .xlsx with an open password."""
    names = b"".join(s.encode("utf-16-le").ljust(64, b"\0") for s in streams)
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + names


def test_a_password_an_old_xls_a_damaged_file_and_a_too_big_one_are_told_apart(db, monkeypatch):
    def refused(data: bytes) -> str:
        with pytest.raises(ValidationFailed) as exc:
            excel.import_workbook(db, data)
        return exc.value.fields["file"].render("zh")

    assert refused(cfb("EncryptionInfo", "EncryptedPackage")).startswith("文件设有打开密码")
    assert refused(cfb("Workbook", "SummaryInformation")).startswith("这是旧版 Excel（.xls）")
    good = workbook([new_row()])
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    assert refused(zipped({**parts, "xl/workbook.xml": b"<workbook"})) == "不是有效的 Excel（.xlsx）文件"
    sheet = next(n for n in parts if n.startswith("xl/worksheets/"))
    broken = parts[sheet].replace(b"</sheetData>", b"<row r=\"3\"><c r=\"A3\" t=\"s\"><v>999</v></c></row></sheetData>")
    assert refused(zipped({**parts, sheet: broken})) == "不是有效的 Excel（.xlsx）文件"  # a string that is not there
    # 10 MB that inflate to more than 5,000 rows could: refused before it is read.
    bomb = zipped({**parts, "xl/media/padding.bin": bytes(100 * 1024 * 1024)})
    assert len(bomb) < excel.MAX_BYTES
    assert refused(bomb) == "文件内容过多（解压后超过 100 MB）：请只保留事项清单一个工作表后再导入"
    monkeypatch.setattr(excel, "MAX_ROWS", 2)
    assert refused(workbook([new_row(), new_row(事项编码="019902"), new_row(事项编码="019903")])) == \
        "一次最多导入 2 行"


def zipped(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in parts.items():
            z.writestr(name, content)
    return out.getvalue()
