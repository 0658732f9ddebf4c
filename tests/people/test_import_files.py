"""Resident workbooks as other systems write them, through the HTTP API: a title or a two-row
merged header above the columns, headers with blanks and marks, a cover sheet, data on two sheets,
blank rows, cells Excel typed its own way (dates as serials or text, full-width digits, ID numbers
stored as numbers, 15-digit old IDs), an old .xls; and the error workbook, in Chinese or in English
(?lang=en), that imports again once corrected."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from stdnum.cn import ric

from gridgov.people.identity import parse_id
from gridgov.people.models import Resident
from gridgov.people.service import id_hash, people_context
from tests.people.conftest import COMMUNITY, GRID, fake_id, fake_phone
from tests.people.excel_helpers import error_rows, person, residents_xlsx, upload
from tests.workbooks import workbook as book

FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def registered(sessions, app, number: str, id_type: str = "ric") -> Resident | None:
    ctx = people_context(app.state.settings)
    with sessions() as db:
        return db.scalar(select(Resident).where(Resident.id_hash == id_hash(ctx, parse_id(number, id_type))))


def passport() -> str:
    return "P" + fake_id()[6:17]  # unique in the test process, as fake_id is


def test_a_title_row_or_a_two_row_merged_header_above_the_columns(client, auth, sessions, app):
    titled, two_rows = fake_id(), fake_id()
    data = book(("居民", [["芦淞区建设街道居民信息登记表"], ["姓名", "证件号码", "所属网格", "联系电话"],
                         ["标题行", titled, GRID, fake_phone()]]), merged={"居民": ["A1:D1"]})
    run = upload(client, auth(COMMUNITY), data, mode="good_rows")
    assert (run["status"], run["total_rows"], run["bad_rows"], run["imported_rows"]) == ("done", 1, 0, 1), run
    data = book(("Sheet1", [["序号", "姓名", "证件信息", None, "所属网格"],
                            [None, None, "证件类型", "证件号码", None],
                            [1, "两行表头", "居民身份证", two_rows, GRID]]),
                merged={"Sheet1": ["A1:A2", "B1:B2", "C1:D1", "E1:E2"]})
    run = upload(client, auth(COMMUNITY), data, mode="good_rows")
    assert (run["status"], run["total_rows"], run["bad_rows"], run["imported_rows"]) == ("done", 1, 0, 1), run
    assert registered(sessions, app, titled).name == "标题行"
    assert registered(sessions, app, two_rows).name == "两行表头"


def test_headers_with_blanks_line_breaks_and_marks_in_any_order_among_other_columns(client, auth, sessions, app):
    number = fake_id()
    headers = ["序号", " 所属网格 ", "备 注", "姓　名*", "证件号码\n（必填）", "联系电话(必填)", "来源系统"]
    data = book(("人口信息", [headers, [1, GRID, "从民政系统导出", "表头空格", number, fake_phone(), "民政"]]))
    run = upload(client, auth(COMMUNITY), data, mode="all_or_nothing")
    assert (run["status"], run["bad_rows"], run["imported_rows"]) == ("done", 0, 1), run
    person_row = registered(sessions, app, number)
    assert (person_row.name, person_row.notes) == ("表头空格", "从民政系统导出")
    twice = book(("居民", [["姓名", "证件号码", "所属网格", "联系电话", "联系电话"], ["两列", fake_id(), GRID]]))
    run = upload(client, auth(COMMUNITY), twice)
    assert run["status"] == "failed" and "重复的列" in run["message"] and "联系电话" in run["message"]


def test_every_sheet_with_the_columns_is_read_and_the_others_are_named(client, auth, sessions, app):
    first, second, both = fake_id(), fake_id(), fake_id()
    header = ["姓名", "证件号码", "所属网格"]
    data = book(("说明", [["本表由民政局人口系统导出"], ["导出时间：2026-01-05"]]),
                ("一组", [header, ["一组甲", first, GRID], ["两组都有", both, GRID]]),
                ("Sheet3", []),
                ("二组", [header, ["二组甲", second, GRID], ["两组都有", both, GRID]]))
    run = upload(client, auth(COMMUNITY), data, mode="good_rows")
    assert (run["status"], run["total_rows"], run["bad_rows"], run["imported_rows"]) == ("done", 4, 1, 3), run
    assert "已跳过没有所需列名的工作表：说明" in run["message"] and "Sheet3" not in run["message"]
    assert registered(sessions, app, first).name == "一组甲" and registered(sessions, app, second).name == "二组甲"
    [(row, column, reason)] = error_rows(client, auth(COMMUNITY), run)
    assert (row, column, reason) == (3, "证件号码", "与“一组”第 3 行重复")


def test_blank_rows_are_skipped_whatever_blanks_they_hold_and_rows_keep_their_numbers(client, auth, sessions, app):
    data = book(("居民", [["姓名", "证件号码", "所属网格", "联系电话"],
                         ["空行前", fake_id(), GRID, None],
                         [None, None, None, None],
                         [" ", "", "\u3000", None],
                         ["空行后", fake_id(), GRID, "12345"]]))
    run = upload(client, auth(COMMUNITY), data, mode="good_rows")
    assert (run["total_rows"], run["bad_rows"], run["imported_rows"]) == (2, 1, 1), run
    assert [(r, c) for r, c, _ in error_rows(client, auth(COMMUNITY), run)] == [(5, "联系电话")]


def test_cells_typed_as_other_systems_and_excel_type_them(client, auth, sessions, app):
    with_x = next(n for n in iter(fake_id, None) if n.endswith("X"))
    lower_x = next(n for n in iter(fake_id, None) if n.endswith("X"))
    wide, wide_grid = fake_id(), fake_id()
    passports = {f"{v!r}": (passport(), v) for v in
                 (20518, "1956.3.4", "1956年3月4日", "１９５６－０３－０４", "1956-03-04 00:00:00", "1956／3／4")}
    year_only = passport()
    rows = [person(with_x[:-1] + "Ｘ", GRID, "全角X"), person(lower_x.lower(), GRID, "小写x"),
            person(wide.translate(FULL_WIDTH)[:6] + "\u3000" + wide.translate(FULL_WIDTH)[6:], GRID, "全角数字"),
            person(wide_grid, GRID.translate(FULL_WIDTH), "全角网格", 联系电话=13912345678.0),
            *(person(n, GRID, "护照日期", 证件类型="护照", 出生日期=value) for n, value in passports.values()),
            person(year_only, GRID, "只有年份", 证件类型="护照", 出生日期=1956)]
    run = upload(client, auth(COMMUNITY), residents_xlsx(rows), mode="good_rows")
    assert (run["bad_rows"], run["imported_rows"]) == (1, len(rows) - 1), error_rows(client, auth(COMMUNITY), run)
    assert error_rows(client, auth(COMMUNITY), run) == [(len(rows) + 1, "出生日期", "出生日期应为日期，如 2026-01-31")]
    assert registered(sessions, app, with_x).name == "全角X" and registered(sessions, app, lower_x).name == "小写x"
    assert registered(sessions, app, wide).name == "全角数字"
    gridded = registered(sessions, app, wide_grid)
    assert gridded.grid_code == GRID and gridded.phone_masked == "139****5678"
    for number, _value in passports.values():
        assert registered(sessions, app, number, "passport").birth_date == date(1956, 3, 4)


def excel_kept_15_digits() -> tuple[float, str]:
    """A number as Excel keeps an 18-digit ID typed without text format (15 significant digits),
    whose read-back digits happen to pass the checksum: the number it would import is nobody's."""
    for number in iter(fake_id, None):
        if number.endswith("X"):
            continue
        kept = float(f"{int(number):.14e}")
        read_back = str(int(kept))
        if read_back != number and ric.is_valid(read_back):
            return kept, read_back
    raise AssertionError("unreachable")


def test_id_numbers_stored_as_numbers_and_old_15_digit_ones_are_refused_with_their_reason(client, auth, sessions,
                                                                                           app):
    kept, read_back = excel_kept_15_digits()
    old = fake_id()
    old_15 = old[:6] + old[8:17]  # the first-generation form: 2-digit year, no check character
    rows = [person(kept, GRID, "数字证号"), person(old_15, GRID, "旧证号文本"), person(int(old_15), GRID, "旧证号数字")]
    run = upload(client, auth(COMMUNITY), residents_xlsx(rows), mode="good_rows")
    assert (run["bad_rows"], run["imported_rows"]) == (3, 0), run
    assert error_rows(client, auth(COMMUNITY), run) == [
        (2, "证件号码", "证件号码应设为文本格式：Excel 只保留数字的前 15 位，后几位已变成 0"),
        (3, "证件号码", "这是 15 位旧身份证号，请填写 18 位号码"),
        (4, "证件号码", "这是 15 位旧身份证号，请填写 18 位号码")]
    assert registered(sessions, app, read_back) is None


@pytest.mark.parametrize(("head", "reason"), [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + b"Workbook", "这是旧版 Excel（.xls）"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + "EncryptedPackage".encode("utf-16-le"), "文件设有打开密码"),
])
def test_an_old_xls_or_a_password_is_named(client, auth, head, reason):
    """Refused on the upload, naming the field (no run is made for it)."""
    for lang in ("zh", "en"):
        r = client.post(f"/api/v1/people/imports?lang={lang}", headers=auth(COMMUNITY), data={"kind": "residents"},
                        files={"file": ("导入.xlsx", head, "application/octet-stream")})
        assert r.status_code == 422, r.text
        said = r.json()["error"]["fields"]["file"]
        assert (reason in said) if lang == "zh" else ("WPS" in said and "Excel" in said and "文件" not in said)


def _bad_upload(client, headers) -> tuple[dict, str]:
    fixable = fake_id()
    data = residents_xlsx([person(fake_id(), GRID, "对的行"), person(fixable, GRID, "错的行", 联系电话="1381234")])
    run = upload(client, headers, data, mode="good_rows")
    assert (run["bad_rows"], run["imported_rows"]) == (1, 1), run
    return run, fixable


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_error_workbook_imports_again_once_corrected(client, auth, sessions, app, lang):
    headers = auth(COMMUNITY)
    run, fixable = _bad_upload(client, headers)
    wb = load_workbook(io.BytesIO(client.get(run["error_url"], params={"lang": lang}, headers=headers).content))
    copy = wb[{"zh": "错误行-居民", "en": "Bad rows-居民"}[lang]]
    phone = [c.value for c in copy[1]].index("联系电话") + 1  # the file's own headers, in either language
    copy.cell(2, phone, "13812345678")
    out = io.BytesIO()
    wb.save(out)
    again = upload(client, headers, out.getvalue(), mode="all_or_nothing")
    assert (again["status"], again["bad_rows"], again["imported_rows"]) == ("done", 0, 1), again
    assert registered(sessions, app, fixable).phone_masked == "138****5678"


def test_the_error_workbook_and_the_run_in_english(client, auth):
    headers = auth(COMMUNITY)
    run, _fixable = _bad_upload(client, headers)
    r = client.get(run["error_url"], params={"lang": "en"}, headers=headers)
    assert r.status_code == 200 and "import-errors" in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["Errors", "Bad rows-居民"]
    details = list(wb["Errors"].iter_rows(values_only=True))
    assert details[0] == ("Sheet", "Row", "Column", "Value", "Reason")
    assert details[1] == ("居民", 3, "Phone (联系电话)", "1381234",
                          "a mobile number has 11 digits starting 1[3-9]; a landline needs its area code")
    copy = list(wb["Bad rows-居民"].iter_rows(values_only=True))
    assert copy[0][-2:] == ("Row in the file", "Reason") and "姓名" in copy[0]
    assert copy[1][-1] == f"Phone (联系电话): {details[1][-1]}"
    zh = load_workbook(io.BytesIO(client.get(run["error_url"], headers=headers).content))
    assert zh.sheetnames == ["错误明细", "错误行-居民"]  # Chinese unless asked
    shown = client.get(f"/api/v1/people/imports/{run['id']}", params={"lang": "en"}, headers=headers).json()
    assert shown["message"] == "2 rows: 1 created, 0 updated, 0 unchanged; 1 rows with errors not imported"
    page = client.get(f"/people/import/{run['id']}", params={"lang": "en"}, headers=headers)
    assert "1 created" in page.text and "新建" not in page.text
