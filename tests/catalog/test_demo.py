"""The demo catalog: 150 items over the 17 demo departments, valid by the catalog's own rules,
and idempotent (built by the conftest's fresh database with the real builders)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from gridgov.catalog import service
from gridgov.catalog.demo import build_demo_catalog, demo_items
from gridgov.catalog.models import CatalogItem, Category
from gridgov.departments.models import Department

DEMO_DEPARTMENTS = {"CGJ", "ZJJ", "HBJ", "SJJ", "YJJ", "GAJ", "MZJ", "RSJ", "WJJ", "JYJ", "JTJ", "SLJ", "ZRJ", "SFJ",
                    "NYJ", "GDS", "SWS"}


def test_150_items_cover_the_17_departments(db):
    items = db.scalars(select(CatalogItem)).all()
    assert len(items) == 150
    per_department = Counter(i.department.code for i in items)
    assert set(per_department) == DEMO_DEPARTMENTS
    assert min(per_department.values()) >= 1
    majors = db.scalars(select(Category).where(Category.parent_id.is_(None)).order_by(Category.code)).all()
    assert [(c.code, c.name) for c in majors] == [
        ("01", "市容环境"), ("02", "宣传广告"), ("03", "施工管理"), ("04", "突发事件"), ("05", "街面秩序"),
        ("06", "矛盾纠纷"), ("07", "治安隐患"), ("08", "安全隐患"), ("09", "民生服务")]
    assert {c.code: c.kind for c in majors} == {**dict.fromkeys(["01", "02", "03", "04", "05"], "urban"),
                                               **dict.fromkeys(["06", "07", "08", "09"], "social")}


def test_every_item_passes_the_catalogs_own_checks(db):
    known = service.Known.of(db)
    cats = {c.id: c for c in db.scalars(select(Category))}
    for item in db.scalars(select(CatalogItem)):
        values = {"code": item.code, "name": item.name, "category_code": cats[item.category_id].code,
                  "department_code": item.department.code, "handling_level": item.handling_level,
                  "registration_standard": item.registration_standard, "closure_standard": item.closure_standard,
                  "time_limits": item.time_limits, "keywords": item.keywords, "self_handle": item.self_handle}
        checked = service.check_item(values, service.Known(known.departments, known.minors))  # codes exist: skip
        assert checked.problems == {}, (item.code, {k: v.render("zh") for k, v in checked.problems.items()})
        assert set(item.time_limits) == {"register", "dispatch", "sign", "handle", "verify", "close"}
        assert item.registration_standard and item.closure_standard
        assert len(item.keywords.split()) >= 3


def test_the_well_known_matters_are_where_they_belong(db):
    items = {i.name: i for i in db.scalars(select(CatalogItem))}
    for name in ["暴露垃圾", "积存垃圾渣土", "道路不洁", "乱张贴", "违规户外广告", "施工扰民", "占道施工", "井盖缺失",
                 "路灯不亮", "燃气泄漏", "乱摆卖", "占道经营", "邻里纠纷", "劳资纠纷", "物业纠纷", "消防通道堵塞",
                 "电动车违规充电", "独居老人帮扶"]:
        assert name in items, name
    assert items["暴露垃圾"].code.startswith("01") and items["暴露垃圾"].self_handle
    assert items["乱张贴"].self_handle and not items["燃气泄漏"].self_handle
    assert {s["unit"] for s in items["燃气泄漏"].time_limits.values()} == {"urgent_hours"}
    assert items["路灯不亮"].time_limits["handle"] == {"amount": 2, "unit": "work_days"}
    assert items["邻里纠纷"].handling_level == "community"
    levels = Counter(i.handling_level for i in items.values())
    assert levels["district"] > levels["street"] > levels["community"] > 0
    assert items["劳资纠纷"].department.code == "RSJ"
    assert items["燃气泄漏"].time_limits["register"] == {"amount": 0.5, "unit": "urgent_hours"}


def test_a_second_run_creates_nothing(db):
    before = db.scalar(select(func.count(CatalogItem.id))), db.scalar(select(func.count(Category.id)))
    assert build_demo_catalog(db) == 0
    db.flush()
    assert (db.scalar(select(func.count(CatalogItem.id))), db.scalar(select(func.count(Category.id)))) == before
    assert before[0] == len(demo_items()) == 150


def test_the_builder_is_deterministic():
    first, second = demo_items(), demo_items()
    assert first == second
    assert [i["code"] for i in first] == sorted(i["code"] for i in first)
    assert len({i["code"] for i in first}) == len({i["name"] for i in first}) == 150


def test_departments_are_looked_up_by_code(db):
    ids = dict(db.execute(select(Department.code, Department.id)).all())
    for spec in demo_items()[:20]:
        item = db.scalar(select(CatalogItem).where(CatalogItem.code == spec["code"]))
        assert item.department_id == ids[spec["department_code"]]
