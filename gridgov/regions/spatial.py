"""In-memory point-in-grid index: which grid contains this lon/lat?

Targets: about 1,000,000 points/s for bulk lookups and under 10 µs for a single lookup, at
tens of thousands of irregular grid polygons with 30+ vertices each. A Shapely ``STRtree`` alone
misses both targets. Each query walks the tree and then runs a point-in-polygon test for every
bounding-box hit, and a single call pays several Python-to-GEOS round trips.

Design
------
A uniform raster of about ``cells_per_grid`` cells per grid (capped for memory) is laid over the
extent of all grids. Each raster cell stores one int32:

* ``k >= 0``: every point that can fall in the cell is covered by grid ``k`` and by no grid with a
  smaller index, so the answer needs no geometry test. Most points land in cells like this.
* ``-1``: no grid touches the cell, so the point is outside every grid.
* ``<= -2``: a boundary cell. ``-2 - state`` is a slot in a CSR list of candidate grid indexes, in
  ascending order. Candidates are tested exactly with prepared geometries
  (``shapely.intersects_xy``), and the first one that covers the point is the answer.

The candidate list holds every grid that can cover a point of the cell, in ascending order, and
each test is exact. A boundary cell therefore gives the same answer as brute force: the smallest
index whose grid covers the point. On a shared edge or vertex that is the smallest grid code,
because grids are sorted by code. ``locate`` tests a cell's few candidates in one shapely call.
``locate_many`` first looks up the raster with one numpy gather. It then runs the exact tests in
vectorised "rounds" over (point, next candidate) pairs, with each round grouped by grid, so a
point drops out as soon as a candidate covers it.

Why the raster never changes an answer
--------------------------------------
The column of a point is ``floor((x - x0) * sx)``, clamped at the far edge, and rows work the same
way. Floating-point subtraction and multiplication are monotone, so whatever the rounding, the
set of points assigned to one cell is an axis-aligned rectangle. Construction uses exactly the same
mapping:

1. *Touching.* Every ring segment is split into pieces at most one cell long. Each piece's bounding
   box, widened by a margin far above the interpolation error, marks the cells it overlaps as
   "touched" by its grid. Because the mapping is monotone, every boundary point of a grid falls in
   a cell marked for that grid. A cell that is not marked for grid ``k`` therefore lies entirely
   inside or entirely outside ``k``.
2. *Inside.* For such a cell, scanline parity at the cell centre decides which of the two it is.
   The parity counts crossings of ``k``'s rings with the row's centre line. Rounding of the
   crossing positions cannot flip the result, because the crossings are at least half a cell from
   that centre. This is the same fact a ``contains_properly`` test on the cell box would
   establish, but costs O(crossings) rather than a GEOS predicate per cell.
3. A touched cell's candidates are the grids that touch it, plus the smallest-index grid that
   wholly contains it, if any. That grid covers every point of the cell, so no candidate after it
   can win and the list stops there. If it comes first, the cell needs no test at all. A grid can
   contain a cell that other grids touch only where grids overlap, which never happens in a proper
   tiling. An untouched cell is simply full (its smallest containing grid) or empty.
4. *Implied last candidate.* In a tiling, most boundary cells lie wholly inside the union of the
   grids. A point there that misses every candidate but the last must be in the last one, so the
   last one needs no test. This halves the GEOS calls for a typical edge cell shared by two grids.
   A segment that appears, with identical endpoints, in one grid with that grid's interior on its
   left and in another with the interior on its right is interior to the union. Every other segment may be on the
   union's outline, and its cells are marked the same conservative way as in step 1. A boundary
   cell that no outline segment marks is therefore wholly covered or wholly uncovered. One exact
   test at the cell centre, against its complete candidate list, decides which.

Parity matches GEOS only for valid polygons, so an invalid polygon never takes part in steps 2
and 4. Instead it becomes a candidate in every cell of its bounding box, where the last candidate
is never implied, and it is tested on an unprepared copy (see ``__init__``). The raster only
decides how much exact work a point needs, never the answer near a boundary.

Caveat: ``shapely.prepare`` is applied in place to the valid polygon objects passed in. For a
valid geometry, preparing it does not change what any predicate returns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

__all__ = ["GridIndex"]

#: ~256 cells per grid leaves roughly 15-20% of cells as boundary cells for compact grids; fewer
#: cells means more exact tests per point, more cells means more memory and build time.
DEFAULT_CELLS_PER_GRID = 256
#: 16M int32 cells = 64 MiB; beyond that the raster costs more memory than it saves time.
MAX_CELLS = 1 << 24

_EMPTY = -1
_POLYGON_TYPES = (3, 6)  # shapely type ids of Polygon and MultiPolygon
# Bounds the temporary arrays built while rasterising (elements per chunk).
_CHUNK = 1 << 21


class GridIndex:
    """Point-in-grid lookup over grid polygons keyed by grid code.

    ``codes`` holds the grid codes sorted ascending. Indexes returned by :meth:`locate_many`
    refer to that list. A point on an edge or vertex shared by several grids belongs to the one
    with the smallest code. A point on an outer boundary belongs to its grid (covers semantics).
    """

    codes: list[str]

    def __init__(
        self,
        codes: Sequence[str],
        polygons: Sequence[shapely.Polygon | shapely.MultiPolygon],
        *,
        cells_per_grid: float = DEFAULT_CELLS_PER_GRID,
    ) -> None:
        codes = list(codes)
        geoms = np.empty(len(polygons), dtype=object)
        geoms[:] = list(polygons)
        if len(codes) != len(geoms):
            raise ValueError(f"{len(codes)} codes but {len(geoms)} polygons")
        for code in codes:
            if not isinstance(code, str):
                raise TypeError(f"grid codes must be str, got {type(code).__name__}")
        if len(geoms) and not np.isin(shapely.get_type_id(geoms), _POLYGON_TYPES).all():
            raise TypeError("polygons must be shapely Polygon or MultiPolygon geometries")

        order = sorted(range(len(codes)), key=codes.__getitem__)
        self.codes = [codes[i] for i in order]
        for a, b in zip(self.codes, self.codes[1:], strict=False):
            if a == b:
                raise ValueError(f"duplicate grid code {a!r}")
        self._polys = geoms[np.asarray(order, dtype=np.intp)]
        valid = shapely.is_valid(self._polys)
        # Exact tests run on prepared geometries, except for invalid ones: for those, GEOS's
        # prepared point test can change its answer after the first call (it switches to a
        # ring-parity locator). An unprepared private copy always gives the same answer as
        # polygon.intersects(Point).
        self._exact = self._polys.copy()
        if not valid.all():
            self._exact[~valid] = shapely.from_wkb(shapely.to_wkb(self._polys[~valid]))
        shapely.prepare(self._polys[valid])

        # With no raster, the bounds are empty, so every point is outside.
        self._x0 = self._y0 = np.inf
        self._x1 = self._y1 = -np.inf
        self._nx = self._ny = 1
        self._sx = self._sy = 0.0
        self._state = np.full(1, _EMPTY, dtype=np.int32)
        self._offsets = np.zeros(1, dtype=np.int64)
        self._implicit = np.zeros(0, dtype=bool)
        self._cand = np.zeros(0, dtype=np.int32)
        self._cand_geoms = np.empty(0, dtype=object)
        self._build(cells_per_grid, valid)
        # memoryview indexing returns Python ints ~2x faster than numpy scalar indexing,
        # which matters for the single-point path.
        self._state_mv = memoryview(self._state)
        self._offsets_mv = memoryview(self._offsets)
        self._implicit_mv = memoryview(self._implicit)
        self._cand_mv = memoryview(self._cand)

    def __len__(self) -> int:
        return len(self.codes)

    def __repr__(self) -> str:
        return f"GridIndex({len(self)} grids, raster {self._nx}x{self._ny})"

    # ------------------------------------------------------------------ queries

    def locate(self, lon: float, lat: float) -> str | None:
        """Return the code of the grid covering (lon, lat), or None if none does."""
        x = float(lon)
        y = float(lat)
        # Same float arithmetic as locate_many, so both map a point to the same cell.
        if not (self._x0 <= x <= self._x1 and self._y0 <= y <= self._y1):
            return None
        col = int((x - self._x0) * self._sx)
        if col >= self._nx:
            col = self._nx - 1
        row = int((y - self._y0) * self._sy)
        if row >= self._ny:
            row = self._ny - 1
        state = self._state_mv[row * self._nx + col]
        if state >= 0:
            return self.codes[state]
        if state == _EMPTY:
            return None
        slot = -2 - state
        lo = self._offsets_mv[slot]
        hi = self._offsets_mv[slot + 1]
        implicit = self._implicit_mv[slot]
        # One shapely call for all candidates: per-call overhead dominates a single test.
        hits = shapely.intersects_xy(self._cand_geoms[lo : hi - implicit], x, y)
        k = int(hits.argmax())
        if hits[k]:
            return self.codes[self._cand_mv[lo + k]]
        return self.codes[self._cand_mv[hi - 1]] if implicit else None

    def locate_many(self, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`locate`: int64 indexes into ``codes``, -1 where outside every grid.

        The result has the broadcast shape of ``lons`` and ``lats``.
        """
        x, y = np.broadcast_arrays(np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64))
        shape = x.shape
        x = x.ravel()
        y = y.ravel()
        out = np.full(x.size, _EMPTY, dtype=np.int64)

        # The bounds test also drops NaN coordinates.
        pts = np.flatnonzero((x >= self._x0) & (x <= self._x1) & (y >= self._y0) & (y <= self._y1))
        x = x[pts]
        y = y[pts]
        col = ((x - self._x0) * self._sx).astype(np.intp)
        np.minimum(col, self._nx - 1, out=col)
        row = ((y - self._y0) * self._sy).astype(np.intp)
        np.minimum(row, self._ny - 1, out=row)
        row *= self._nx
        row += col
        state = self._state[row]
        out[pts] = state

        bnd = np.flatnonzero(state <= -2)
        if bnd.size:
            slot = -2 - state[bnd]
            out[pts[bnd]] = _EMPTY
            self._resolve(
                out, pts[bnd], x[bnd], y[bnd], self._offsets[slot], self._offsets[slot + 1], self._implicit[slot]
            )
        return out.reshape(shape)

    def _resolve(
        self,
        out: np.ndarray,
        pts: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        pos: np.ndarray,
        end: np.ndarray,
        implicit: np.ndarray,
    ) -> None:
        """Test boundary points against their candidates in rounds, first hit wins."""
        # Candidates in [pos, end) are tested; an implicit last candidate is the answer when all
        # the tested ones miss.
        end = end - implicit
        while pts.size:
            cand = self._cand[pos]
            # Grouping the tests by grid keeps each grid's GEOS structures in cache while its
            # points are tested: ~3x faster than visiting grids in random point order.
            by_grid = np.argsort(cand)
            pts, x, y, pos, end, implicit, cand = (a[by_grid] for a in (pts, x, y, pos, end, implicit, cand))
            hit = shapely.intersects_xy(self._cand_geoms[pos], x, y)
            out[pts[hit]] = cand[hit]
            pos += 1
            more = ~hit & (pos < end)
            last = ~hit & ~more & implicit
            out[pts[last]] = self._cand[end[last]]
            if not more.any():
                break
            pts, x, y, pos, end, implicit = (a[more] for a in (pts, x, y, pos, end, implicit))

    # ------------------------------------------------------------ construction

    def _covered(
        self, ras: _Raster, e_cell: np.ndarray, starts: np.ndarray, ends: np.ndarray, gap: np.ndarray
    ) -> np.ndarray:
        """For each boundary cell, whether every point of it is covered by some grid.

        That holds if the outline of the coverage does not pass through the cell (``gap`` is
        False) and some grid covers the cell centre. The first gives "all covered or none", and
        the second decides which.
        """
        check = np.flatnonzero(~gap[e_cell[starts]])
        centre = e_cell[starts[check]]
        hit = np.full(check.size, _EMPTY, dtype=np.int64)
        self._resolve(
            hit,
            np.arange(check.size),
            ras.x0 + (centre % ras.nx + 0.5) / ras.sx,
            ras.y0 + (centre // ras.nx + 0.5) / ras.sy,
            starts[check],
            ends[check],
            np.zeros(check.size, dtype=bool),
        )
        covered = np.zeros(starts.size, dtype=bool)
        covered[check] = hit >= 0
        return covered

    def _build(self, cells_per_grid: float, valid: np.ndarray) -> None:
        n = len(self._polys)
        if n == 0:
            return
        ax, ay, bx, by, owner, left_inside = _ring_segments(self._polys)
        if ax.size == 0:  # every polygon is empty
            return
        if not (np.isfinite(ax).all() and np.isfinite(ay).all()):
            raise ValueError("polygon coordinates must be finite")

        x0, x1 = float(ax.min()), float(ax.max())
        y0, y1 = float(ay.min()), float(ay.max())
        # Cells must stay far larger than float spacing, or the centre of a cell could map to a
        # neighbouring cell; degenerate (zero-width) extents get a single column or row.
        tiny = 1e6 * float(np.spacing(max(abs(x0), abs(x1), abs(y0), abs(y1), 1.0)))
        w = max(x1 - x0, tiny)
        h = max(y1 - y0, tiny)
        target = min(max(n * cells_per_grid, 1.0), MAX_CELLS)
        nx = int(min(max(round(np.sqrt(target * w / h)), 1), max(w // tiny, 1), target))
        ny = int(min(max(round(target / nx), 1), max(h // tiny, 1)))
        # The margin only has to absorb the rounding of interpolated piece endpoints (a few ulps);
        # anything larger just marks a few more cells as boundary cells.
        margin = 1e-9 * max(w, h) + 64 * float(np.spacing(max(abs(x0), abs(y0)) + max(w, h)))
        ras = _Raster(x0, y0, w, h, nx, ny, margin)

        # Only valid grids' segments are used to classify cells (see the module docstring);
        # invalid grids are candidates throughout their bounding box.
        seg = valid[owner]
        ax, ay, bx, by, owner, left_inside = ax[seg], ay[seg], bx[seg], by[seg], owner[seg], left_inside[seg]
        touch = _touch_keys(ras, n, ax, ay, bx, by, owner)
        is_invalid = ~valid & ~shapely.is_empty(self._polys)
        if is_invalid.any():
            invalid_keys = _bbox_keys(ras, n, self._polys, np.flatnonzero(is_invalid))
            touch = _distinct_sorted(np.sort(np.concatenate([touch, invalid_keys])))

        t_cell = touch // n
        t_owner = (touch - t_cell * n).astype(np.int32)
        touched = np.zeros(nx * ny, dtype=bool)
        touched[t_cell] = True

        # Smallest grid wholly containing each cell (n where none does).
        full = _full_min(ras, n, touch, touched, ax, ay, bx, by, owner)

        # Untouched cells: inside their smallest containing grid, or outside everything.
        state = np.where(full < n, full, _EMPTY).astype(np.int32)

        e_cell, cand = _candidate_lists(n, t_cell, t_owner, full)
        starts = _group_starts(e_cell)
        ends = np.r_[starts[1:], cand.size]
        self._cand = cand
        self._cand_geoms = self._exact[cand]

        # Where every point of a cell is covered by some grid, a point that misses all candidates
        # but the last must be in the last one, which then needs no test. In a tiling this holds
        # for almost every boundary cell away from the outer edge, and halves the exact tests.
        gap = _coverage_gap_cells(ras, ax, ay, bx, by, left_inside)
        gap[t_cell[is_invalid[t_owner]]] = True  # anything goes inside an invalid grid's bbox
        implicit = self._covered(ras, e_cell, starts, ends, gap)

        # A covered cell with a single candidate is simply full.
        settled = implicit & (ends - starts == 1)
        state[e_cell[starts[settled]]] = cand[starts[settled]]
        drop = np.repeat(settled, ends - starts)
        e_cell, cand, implicit = e_cell[~drop], cand[~drop], implicit[~settled]
        starts = _group_starts(e_cell)
        state[e_cell[starts]] = -2 - np.arange(starts.size, dtype=np.int32)

        self._x0, self._y0, self._x1, self._y1 = x0, y0, x1, y1
        self._nx, self._ny, self._sx, self._sy = nx, ny, ras.sx, ras.sy
        self._state = state
        self._offsets = np.r_[starts, cand.size].astype(np.int64)
        self._implicit = implicit
        self._cand = cand
        self._cand_geoms = self._exact[cand]

        # Prepared geometries build their point-location structures lazily on first use. Building
        # them here (about 20 ms for 50,000 grids) keeps that cost out of callers' first queries
        # and leaves the index read-only once construction is done.
        prepared = self._polys[valid]
        bounds = shapely.bounds(prepared)
        shapely.intersects_xy(prepared, bounds[:, 0], bounds[:, 1])


class _Raster:
    """The cell mapping shared by construction and queries."""

    def __init__(self, x0: float, y0: float, w: float, h: float, nx: int, ny: int, margin: float) -> None:
        self.x0, self.y0, self.nx, self.ny, self.margin = x0, y0, nx, ny, margin
        self.sx = nx / w
        self.sy = ny / h
        self.dy = h / ny

    def col(self, x: np.ndarray) -> np.ndarray:
        """Column containing x, by the same monotone mapping as the queries (clamped)."""
        return np.clip(np.floor((x - self.x0) * self.sx), 0, self.nx - 1).astype(np.int64)

    def row(self, y: np.ndarray) -> np.ndarray:
        return np.clip(np.floor((y - self.y0) * self.sy), 0, self.ny - 1).astype(np.int64)


def _ring_segments(polys: np.ndarray) -> tuple[np.ndarray, ...]:
    """All ring segments, holes and multi-parts included.

    Returns (ax, ay, bx, by, owner index, left_inside). ``left_inside`` says the owner's interior
    lies to the left of a -> b. That is only meaningful for valid polygons.
    """
    parts, part_owner = shapely.get_parts(polys, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    # get_rings lists each part's exterior first. The interior is left of a CCW exterior and
    # left of a CW hole.
    exterior = np.r_[True, ring_part[1:] != ring_part[:-1]] if ring_part.size else ring_part.astype(bool)
    left_inside = shapely.is_ccw(rings) == exterior
    # Rings are closed, so consecutive coordinates of one ring are exactly its segments.
    same = coord_ring[1:] == coord_ring[:-1]
    a = coords[:-1][same]
    b = coords[1:][same]
    seg_ring = coord_ring[:-1][same]
    return a[:, 0], a[:, 1], b[:, 0], b[:, 1], part_owner[ring_part[seg_ring]], left_inside[seg_ring]


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For items with counts c_i: (item index, 0..c_i-1) for each of the sum(c) outputs."""
    item = np.repeat(np.arange(counts.size), counts)
    local = np.arange(item.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return item, local


def _rect_keys(
    ras: _Raster,
    n: int,
    c0: np.ndarray,
    c1: np.ndarray,
    r0: np.ndarray,
    r1: np.ndarray,
    owner: np.ndarray,
) -> np.ndarray:
    """Keys cell * n + owner for every cell of each inclusive rectangle [c0..c1] x [r0..r1]."""
    width = c1 - c0 + 1
    item, local = _expand(width * (r1 - r0 + 1))
    w = width[item]
    cell = (r0[item] + local // w) * ras.nx + c0[item] + local % w
    return cell * n + owner[item]


def _candidate_lists(
    n: int, t_cell: np.ndarray, t_owner: np.ndarray, full: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate (cell, grid) entries for touched cells, sorted by cell, then grid.

    The candidates are the touching grids below the cell's smallest containing grid, followed
    by that grid. It covers every point of the cell, so no candidate after it could win.
    Touched cells whose first candidate is that grid get no entries: they are simply full.
    """
    keep = t_owner < full[t_cell]
    tested = _distinct_sorted(t_cell[keep])
    closers = tested[full[tested] < n]
    e_cell = np.concatenate([t_cell[keep], closers])
    e_owner = np.concatenate([t_owner[keep], full[closers]])
    # full[c] exceeds every kept owner of c, so a stable sort by cell keeps owners ascending
    # when the closers follow the kept entries.
    order = np.argsort(e_cell, kind="stable")
    return e_cell[order], e_owner[order].astype(np.int32)


def _group_starts(a: np.ndarray) -> np.ndarray:
    """Positions where a new run of equal values starts in a (sorted) array."""
    return np.flatnonzero(np.r_[True, a[1:] != a[:-1]]) if a.size else np.zeros(0, np.int64)


def _distinct_sorted(a: np.ndarray) -> np.ndarray:
    """Drop repeats from a sorted array.

    np.unique is hash-based in numpy 2.x and an order of magnitude slower than this on tens
    of millions of keys.
    """
    return a[np.r_[True, a[1:] != a[:-1]]] if a.size else a


def _chunks(counts: np.ndarray) -> list[slice]:
    """Split items into consecutive runs whose total count is about _CHUNK (bounds memory)."""
    cum = np.cumsum(counts)
    total = int(cum[-1]) if cum.size else 0
    cuts = np.searchsorted(cum, np.arange(_CHUNK, total, _CHUNK), side="right")
    bounds = _distinct_sorted(np.r_[0, cuts, counts.size])
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _touch_keys(
    ras: _Raster,
    n: int,
    ax: np.ndarray,
    ay: np.ndarray,
    bx: np.ndarray,
    by: np.ndarray,
    owner: np.ndarray,
) -> np.ndarray:
    """Sorted unique keys cell * n + k for every cell that grid k's boundary may touch."""
    # Pieces no longer than a cell keep the bounding boxes tight around diagonal segments.
    dx = bx - ax
    dy = by - ay
    pieces = np.maximum(np.ceil(np.maximum(np.abs(dx) * ras.sx, np.abs(dy) * ras.sy)), 1)
    pieces = pieces.astype(np.int64)
    m = ras.margin
    keys = []
    for part in _chunks(pieces):
        seg, k = _expand(pieces[part])
        seg += part.start
        t0 = k / pieces[seg]
        t1 = (k + 1) / pieces[seg]
        px0 = ax[seg] + t0 * dx[seg]
        px1 = ax[seg] + t1 * dx[seg]
        py0 = ay[seg] + t0 * dy[seg]
        py1 = ay[seg] + t1 * dy[seg]
        keys.append(
            _rect_keys(
                ras,
                n,
                ras.col(np.minimum(px0, px1) - m),
                ras.col(np.maximum(px0, px1) + m),
                ras.row(np.minimum(py0, py1) - m),
                ras.row(np.maximum(py0, py1) + m),
                owner[seg],
            )
        )
    return _distinct_sorted(np.sort(np.concatenate(keys))) if keys else np.zeros(0, np.int64)


def _bbox_keys(ras: _Raster, n: int, polys: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Keys marking every cell of the bounding boxes of polys[which] as touched."""
    b = shapely.bounds(polys[which])
    m = ras.margin
    return _rect_keys(
        ras,
        n,
        ras.col(b[:, 0] - m),
        ras.col(b[:, 2] + m),
        ras.row(b[:, 1] - m),
        ras.row(b[:, 3] + m),
        which.astype(np.int64),
    )


def _coverage_gap_cells(
    ras: _Raster, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray, left_inside: np.ndarray
) -> np.ndarray:
    """Per cell: may the boundary of the union of all grids pass through it?

    A segment with some grid's interior on its left and some grid's interior on its right (the
    same two endpoints, exactly) is interior to the union, and so is a vertex whose segments are
    all like that. Every other segment may be on the union's boundary: mark its cells.
    """
    forward = (ax < bx) | ((ax == bx) & (ay < by))
    # + 0.0 turns -0.0 into 0.0, so equal coordinates have equal bits for the hash below.
    k = (
        np.stack(
            [np.where(forward, ax, bx), np.where(forward, ay, by), np.where(forward, bx, ax), np.where(forward, by, ay)]
        )
        + 0.0
    )
    left = left_inside == forward  # interior side, seen along the canonical direction
    # Group identical segments by sorting on a 64-bit hash of their coordinates (one argsort,
    # ~5x faster than a 4-key lexsort). If two different segments ever share a hash, the
    # exact lexsort takes over.
    bits = k.view(np.uint64)
    mix = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5], np.uint64)
    h = (bits * mix[:, None]).sum(axis=0) if bits.size else np.zeros(0, np.uint64)
    h ^= h >> np.uint64(31)
    order = np.argsort(h)
    ks = k[:, order]
    new = np.r_[True, (ks[:, 1:] != ks[:, :-1]).any(axis=0)] if order.size else np.zeros(0, bool)
    hs = h[order]
    if (new[1:] & (hs[1:] == hs[:-1])).any():
        order = np.lexsort(k[::-1])
        ks = k[:, order]
        new = np.r_[True, (ks[:, 1:] != ks[:, :-1]).any(axis=0)]
    group = np.cumsum(new) - 1
    n_groups = int(group[-1]) + 1 if group.size else 0
    has_left = np.bincount(group[left[order]], minlength=n_groups) > 0
    has_right = np.bincount(group[~left[order]], minlength=n_groups) > 0
    interior = np.empty(order.size, dtype=bool)
    interior[order] = (has_left & has_right)[group]
    interior &= (ax != bx) | (ay != by)
    edge = ~interior
    cells = _touch_keys(ras, 1, ax[edge], ay[edge], bx[edge], by[edge], np.zeros(int(edge.sum()), np.int64))
    gap = np.zeros(ras.nx * ras.ny, dtype=bool)
    gap[cells] = True
    return gap


def _full_min(
    ras: _Raster,
    n: int,
    touch: np.ndarray,
    touched: np.ndarray,
    ax: np.ndarray,
    ay: np.ndarray,
    bx: np.ndarray,
    by: np.ndarray,
    owner: np.ndarray,
) -> np.ndarray:
    """Per cell, the smallest grid index wholly containing the cell (n where there is none).

    Scanline parity on each row's centre line finds, per grid, the cells whose centre is inside
    it. Where that grid does not touch the cell, the whole cell is inside.
    """
    full = np.full(ras.nx * ras.ny, n, dtype=np.int32)
    if ax.size == 0:
        return full
    # Rows r whose centre line a segment crosses: f(lo) <= r < f(hi), with f(y) = row(y) - 1/2.
    # Both segments at a shared vertex evaluate f on the same value, so every closed ring
    # crosses every row an even number of times (the half-open rule, applied in raster space).
    fa = (ay - ras.y0) * ras.sy - 0.5
    fb = (by - ras.y0) * ras.sy - 0.5
    r_lo = np.clip(np.ceil(np.minimum(fa, fb)), 0, ras.ny)
    r_hi = np.clip(np.ceil(np.maximum(fa, fb)), 0, ras.ny)  # exclusive
    seg, k = _expand((r_hi - r_lo).astype(np.int64))
    row = r_lo[seg].astype(np.int64) + k
    yc = ras.y0 + (row + 0.5) * ras.dy
    t = np.clip((yc - ay[seg]) / (by[seg] - ay[seg]), 0.0, 1.0)
    xc = ax[seg] + t * (bx[seg] - ax[seg])
    seg_owner = owner[seg]
    del seg, k, t, yc

    order = np.lexsort((xc, row, seg_owner))
    xc, row, seg_owner = xc[order], row[order], seg_owner[order]
    if xc.size % 2 or (seg_owner[0::2] != seg_owner[1::2]).any() or (row[0::2] != row[1::2]).any():
        raise AssertionError("scanline crossings are not paired; this is a bug in GridIndex")
    row = row[0::2]
    seg_owner = seg_owner[0::2].astype(np.int32)
    # Cells whose centre lies between an entering and a leaving crossing.
    c_lo = np.clip(np.floor((xc[0::2] - ras.x0) * ras.sx - 0.5) + 1, 0, ras.nx).astype(np.int64)
    c_hi = np.clip(np.floor((xc[1::2] - ras.x0) * ras.sx - 0.5) + 1, 0, ras.nx).astype(np.int64)
    counts = np.maximum(c_hi - c_lo, 0)

    for part in _chunks(counts):
        item, k = _expand(counts[part])
        item += part.start
        cell = row[item] * ras.nx + c_lo[item] + k
        grid = seg_owner[item]
        # A centre-inside cell that the grid's boundary touches is only partly inside.
        on_edge = touched[cell]
        if on_edge.any():
            idx = np.flatnonzero(on_edge)
            key = cell[idx] * n + grid[idx]
            srt = np.argsort(key)
            # Sorted queries make searchsorted cache-friendly (random ones are ~40x slower).
            pos = np.searchsorted(touch, key[srt])
            hit = touch[np.minimum(pos, touch.size - 1)] == key[srt]
            partial = np.zeros(idx.size, dtype=bool)
            partial[srt] = hit
            on_edge[idx] = partial
            cell = cell[~on_edge]
            grid = grid[~on_edge]
        np.minimum.at(full, cell, grid)
    return full
