"""`gridgov grids import` / `export` through the real CLI, on a fresh migrated database per test.

Each test starts from a database holding only 株洲市 › 芦淞区 and imports a small hand-made layer:
street 430203001, community 430203001001 (a 2×2 block of grids, numbered north→south,
west→east) and community 430203001002 (two grids east of it). A bad file must leave the
database exactly as it was, and every problem must be listed.
"""

from __future__ import annotations

import json
import math
import re

import pytest
import shapely
import shapely.affinity
from sqlalchemy import select
from typer.testing import CliRunner

from gridgov.cli import app as cli_app
from gridgov.core.db import make_engine, make_sessionmaker
from gridgov.regions.models import MetaValue, Region
from tests.conftest import migrated

X0, Y0, D = 113.14, 27.80, 0.005  # about 490 m × 550 m per grid
STREET, C1, C2 = "430203001", "430203001001", "430203001002"


# --- building files ---

def feature(code: str, level: str, parent: str | None, geom=None, name: str | None = None, **extra) -> dict:
    props = {"code": code, "name": name or f"测试{code[-4:]}", "level": level, "parent_code": parent, **extra}
    return {"type": "Feature", "properties": props,
            "geometry": json.loads(shapely.to_geojson(geom)) if geom is not None else None}


def cell(col: int, row: int, width: float = 1.0) -> shapely.Polygon:
    """The grid square in column `col` (west→east) and row `row` (south→north) of the test block."""
    return shapely.box(X0 + col * D, Y0 + row * D, X0 + (col + width) * D, Y0 + (row + 1) * D)


def base_features() -> list[dict]:
    return [
        feature(STREET, "street", "430203", name="贺家土街道"),
        feature(C1, "community", STREET, name="测试一社区"),
        feature(C1 + "01", "grid", C1, cell(0, 1)),
        feature(C1 + "02", "grid", C1, cell(1, 1)),
        feature(C1 + "03", "grid", C1, cell(0, 0)),
        feature(C1 + "04", "grid", C1, cell(1, 0)),
        feature(C2, "community", STREET, name="测试二社区", kind="村"),
        feature(C2 + "01", "grid", C2, cell(2, 1)),
        feature(C2 + "02", "grid", C2, cell(2, 0)),
    ]


def collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def replace(features: list[dict], code: str, new: dict) -> list[dict]:
    out = [new if f["properties"]["code"] == code else f for f in features]
    assert out != features, code
    return out


def bow_tie(col: int, row: int) -> shapely.Polygon:
    x1, y1, x2, y2 = cell(col, row).bounds
    return shapely.Polygon([(x1, y1), (x2, y2), (x2, y1), (x1, y2), (x1, y1)])


# metres per degree at a latitude (the usual series for the WGS-84 ellipsoid), to check areas
# independently of the importer's geodesic computation.
def m_per_deg_lat(lat: float) -> float:
    r = math.radians(lat)
    return 111132.954 - 559.822 * math.cos(2 * r) + 1.175 * math.cos(4 * r)


def m_per_deg_lon(lat: float) -> float:
    r = math.radians(lat)
    return 111412.84 * math.cos(r) - 93.5 * math.cos(3 * r)


def approx_area_m2(box: shapely.Polygon) -> float:
    minx, miny, maxx, maxy = box.bounds
    lat = (miny + maxy) / 2
    return (maxx - minx) * m_per_deg_lon(lat) * (maxy - miny) * m_per_deg_lat(lat)


# --- database and CLI ---

def seeded(backend: str, databases) -> str:
    """A fresh migrated database with only the city and the district, as the demo creates them."""
    url = databases.new(backend)
    migrated(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        db.add(Region(code="430200", name="株洲市", level="city", kind="市", parent_code=None, path="/430200/"))
        db.flush()
        db.add(Region(code="430203", name="芦淞区", level="district", kind="区", parent_code="430200",
                      path="/430200/430203/"))
        db.commit()
    engine.dispose()
    return url


@pytest.fixture
def db_url(backend, databases) -> str:
    return seeded(backend, databases)


@pytest.fixture
def cli(tmp_path):
    runner = CliRunner()

    def run(url: str, *args: str):
        return runner.invoke(cli_app, list(args),
                             env={"GRIDGOV_DATABASE_URL": url, "GRIDGOV_VAR_DIR": str(tmp_path / "var")})

    return run


@pytest.fixture
def write(tmp_path):
    counter = iter(range(1000))

    def to_file(data):
        path = tmp_path / f"layer{next(counter)}.geojson"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return path

    return to_file


def snapshot(url: str) -> tuple[list, list]:
    """Every region row and every meta row: what a failed import must leave untouched."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        regions = [(r.code, r.name, r.level, r.kind, r.parent_code, r.path, r.geometry, r.area_m2, r.updated_at)
                   for r in db.scalars(select(Region).order_by(Region.code))]
        meta = [(m.key, m.value, m.counter) for m in db.scalars(select(MetaValue).order_by(MetaValue.key))]
    engine.dispose()
    return regions, meta


def region_count(url: str) -> int:
    return len(snapshot(url)[0])


def problems(result) -> list[dict]:
    """The rows of the CLI's problem table (要素, 编码, 类型, 说明), wrapped cells joined."""
    rows: list[list[str]] = []
    for line in result.stderr.splitlines():
        line = line.strip()
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.strip("│").split("│")]
        if cells[0] or not rows:
            rows.append(cells)
        else:  # a continuation line of a wrapped row
            rows[-1] = [(a + " " + b).strip() for a, b in zip(rows[-1], cells, strict=True)]
    return [{"feature": r[0], "code": r[1], "kind": r[2], "message": r[3]} for r in rows]


def problem_count(result) -> int:
    m = re.search(r"发现\s*(\d+)\s*个问题", result.stderr)  # the title may wrap over a narrow table
    assert m, result.stderr
    return int(m.group(1))


def area_in(message: str) -> float:
    m = re.search(r"([\d,]+(?:\.\d+)?)\s*平方米", message)
    assert m, message
    return float(m.group(1).replace(",", ""))


def refused(cli, url: str, path) -> list[dict]:
    """Imports a file that must be refused; checks nothing was written; returns the problems."""
    before = snapshot(url)
    result = cli(url, "grids", "import", str(path))
    assert result.exit_code != 0, result.output
    assert "未写入任何数据" in re.sub(r"\s+", "", result.stderr)
    assert snapshot(url) == before
    found = problems(result)
    assert len(found) == problem_count(result)
    return found


# --- a good file ---

def test_a_good_layer_imports_and_reports_counts(db_url, cli, write):
    result = cli(db_url, "grids", "import", str(write(collection(base_features()))))
    assert result.exit_code == 0, result.output
    assert "导入完成：新增 9，更新 0，未变 0" in result.stdout
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as db:
        grid = db.get(Region, C1 + "04")
        assert grid.path == f"/430200/430203/{STREET}/{C1}/{C1}04/"
        assert grid.level == "grid" and grid.kind == "网格"
        assert grid.area_m2 == pytest.approx(approx_area_m2(cell(1, 0)), rel=0.01)
        assert shapely.contains_xy(cell(1, 0), grid.center_lon, grid.center_lat)
        assert db.get(Region, STREET).kind == "街道"  # default kind from the code (001–099)
        assert db.get(Region, C2).kind == "村"  # kind given in the file
        assert db.get(MetaValue, "grid_layer").counter == 1
    engine.dispose()
    assert region_count(db_url) == 2 + 9


def test_an_enclave_of_another_community_is_not_a_gap(db_url, cli, write):
    """A community ringing another community's grid has a hole in its own union; that is a
    neighbour, not a gap."""
    ring = [cell(0, 0), cell(1, 0), cell(2, 0), cell(0, 1), cell(2, 1), cell(0, 2), cell(1, 2), cell(2, 2)]
    feats = [feature(STREET, "street", "430203"), feature(C1, "community", STREET),
             feature(C2, "community", STREET), feature(C2 + "01", "grid", C2, cell(1, 1))]
    feats += [feature(f"{C1}{i:02d}", "grid", C1, g) for i, g in enumerate(ring, start=1)]
    result = cli(db_url, "grids", "import", str(write(collection(feats))))
    assert result.exit_code == 0, result.stderr
    assert "新增 12" in result.stdout


def test_areas_do_not_depend_on_the_winding_of_rings(db_url, cli, write):
    """GeoJSON in the wild winds its rings either way. A grid of two parts wound opposite ways, and
    one whose hole winds like its shell, have the area of their land all the same."""
    hole = shapely.box(X0 + 2.25 * D, Y0 + 0.25 * D, X0 + 2.75 * D, Y0 + 0.75 * D)
    holed = shapely.Polygon(cell(2, 0).exterior.coords, [hole.exterior.coords])  # both counter-clockwise
    parts = shapely.MultiPolygon([cell(4, 0), shapely.Polygon(list(cell(4, 2).exterior.coords)[::-1])])
    c3 = "430203001003"
    feats = replace(base_features(), C2 + "02", _grid(C2 + "02", holed)) + [
        _grid(C2 + "03", hole), feature(c3, "community", STREET), _grid(c3 + "01", parts)]
    result = cli(db_url, "grids", "import", str(write(collection(feats))))
    assert result.exit_code == 0, result.output
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as db:
        expected = approx_area_m2(cell(2, 0)) - approx_area_m2(hole)
        assert db.get(Region, C2 + "02").area_m2 == pytest.approx(expected, rel=0.01)
        expected = approx_area_m2(cell(4, 0)) + approx_area_m2(cell(4, 2))
        assert db.get(Region, c3 + "01").area_m2 == pytest.approx(expected, rel=0.01)
    engine.dispose()


# --- one test per kind of problem: non-zero exit, nothing written, the problem listed ---

def _grid(code, geom, parent=None, **kw):
    return feature(code, "grid", parent or code[:12], geom, **kw)


BAD = {
    "bow_tie": (lambda fs: replace(fs, C1 + "04", _grid(C1 + "04", bow_tie(1, 0))),
                [(C1 + "04", "self_intersection", "自相交")]),
    "point_geometry": (lambda fs: replace(fs, C1 + "04", _grid(C1 + "04", shapely.Point(X0, Y0))),
                       [(C1 + "04", "geometry", "Polygon 或 MultiPolygon")]),
    "linestring_geometry": (lambda fs: replace(fs, C1 + "04", _grid(C1 + "04", cell(1, 0).exterior)),
                            [(C1 + "04", "geometry", "LineString")]),
    "grid_without_geometry": (lambda fs: replace(fs, C1 + "04", _grid(C1 + "04", None)),
                              [(C1 + "04", "geometry", "多边形边界")]),
    "longitude_out_of_range": (
        lambda fs: replace(fs, C1 + "04", _grid(C1 + "04", shapely.affinity.translate(cell(1, 0), xoff=100))),
        [(C1 + "04", "geometry", "超出经纬度范围")]),
    "latitude_and_longitude_swapped": (
        lambda fs: replace(fs, C1 + "04", _grid(C1 + "04", shapely.box(27.80, 113.14, 27.805, 113.145))),
        [(C1 + "04", "geometry", "超出经纬度范围")]),
    "unknown_parent": (lambda fs: fs + [_grid("43020300100901", cell(5, 5))],
                       [("43020300100901", "unknown_parent", "430203001009")]),
    "unknown_street": (lambda fs: fs + [feature("430203002001", "community", "430203002")],
                       [("430203002001", "unknown_parent", "430203002")]),
    "grid_code_too_short": (lambda fs: fs + [_grid("4302030010010", cell(5, 5), parent=C1)],
                            [("4302030010010", "code", "14 位数字")]),
    "grid_code_with_letters": (lambda fs: fs + [_grid("4302030010010A", cell(5, 5), parent=C1)],
                               [("4302030010010A", "code", "14 位数字")]),
    "grid_code_in_full_width_digits": (lambda fs: fs + [_grid("４３０２０３００１００１０５", cell(5, 5), parent=C1)],
                                       [("４３０２０３００１００１０５", "code", "14 位数字")]),
    "grid_sequence_00": (lambda fs: fs + [_grid(C1 + "00", cell(5, 5))],
                         [(C1 + "00", "code", "序号不能为 0")]),
    "community_sequence_000": (lambda fs: fs + [feature("430203001000", "community", STREET)],
                               [("430203001000", "code", "序号不能为 0")]),
    "street_suffix_000": (lambda fs: fs + [feature("430203000", "street", "430203")],
                          [("430203000", "code", "001–399")]),
    "street_suffix_400": (lambda fs: fs + [feature("430203400", "street", "430203")],
                          [("430203400", "code", "001–399")]),
    "street_code_too_long": (lambda fs: fs + [feature("4302030011", "street", "430203")],
                             [("4302030011", "code", "9 位数字")]),
    "duplicate_code": (lambda fs: fs + [_grid(C1 + "02", cell(5, 5))],
                       [(C1 + "02", "duplicate", "第 4 个要素")]),
    "parent_disagrees_with_prefix": (lambda fs: replace(fs, C2 + "02", _grid(C2 + "02", cell(2, 0), parent=C1)),
                                     [(C2 + "02", "parent", f"{C1} 与编码前缀 {C2}")]),
    "level_not_importable": (lambda fs: fs + [feature("430204", "district", "430200")],
                             [("430204", "level", "district")]),
    "missing_name": (lambda fs: fs + [_grid(C2 + "03", cell(3, 0), name=" ")],
                     [(C2 + "03", "name", "缺少名称")]),
    "missing_code": (lambda fs: fs + [_grid("", cell(5, 5), parent=C1)],
                     [("—", "code", "缺少编码")]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_feature_refuses_the_whole_file(db_url, cli, write, case):
    mutate, expected = BAD[case]
    found = refused(cli, db_url, write(collection(mutate(base_features()))))
    assert [(p["code"], p["kind"]) for p in found] == [(code, kind) for code, kind, _ in expected], found
    for p, (_, _, text) in zip(found, expected, strict=True):
        assert text in p["message"], p
    assert region_count(db_url) == 2  # not even the good street, communities and grids


def test_an_overlap_names_both_grids_and_its_area(db_url, cli, write):
    # Grid 02 drawn 0.001° too far west: a strip 0.001° × D shared with grid 01.
    wide = shapely.box(X0 + D - 0.001, Y0 + D, X0 + 2 * D, Y0 + 2 * D)
    feats = replace(base_features(), C1 + "02", _grid(C1 + "02", wide))
    found = refused(cli, db_url, write(collection(feats)))
    assert [(p["code"], p["kind"]) for p in found] == [(C1 + "01", "overlap")]
    assert C1 + "02" in found[0]["message"]
    assert found[0]["feature"] == "3"
    strip = shapely.box(X0 + D - 0.001, Y0 + D, X0 + D, Y0 + 2 * D)
    assert area_in(found[0]["message"]) == pytest.approx(approx_area_m2(strip), rel=0.01)  # ≈ 54,000 m²


def test_a_gap_inside_a_community_is_reported_with_its_area(db_url, cli, write):
    # Eight grids ring an empty square: the community has a hole of one cell.
    ring = [cell(0, 2), cell(1, 2), cell(2, 2), cell(0, 1), cell(2, 1), cell(0, 0), cell(1, 0), cell(2, 0)]
    feats = [feature(STREET, "street", "430203"), feature(C1, "community", STREET)]
    feats += [_grid(f"{C1}{i:02d}", g) for i, g in enumerate(ring, start=1)]
    found = refused(cli, db_url, write(collection(feats)))
    assert [(p["code"], p["kind"]) for p in found] == [(C1, "gap")]
    assert area_in(found[0]["message"]) == pytest.approx(approx_area_m2(cell(1, 1)), rel=0.01)  # ≈ 270,000 m²
    # It says where: a point inside the hole.
    m = re.search(r"\(([\d.]+), ([\d.]+)\)", found[0]["message"])
    assert m and shapely.contains_xy(cell(1, 1), float(m.group(1)), float(m.group(2)))


def test_a_file_with_several_problems_lists_all_of_them(db_url, cli, write):
    feats = base_features()
    feats = replace(feats, C1 + "04", _grid(C1 + "04", bow_tie(1, 0)))
    feats = replace(feats, C2 + "01", _grid(C2 + "01", cell(1.5, 1)))  # overlaps 02 of C1, half a cell
    feats += [
        _grid(C1 + "03", cell(5, 5)),  # duplicate
        _grid("43020300100901", cell(6, 6)),  # unknown parent
        feature("430203450", "street", "430203"),  # street code out of range
        _grid(C2 + "03", cell(3, 0), parent=C1),  # parent disagrees with its code
    ]
    found = refused(cli, db_url, write(collection(feats)))
    assert len(found) == 6
    assert sorted((p["code"], p["kind"]) for p in found) == sorted([
        (C1 + "04", "self_intersection"), (C1 + "03", "duplicate"), ("43020300100901", "unknown_parent"),
        ("430203450", "code"), (C2 + "03", "parent"), (C1 + "02", "overlap"),
    ])
    overlap = next(p for p in found if p["kind"] == "overlap")
    assert C2 + "01" in overlap["message"]


def test_features_that_are_not_objects_are_problems_not_a_crash(db_url, cli, write):
    feats = base_features() + ["not a feature", {"type": "Feature", "properties": ["x"], "geometry": None}]
    found = refused(cli, db_url, write(collection(feats)))
    assert [p["feature"] for p in found] == ["10", "11"]
    assert all(p["kind"] == "format" for p in found), found


@pytest.mark.parametrize("data", [
    {"type": "Feature", "properties": {}, "geometry": None},
    {"type": "FeatureCollection"},
    [1, 2, 3],
])
def test_json_that_is_not_a_feature_collection_is_refused(db_url, cli, write, data):
    found = refused(cli, db_url, write(data))
    assert [(p["kind"], p["message"]) for p in found] == [("format", "文件必须是 GeoJSON FeatureCollection")]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe\x00garbage", "编码,名称\n1,网格".encode()])
def test_a_file_that_is_not_json_is_a_clear_error(db_url, cli, raw, tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_bytes(raw)
    before = snapshot(db_url)
    result = cli(db_url, "grids", "import", str(path))
    assert result.exit_code != 0
    assert "不是合法的 GeoJSON" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert snapshot(db_url) == before


# --- against what is already in the database ---

def test_a_partial_file_overlapping_an_existing_grid_is_refused(db_url, cli, write):
    assert cli(db_url, "grids", "import", str(write(collection(base_features())))).exit_code == 0
    # A new grid of community 2 drawn over the existing grid 01 of community 1.
    intruder = _grid(C2 + "03", shapely.box(X0 + 0.001, Y0 + D + 0.001, X0 + 0.002, Y0 + D + 0.002))
    found = refused(cli, db_url, write(collection([intruder])))
    assert [p["kind"] for p in found] == ["overlap"]
    assert {found[0]["code"], *re.findall(r"\d{14}", found[0]["message"])} == {C1 + "01", C2 + "03"}
    assert found[0]["feature"] == "1"
    assert area_in(found[0]["message"]) == pytest.approx(
        approx_area_m2(shapely.box(0, Y0, 0.001, Y0 + 0.001)), rel=0.01)


def test_a_partial_file_that_moves_a_grid_onto_its_neighbour_is_refused(db_url, cli, write):
    assert cli(db_url, "grids", "import", str(write(collection(base_features())))).exit_code == 0
    moved = _grid(C1 + "01", cell(0.5, 1))  # half onto the existing 02
    found = refused(cli, db_url, write(collection([moved])))
    assert [(p["code"], p["kind"]) for p in found] == [(C1 + "01", "overlap")]
    assert C1 + "02" in found[0]["message"]


def test_a_partial_file_that_fits_is_added(db_url, cli, write):
    assert cli(db_url, "grids", "import", str(write(collection(base_features())))).exit_code == 0
    extra = [feature("430203001003", "community", STREET), _grid("43020300100301", cell(3, 0))]
    result = cli(db_url, "grids", "import", str(write(collection(extra))))
    assert result.exit_code == 0, result.stderr
    assert "新增 2，更新 0，未变 0" in result.stdout
    assert region_count(db_url) == 2 + 9 + 2


# --- export ---

def test_export_import_export_round_trip_is_identical(db_url, cli, write, backend, databases, tmp_path):
    assert cli(db_url, "grids", "import", str(write(collection(base_features())))).exit_code == 0
    first = cli(db_url, "grids", "export")
    assert first.exit_code == 0
    exported = json.loads(first.stdout)
    assert [f["properties"]["code"] for f in exported["features"]] == sorted(
        f["properties"]["code"] for f in base_features())
    # The export is the file that went in (kinds filled in with their defaults).
    for f_in, f_out in zip(sorted(base_features(), key=lambda f: f["properties"]["code"]),
                           exported["features"], strict=True):
        assert f_out["geometry"] == f_in["geometry"]
        assert {k: v for k, v in f_out["properties"].items() if k != "kind"} == {
            k: v for k, v in f_in["properties"].items() if k != "kind"}

    out = tmp_path / "exported.geojson"
    assert cli(db_url, "grids", "export", "--out", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8") == first.stdout

    # Into a second fresh database (city and district only), and out again.
    second_url = seeded(backend, databases)
    result = cli(second_url, "grids", "import", str(out))
    assert result.exit_code == 0, result.stderr
    assert "新增 9，更新 0，未变 0" in result.stdout
    again = cli(second_url, "grids", "export")
    assert again.exit_code == 0
    assert again.stdout == first.stdout


def test_reimporting_an_export_changes_nothing(db_url, cli, write, tmp_path):
    assert cli(db_url, "grids", "import", str(write(collection(base_features())))).exit_code == 0
    out = tmp_path / "exported.geojson"
    assert cli(db_url, "grids", "export", "-o", str(out)).exit_code == 0
    before = snapshot(db_url)
    result = cli(db_url, "grids", "import", str(out))
    assert result.exit_code == 0, result.stderr
    assert "新增 0，更新 0，未变 9" in result.stdout
    assert snapshot(db_url) == before  # not even the grid layer version moves


def test_reimporting_with_a_renamed_grid_updates_exactly_that_grid(db_url, cli, write, tmp_path):
    assert cli(db_url, "grids", "import", str(write(collection(base_features())))).exit_code == 0
    data = json.loads(cli(db_url, "grids", "export").stdout)
    for f in data["features"]:
        if f["properties"]["code"] == C2 + "02":
            f["properties"]["name"] = "改名网格"
    result = cli(db_url, "grids", "import", str(write(data)))
    assert result.exit_code == 0, result.stderr
    assert "新增 0，更新 1，未变 8" in result.stdout
    regions, meta = snapshot(db_url)
    assert {r[0]: r[1] for r in regions}[C2 + "02"] == "改名网格"
    assert dict((k, c) for k, _, c in meta)["grid_layer"] == 2


def test_export_of_one_subtree(db_url, cli, write):
    assert cli(db_url, "grids", "import", str(write(collection(base_features())))).exit_code == 0
    result = cli(db_url, "grids", "export", "--region", C2)
    assert result.exit_code == 0
    assert [f["properties"]["code"] for f in json.loads(result.stdout)["features"]] == [C2, C2 + "01", C2 + "02"]


def test_the_export_of_an_unmigrated_database_asks_for_migrate(cli, backend, databases):
    url = databases.new(backend)
    result = cli(url, "grids", "export")
    assert result.exit_code == 2
    assert "gridgov migrate" in result.stderr


def test_import_of_the_demo_export_is_a_no_op(demo_url, cli, tmp_path):
    """The demo's own layer, exported and imported back: 376 features, nothing changes."""
    out = tmp_path / "demo.geojson"
    assert cli(demo_url, "grids", "export", "-o", str(out)).exit_code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert len(data["features"]) == 8 + 80 + 288
    before = snapshot(demo_url)
    result = cli(demo_url, "grids", "import", str(out))
    assert result.exit_code == 0, result.stderr
    assert "新增 0，更新 0，未变 376" in result.stdout
    assert snapshot(demo_url) == before



def test_export_of_an_unknown_region_is_an_error_not_an_empty_file(db_url, cli):
    result = cli(db_url, "grids", "export", "--region", "430203999")
    assert result.exit_code == 1
    assert "区划 430203999 不存在" in result.output
