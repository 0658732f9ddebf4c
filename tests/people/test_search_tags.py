"""Searching by tag on the residents row's copy of the active tags (residents.active_tags): the copy
follows every way a tag becomes or stops being active, a tag search gives the same answer however it
is driven and at every level of jurisdiction, and pages run past the count cap as before."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, select

from gridgov.accounts.access import Principal
from gridgov.people import search
from gridgov.people.identity import pinyin_keys
from gridgov.people.models import Resident, ResidentTag, TagKind
from gridgov.people.search import ResidentQuery, matching_residents
from gridgov.people.service import people_context
from gridgov.people.tagging import propose, sync_active_tags
from tests.people.conftest import COMMUNITY, GRID, OTHER_GRID, STREET, WORKER, fake_id, fake_phone
from tests.people.excel_helpers import principal, upload, xlsx

DISTRICT = "dispatcher"
CITY = "admin"  # the demo's administrator works at the city, whose code does not begin its districts'
ALONE = {"code": "living_alone", "reason": "走访发现",
         "details": {"emergency_contact": "邻居", "emergency_phone": "13900000000"}}
DISABLED = {"code": "disabled", "reason": "残联名册",
            "details": {"disability_type": "肢体", "disability_grade": "二级"}}
LOOKALIKE = "leftxbehindxchild"  # what ",left_behind_child," matches when LIKE reads its '_' as a wildcard


@pytest.fixture
def newcomer(make_resident):
    """make_resident with ID numbers of an area no other test uses: the shared helper's numbers
    repeat after 50 people with one birth date, and the import tests make thousands."""
    return lambda name, **fields: make_resident(name=name, id_number=fake_id(area="430211"), **fields)


def stored(sessions, rid: int) -> Resident:
    with sessions() as db:
        return db.get(Resident, rid)


def tag(client, auth, rid: int, body: dict, who: str = WORKER) -> None:
    r = client.post(f"/api/v1/residents/{rid}/tags", json=body, headers=auth(who))
    assert r.status_code == 201, r.text


def found(client, auth, who: str, **params) -> list[str]:
    r = client.get("/api/v1/residents", params={"limit": 200, **params}, headers=auth(who))
    assert r.status_code == 200, r.text
    return [p["name"] for p in r.json()["items"]]


@pytest.fixture
def lookalike(sessions):
    """A tag kind whose code differs from left_behind_child only where that one has '_'; gone afterwards."""
    with sessions() as db:
        db.add(TagKind(code=LOOKALIKE, name="相似代码测试", visit_days=0, sort=999))
        db.commit()
    yield LOOKALIKE
    with sessions() as db:
        rids = db.scalars(select(ResidentTag.resident_id).where(ResidentTag.tag_code == LOOKALIKE)).all()
        db.execute(delete(ResidentTag).where(ResidentTag.tag_code == LOOKALIKE))
        sync_active_tags(db, rids)
        db.execute(delete(TagKind).where(TagKind.code == LOOKALIKE))
        db.commit()


def test_active_tags_follow_adding_changing_and_removing(client, auth, sessions, newcomer):
    person = newcomer(name="副本增删")
    before = stored(sessions, person["id"])
    assert before.active_tags == ""
    tag(client, auth, person["id"], ALONE)
    assert stored(sessions, person["id"]).active_tags == ",living_alone,"
    tag(client, auth, person["id"], DISABLED)
    assert stored(sessions, person["id"]).active_tags == ",disabled,living_alone,"  # sorted
    url = f"/api/v1/residents/{person['id']}/tags/living_alone"
    r = client.put(url, json={"details": {"emergency_contact": "侄子"}, "reason": "联系人变更"}, headers=auth(WORKER))
    assert r.status_code == 200, r.text
    r = client.post(url + "/remove", json={"reason": "已搬走"}, headers=auth(WORKER))
    assert r.status_code == 200, r.text
    after = stored(sessions, person["id"])
    assert after.active_tags == ",disabled,"
    # Tags are not an edit of the person: the version that guards concurrent edits stays.
    assert (after.version, after.updated_at) == (before.version, before.updated_at)
    r = client.put(f"/api/v1/residents/{person['id']}", headers=auth(WORKER),
                   json={"name": person["name"], "kind": person["kind"], "grid_code": GRID,
                         "version": person["version"], "occupation": "退休"})
    assert r.status_code == 200, r.text
    assert "active_tags" not in r.text
    assert stored(sessions, person["id"]).active_tags == ",disabled,"
    tag(client, auth, person["id"], ALONE)  # added again after removal
    assert stored(sessions, person["id"]).active_tags == ",disabled,living_alone,"


def test_active_tags_follow_confirmed_proposals_only(client, auth, sessions, newcomer):
    kept, turned_down = newcomer(name="副本确认"), newcomer(name="副本驳回")
    with sessions() as db:
        assert propose(db, [kept["id"], turned_down["id"]], "empty_nest", "test", "规则测试") == 2
        db.commit()
    assert stored(sessions, kept["id"]).active_tags == stored(sessions, turned_down["id"]).active_tags == ""
    r = client.post(f"/api/v1/residents/{kept['id']}/tags/empty_nest/decision",
                    json={"accept": True, "reason": "核实", "details": {}}, headers=auth(WORKER))
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/residents/{turned_down['id']}/tags/empty_nest/decision",
                    json={"accept": False, "reason": "子女同住"}, headers=auth(COMMUNITY))
    assert r.status_code == 200, r.text
    assert stored(sessions, kept["id"]).active_tags == ",empty_nest,"
    assert stored(sessions, turned_down["id"]).active_tags == ""


def test_active_tags_follow_a_tag_import(client, auth, sessions, newcomer):
    fresh, proposed, tagged = (newcomer(name=n) for n in ("副本导入甲", "副本导入乙", "副本导入丙"))
    with sessions() as db:
        propose(db, [proposed["id"]], "living_alone", "test", "规则测试")
        db.commit()
    tag(client, auth, tagged["id"], DISABLED)
    rows = [{"证件号码": p["_id_number"], "紧急联系人": "王某", "紧急联系电话": fake_phone()}
            for p in (fresh, proposed, tagged)]
    run = upload(client, auth(WORKER), xlsx({"独居老人": (["证件号码", "紧急联系人", "紧急联系电话"], rows)}),
                 kind="tags", mode="good_rows")
    assert (run["status"], run["imported_rows"]) == ("done", 3), run
    assert stored(sessions, fresh["id"]).active_tags == ",living_alone,"
    assert stored(sessions, proposed["id"]).active_tags == ",living_alone,"
    assert stored(sessions, tagged["id"]).active_tags == ",disabled,living_alone,"


_batches = itertools.count()
SYLLABLES = "安白茶丁鹅方高胡金柯"  # ten initials, so the initials of two prefixes differ too


def fresh_prefix(stem: str) -> str:
    """A name prefix no earlier test used (tests share a database)."""
    n = next(_batches)
    return stem + SYLLABLES[n // 10 % 10] + SYLLABLES[n % 10]


@dataclass
class Tagged:
    prefix: str
    people: dict[str, dict]

    def names(self, *which: str) -> list[str]:
        return [self.prefix + w for w in which]


@pytest.fixture
def tagged(client, auth, newcomer, lookalike) -> Tagged:
    """甲 (living_alone) and 乙 (disabled) in the worker's grid, 丙 (living_alone) in another street,
    丁 with the look-alike code only, under a prefix of their own."""
    prefix = fresh_prefix("标搜")
    people = {"甲": newcomer(name=prefix + "甲"), "乙": newcomer(name=prefix + "乙"),
              "丙": newcomer(name=prefix + "丙", grid=OTHER_GRID, who=DISTRICT),
              "丁": newcomer(name=prefix + "丁")}
    tag(client, auth, people["甲"]["id"], ALONE)
    tag(client, auth, people["乙"]["id"], DISABLED)
    tag(client, auth, people["丙"]["id"], ALONE, who=DISTRICT)
    tag(client, auth, people["丁"]["id"], {"code": lookalike, "reason": "测试", "details": {}})
    return Tagged(prefix, people)


@pytest.mark.parametrize(("who", "sees_other_street"), [(WORKER, False), (COMMUNITY, False), (STREET, False),
                                                        (DISTRICT, True), (CITY, True)])
def test_tag_with_a_key_at_every_scope(client, auth, tagged, who, sees_other_street):
    alone = sorted(tagged.names("甲", "丙") if sees_other_street else tagged.names("甲"))  # in name order
    pinyin, _ = pinyin_keys(tagged.prefix)
    _, initials = pinyin_keys(tagged.names("乙")[0])
    assert found(client, auth, who, q=tagged.prefix, tag="living_alone") == alone
    assert found(client, auth, who, q=pinyin, tag="living_alone") == alone
    assert found(client, auth, who, q=initials, tag="disabled") == tagged.names("乙")
    assert found(client, auth, who, q=tagged.prefix, tag="left_behind_child") == []  # not 丁's look-alike
    assert found(client, auth, who, q=tagged.prefix, tag=LOOKALIKE) == tagged.names("丁")
    tail = tagged.people["甲"]["_id_number"][-4:]
    assert tagged.names("甲")[0] in found(client, auth, who, q=tail, tag="living_alone")
    assert tagged.names("甲")[0] not in found(client, auth, who, q=tail, tag="disabled")
    sessions = client.app.state.sessions
    with sessions() as db:
        exported = [h.resident.name for h in matching_residents(
            db, people_context(client.app.state.settings), principal(sessions, who),
            ResidentQuery(q=tagged.prefix, tag="living_alone"))]
    assert sorted(exported) == alone


@pytest.mark.parametrize("who", [WORKER, STREET, DISTRICT, CITY])
def test_tag_alone(client, auth, tagged, who):
    a, b, c, d = tagged.names("甲", "乙", "丙", "丁")
    names = found(client, auth, who, tag="living_alone")
    assert a in names and b not in names and d not in names
    assert (c in names) == (who in (DISTRICT, CITY))
    assert d not in found(client, auth, who, tag="left_behind_child")
    assert d in found(client, auth, who, tag=LOOKALIKE)
    # Narrowed to one grid, a district user's search takes the grid worker's path.
    in_grid = found(client, auth, who, tag="living_alone", grid=GRID)
    assert a in in_grid and c not in in_grid


def test_a_removed_tag_no_longer_finds_the_person(client, auth, tagged):
    person = tagged.people["甲"]
    r = client.post(f"/api/v1/residents/{person['id']}/tags/living_alone/remove", json={"reason": "已搬走"},
                    headers=auth(WORKER))
    assert r.status_code == 200, r.text
    assert found(client, auth, WORKER, q=tagged.prefix, tag="living_alone") == []
    assert person["name"] not in found(client, auth, DISTRICT, tag="living_alone")


@pytest.mark.parametrize("who", [WORKER, DISTRICT])
def test_pages_across_the_count_cap(client, auth, newcomer, monkeypatch, who):
    """With the cap at 4 and 7 matches: 4 counted and "more", and a page that starts inside the cap
    runs past it, whether the ids walked for the count reach that far or not."""
    prefix = fresh_prefix("封顶")
    made = [newcomer(name=prefix + n) for n in "甲乙丙丁戊己庚"]
    for p in made:
        tag(client, auth, p["id"], ALONE)
    monkeypatch.setattr(search, "COUNT_CAP", 4)
    by_name = [p["name"] for p in sorted(made, key=lambda p: (p["name"], p["id"]))]
    by_pinyin = [p["name"] for p in sorted(made, key=lambda p: (pinyin_keys(p["name"])[0], p["id"]))]
    for params, expected in (({"q": prefix}, by_name), ({"q": pinyin_keys(prefix)[0]}, by_pinyin),
                             ({"q": prefix, "tag": "living_alone"}, by_name)):
        pages = {}
        for offset, limit in ((0, 3), (2, 3), (3, 3), (4, 3), (0, 20)):
            r = client.get("/api/v1/residents", params={**params, "offset": offset, "limit": limit},
                           headers=auth(who)).json()
            assert (r["total"], r["total_capped"]) == (4, True), params
            pages[offset, limit] = [p["name"] for p in r["items"]]
        assert pages == {(0, 3): expected[0:3], (2, 3): expected[2:5], (3, 3): expected[3:6], (4, 3): [],
                         (0, 20): expected}, params


@pytest.mark.parametrize("who", [STREET, DISTRICT, CITY])
def test_a_tag_alone_pages_in_id_order_across_the_cap(client, auth, newcomer, monkeypatch, who):
    """A tag alone is walked from the tag's people a chunk at a time (COUNT_CAP + 1, then twice as
    many): with the cap at 4, a street's people are found past chunks that hold other streets'."""
    prefix = fresh_prefix("分块")
    for n in range(7):
        for grid, maker in ((OTHER_GRID, DISTRICT), (GRID, WORKER)):
            person = newcomer(name=f"{prefix}{n}", grid=grid, who=maker)
            tag(client, auth, person["id"], ALONE, who=maker)
    sessions = client.app.state.sessions
    with sessions() as db:  # the export's query: the same people, without walking the tag
        expected = [h.resident.id for h in matching_residents(
            db, people_context(client.app.state.settings), principal(sessions, who), ResidentQuery(tag="living_alone"))]
    assert len(expected) >= 7
    monkeypatch.setattr(search, "COUNT_CAP", 4)
    for offset, limit in ((0, 3), (3, 3), (0, 5), (4, 3)):
        r = client.get("/api/v1/residents", params={"tag": "living_alone", "offset": offset, "limit": limit},
                       headers=auth(who)).json()
        assert (r["total"], r["total_capped"]) == (4, True)
        assert [p["id"] for p in r["items"]] == expected[offset:offset + limit if offset < 4 else offset]


@pytest.mark.parametrize(("code", "path", "scope"), [
    ("43020300100101", "/430200/430203/430203001/430203001001/43020300100101/",
     "residents.grid_code = '43020300100101'"),
    ("430203001", "/430200/430203/430203001/",
     "residents.grid_code >= '430203001' AND residents.grid_code < '430203002'"),
    ("430209", "/430200/430209/", "residents.grid_code >= '430209' AND residents.grid_code < '430210'"),
    ("999999", "/990000/999999/", "residents.grid_code >= '999999'"),
    # A city: its districts have codes of their own. A district at the root of the tree: the path.
    ("430200", "/430200/", "residents.region_path LIKE '//430200//' || '%' ESCAPE '/'"),
    ("430203", "/430203/", "residents.region_path LIKE '//430203//' || '%' ESCAPE '/'"),
])
def test_the_jurisdiction_is_a_range_of_grid_codes_below_the_city(code, path, scope):
    who = Principal(user_id=1, username="x", display_name="x", role="district_dispatcher", region_code=code,
                    region_path=path, department_id=None)
    sql = str(search._scope(who).compile(compile_kwargs={"literal_binds": True}))
    assert sql == scope
