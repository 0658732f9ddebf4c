"""Benchmark gridgov.regions.spatial.GridIndex against a plain shapely STRtree.

Usage::

    .venv/bin/python bench/locate.py                 # full scale: 1,000,000 points, 50,000 grids
    .venv/bin/python bench/locate.py --quick         # smoke run (small scales)
    .venv/bin/python bench/locate.py --points 200000 --grids 10000

It runs two scenarios on generated data, using fixed seeds:

* district: 288 irregular grids covering 0.25 x 0.2 degrees around lon 113.15, lat 27.8.
* city: ``--grids`` irregular grids (default 50,000) covering 0.5 x 0.4 degrees around
  lon 112.95, lat 28.2.

Grids are Voronoi cells of jittered, Lloyd-relaxed seed points, clipped to the extent. Each edge
is then densified and bent the same way for both neighbours, so the tiling stays exact:
neighbours share every vertex bit for bit. Every polygon gets at least 30 vertices.

For each scenario the script reports index build time, ``locate_many`` throughput on
``--points`` uniform random points in the extent, and the p50/p99 latency of single ``locate``
calls. It reports the same figures for an STRtree baseline (``tree.query(points,
predicate="intersects")``). It also checks that both methods give the same answers, using the
smallest index where a point lies in several grids. The check runs on the random points, on
every polygon vertex, and on every edge midpoint.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gridgov.regions.spatial import GridIndex  # noqa: E402

MIN_VERTICES = 30


# ----------------------------------------------------------------------------- data generation


def _voronoi(seeds: np.ndarray, extent: shapely.Polygon) -> np.ndarray:
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=extent))
    cells = shapely.intersection(cells, extent)
    return cells[~shapely.is_empty(cells)]


def _snap_shared_vertices(polys: np.ndarray, grid: float) -> np.ndarray:
    """Round vertices so neighbours agree bit for bit.

    GEOS computes a Voronoi vertex, and a clipped vertex, separately for each cell that uses it,
    so the copies can differ in the last bits. Rounding to a fine grid makes them identical.
    """
    return shapely.set_precision(polys, grid)


def generate_tiling(n: int, extent: tuple[float, float, float, float], seed: int, wiggle: float = 0.08) -> np.ndarray:
    """Return about n irregular polygons tiling the extent exactly, each with >= 30 vertices."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = extent
    box = shapely.box(*extent)
    # Jittered lattice + Lloyd relaxation: irregular but without slivers, like real grids.
    cols = max(1, round(np.sqrt(n * (x1 - x0) / (y1 - y0))))
    rows = int(np.ceil(n / cols))
    cell = np.array([(x1 - x0) / cols, (y1 - y0) / rows])
    ij = np.stack(np.unravel_index(np.arange(n), (rows, cols))[::-1], axis=1)
    seeds = np.array([x0, y0]) + (ij + rng.uniform(0.1, 0.9, (n, 2))) * cell
    for _ in range(2):
        seeds = shapely.get_coordinates(shapely.centroid(_voronoi(seeds, box)))
    cells = _voronoi(seeds, box)
    cells = _snap_shared_vertices(cells, grid=1e-9)
    return _densify_shared(cells, _snap_shared_vertices(box, grid=1e-9), rng, wiggle)


def _densify_shared(cells: np.ndarray, box: shapely.Polygon, rng: np.random.Generator, wiggle: float) -> np.ndarray:
    """Densify and bend every edge identically for both polygons that share it."""
    coords, ring = shapely.get_coordinates(shapely.get_exterior_ring(cells), return_index=True)
    same = ring[1:] == ring[:-1]
    a = coords[:-1][same]
    b = coords[1:][same]
    poly = ring[:-1][same]
    edges_per_poly = np.bincount(poly, minlength=len(cells))

    # Canonical orientation (lexicographically smaller endpoint first) so both sides compute
    # exactly the same interior points.
    flip = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo = np.where(flip[:, None], b, a)
    hi = np.where(flip[:, None], a, b)
    order = np.lexsort((hi[:, 1], hi[:, 0], lo[:, 1], lo[:, 0]))
    key = np.concatenate([lo, hi], axis=1)[order]
    new_group = np.r_[True, (key[1:] != key[:-1]).any(axis=1)]
    group = np.empty(len(a), dtype=np.int64)
    group[order] = np.cumsum(new_group) - 1
    n_groups = int(group.max()) + 1

    # Pieces per shared edge: enough that each adjacent polygon reaches MIN_VERTICES.
    need = np.ceil(MIN_VERTICES / edges_per_poly[poly]).astype(np.int64)
    pieces = np.zeros(n_groups, dtype=np.int64)
    np.maximum.at(pieces, group, need)

    # Edges on the outer box stay straight, so the tiling still covers the box exactly.
    bx0, by0, bx1, by1 = box.bounds
    on_box = (
        ((a[:, 0] == bx0) & (b[:, 0] == bx0))
        | ((a[:, 0] == bx1) & (b[:, 0] == bx1))
        | ((a[:, 1] == by0) & (b[:, 1] == by0))
        | ((a[:, 1] == by1) & (b[:, 1] == by1))
    )
    amp1 = rng.uniform(-wiggle, wiggle, n_groups)
    amp2 = rng.uniform(-wiggle / 2, wiggle / 2, n_groups)
    straight = np.zeros(n_groups, dtype=bool)
    straight[group[on_box]] = True

    for _attempt in range(4):
        polys = _emit(a, lo, hi, flip, poly, group, pieces, amp1, amp2, straight, len(cells))
        bad = ~shapely.is_valid(polys)
        if not bad.any():
            break
        # Bending can fold edges near a very sharp corner; straighten those polygons' edges.
        straight[group[bad[poly]]] = True
    return polys


def _emit(a, lo, hi, flip, poly, group, pieces, amp1, amp2, straight, n_polys):
    k = pieces[group]
    edge = np.repeat(np.arange(len(a)), k)
    j = np.arange(edge.size) - np.repeat(np.cumsum(k) - k, k)  # 0 = the edge's start vertex
    ke = k[edge]
    # Canonical parameter: the same number whichever way the polygon walks the edge.
    jc = np.where(flip[edge], ke - j, j)
    t = (jc / ke)[:, None]
    g = group[edge]
    d = hi[edge] - lo[edge]
    normal = np.stack([-d[:, 1], d[:, 0]], axis=1)
    bend = amp1[g] * np.sin(np.pi * t[:, 0]) + amp2[g] * np.sin(2 * np.pi * t[:, 0])
    bend[straight[g]] = 0.0
    pts = lo[edge] + t * d + bend[:, None] * normal
    pts[j == 0] = a[edge[j == 0]]  # original vertices are kept exactly
    rings = shapely.linearrings(pts, indices=poly[edge])
    return shapely.polygons(rings)


def make_codes(polys: np.ndarray, prefix: str) -> list[str]:
    """Codes ordered roughly north-west to south-east, like real grid numbering."""
    c = shapely.get_coordinates(shapely.centroid(polys))
    order = np.lexsort((c[:, 0], -np.round(c[:, 1], 3)))
    codes = [""] * len(polys)
    for rank, i in enumerate(order):
        codes[i] = f"{prefix}{rank:06d}"
    return codes


# ----------------------------------------------------------------------------- measurement


def _pctl(ns: np.ndarray, q: float) -> float:
    return float(np.percentile(ns, q)) / 1000.0


def _time_batch(fn, reps: int = 3) -> float:
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _single_latencies(call, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    xs = xs.tolist()
    ys = ys.tolist()
    ns = np.empty(len(xs), dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(len(xs)):
        x = xs[i]
        y = ys[i]
        t0 = clock()
        call(x, y)
        ns[i] = clock() - t0
    return ns


def _tree_min(tree: shapely.STRtree, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Brute-force reference: smallest tree index whose polygon covers each point, else -1."""
    hits = tree.query(shapely.points(x, y), predicate="intersects")
    out = np.full(x.size, np.iinfo(np.int64).max)
    np.minimum.at(out, hits[0], hits[1])
    out[out == np.iinfo(np.int64).max] = -1
    return out


def run_scenario(
    name: str,
    extent: tuple[float, float, float, float],
    n_grids: int,
    n_points: int,
    n_single: int,
    seed: int,
) -> dict:
    t = time.perf_counter()
    polys = generate_tiling(n_grids, extent, seed)
    gen_s = time.perf_counter() - t
    codes = make_codes(polys, prefix=name[0].upper())
    nverts = shapely.get_num_coordinates(polys) - 1  # closing vertex counted once
    assert nverts.min() >= MIN_VERTICES, nverts.min()
    invalid = int((~shapely.is_valid(polys)).sum())

    t = time.perf_counter()
    index = GridIndex(codes, polys)
    build_s = time.perf_counter() - t

    # The baseline tree indexes the same code-sorted polygons, so its indexes match.
    by_code = polys[np.argsort(codes, kind="stable")]
    t = time.perf_counter()
    tree = shapely.STRtree(by_code)
    tree.query(shapely.points(extent[0], extent[1]))  # STRtree builds lazily on first query
    tree_build_s = time.perf_counter() - t

    rng = np.random.default_rng(seed + 1)
    x = rng.uniform(extent[0], extent[2], n_points)
    y = rng.uniform(extent[1], extent[3], n_points)

    result = index.locate_many(x, y)
    many_s = _time_batch(lambda: index.locate_many(x, y))

    pts = shapely.points(x, y)
    tree_many_s = _time_batch(lambda: tree.query(pts, predicate="intersects"), reps=1)
    t = time.perf_counter()
    shapely.points(x, y)
    points_s = time.perf_counter() - t

    reference = _tree_min(tree, x, y)
    agree = float((result == reference).mean())
    # Vertices (shared by 2-3 grids) and edge midpoints (on or within an ulp of shared edges).
    coords, ring = shapely.get_coordinates(by_code, return_index=True)
    same = ring[1:] == ring[:-1]
    mid = (coords[:-1][same] + coords[1:][same]) / 2
    vx, vy = np.concatenate([coords, mid]).T
    v_agree = float((index.locate_many(vx, vy) == _tree_min(tree, vx, vy)).mean())

    sx, sy = x[:n_single], y[:n_single]
    single_ns = _single_latencies(index.locate, sx, sy)
    single_codes = [index.locate(a, b) for a, b in zip(sx, sy, strict=True)]
    many_codes = [index.codes[i] if i >= 0 else None for i in result[: sx.size]]
    single_agree = single_codes == many_codes

    def tree_single(px: float, py: float) -> None:
        tree.query(shapely.Point(px, py), predicate="intersects")

    n_tree_single = min(n_single, 20000)
    tree_single_ns = _single_latencies(tree_single, sx[:n_tree_single], sy[:n_tree_single])

    state = index._state
    return {
        "name": name,
        "extent": extent,
        "grids": len(polys),
        "verts_min": int(nverts.min()),
        "verts_mean": float(nverts.mean()),
        "invalid": invalid,
        "gen_s": gen_s,
        "points": n_points,
        "single_n": n_single,
        "tree_single_n": n_tree_single,
        "build_s": build_s,
        "tree_build_s": tree_build_s,
        "raster": f"{index._nx}x{index._ny}",
        "boundary_frac": float((state <= -2).mean()),
        "cand_per_boundary": index._cand.size / max(1, int((state <= -2).sum())),
        "implicit_frac": float(index._implicit.mean()) if index._implicit.size else 0.0,
        "index_mib": (state.nbytes + index._cand.nbytes * 3 + index._offsets.nbytes) / 2**20,
        "many_pps": n_points / many_s,
        "tree_many_pps": n_points / tree_many_s,
        "points_s": points_s,
        "p50": _pctl(single_ns, 50),
        "p99": _pctl(single_ns, 99),
        "p999": _pctl(single_ns, 99.9),
        "tree_p50": _pctl(tree_single_ns, 50),
        "tree_p99": _pctl(tree_single_ns, 99),
        "agree": agree,
        "vertex_agree": v_agree,
        "vertex_points": vx.size,
        "single_agree": single_agree,
        "outside": float((result < 0).mean()),
    }


def print_report(rows: list[dict]) -> None:
    clock_ns = _single_latencies(lambda a, b: None, np.zeros(10000), np.zeros(10000))
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, shapely {shapely.__version__}"
        f" (GEOS {shapely.geos_version_string}), {platform.machine()}"
    )
    print(f"timer+call overhead of an empty Python call: p50 {_pctl(clock_ns, 50):.2f} µs")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load} (latency percentiles are sensitive to other load)")
    for r in rows:
        e = r["extent"]
        print()
        print(
            f"== {r['name']}: {r['grids']:,} grids in lon {e[0]}..{e[2]}, lat {e[1]}..{e[3]}; "
            f"vertices/grid min {r['verts_min']}, mean {r['verts_mean']:.1f}; "
            f"invalid polygons {r['invalid']}; data generated in {r['gen_s']:.1f} s"
        )
        print(
            f"   GridIndex raster {r['raster']}, boundary cells {r['boundary_frac']:.1%}, "
            f"{r['cand_per_boundary']:.2f} candidates/boundary cell "
            f"({r['implicit_frac']:.0%} with the last one implied), "
            f"~{r['index_mib']:.0f} MiB arrays (+ prepared geometries)"
        )
        print(
            f"   {r['points']:,} uniform random points for batch, {r['single_n']:,} for GridIndex "
            f"single calls, {r['tree_single_n']:,} for STRtree single calls"
        )
        print(f"   {'':28s} {'GridIndex':>14s} {'STRtree':>14s}")
        print(f"   {'build (s)':28s} {r['build_s']:14.2f} {r['tree_build_s']:14.2f}")
        print(f"   {'batch throughput (points/s)':28s} {r['many_pps']:14,.0f} {r['tree_many_pps']:14,.0f}")
        print(f"   {'single call p50 (µs)':28s} {r['p50']:14.2f} {r['tree_p50']:14.2f}")
        print(f"   {'single call p99 (µs)':28s} {r['p99']:14.2f} {r['tree_p99']:14.2f}")
        print(f"   {'single call p99.9 (µs)':28s} {r['p999']:14.2f} {'':>14s}")
        print(
            f"   STRtree batch excludes building the {r['points']:,} Point geometries it needs ({r['points_s']:.2f} s)."
        )
        print(
            f"   agreement with brute force (min index of intersects): random points "
            f"{r['agree']:.4%}, {r['vertex_points']:,} vertex + edge-midpoint points {r['vertex_agree']:.4%}; "
            f"locate == locate_many on {r['single_n']:,}: {r['single_agree']}; "
            f"outside: {r['outside']:.2%}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="batch points per scenario")
    parser.add_argument("--grids", type=int, default=50_000, help="grids in the city scenario")
    parser.add_argument("--single", type=int, default=100_000, help="single-call samples")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.points, args.grids, args.single = 50_000, 2_000, 5_000

    rows = [
        run_scenario("district", (113.025, 27.7, 113.275, 27.9), 288, args.points, args.single, args.seed),
        run_scenario("city", (112.7, 28.0, 113.2, 28.4), args.grids, args.points, args.single, args.seed),
    ]
    print_report(rows)
    ok = all(r["agree"] == 1.0 and r["vertex_agree"] == 1.0 and r["single_agree"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
