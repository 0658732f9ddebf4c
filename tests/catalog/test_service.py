"""Checking catalog items and categories field by field, and who may change the catalog."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from gridgov.catalog import service
from gridgov.catalog.models import CatalogItem, Category
from gridgov.core.errors import Forbidden, NotFound, ValidationFailed
from tests.catalog.conftest import ADMIN, WORKER

GOOD = {"code": "019901", "name": "测试事项", "category_code": "0199", "department_code": "CGJ",
        "handling_level": "district", "registration_standard": "发现即立案", "closure_standard": "处理完毕即结案",
        "time_limits": {"dispatch": {"amount": 1, "unit": "work_hours"},
                        "handle": {"amount": 2.5, "unit": "work_days"}},
        "keywords": "测试 试验，检测、测试", "self_handle": True}


@pytest.fixture
def scratch_minor(db):
    """A throw-away 小类 0199 under 大类 01 for items made in a test; removed afterwards."""
    major = db.scalar(select(Category).where(Category.code == "01"))
    db.add(Category(code="0199", name="测试小类", parent_id=major.id, kind=major.kind))
    db.flush()
    yield "0199"
    db.rollback()


def problems(db, values, current=None) -> dict[str, str]:
    checked = service.check_item(values, service.Known.of(db), current=current)
    return {k: v.render("zh") for k, v in checked.problems.items()}


def test_a_good_item_is_created_with_normalised_values(db, scratch_minor):
    item = service.create_item(db, ADMIN, GOOD)
    assert item.code == "019901"
    assert item.category.code == "0199"
    assert item.department.code == "CGJ"
    assert item.keywords == "测试 试验 检测"  # split on spaces and Chinese punctuation, duplicates dropped
    assert item.time_limits == {"dispatch": {"amount": 1, "unit": "work_hours"},
                                "handle": {"amount": 2.5, "unit": "work_days"}}
    assert item.self_handle is True and item.active is True
    assert service.get_item_by_code(db, "019901").id == item.id
    assert service.get_item(db, item.id).code == "019901"


def test_required_fields_are_named(db):
    found = problems(db, {})
    for field in ("code", "name", "category_code", "department_code", "handling_level"):
        assert found[field] == "必填"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("code", "01990", "事项编码必须是 6 位数字"),
    ("code", "01990A", "事项编码必须是 6 位数字"),
    ("code", "０１９９０１", "事项编码必须是 6 位数字"),  # full-width digits (a Chinese IME): not our code
    ("code", "٠١٩٩٠١", "事项编码必须是 6 位数字"),
    ("code", "099999", "事项编码必须以小类编码 0199 开头"),
    ("code", "010101", "事项编码 010101 已存在"),
    ("name", "名" * 101, "长度不能超过 100"),
    ("category_code", "01", "小类编码必须是 4 位数字"),
    ("category_code", "０１９９", "小类编码必须是 4 位数字"),
    ("category_code", "0198", "小类 0198 不存在"),
    ("department_code", "XXX", "部门代码 XXX 不存在"),
    ("handling_level", "city", "处置层级必须是以下之一：community（社区）、street（街道）、district（区）"),
    ("registration_standard", "字" * 2001, "长度不能超过 2000"),
    ("keywords", "词" * 401, "长度不能超过 400"),
    ("self_handle", "也许", "必须是“是”或“否”"),
])
def test_each_field_has_its_rule(db, scratch_minor, field, value, message):
    assert problems(db, {**GOOD, field: value}) == {field: message}


@pytest.mark.parametrize(("limits", "expected"), [
    ({"handle": {"amount": 0, "unit": "work_days"}}, {"time_limits.handle.amount": "必须大于 0"}),
    ({"handle": {"amount": -2, "unit": "work_days"}}, {"time_limits.handle.amount": "必须大于 0"}),
    ({"handle": {"amount": "三", "unit": "work_days"}}, {"time_limits.handle.amount": "必须是数字"}),
    ({"handle": {"amount": True, "unit": "work_days"}}, {"time_limits.handle.amount": "必须是数字"}),
    ({"handle": {"unit": "work_days"}}, {"time_limits.handle.amount": "必填"}),
    ({"handle": {"amount": 2}}, {"time_limits.handle.unit": "必填"}),
    ({"handle": {"amount": 2, "unit": "weeks"}},
     {"time_limits.handle.unit": "时限单位必须是以下之一：urgent_hours（紧急工作时）、work_hours（工作时）、"
                                 "work_days（工作日）、calendar_days（自然日）"}),
    ({"lunch": {"amount": 2, "unit": "work_days"}},
     {"time_limits.lunch": "未知环节，应为以下之一：register（立案）、dispatch（派遣）、sign（签收）、handle（处置）、"
                           "verify（核查）、close（结案）"}),
    ({"handle": 3}, {"time_limits.handle": "时限必须包含数量（amount）和单位（unit）"}),
    ("2 days", {"time_limits": "时限必须是按环节给出数量和单位的对象"}),
])
def test_time_limits_are_checked_per_step(db, scratch_minor, limits, expected):
    assert problems(db, {**GOOD, "time_limits": limits}) == expected


def test_chinese_labels_are_accepted_for_level_and_unit(db, scratch_minor):
    checked = service.check_item({**GOOD, "handling_level": "社区",
                                  "time_limits": {"handle": {"amount": "4", "unit": "紧急工作时"}}},
                                 service.Known.of(db))
    assert not checked.problems
    assert checked.values["handling_level"] == "community"
    assert checked.values["time_limits"] == {"handle": {"amount": 4, "unit": "urgent_hours"}}


def test_errors_come_together_with_chinese_messages(db, scratch_minor):
    with pytest.raises(ValidationFailed) as exc:
        service.create_item(db, ADMIN, {**GOOD, "department_code": "NOPE", "handling_level": "x"})
    body = exc.value.body("zh")["error"]
    assert body["code"] == "validation_error"
    assert set(body["fields"]) == {"department_code", "handling_level"}
    assert exc.value.body("en")["error"]["fields"]["department_code"] == "department code NOPE does not exist"


def test_update_changes_only_the_fields_given_and_keeps_the_code(db):
    before = service.get_item_by_code(db, "010101")
    name, limits = before.name, dict(before.time_limits)
    item = service.update_item(db, ADMIN, "010101", {"code": "999999", "department_code": "ZJJ",
                                                     "handling_level": "街道"})
    assert (item.code, item.name, item.time_limits) == ("010101", name, limits)
    assert (item.department.code, item.handling_level) == ("ZJJ", "street")
    with pytest.raises(ValidationFailed) as exc:
        service.update_item(db, ADMIN, "010101", {"category_code": "0102"})
    assert exc.value.fields["category_code"].render("zh") == "事项编码 010101 只能归入小类 0101"
    with pytest.raises(ValidationFailed) as exc:
        service.update_item(db, ADMIN, "010101", {"name": "  "})
    assert exc.value.fields["name"].render("zh") == "必填"


def test_clearing_a_required_field_on_update_says_it_is_required(db):
    # An edit form whose department was cleared, or an import row for an existing item with an
    # empty cell: the rule broken is "required", not "department code '' does not exist".
    with pytest.raises(ValidationFailed) as exc:
        service.update_item(db, ADMIN, "010101", {"department_code": " ", "handling_level": "",
                                                  "category_code": ""})
    assert {k: p.render("zh") for k, p in exc.value.fields.items()} == {
        "department_code": "必填", "handling_level": "必填", "category_code": "必填"}


def test_reading_is_for_everyone_changing_needs_catalog_manage(db, scratch_minor):
    assert service.get_item_by_code(db, "010101").name == "暴露垃圾"
    with pytest.raises(Forbidden):
        service.create_item(db, WORKER, GOOD)
    with pytest.raises(Forbidden):
        service.update_item(db, WORKER, "010101", {"name": "改名"})
    with pytest.raises(Forbidden):
        service.create_category(db, WORKER, code="10", name="测试大类")
    with pytest.raises(NotFound):
        service.get_item_by_code(db, "999999")


def test_list_filters_by_category_department_and_words(db):
    everything = service.list_items(db)
    assert [i.code for i in everything] == sorted(i.code for i in everything)
    in_major = service.list_items(db, category="01")
    assert in_major and all(i.code.startswith("01") for i in in_major)
    in_minor = service.list_items(db, category="0101")
    assert {i.code[:4] for i in in_minor} == {"0101"}
    gds = service.list_items(db, department="gds")
    assert gds and {i.department.code for i in gds} == {"GDS"}
    assert [i.name for i in service.list_items(db, q="井盖 缺失")] == ["井盖缺失"]
    assert service.list_items(db, q="100%_") == []


@pytest.mark.parametrize(("code", "name", "message"), [
    ("1", "一", "类别编码必须是 2 位数字（大类）或 4 位数字（小类）"),
    ("０９", "全角", "类别编码必须是 2 位数字（大类）或 4 位数字（小类）"),
    ("01", "重复", "类别编码 01 已存在"),
    ("9901", "无大类", "大类 99 不存在，请先建立大类"),
    ("", "空", "必填"),
])
def test_category_codes_are_checked(db, code, name, message):
    with pytest.raises(ValidationFailed) as exc:
        service.create_category(db, ADMIN, code=code, name=name)
    assert exc.value.fields["code"].render("zh") == message


def test_categories_nest_and_take_their_kind(db):
    try:
        major = service.create_category(db, ADMIN, code="98", name="测试大类")
        assert (major.parent_id, major.kind) == (None, "social")
        minor = service.create_category(db, ADMIN, code="9801", name="测试小类")
        assert (minor.parent_id, minor.kind) == (major.id, "social")
        service.update_category(db, ADMIN, "98", kind="城市管理", name="改名大类")
        db.refresh(minor)
        assert (major.name, major.kind, minor.kind) == ("改名大类", "urban", "urban")
        with pytest.raises(ValidationFailed) as exc:
            service.create_category(db, ADMIN, code="97", name="坏类型", kind="rural")
        assert "kind" in exc.value.fields
    finally:
        db.rollback()
        db.execute(delete(CatalogItem).where(CatalogItem.code.like("98%")))
        db.execute(delete(Category).where(Category.code.like("98%")))
