"""The catalog's API and pages through the real app (with the catalog router included)."""

from __future__ import annotations

import base64
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, select

from gridgov.catalog import excel
from gridgov.catalog.models import CatalogItem, Category
from tests.catalog.conftest import PAGE, csrf_of, page_login
from tests.catalog.test_excel import BAD_ROWS, cfb, new_row, workbook, zipped

WORKER = "wg43020300100101"
NEW_ITEM = {"code": "010199", "name": "接口测试事项", "category_code": "0101", "department_code": "CGJ",
            "handling_level": "street", "time_limits": {"handle": {"amount": 3, "unit": "work_days"}},
            "keywords": ["接口", "测试"], "self_handle": False}


@pytest.fixture
def forget_codes(catalog_sessions):
    """Item and category codes a test may create; removed when it ends, whatever happened."""
    codes: list[str] = []
    yield codes
    with catalog_sessions() as db:
        db.execute(delete(CatalogItem).where(CatalogItem.code.in_(codes)))
        db.execute(delete(Category).where(Category.code.in_(codes)).where(Category.parent_id.is_not(None)))
        db.execute(delete(Category).where(Category.code.in_(codes)))
        db.commit()


@pytest.fixture
def restore_item(catalog_sessions):
    """Puts an item's editable fields back after a test that changes it."""
    saved: dict[str, dict] = {}

    def remember(code: str) -> None:
        with catalog_sessions() as db:
            item = db.scalar(select(CatalogItem).where(CatalogItem.code == code))
            saved[code] = {k: getattr(item, k) for k in ("name", "department_id", "handling_level", "time_limits",
                                                         "keywords", "self_handle", "active",
                                                         "registration_standard", "closure_standard")}

    yield remember
    with catalog_sessions() as db:
        for code, values in saved.items():
            item = db.scalar(select(CatalogItem).where(CatalogItem.code == code))
            for k, v in values.items():
                setattr(item, k, v)
        db.commit()


# --- API: reading ---

def test_any_logged_in_user_reads_the_catalog(cat_client, bearer):
    r = cat_client.get("/api/v1/catalog/items", headers=bearer(WORKER))
    assert r.status_code == 200
    rows = r.json()
    assert len(rows) == 150
    garbage = next(i for i in rows if i["code"] == "010101")
    assert garbage["name"] == "暴露垃圾"
    assert garbage["category"] == {"code": "0101", "name": "环境卫生"}
    assert garbage["major"] == {"code": "01", "name": "市容环境"}
    assert garbage["department"]["code"] == "CGJ"
    assert (garbage["handling_level"], garbage["handling_level_label"], garbage["self_handle"]) == (
        "district", "区", True)
    assert garbage["time_limits"]["handle"] == {"amount": 4, "unit": "work_hours", "unit_label": "工作时",
                                                "step_label": "处置"}
    assert "垃圾" in garbage["keywords"]
    assert cat_client.get("/api/v1/catalog/items").status_code == 401


def test_items_filter_by_category_department_and_words(cat_client, bearer):
    h = bearer("dispatcher")
    urgent = cat_client.get("/api/v1/catalog/items", params={"category": "04"}, headers=h).json()
    assert urgent and {i["major"]["code"] for i in urgent} == {"04"}
    power = cat_client.get("/api/v1/catalog/items", params={"department": "GDS"}, headers=h).json()
    assert {i["name"] for i in power} >= {"停电", "电力线路故障"}
    assert {i["department"]["code"] for i in power} == {"GDS"}
    found = cat_client.get("/api/v1/catalog/items", params={"q": "燃气"}, headers=h).json()
    assert "燃气泄漏" in [i["name"] for i in found]
    assert cat_client.get("/api/v1/catalog/items", params={"q": "不存在的词语"}, headers=h).json() == []


def test_one_item_by_code_and_the_categories(cat_client, bearer):
    h = bearer(WORKER)
    r = cat_client.get("/api/v1/catalog/items/040201", headers=h)
    assert r.status_code == 200 and r.json()["name"] == "燃气泄漏"
    r = cat_client.get("/api/v1/catalog/items/999999", headers=h)
    assert r.status_code == 404 and r.json()["error"]["message"] == "找不到事项 999999"
    cats = {c["code"]: c for c in cat_client.get("/api/v1/catalog/categories", headers=h).json()}
    assert cats["01"]["parent_code"] is None and cats["0101"]["parent_code"] == "01"
    assert cats["06"]["kind"] == "social" and cats["06"]["kind_label"] == "社会治理"
    assert sum(c["item_count"] for c in cats.values() if c["parent_code"] is None) == 150
    assert cats["01"]["item_count"] == sum(c["item_count"] for c in cats.values() if c["parent_code"] == "01")


# --- API: writing ---

def test_admin_creates_and_updates_items_others_may_not(cat_client, bearer, forget_codes):
    forget_codes.append("010199")
    assert cat_client.post("/api/v1/catalog/items", json=NEW_ITEM, headers=bearer("dispatcher")).status_code == 403
    r = cat_client.post("/api/v1/catalog/items", json=NEW_ITEM, headers=bearer("admin"))
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["code"], made["keywords"], made["handling_level"]) == ("010199", ["接口", "测试"], "street")
    r = cat_client.post("/api/v1/catalog/items", json=NEW_ITEM, headers=bearer("admin"))
    assert r.status_code == 422 and r.json()["error"]["fields"] == {"code": "事项编码 010199 已存在"}
    r = cat_client.put("/api/v1/catalog/items/010199", json={"handling_level": "社区", "self_handle": True},
                       headers=bearer("admin"))
    assert r.status_code == 200
    changed = r.json()
    assert (changed["name"], changed["handling_level"], changed["self_handle"]) == ("接口测试事项", "community", True)
    r = cat_client.put("/api/v1/catalog/items/010199", json={"active": None, "self_handle": None},
                       headers=bearer("admin"))  # null states nothing: not a switch-off
    assert r.status_code == 200 and (r.json()["active"], r.json()["self_handle"]) == (True, True)
    assert cat_client.put("/api/v1/catalog/items/010199", json={"name": "x"},
                          headers=bearer(WORKER)).status_code == 403
    assert cat_client.put("/api/v1/catalog/items/999999", json={"name": "x"},
                          headers=bearer("admin")).status_code == 404


def test_api_errors_name_the_fields(cat_client, bearer):
    body = {**NEW_ITEM, "code": "12345", "department_code": "NOPE",
            "time_limits": {"handle": {"amount": 0, "unit": "weeks"}}}
    r = cat_client.post("/api/v1/catalog/items", json=body, headers=bearer("admin"))
    assert r.status_code == 422
    fields = r.json()["error"]["fields"]
    assert set(fields) == {"code", "department_code", "time_limits.handle.amount", "time_limits.handle.unit"}
    r = cat_client.post("/api/v1/catalog/items", json=body, headers={**bearer("admin"), "Accept-Language": "en"})
    assert r.json()["error"]["fields"]["code"] == "the item code must be 6 digits"


def test_categories_through_the_api(cat_client, bearer, forget_codes):
    forget_codes.extend(["9801", "98"])
    h = bearer("admin")
    r = cat_client.post("/api/v1/catalog/categories", json={"code": "98", "name": "接口大类"}, headers=h)
    assert r.status_code == 201 and (r.json()["kind"], r.json()["parent_code"]) == ("social", None)
    r = cat_client.post("/api/v1/catalog/categories", json={"code": "9801", "name": "接口小类"}, headers=h)
    assert r.status_code == 201 and r.json()["parent_code"] == "98"
    r = cat_client.put("/api/v1/catalog/categories/9801", json={"name": "改名小类"}, headers=h)
    assert r.status_code == 200 and r.json()["name"] == "改名小类"
    r = cat_client.post("/api/v1/catalog/categories", json={"code": "987", "name": "坏"}, headers=h)
    assert r.status_code == 422 and "code" in r.json()["error"]["fields"]
    assert cat_client.post("/api/v1/catalog/categories", json={"code": "97", "name": "无权"},
                           headers=bearer(WORKER)).status_code == 403


# --- API: suggestions ---

def test_suggest_returns_the_top_three_with_scores_and_reasons(cat_client, bearer):
    r = cat_client.get("/api/v1/catalog/suggest", params={"description": "小区门口有一堆垃圾没人清理"},
                       headers=bearer(WORKER))
    assert r.status_code == 200
    rows = r.json()
    assert len(rows) == 3
    assert rows[0]["item"]["name"] == "暴露垃圾" and rows[0]["item"]["major"]["name"] == "市容环境"
    assert [x["score"] for x in rows] == sorted((x["score"] for x in rows), reverse=True)
    assert all(x["reasons"] for x in rows)
    r = cat_client.get("/api/v1/catalog/suggest", params={"description": " "}, headers=bearer(WORKER))
    assert r.status_code == 422 and r.json()["error"]["fields"] == {"description": "必填"}


# --- API: Excel ---

def test_export_and_import_round_trip_through_the_api(cat_client, bearer):
    r = cat_client.get("/api/v1/catalog/export.xlsx", headers=bearer(WORKER))
    assert r.status_code == 200
    assert r.headers["content-type"] == excel.XLSX_TYPE
    assert "attachment" in r.headers["content-disposition"]
    assert load_workbook(io.BytesIO(r.content))[excel.SHEET].max_row == 151
    files = {"file": ("catalog.xlsx", r.content, excel.XLSX_TYPE)}
    assert cat_client.post("/api/v1/catalog/import", files=files, headers=bearer("dispatcher")).status_code == 403
    r = cat_client.post("/api/v1/catalog/import", files=files, data={"mode": "all_or_nothing"},
                        headers=bearer("admin"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["ok"], report["created"], report["updated"], report["unchanged"]) == (True, 0, 0, 150)
    assert report["errors"] == [] and report["error_workbook"] is None


def test_import_with_bad_rows_in_both_modes(cat_client, bearer, catalog_sessions, forget_codes):
    forget_codes.extend(["019901", "0199"])
    files = {"file": ("bad.xlsx", workbook(BAD_ROWS), excel.XLSX_TYPE)}
    r = cat_client.post("/api/v1/catalog/import", files=files, data={"mode": "all_or_nothing"},
                        headers=bearer("admin"))
    report = r.json()
    assert (report["ok"], report["written"], report["bad_rows"], report["created"]) == (False, False, 6, 0)
    assert report["errors"][0] == {"row": 3, "column": "责任部门代码", "reason": "部门代码 XYZ 不存在"}
    assert [e["row"] for e in report["errors"]] == [3, 4, 4, 5, 6, 6, 7, 8, 8]
    with catalog_sessions() as db:
        assert db.scalar(select(CatalogItem).where(CatalogItem.code == "019901")) is None
    bad = load_workbook(io.BytesIO(base64.b64decode(report["error_workbook"])))[excel.SHEET]
    assert bad.max_row == 7 and bad.cell(1, bad.max_column).value == "错误原因"

    r = cat_client.post("/api/v1/catalog/import", files=files, data={"mode": "good_rows"}, headers=bearer("admin"))
    report = r.json()
    assert (report["ok"], report["written"], report["created"], report["categories_created"]) == (False, True, 1, 1)
    with catalog_sessions() as db:
        assert db.scalar(select(CatalogItem.name).where(CatalogItem.code == "019901")) == "测试新事项"
    r = cat_client.post("/api/v1/catalog/import", data={"mode": "good_rows"}, headers=bearer("admin"))
    assert r.status_code == 422 and "file" in r.json()["error"]["fields"]


# --- pages ---

def test_catalog_page_lists_filters_and_searches(cat_client):
    page_login(cat_client, WORKER)
    r = cat_client.get("/admin/catalog", headers=PAGE)
    assert r.status_code == 200
    assert r.text.count('<tr data-code="') == 150
    assert 'data-testid="catalog-export"' in r.text
    assert 'data-testid="catalog-import"' not in r.text  # reading only
    assert "/admin/catalog/items/new" not in r.text
    r = cat_client.get("/admin/catalog", params={"major": "06", "department": "SFJ"}, headers=PAGE)
    rows = r.text.count('<tr data-code="06')
    assert rows > 0 and rows == r.text.count('<tr data-code="')
    assert '<tr data-code="060101"' in r.text  # 邻里纠纷
    r = cat_client.get("/admin/catalog", params={"q": "没有这个事项"}, headers=PAGE)
    assert 'data-testid="catalog-empty"' in r.text and "没有符合条件的事项" in r.text
    r = cat_client.get("/admin/catalog", params={"lang": "en"}, headers=PAGE)
    assert "Catalog" in r.text and "Export to Excel" in r.text


def test_admin_imports_on_the_page_and_sees_the_row_errors(cat_client, forget_codes):
    forget_codes.extend(["019901", "0199"])
    page_login(cat_client, "admin")
    page = cat_client.get("/admin/catalog", headers=PAGE)
    assert 'data-testid="catalog-import"' in page.text
    token = csrf_of(page.text)
    files = {"file": ("bad.xlsx", workbook(BAD_ROWS), excel.XLSX_TYPE)}
    r = cat_client.post("/admin/catalog/import", data={"csrf_token": token, "mode": "all_or_nothing"}, files=files,
                        headers=PAGE)
    assert r.status_code == 422
    assert "6 行有错误，未导入任何数据" in r.text
    assert "部门代码 XYZ 不存在" in r.text and "事项编码与第 2 行重复" in r.text
    assert 'data-testid="error-workbook"' in r.text and "data:" + excel.XLSX_TYPE in r.text
    r = cat_client.post("/admin/catalog/import", data={"csrf_token": token, "mode": "good_rows"}, files=files,
                        headers=PAGE)
    assert r.status_code == 200 and "已导入正确的 1 行" in r.text
    r = cat_client.post("/admin/catalog/import", data={"mode": "good_rows"}, files=files, headers=PAGE)
    assert r.status_code == 403  # no CSRF token
    good = {"file": ("good.xlsx", workbook([new_row(事项名称="页面导入")]), excel.XLSX_TYPE)}
    r = cat_client.post("/admin/catalog/import", data={"csrf_token": token, "mode": "all_or_nothing"}, files=good,
                        headers=PAGE)
    assert r.status_code == 200 and "导入完成：新建 0 条，更新 1 条，未变 0 条" in r.text


def test_edit_form_shows_field_errors_and_saves(cat_client, restore_item):
    restore_item("040103")
    page_login(cat_client, "admin")
    page = cat_client.get("/admin/catalog/items/040103", headers=PAGE)
    assert page.status_code == 200 and "路灯不亮" in page.text
    assert 'name="limit_handle_amount" inputmode="decimal" value="2"' in page.text
    form = {"csrf_token": csrf_of(page.text), "name": "路灯不亮", "category_code": "0401", "department_code": "GDS",
            "handling_level": "street", "registration_standard": "夜间路灯不亮", "closure_standard": "路灯恢复",
            "keywords": "路灯 不亮", "limit_handle_amount": "-3", "limit_handle_unit": "work_days",
            "limit_verify_amount": "2", "limit_verify_unit": "", "active": "1"}
    r = cat_client.post("/admin/catalog/items/040103", data=form, headers=PAGE, follow_redirects=False)
    assert r.status_code == 422
    assert 'data-field="time_limits.handle.amount"' in r.text and "必须大于 0" in r.text
    assert 'data-field="time_limits.verify.unit"' in r.text
    assert 'value="-3"' in r.text  # what was typed comes back
    r = cat_client.post("/admin/catalog/items/040103", data={**form, "limit_handle_amount": "1.5",
                                                             "limit_verify_unit": "work_hours"},
                        headers=PAGE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/catalog/items/040103?saved=1"
    r = cat_client.get("/api/v1/catalog/items/040103", headers={"Accept": "application/json"})
    item = r.json()
    assert (item["department"]["code"], item["handling_level"], item["self_handle"]) == ("GDS", "street", False)
    assert {k: (v["amount"], v["unit"]) for k, v in item["time_limits"].items()} == {
        "handle": (1.5, "work_days"), "verify": (2, "work_hours")}


def test_new_item_form(cat_client, forget_codes):
    forget_codes.append("050198")
    page_login(cat_client, "admin")
    page = cat_client.get("/admin/catalog/items/new", headers=PAGE)
    assert page.status_code == 200 and 'name="code"' in page.text
    form = {"csrf_token": csrf_of(page.text), "code": "050198", "name": "页面新建事项", "category_code": "0101",
            "department_code": "CGJ", "handling_level": "district", "active": "1"}
    r = cat_client.post("/admin/catalog/items", data=form, headers=PAGE, follow_redirects=False)
    assert r.status_code == 422 and "事项编码必须以小类编码 0101 开头" in r.text
    r = cat_client.post("/admin/catalog/items", data={**form, "category_code": "0501"}, headers=PAGE,
                        follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/catalog/items/050198?saved=1"
    assert "已保存" in cat_client.get(r.headers["location"], headers=PAGE).text


def test_grid_worker_sees_the_form_read_only(cat_client):
    page_login(cat_client, WORKER)
    r = cat_client.get("/admin/catalog/items/010101", headers=PAGE)
    assert r.status_code == 200 and "暴露垃圾" in r.text
    assert "disabled" in r.text and '<button class="primary">' not in r.text
    assert cat_client.get("/admin/catalog/items/new", headers=PAGE).status_code == 403
    token = csrf_of(r.text)
    r = cat_client.post("/admin/catalog/items/010101", data={"csrf_token": token, "name": "改"}, headers=PAGE)
    assert r.status_code == 403
    assert cat_client.get("/admin/catalog/items/999999", headers=PAGE).status_code == 404


def test_what_the_page_saves_goes_out_to_excel_and_back_unchanged(cat_client, bearer, restore_item):
    # A form sends its line breaks as \r\n; Word pastes \x0b (which an .xlsx cannot hold: the
    # export failed); a standard that starts with "=" was exported as a formula and read back empty.
    restore_item("040103")
    page_login(cat_client, "admin")
    page = cat_client.get("/admin/catalog/items/040103", headers=PAGE)
    form = {"csrf_token": csrf_of(page.text), "name": "路灯不亮", "category_code": "0401", "department_code": "GDS",
            "handling_level": "street", "registration_standard": "=夜间路灯不亮\r\n白天不立案",
            "closure_standard": "路灯恢复\x0b拍照上传", "keywords": "路灯 不亮", "limit_handle_amount": "2",
            "limit_handle_unit": "work_days", "active": "1"}
    r = cat_client.post("/admin/catalog/items/040103", data=form, headers=PAGE, follow_redirects=False)
    assert r.status_code == 303, r.text
    item = cat_client.get("/api/v1/catalog/items/040103", headers=bearer("admin")).json()
    assert item["registration_standard"] == "=夜间路灯不亮\n白天不立案"
    assert item["closure_standard"] == "路灯恢复\n拍照上传"
    r = cat_client.get("/api/v1/catalog/export.xlsx", headers=bearer("admin"))
    assert r.status_code == 200
    files = {"file": ("catalog.xlsx", r.content, excel.XLSX_TYPE)}
    report = cat_client.post("/api/v1/catalog/import", files=files, headers=bearer("admin")).json()
    assert (report["ok"], report["updated"], report["unchanged"]) == (True, 0, 150)
    assert cat_client.get("/api/v1/catalog/items/040103", headers=bearer("admin")).json() == item


def test_files_that_cannot_be_read_are_refused_with_the_reason(cat_client, bearer):
    def upload(data: bytes, lang: str = "zh"):
        files = {"file": ("catalog.xlsx", data, excel.XLSX_TYPE)}
        return cat_client.post(f"/api/v1/catalog/import?lang={lang}", files=files, headers=bearer("admin"))

    r = upload(cfb("EncryptionInfo", "EncryptedPackage"))
    assert r.status_code == 422
    assert r.json()["error"]["fields"]["file"] == (
        "文件设有打开密码，无法读取：请在 Excel 或 WPS 中取消密码并保存后再导入")
    r = upload(cfb("Workbook"), "en")
    assert r.json()["error"]["fields"]["file"].startswith("this is an old Excel (.xls)")
    damaged = zipped({"[Content_Types].xml": b"<Types", "xl/workbook.xml": b"<workbook"})  # was a 500
    r = upload(damaged, "en")
    assert r.status_code == 422 and r.json()["error"]["fields"]["file"] == "not a valid Excel (.xlsx) file"
    page_login(cat_client, "admin")
    token = csrf_of(cat_client.get("/admin/catalog", headers=PAGE).text)
    r = cat_client.post("/admin/catalog/import", data={"csrf_token": token, "mode": "all_or_nothing"},
                        files={"file": ("x.xlsx", cfb("EncryptedPackage"), excel.XLSX_TYPE)}, headers=PAGE)
    assert r.status_code == 422 and "文件设有打开密码" in r.text


def test_the_catalog_is_intact_after_these_tests(catalog_sessions):
    with catalog_sessions() as db:
        assert len(db.scalars(select(CatalogItem)).all()) == 150
        assert db.scalar(select(Category).where(Category.code.in_(["0199", "98", "9801"]))) is None
