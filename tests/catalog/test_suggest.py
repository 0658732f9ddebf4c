"""Suggesting catalog items from a description: the catalog's words, and what dispatchers chose
for similar past cases."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from gridgov.cases.models import Case
from gridgov.catalog import suggest
from gridgov.catalog.models import CatalogItem
from gridgov.regions.models import Region


def codes(found) -> list[str]:
    return [s.item.code for s in found]


@pytest.mark.parametrize(("description", "wanted"), [
    ("小区门口有一堆垃圾没人清理", {"暴露垃圾", "积存垃圾渣土", "垃圾满冒"}),
    ("楼上邻居漏水吵架", {"邻里纠纷", "房屋渗漏纠纷"}),
    ("闻到楼道里有很重的煤气味", {"燃气泄漏"}),
    ("路灯坏了晚上很黑", {"路灯不亮"}),
    ("有人在楼道里给电动车充电", {"电动车违规充电"}),
    ("老板拖欠工资三个月了", {"劳资纠纷"}),
    ("马路中间的井盖没了很危险", {"井盖缺失"}),
    ("电线杆上到处贴满小广告", {"乱张贴"}),
])
def test_the_right_item_is_among_the_top_three(db, description, wanted):
    found = suggest.suggest_items(db, description)
    assert 1 <= len(found) <= 3
    names = [s.item.name for s in found]
    assert wanted & set(names), names
    scores = [s.score for s in found]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 1 for s in scores)
    assert all(s.reasons for s in found)


def test_garbage_is_a_city_appearance_matter_and_the_reasons_say_why(db):
    top = suggest.suggest_items(db, "小区门口有一堆垃圾没人清理")[0]
    assert top.item.name == "暴露垃圾"
    assert top.item.category.code.startswith("01")  # 市容环境
    assert any("垃圾" in r and "关键词" in r for r in top.reasons)
    english = suggest.suggest_items(db, "小区门口有一堆垃圾没人清理", lang="en")[0]
    assert any(r.startswith("matching keywords") for r in english.reasons)


def test_results_are_deterministic_and_limited(db):
    text = "小区垃圾桶满了，垃圾堆在路边发臭"
    first = suggest.suggest_items(db, text, limit=5)
    suggest.forget()
    again = suggest.suggest_items(db, text, limit=5)
    assert [(s.item.code, s.score, s.reasons) for s in first] == [(s.item.code, s.score, s.reasons) for s in again]
    assert len(first) == 5
    for a, b in zip(first, first[1:], strict=False):
        assert (a.score, b.item.code) >= (b.score, a.item.code)  # by score, ties by code
    assert len(suggest.suggest_items(db, text, limit=1)) == 1
    assert suggest.suggest_items(db, "") == []
    assert suggest.suggest_items(db, "今天天气不错") == []


def test_inactive_items_are_not_suggested(db, monkeypatch):
    monkeypatch.setattr(suggest, "CHECK_SECONDS", 0.0)  # look at every call: the change is made here
    item = db.scalar(select(CatalogItem).where(CatalogItem.name == "路灯不亮"))
    assert "路灯不亮" in [s.item.name for s in suggest.suggest_items(db, "路灯坏了")]
    item.active = False
    db.flush()
    assert "路灯不亮" not in [s.item.name for s in suggest.suggest_items(db, "路灯坏了")]


def add_cases(db, description: str, item: CatalogItem, n: int, state: str = "closed") -> None:
    grid = db.scalar(select(Region).where(Region.level == "grid").order_by(Region.code))
    for _ in range(n):
        db.add(Case(number=f"T{uuid.uuid4().hex[:16]}", source="grid_worker", item_id=item.id,
                    description=description, lon=113.15, lat=27.8, grid_code=grid.code, region_path=grid.path,
                    state=state))
    db.flush()


def test_past_cases_teach_a_new_word(db, monkeypatch):
    """Nobody put 蜂窝煤炉 in the catalog; after dispatchers filed three such cases under 油烟污染,
    it comes first. Reported and voided cases teach nothing. (The session is rolled back.)"""
    monkeypatch.setattr(suggest, "CHECK_SECONDS", 0.0)  # look at every call: the cases are added here
    text = "楼下店铺门口烧蜂窝煤炉"
    target = db.scalar(select(CatalogItem).where(CatalogItem.name == "油烟污染"))
    decoy = db.scalar(select(CatalogItem).where(CatalogItem.name == "道路破损"))
    before = {s.item.code: s.score for s in suggest.suggest_items(db, text, limit=10)}
    assert target.code not in codes(suggest.suggest_items(db, text))

    add_cases(db, "道路边上有人烧蜂窝煤炉，烟很大", decoy, 5, state="reported")
    add_cases(db, "烧蜂窝煤炉的黑烟", decoy, 5, state="voided")
    assert decoy.code not in codes(suggest.suggest_items(db, text))

    add_cases(db, "餐馆用蜂窝煤炉做饭，黑烟很大", target, 3, state="closed")
    after = suggest.suggest_items(db, text)
    assert after[0].item.code == target.code
    assert after[0].score > before.get(target.code, 0)
    assert any("历史案件" in r and "3" in r for r in after[0].reasons)
    assert decoy.code not in codes(after)

    # Voiding them later takes the lesson back (the index follows the changed cases only).
    for case in db.scalars(select(Case).where(Case.item_id == target.id)):
        case.state = "voided"
    db.flush()
    assert target.code not in codes(suggest.suggest_items(db, text))


def test_the_indexes_are_checked_at_most_once_a_second(db, monkeypatch):
    """Within CHECK_SECONDS a process answers from its indexes without asking the database;
    after it, the changes made meanwhile are seen."""
    text = "楼下店铺门口烧蜂窝煤炉"
    target = db.scalar(select(CatalogItem).where(CatalogItem.name == "油烟污染"))
    suggest.forget()
    monkeypatch.setattr(suggest, "CHECK_SECONDS", 3600.0)
    assert target.code not in codes(suggest.suggest_items(db, text))
    add_cases(db, "餐馆用蜂窝煤炉做饭，黑烟很大", target, 3, state="closed")
    assert target.code not in codes(suggest.suggest_items(db, text))  # not asked yet
    monkeypatch.setattr(suggest, "CHECK_SECONDS", 0.0)
    assert suggest.suggest_items(db, text)[0].item.code == target.code


def test_a_retired_item_is_never_suggested_even_from_an_index_not_yet_checked(db, monkeypatch):
    item = db.scalar(select(CatalogItem).where(CatalogItem.name == "路灯不亮"))
    suggest.forget()
    monkeypatch.setattr(suggest, "CHECK_SECONDS", 3600.0)
    assert "路灯不亮" in [s.item.name for s in suggest.suggest_items(db, "路灯坏了")]
    item.active = False
    db.flush()
    assert "路灯不亮" not in [s.item.name for s in suggest.suggest_items(db, "路灯坏了")]


def test_requests_that_meet_no_index_build_it_once(catalog_sessions, monkeypatch):
    """At start-up every concurrent request finds no index; one builds it, the others wait for
    that build instead of each making their own in turn."""
    import threading
    import time

    builds: list[int] = []
    real_build = suggest._build_catalog

    def counted(db, signature):
        builds.append(1)
        time.sleep(0.3)  # a real build takes long enough for every other request to arrive meanwhile
        return real_build(db, signature)

    monkeypatch.setattr(suggest, "_build_catalog", counted)
    suggest.forget()
    start = threading.Barrier(6)
    found: list[list[str]] = []

    def ask() -> None:
        with catalog_sessions() as db:
            start.wait()
            found.append(codes(suggest.suggest_items(db, "路灯坏了晚上很黑")))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 6 and all(f == found[0] and f for f in found)
    assert len(builds) == 1


def test_a_request_does_not_wait_for_a_rebuild_when_it_has_indexes(catalog_sessions, monkeypatch):
    import threading

    with catalog_sessions() as db:
        suggest.suggest_items(db, "路灯坏了")  # indexes in hand
    monkeypatch.setattr(suggest, "CHECK_SECONDS", 0.0)
    monkeypatch.setattr(suggest, "TTL_SECONDS", -1.0)  # every call wants a rebuild
    found: list[str] = []

    def ask() -> None:
        with catalog_sessions() as db:
            found.extend(s.item.name for s in suggest.suggest_items(db, "路灯坏了"))

    with suggest._build_lock:  # another request is rebuilding
        asker = threading.Thread(target=ask, daemon=True)
        asker.start()
        asker.join(timeout=10)
        answered = not asker.is_alive()
    asker.join()
    assert answered, "the request waited for the rebuild"
    assert "路灯不亮" in found


def test_building_the_index_leaves_the_callers_objects_alone(db):
    """The index keeps items of its own, loaded by a session of its own: the caller's copies stay
    in the caller's session (one expunged under its feet would silently drop its changes)."""
    item = db.scalar(select(CatalogItem).where(CatalogItem.name == "路灯不亮"))
    suggest.forget()
    found = suggest.suggest_items(db, "路灯坏了")
    assert item in db and any(s.item is item for s in found)
    best, score = suggest.best_item(db, "路灯坏了")
    assert best is not item and best.id == item.id and best not in db  # the index's own, detached copy
    assert best.department.name and best.category.code and 0 < score <= 1


def test_a_category_renamed_in_another_process_is_suggested_by_its_new_name(db, monkeypatch):
    """The rename commits elsewhere (so this process's index is not dropped): the catalog's version
    in `meta` moves with it, and the next check here rebuilds the index."""
    from gridgov.catalog import service
    from gridgov.catalog.models import Category
    from gridgov.regions import service as regions
    from tests.catalog.conftest import ADMIN

    text = "巷子里有人乱扔泡沫箱"
    minor = db.scalar(select(Category).join(CatalogItem, CatalogItem.category_id == Category.id)
                      .where(CatalogItem.name == "暴露垃圾"))
    suggest.forget()
    monkeypatch.setattr(suggest, "CHECK_SECONDS", 0.0)
    monkeypatch.setattr(regions, "META_CHECK_SECONDS", 0.0)
    assert "暴露垃圾" not in [s.item.name for s in suggest.suggest_items(db, text)]
    monkeypatch.setattr(suggest, "forget", lambda: None)  # as when another process renamed it
    service.update_category(db, ADMIN, minor.code, name="泡沫箱")
    db.flush()
    assert "暴露垃圾" in [s.item.name for s in suggest.suggest_items(db, text)]
