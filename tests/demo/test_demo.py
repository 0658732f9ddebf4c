"""The 芦淞区 demo district: codes and names of DESIGN §7, a map without gaps or overlaps,
the accounts, and a build that is deterministic and idempotent.

Read-only checks run on the session's shared `demo_url`; the build itself is checked on a
fresh database, through `gridgov demo` twice and the service once more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import shapely
from shapely import STRtree
from sqlalchemy import select
from typer.testing import CliRunner

from gridgov.accounts.models import User
from gridgov.accounts.service import MOBILE_CONTEXT
from gridgov.cli import app as cli_app
from gridgov.core.crypto import cipher_for
from gridgov.core.db import make_engine, make_sessionmaker
from gridgov.demo.service import build_demo, demo_mobile
from gridgov.departments.models import AreaAssignment, Department
from gridgov.regions.geo import area_m2, from_geojson
from gridgov.regions.models import MetaValue, Region
from tests.conftest import TEST_DATA_KEY, migrated

STREETS = {  # DESIGN §7
    "430203001": "贺家土街道", "430203002": "建设街道", "430203003": "建宁街道", "430203004": "董家塅街道",
    "430203005": "庆云街道", "430203006": "枫溪街道", "430203007": "龙泉街道", "430203100": "白关镇",
}
DEPARTMENT_CODES = {"CGJ", "ZJJ", "HBJ", "SJJ", "YJJ", "GAJ", "MZJ", "RSJ", "WJJ", "JYJ", "JTJ", "SLJ", "ZRJ",
                    "SFJ", "NYJ", "GDS", "SWS"}
PERSON_NAME = re.compile(r"[\u4e00-\u9fff]{2,3}")


@dataclass
class Demo:
    regions: dict[str, Region]
    users: dict[str, User]
    departments: dict[str, Department]
    assignments: list[AreaAssignment]

    def level(self, level: str) -> list[Region]:
        return sorted((r for r in self.regions.values() if r.level == level), key=lambda r: r.code)

    def grid_shapes(self) -> dict[str, shapely.Geometry]:
        return {g.code: from_geojson(g.geometry) for g in self.level("grid")}


def load(url: str) -> Demo:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        demo = Demo(regions={r.code: r for r in db.scalars(select(Region))},
                    users={u.username: u for u in db.scalars(select(User))},
                    departments={d.code: d for d in db.scalars(select(Department))},
                    assignments=list(db.scalars(select(AreaAssignment))))
    engine.dispose()
    return demo


@pytest.fixture(scope="module")
def demo(demo_url) -> Demo:
    return load(demo_url)


# --- the region tree ---

def test_city_and_district(demo):
    city, district = demo.regions["430200"], demo.regions["430203"]
    assert (city.name, city.level, city.parent_code, city.path) == ("株洲市", "city", None, "/430200/")
    assert (district.name, district.level, district.parent_code, district.path) == (
        "芦淞区", "district", "430200", "/430200/430203/")


def test_exactly_the_eight_streets_of_design_7(demo):
    streets = demo.level("street")
    assert {s.code: s.name for s in streets} == STREETS
    for s in streets:
        assert s.parent_code == "430203" and s.path == f"/430200/430203/{s.code}/"
        assert s.kind == ("镇" if s.code == "430203100" else "街道")


def test_eighty_communities_numbered_under_their_street(demo):
    communities = demo.level("community")
    assert len(communities) == 80
    by_street: dict[str, list[int]] = {}
    for c in communities:
        assert re.fullmatch(r"\d{12}", c.code)
        assert c.parent_code == c.code[:9] and c.parent_code in STREETS
        assert c.path == f"/430200/430203/{c.code[:9]}/{c.code}/"
        assert c.kind in ("社区", "村") and c.name.endswith(c.kind)
        by_street.setdefault(c.parent_code, []).append(int(c.code[9:]))
    assert set(by_street) == set(STREETS)
    for numbers in by_street.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
    assert len({c.name for c in communities}) == 80


def test_288_grids_numbered_under_their_community(demo):
    grids = demo.level("grid")
    assert len(grids) == 288
    communities = {c.code for c in demo.level("community")}
    by_community: dict[str, list[int]] = {}
    for g in grids:
        assert re.fullmatch(r"\d{14}", g.code)
        assert g.parent_code == g.code[:12] and g.parent_code in communities
        assert g.path == f"{demo.regions[g.parent_code].path}{g.code}/"
        assert g.geometry and g.area_m2 > 0
        by_community.setdefault(g.parent_code, []).append(int(g.code[12:]))
    assert set(by_community) == communities  # no community without grids
    for numbers in by_community.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))


# --- the map ---

def test_grids_are_valid_polygons_around_27_8_n_113_15_e(demo):
    shapes = demo.grid_shapes()
    for code, geom in shapes.items():
        assert geom.geom_type == "Polygon" and geom.is_valid, code
        g = demo.regions[code]
        assert shapely.contains_xy(geom, g.center_lon, g.center_lat), code
        assert g.area_m2 == pytest.approx(area_m2(geom), rel=1e-6)
    minx, miny, maxx, maxy = shapely.union_all(list(shapes.values())).bounds
    assert 113.0 < minx < maxx < 113.3 and 27.65 < miny < maxy < 27.95
    center = shapely.box(minx, miny, maxx, maxy).centroid
    assert abs(center.x - 113.15) < 0.03 and abs(center.y - 27.8) < 0.03


def test_grids_neither_overlap_nor_leave_gaps(demo):
    shapes = demo.grid_shapes()
    codes = sorted(shapes)
    geoms = [shapes[c] for c in codes]
    tree = STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    neighbours = 0
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a < b:
            neighbours += 1
            overlap = area_m2(shapely.intersection(geoms[a], geoms[b]))
            assert overlap < 1.0, (codes[a], codes[b], overlap)
    assert neighbours > 288  # a tiling: every grid has several neighbours
    union = shapely.union_all(geoms)
    total = sum(area_m2(g) for g in geoms)
    assert area_m2(union) == pytest.approx(total, abs=288.0)
    assert union.geom_type == "Polygon" and len(union.interiors) == 0
    assert 50e6 < total < 500e6  # a district of some 100–200 km²


def test_each_community_is_one_piece_without_holes(demo):
    shapes = demo.grid_shapes()
    by_community: dict[str, list] = {}
    for code, geom in shapes.items():
        by_community.setdefault(code[:12], []).append(geom)
    for community, geoms in by_community.items():
        union = shapely.union_all(geoms)
        for polygon in getattr(union, "geoms", [union]):
            holes = [area_m2(shapely.Polygon(ring)) for ring in polygon.interiors]
            assert all(h < 1.0 for h in holes), (community, holes)


def test_streets_are_contiguous_and_tile_the_district(demo):
    shapes = demo.grid_shapes()
    by_street: dict[str, list] = {}
    for code, geom in shapes.items():
        by_street.setdefault(code[:9], []).append(geom)
    assert set(by_street) == set(STREETS)
    for street, geoms in by_street.items():
        union = shapely.union_all(geoms)
        pieces = [p for p in getattr(union, "geoms", [union]) if area_m2(p) > 1.0]
        assert len(pieces) == 1, street


def _reading_order_ok(points: list[tuple[float, float]]) -> bool:
    """Numbered west→east, north→south: the next one is never both west and north of this one."""
    return all(x2 > x1 or y2 < y1 for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False))


def test_grids_are_numbered_west_to_east_north_to_south(demo):
    shapes = demo.grid_shapes()
    by_community: dict[str, list[tuple[float, float]]] = {}
    for code in sorted(shapes):
        c = shapes[code].centroid
        by_community.setdefault(code[:12], []).append((c.x, c.y))
    band = 0.01  # degrees: rows are bands, not exact lines
    for community, points in by_community.items():
        assert points[0][1] > points[-1][1] - band, community  # the first is not south of the last
        assert _reading_order_ok(points), community


def test_communities_are_numbered_west_to_east_north_to_south(demo):
    shapes = demo.grid_shapes()
    centers: dict[str, list[tuple[float, float]]] = {}
    for code, geom in shapes.items():
        centers.setdefault(code[:12], []).append((geom.centroid.x, geom.centroid.y))
    by_street: dict[str, list[tuple[float, float]]] = {}
    for community in sorted(centers):
        pts = centers[community]
        by_street.setdefault(community[:9], []).append(
            (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)))
    for street, points in by_street.items():
        assert points[0][1] > points[-1][1] - 0.03, street
        assert _reading_order_ok(points), street


def test_the_order_check_can_fail():
    assert _reading_order_ok([(113.10, 27.80), (113.11, 27.80), (113.10, 27.79)])
    assert not _reading_order_ok([(113.10, 27.80), (113.09, 27.81)])


# --- accounts and departments ---

def test_an_account_for_every_grid_community_and_street(demo):
    expected = {"grid": ("wg", "grid_worker"), "community": ("sq", "community_admin"),
                "street": ("jd", "street_dispatcher")}
    for level, (prefix, role) in expected.items():
        for region in demo.level(level):
            user = demo.users.get(f"{prefix}{region.code}")
            assert user is not None, f"{prefix}{region.code}"
            assert (user.role, user.region_code, user.department_id) == (role, region.code, None)
            assert PERSON_NAME.fullmatch(user.display_name), user.display_name


def test_district_accounts(demo):
    admin, leader, dispatcher = demo.users["admin"], demo.users["leader"], demo.users["dispatcher"]
    assert (admin.role, admin.region_code) == ("admin", "430200")
    assert (leader.role, leader.region_code) == ("leader", "430203")
    assert (dispatcher.role, dispatcher.region_code) == ("district_dispatcher", "430203")
    assert PERSON_NAME.fullmatch(leader.display_name) and PERSON_NAME.fullmatch(dispatcher.display_name)


def test_seventeen_departments_with_an_admin_and_assigned_handlers(demo):
    assert set(demo.departments) >= DEPARTMENT_CODES
    demo_departments = {c: demo.departments[c] for c in DEPARTMENT_CODES}
    district_paths = {r.code: r.path for r in demo.regions.values()}
    for code, dept in demo_departments.items():
        assert dept.region_code == "430203" and dept.name
        admin = demo.users[f"bm{code.lower()}00"]
        assert (admin.role, admin.department_id) == ("dept_admin", dept.id)
        assert PERSON_NAME.fullmatch(admin.display_name)
        handlers = {u.id: u for name, u in demo.users.items()
                    if re.fullmatch(rf"bm{code.lower()}(0[1-9]|[1-9]\d)", name)}
        assert handlers, code
        assigned: dict[int, set[str]] = {}
        for a in demo.assignments:
            if a.department_id == dept.id:
                assert a.handler_id in handlers, (code, a.handler_id)
                assert district_paths[a.region_code].startswith("/430200/430203/")
                assigned.setdefault(a.handler_id, set()).add(a.region_code)
        for handler in handlers.values():
            assert (handler.role, handler.department_id) == ("dept_handler", dept.id)
            assert assigned.get(handler.id), handler.username
        # Handler 01 answers for the whole district; the others for streets below it.
        first = demo.users[f"bm{code.lower()}01"]
        assert assigned[first.id] == {"430203"}
        for hid, regions in assigned.items():
            if hid != first.id:
                assert regions <= set(STREETS), (code, regions)


def test_every_demo_person_name_is_two_or_three_chinese_characters(demo):
    generated = [u for name, u in demo.users.items()
                 if re.fullmatch(r"(wg|sq|jd)\d+|bm[a-z]{3}\d{2}|leader|dispatcher", name)]
    assert len(generated) >= 288 + 80 + 8 + 17 * 2 + 2
    bad = [u.display_name for u in generated if not PERSON_NAME.fullmatch(u.display_name)]
    assert bad == []


def test_every_demo_account_has_a_made_up_mobile_from_its_id(demo):
    """Fictitious numbers in one block (1370000 + the id), encrypted like any staff mobile, shown masked."""
    cipher = cipher_for(TEST_DATA_KEY)
    users = [u for name, u in demo.users.items()  # the demo's own: other tests' accounts may share the database
             if re.fullmatch(r"(wg|sq|jd)\d+|bm[a-z]{3}\d{2}|leader|dispatcher|admin", name)]
    assert len(users) >= 288 + 80 + 8 + 17 * 2 + 3
    for u in users:
        number = cipher.decrypt(bytes(u.mobile_cipher), MOBILE_CONTEXT)
        assert number == demo_mobile(u.id) == f"1370000{u.id:04d}", u.username
        assert u.mobile_masked == f"137****{u.id:04d}"
        assert number.encode() not in bytes(u.mobile_cipher)


def test_the_demo_is_flagged(demo_url):
    engine = make_engine(demo_url)
    with make_sessionmaker(engine)() as db:
        assert db.get(MetaValue, "demo").value == "1"
    engine.dispose()


# --- deterministic and idempotent ---

def dump(url: str) -> dict[str, list]:
    """Every row of the demo's tables, with users' last log-in left out."""
    engine = make_engine(url)
    tables = {"regions": Region, "users": User, "departments": Department, "area_assignments": AreaAssignment,
              "meta": MetaValue}
    out: dict[str, list] = {}
    with make_sessionmaker(engine)() as db:
        for name, model in tables.items():
            columns = [c.key for c in model.__table__.columns if not (name == "users" and c.key == "last_login_at")]
            pk = model.__table__.primary_key.columns.values()[0].key
            rows = db.scalars(select(model).order_by(getattr(model, pk)))
            out[name] = [tuple(getattr(r, c) for c in columns) for r in rows]
    engine.dispose()
    return out


@dataclass
class Built:
    url: str
    first: object
    second: object
    after_first: dict
    after_second: dict
    third_created: dict
    after_third: dict


@pytest.fixture(scope="module")
def built(backend, databases, tmp_path_factory) -> Built:
    """A fresh database: `gridgov demo`, `gridgov demo` again, then build_demo once more."""
    url = databases.new(backend)
    migrated(url)
    env = {"GRIDGOV_DATABASE_URL": url, "GRIDGOV_VAR_DIR": str(tmp_path_factory.mktemp("var"))}
    runner = CliRunner()
    first = runner.invoke(cli_app, ["demo"], env=env)
    after_first = dump(url)
    second = runner.invoke(cli_app, ["demo"], env=env)
    after_second = dump(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        report = build_demo(db)
        db.commit()
    engine.dispose()
    return Built(url, first, second, after_first, after_second, dict(report.created), dump(url))


def test_cli_builds_the_demo_then_finds_it_in_place(built):
    assert built.first.exit_code == 0, built.first.output
    assert "演示数据已生成" in built.first.stdout
    assert "grid_layer 376" in built.first.stdout and "department 17" in built.first.stdout
    assert built.second.exit_code == 0, built.second.output
    assert "演示数据已存在，无需更改。" in built.second.stdout
    assert "演示数据已生成" not in built.second.stdout


def test_a_second_build_creates_and_changes_nothing(built):
    assert len(built.after_first["regions"]) == 2 + 8 + 80 + 288
    assert built.third_created == {}
    for table in built.after_first:
        assert built.after_second[table] == built.after_first[table], table
        assert built.after_third[table] == built.after_first[table], table


def test_the_build_is_deterministic_across_databases(built, demo):
    """A fresh build gives the shared demo's map, names and accounts again."""
    fresh = load(built.url)
    region_fields = ("code", "name", "level", "kind", "parent_code", "path", "geometry", "area_m2")
    for code, r in fresh.regions.items():
        assert tuple(getattr(r, f) for f in region_fields) == tuple(
            getattr(demo.regions[code], f) for f in region_fields), code
    user_fields = ("username", "display_name", "role", "region_code")
    for username, u in fresh.users.items():
        assert tuple(getattr(u, f) for f in user_fields) == tuple(
            getattr(demo.users[username], f) for f in user_fields), username
    assert {c: (d.name, d.level) for c, d in fresh.departments.items()} == {
        c: (demo.departments[c].name, demo.departments[c].level) for c in fresh.departments}
