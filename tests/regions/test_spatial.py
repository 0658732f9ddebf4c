"""GridIndex: hand-made cases with known answers, then property tests against brute force.

The reference throughout is brute force over independent copies of the polygons:
``min i such that shapely.intersects_xy(polygons[i], x, y)`` over the code-sorted polygons.
Coordinates are dyadic (k / 2**m near lon 113, lat 28) wherever a test needs points exactly on
edges, so that "on the edge" is exact in floating point rather than approximately so.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov.regions.spatial import GridIndex

# Raster resolutions, from one cell for everything (every point is tested exactly) to fine.
RESOLUTIONS = [0.001, 4, 256]


def brute_force(codes: list[str], polygons: list, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Index into sorted(codes) of the smallest code whose polygon covers each point, else -1."""
    order = sorted(range(len(codes)), key=codes.__getitem__)
    # Fresh, unprepared copies: the reference shares nothing with the index. (For an invalid
    # polygon, a prepared GEOS point test can change its answer after the first call.)
    geoms = shapely.from_wkb(shapely.to_wkb(np.array([polygons[i] for i in order], dtype=object)))
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(geoms) == 0:
        return np.full(x.shape, -1, dtype=np.int64)
    hits = shapely.intersects_xy(geoms[:, None], x[None, :], y[None, :])
    return np.where(hits.any(axis=0), hits.argmax(axis=0), -1)


def assert_matches_brute_force(index: GridIndex, codes, polygons, x, y) -> None:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    expected = brute_force(codes, polygons, x, y)
    got = index.locate_many(x, y)
    assert got.dtype == np.int64
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, f"locate_many differs at {[(x[i], y[i], got[i], expected[i]) for i in bad[:5]]}"
    single = [index.locate(a, b) for a, b in zip(x.tolist(), y.tolist(), strict=True)]
    want = [index.codes[i] if i >= 0 else None for i in expected]
    assert single == want


# --------------------------------------------------------------------------- 2 x 2 tiling

X0, XM, X1 = 113.0, 113.25, 113.5
Y0, YM, Y1 = 27.75, 28.0, 28.25
# Codes deliberately not in geometric or input order: sorted, they are NE, SE, NW, SW.
QUADS = {
    "G04": shapely.box(X0, Y0, XM, YM),  # SW
    "G02": shapely.box(XM, Y0, X1, YM),  # SE
    "G03": shapely.box(X0, YM, XM, Y1),  # NW
    "G01": shapely.box(XM, YM, X1, Y1),  # NE
}
QUAD_CASES = [
    # inside each grid
    ((113.1, 27.8), "G04"),
    ((113.4, 27.8), "G02"),
    ((113.1, 28.2), "G03"),
    ((113.4, 28.2), "G01"),
    # shared edges: the smaller code of the two
    ((XM, 27.875), "G02"),  # SW | SE
    ((113.125, YM), "G03"),  # SW / NW
    ((XM, 28.125), "G01"),  # NW | NE
    ((113.375, YM), "G01"),  # SE / NE
    # shared centre vertex: smallest of all four
    ((XM, YM), "G01"),
    # outer boundary: covers semantics
    ((X0, 27.875), "G04"),
    ((X0, Y0), "G04"),
    ((X1, Y1), "G01"),
    ((113.375, Y0), "G02"),
    ((XM, Y0), "G02"),  # outer vertex shared by SW and SE
    ((X0, YM), "G03"),  # outer vertex shared by SW and NW
    # outside
    ((X0 - 1e-9, 27.875), None),
    ((113.6, 28.0), None),
    ((113.25, Y1 + 1e-12), None),
    ((-113.25, -28.0), None),
    ((math.nan, 28.0), None),
    ((113.25, math.inf), None),
]


@pytest.mark.parametrize("cells_per_grid", RESOLUTIONS)
def test_two_by_two_tiling_known_answers(cells_per_grid):
    index = GridIndex(list(QUADS), list(QUADS.values()), cells_per_grid=cells_per_grid)
    assert index.codes == ["G01", "G02", "G03", "G04"]
    assert len(index) == 4
    for (lon, lat), code in QUAD_CASES:
        assert index.locate(lon, lat) == code, (lon, lat)
    lons = np.array([p[0] for p, _ in QUAD_CASES])
    lats = np.array([p[1] for p, _ in QUAD_CASES])
    expected = [index.codes.index(c) if c else -1 for _, c in QUAD_CASES]
    assert index.locate_many(lons, lats).tolist() == expected


def test_two_by_two_tiling_matches_brute_force_on_a_dense_lattice():
    codes, polys = list(QUADS), list(QUADS.values())
    index = GridIndex(codes, polys, cells_per_grid=16)
    # 1/64-degree lattice: exactly on every edge and vertex, and beyond the outer boundary.
    k = np.arange(-4, 37)
    lon, lat = np.meshgrid(X0 + k / 64, Y0 + k / 64)
    assert_matches_brute_force(index, codes, polys, lon.ravel(), lat.ravel())


def test_locate_many_keeps_input_shape_and_broadcasts():
    index = GridIndex(list(QUADS), list(QUADS.values()))
    grid = index.locate_many(np.full((2, 3), 113.1), np.full((2, 3), 27.8))
    assert grid.shape == (2, 3)
    assert (grid == index.codes.index("G04")).all()
    assert index.locate_many([113.1, 113.4], 28.2).tolist() == [2, 0]
    assert index.locate_many(np.array([]), np.array([])).shape == (0,)


# --------------------------------------------------------------------------- holes, multi-parts


def _with_hole() -> tuple[shapely.Polygon, shapely.Polygon]:
    outer = shapely.Polygon(
        [(113.0, 28.0), (113.5, 28.0), (113.5, 28.5), (113.0, 28.5)],
        holes=[[(113.125, 28.125), (113.375, 28.125), (113.375, 28.375), (113.125, 28.375)]],
    )
    hole = shapely.box(113.125, 28.125, 113.375, 28.375)
    return outer, hole


@pytest.mark.parametrize("cells_per_grid", RESOLUTIONS)
def test_point_in_a_hole_is_outside_the_grid(cells_per_grid):
    outer, _ = _with_hole()
    index = GridIndex(["A"], [outer], cells_per_grid=cells_per_grid)
    assert index.locate(113.25, 28.25) is None
    assert index.locate(113.3, 28.2) is None
    assert index.locate(113.0625, 28.25) == "A"
    assert index.locate(113.125, 28.25) == "A"  # on the hole's ring: still covered by A
    assert index.locate(113.375, 28.375) == "A"  # hole corner
    assert index.locate_many([113.25, 113.0625], [28.25, 28.25]).tolist() == [-1, 0]


@pytest.mark.parametrize("filler_code", ["B", "0"])
@pytest.mark.parametrize("cells_per_grid", RESOLUTIONS)
def test_grid_filling_a_hole_owns_its_interior_and_shares_the_ring(filler_code, cells_per_grid):
    outer, hole = _with_hole()
    index = GridIndex(["A", filler_code], [outer, hole], cells_per_grid=cells_per_grid)
    assert index.locate(113.25, 28.25) == filler_code
    assert index.locate(113.0625, 28.25) == "A"
    on_ring = min("A", filler_code)
    assert index.locate(113.125, 28.25) == on_ring
    assert index.locate(113.375, 28.375) == on_ring
    k = np.arange(-2, 35)
    lon, lat = np.meshgrid(113.0 + k / 64, 28.0 + k / 64)
    assert_matches_brute_force(index, ["A", filler_code], [outer, hole], lon.ravel(), lat.ravel())


@pytest.mark.parametrize("cells_per_grid", RESOLUTIONS)
def test_multipolygon_grid_owns_every_part(cells_per_grid):
    left = shapely.box(113.0, 28.0, 113.125, 28.25)
    right = shapely.Polygon(
        [(113.25, 28.0), (113.5, 28.0), (113.5, 28.25), (113.25, 28.25)],
        holes=[[(113.3125, 28.0625), (113.4375, 28.0625), (113.4375, 28.1875), (113.3125, 28.1875)]],
    )
    multi = shapely.MultiPolygon([left, right])
    middle = shapely.box(113.125, 28.0, 113.25, 28.25)
    codes, polys = ["M", "B"], [multi, middle]
    index = GridIndex(codes, polys, cells_per_grid=cells_per_grid)
    assert index.locate(113.0625, 28.125) == "M"
    assert index.locate(113.28125, 28.125) == "M"
    assert index.locate(113.1875, 28.125) == "B"
    assert index.locate(113.375, 28.125) is None  # in the hole of the second part
    assert index.locate(113.125, 28.125) == "B"  # shared edge, "B" < "M"
    k = np.arange(-2, 35)
    lon, lat = np.meshgrid(113.0 + k / 64, 27.9375 + k / 128)
    assert_matches_brute_force(index, codes, polys, lon.ravel(), lat.ravel())


# --------------------------------------------------------------------------- edge cases


def test_empty_index_finds_nothing():
    index = GridIndex([], [])
    assert len(index) == 0
    assert index.codes == []
    assert index.locate(113.2, 27.8) is None
    assert index.locate_many(np.array([113.2, 0.0]), np.array([27.8, 0.0])).tolist() == [-1, -1]


def test_empty_geometries_never_match():
    index = GridIndex(["E", "A"], [shapely.Polygon(), shapely.box(0, 0, 1, 1)])
    assert index.locate(0.5, 0.5) == "A"
    assert index.locate_many([0.5, 2.0], [0.5, 2.0]).tolist() == [0, -1]
    assert GridIndex(["E"], [shapely.Polygon()]).locate(0, 0) is None


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        GridIndex(["A", "A"], [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    with pytest.raises(ValueError, match="codes"):
        GridIndex(["A"], [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    with pytest.raises(TypeError):
        GridIndex(["A"], [shapely.Point(0, 0)])
    with pytest.raises(TypeError):
        GridIndex([1], [shapely.box(0, 0, 1, 1)])


def test_sliver_narrower_than_a_raster_cell_is_found():
    # 1e-9 degrees (0.1 mm) wide: far below any raster cell, so only exact tests can find it.
    a = shapely.box(113.0, 28.0, 113.25, 28.25)
    s = shapely.box(113.25, 28.0, 113.25 + 1e-9, 28.25)
    b = shapely.box(113.25 + 1e-9, 28.0, 113.5, 28.25)
    codes, polys = ["A", "S", "B"], [a, s, b]
    index = GridIndex(codes, polys)
    assert index.locate(113.25 + 5e-10, 28.1) == "S"
    assert index.locate(113.25, 28.1) == "A"
    assert index.locate(113.25 + 1e-9, 28.1) == "B"
    x = 113.25 + np.linspace(-3e-9, 4e-9, 71)
    assert_matches_brute_force(index, codes, polys, x, np.full(x.size, 28.1))


INVALID = {
    # self-intersecting ring
    "bow-tie": shapely.Polygon([(113.0, 28.0), (113.5, 28.5), (113.5, 28.0), (113.0, 28.5)]),
    # GEOS counts the overlap as inside; ring parity would call it outside
    "overlapping parts": shapely.MultiPolygon(
        [shapely.box(113.0, 28.0, 113.3125, 28.3125), shapely.box(113.1875, 28.1875, 113.5, 28.5)]
    ),
    # GEOS: outside (not in the shell); parity: inside the stray ring
    "hole outside shell": shapely.Polygon(
        [(113.0, 28.0), (113.25, 28.0), (113.25, 28.25), (113.0, 28.25)],
        holes=[[(113.3125, 28.3125), (113.4375, 28.3125), (113.4375, 28.4375), (113.3125, 28.4375)]],
    ),
    # GEOS: outside where the holes overlap; parity: inside
    "overlapping holes": shapely.Polygon(
        [(113.0, 28.0), (113.5, 28.0), (113.5, 28.5), (113.0, 28.5)],
        holes=[
            [(113.0625, 28.0625), (113.3125, 28.0625), (113.3125, 28.3125), (113.0625, 28.3125)],
            [(113.1875, 28.1875), (113.4375, 28.1875), (113.4375, 28.4375), (113.1875, 28.4375)],
        ],
    ),
}


@pytest.mark.parametrize("caller_prepared", [False, True])
@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_polygon_is_still_answered_exactly(name, caller_prepared):
    # Scanline parity and GEOS disagree on invalid polygons, so an invalid grid must never be
    # classified by the raster, only tested exactly. GEOS's prepared test on them changes its
    # answer after first use, so the index must not rely on a geometry the caller prepared.
    invalid = shapely.from_wkb(INVALID[name].wkb)
    assert not invalid.is_valid
    if caller_prepared:
        shapely.prepare(invalid)
        shapely.intersects_xy(invalid, np.full(2, 113.25), np.full(2, 28.25))
    codes, polys = ["T", "N"], [invalid, shapely.box(113.5, 28.0, 114.0, 28.5)]
    index = GridIndex(codes, polys, cells_per_grid=64)
    k = np.arange(-1, 66)
    lon, lat = np.meshgrid(113.0 + k / 64, 28.0 + k / 128)
    first = index.locate_many(lon, lat)
    assert_matches_brute_force(index, codes, polys, lon.ravel(), lat.ravel())
    assert (index.locate_many(lon, lat) == first).all()
    assert shapely.is_prepared(invalid) == caller_prepared


@pytest.mark.parametrize("axis", ["x", "y"])
@pytest.mark.parametrize("offset", [-1e-12, -1e-15, 0.0, 1e-15, 1e-12])
def test_boundary_hugging_a_raster_line_is_still_exact(axis, offset):
    # A shared edge a hair to either side of a raster cell line: the cell on the far side of
    # the line contains a sliver of the other grid, so it must be a boundary cell. Two grids
    # with a fixed outer extent always get the same raster, so the line can be found first.
    def build(cut):
        if axis == "x":
            polys = [shapely.box(113.0, 28.0, cut, 28.25), shapely.box(cut, 28.0, 113.5, 28.25)]
        else:
            polys = [shapely.box(113.0, 28.0, 113.5, cut), shapely.box(113.0, cut, 113.5, 28.25)]
        return GridIndex(["Z", "A"], polys, cells_per_grid=64), polys

    probe, _ = build(113.2 if axis == "x" else 28.1)
    start, scale, cells = (probe._x0, probe._sx, probe._nx) if axis == "x" else (probe._y0, probe._sy, probe._ny)
    line = start + (cells // 2) / scale
    cut = line + offset
    index, polys = build(cut)
    assert (index._x0, index._sx, index._y0, index._sy) == (probe._x0, probe._sx, probe._y0, probe._sy)
    along = np.array([cut, line, *np.nextafter(cut, [-np.inf, np.inf]), *np.nextafter(line, [-np.inf, np.inf])])
    along = np.concatenate([along, cut + np.linspace(-3e-12, 3e-12, 13)])
    across = np.full(along.size, 113.1 if axis == "y" else 28.1)
    x, y = (along, across) if axis == "x" else (across, along)
    assert_matches_brute_force(index, ["Z", "A"], polys, x, y)


def test_cell_outside_the_coverage_next_to_a_shared_edge_is_not_assumed_covered():
    # Two thin grids A and B share the diagonal edge P-Q. Its bounding box also marks the cell
    # to the lower right, which lies wholly outside both grids. That cell must not treat its
    # last candidate as implied, even though no outer edge of the coverage touches it.
    # Raster units: 4 x 4 cells of 1/16 degree (two tiny corner grids fix the extent).
    def lonlat(points):
        return [(113 + u / 16, 28 + v / 16) for u, v in points]

    p, q = (1.5, 0.6), (2.5, 1.6)
    a = shapely.Polygon(lonlat([p, q, (2.45, 1.65), (1.95, 1.15), (1.45, 0.65)]))
    b = shapely.Polygon(lonlat([p, (1.55, 0.61), (1.98, 1.04), (2.55, 1.61), q]))
    corners = [
        shapely.box(113, 28, 113 + 0.1 / 16, 28 + 0.1 / 16),
        shapely.box(113 + 3.9 / 16, 28 + 3.9 / 16, 113.25, 28.25),
    ]
    codes, polys = ["a", "b", "c", "d"], [a, b, *corners]
    index = GridIndex(codes, polys, cells_per_grid=4)
    assert (index._nx, index._ny, index._sx) == (4, 4, 16.0)
    assert index.locate(113 + 2.5 / 16, 28 + 0.5 / 16) is None
    k = np.arange(0, 65)
    lon, lat = np.meshgrid(113 + k / 256, 28 + k / 256)
    assert_matches_brute_force(index, codes, polys, lon.ravel(), lat.ravel())


def test_long_diagonal_edges_mark_only_cells_near_them():
    # Exactness does not depend on this, but speed does: a diagonal edge across the whole extent
    # must not turn its whole bounding box into boundary cells.
    lower = shapely.Polygon([(113.0, 28.0), (113.5, 28.0), (113.5, 28.5)])
    upper = shapely.Polygon([(113.0, 28.0), (113.5, 28.5), (113.0, 28.5)])
    index = GridIndex(["L", "U"], [lower, upper], cells_per_grid=2048)
    boundary = (index._state <= -2).mean()
    # The 64 x 64 raster's rim is boundary too (the outer edges), ~6%; the diagonal adds ~7%.
    assert 0 < boundary < 0.2, boundary


def test_points_on_raster_cell_lines_agree_with_brute_force():
    # Raster cell edges are where rounding decides which cell a point falls in. Points exactly
    # on them (computed the way the index computes them) must still get exact answers.
    codes, polys = list(QUADS), list(QUADS.values())
    index = GridIndex(codes, polys, cells_per_grid=10)
    cols = np.arange(index._nx + 1)
    rows = np.arange(index._ny + 1)
    xs = index._x0 + cols / index._sx
    ys = index._y0 + rows / index._sy
    xs = np.concatenate([xs, np.nextafter(xs, -np.inf), np.nextafter(xs, np.inf)])
    ys = np.concatenate([ys, np.nextafter(ys, -np.inf), np.nextafter(ys, np.inf)])
    lon, lat = np.meshgrid(xs, ys)
    assert_matches_brute_force(index, codes, polys, lon.ravel(), lat.ravel())


# --------------------------------------------------------------------------- property tests

LON0, LAT0 = 113.0, 27.75
SPAN = 0.25
DYADIC = 1024  # coordinates are LON0 + k / DYADIC * SPAN: exact in binary


def _dyadic(k):
    return np.asarray(k, dtype=float) / DYADIC * SPAN


def _query_points(polys: np.ndarray, extra: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Vertices, points on (or within an ulp of) every edge, and arbitrary points."""
    coords, ring = shapely.get_coordinates(shapely.get_rings(shapely.get_parts(polys)), return_index=True)
    same = ring[1:] == ring[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    on_edges = [a + t * (b - a) for t in (0.5, 0.25, 1 / 3)]
    free = np.column_stack([LON0 + _dyadic([e[0] for e in extra]), LAT0 + _dyadic([e[1] for e in extra])])
    pts = np.concatenate([coords, *on_edges, free.reshape(-1, 2)])
    return pts[:, 0], pts[:, 1]


def _random_codes(rng: np.random.Generator, n: int) -> list[str]:
    return [f"C{v:05d}" for v in rng.permutation(n)]


seeds_strategy = st.lists(
    st.tuples(st.integers(0, DYADIC), st.integers(0, DYADIC)), min_size=2, max_size=40, unique=True
)
extra_points = st.lists(st.tuples(st.integers(-40, DYADIC + 40), st.integers(-40, DYADIC + 40)), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seeds=seeds_strategy,
    extra=extra_points,
    cells_per_grid=st.sampled_from(RESOLUTIONS),
    order_seed=st.integers(0, 2**32 - 1),
)
def test_voronoi_tiling_matches_brute_force(seeds, extra, cells_per_grid, order_seed):
    pts = np.column_stack([LON0 + _dyadic([s[0] for s in seeds]), LAT0 + _dyadic([s[1] for s in seeds])])
    extent = shapely.box(LON0, LAT0, LON0 + SPAN, LAT0 + SPAN)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=extent))
    cells = shapely.intersection(cells, extent)
    cells = cells[shapely.get_type_id(cells) == 3]
    # A few vertices per edge, so grids are not just convex hexagons.
    cells = shapely.segmentize(cells, SPAN / 16)
    codes = _random_codes(np.random.default_rng(order_seed), len(cells))
    index = GridIndex(codes, list(cells), cells_per_grid=cells_per_grid)
    x, y = _query_points(cells, extra)
    assert_matches_brute_force(index, codes, list(cells), x, y)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    jitter=st.lists(st.tuples(st.integers(-3, 3), st.integers(-3, 3)), min_size=64, max_size=64),
    extra=extra_points,
    cells_per_grid=st.sampled_from(RESOLUTIONS),
    order_seed=st.integers(0, 2**32 - 1),
)
def test_jittered_quad_mesh_matches_brute_force_exactly_on_edges(size, jitter, extra, cells_per_grid, order_seed):
    # Dyadic vertices make a + t (b - a) exact for t = 1/2, 1/4: these points lie exactly on
    # shared edges, and vertices are shared by up to four grids.
    nx, ny = size
    step = DYADIC // 8
    vx = np.zeros((ny + 1, nx + 1))
    vy = np.zeros((ny + 1, nx + 1))
    for j in range(ny + 1):
        for i in range(nx + 1):
            jx, jy = jitter[j * 8 + i]
            vx[j, i] = LON0 + _dyadic(i * step + (jx * step // 8 if 0 < i < nx else 0))
            vy[j, i] = LAT0 + _dyadic(j * step + (jy * step // 8 if 0 < j < ny else 0))
    quads = [
        shapely.Polygon(
            [
                (vx[j, i], vy[j, i]),
                (vx[j, i + 1], vy[j, i + 1]),
                (vx[j + 1, i + 1], vy[j + 1, i + 1]),
                (vx[j + 1, i], vy[j + 1, i]),
            ]
        )
        for j in range(ny)
        for i in range(nx)
    ]
    codes = _random_codes(np.random.default_rng(order_seed), len(quads))
    index = GridIndex(codes, quads, cells_per_grid=cells_per_grid)
    x, y = _query_points(np.array(quads, dtype=object), extra)
    assert_matches_brute_force(index, codes, quads, x, y)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shapes=st.lists(
        st.tuples(
            st.integers(0, DYADIC), st.integers(0, DYADIC), st.integers(8, DYADIC // 2), st.booleans(), st.booleans()
        ),
        min_size=1,
        max_size=12,
    ),
    extra=extra_points,
    cells_per_grid=st.sampled_from(RESOLUTIONS),
    order_seed=st.integers(0, 2**32 - 1),
)
def test_overlapping_grids_match_brute_force(shapes, extra, cells_per_grid, order_seed):
    # Not a tiling: discs and boxes overlap, nest and have holes, so cells are often wholly
    # inside several grids at once and the smallest index must still win.
    polys = []
    for cx, cy, r, is_box, holed in shapes:
        x, y, rad = LON0 + _dyadic(cx), LAT0 + _dyadic(cy), float(_dyadic(r))
        g = shapely.box(x - rad, y - rad, x + rad, y + rad) if is_box else shapely.Point(x, y).buffer(rad, 8)
        if holed:
            g = g.difference(shapely.Point(x, y).buffer(rad / 2, 4))
        polys.append(g)
    codes = _random_codes(np.random.default_rng(order_seed), len(polys))
    index = GridIndex(codes, polys, cells_per_grid=cells_per_grid)
    x, y = _query_points(np.array(polys, dtype=object), extra)
    assert_matches_brute_force(index, codes, polys, x, y)
