"""The demo district's map: 8 streets/towns, 80 communities and 288 grids that tile an
irregular district around 27.8°N, 113.15°E with no gap and no overlap.

Grids are Voronoi cells of seeds that are denser in the urban north-west and sparser in
the rural south-east (白关镇), relaxed a little so they look like drawn grids, and clipped
to the district outline on a fixed precision grid so neighbours share edges exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

CENTER = (113.15, 27.8)
PRECISION = 1e-7  # degrees, about 1 cm


@dataclass
class GridCell:
    geometry: shapely.Polygon
    street_index: int = -1
    community_index: int = -1

    @property
    def center(self) -> tuple[float, float]:
        p = self.geometry.centroid
        return p.x, p.y


def district_outline(rng: np.random.Generator) -> shapely.Polygon:
    angles = np.sort(rng.uniform(0, 2 * math.pi, 28))
    radius = 1 + rng.normal(0, 0.06, angles.size)
    xs = CENTER[0] + 0.075 * radius * np.cos(angles)
    ys = CENTER[1] + 0.062 * radius * np.sin(angles)
    # Convex, so every clipped Voronoi cell stays a single polygon.
    return shapely.convex_hull(shapely.MultiPoint(np.column_stack([xs, ys]))).normalize()


def seeds(rng: np.random.Generator, outline: shapely.Polygon, n: int) -> np.ndarray:
    minx, miny, maxx, maxy = outline.bounds
    urban = np.array([CENTER[0] - 0.02, CENTER[1] + 0.02])
    shapely.prepare(outline)
    out: list[tuple[float, float]] = []
    while len(out) < n:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if not shapely.contains_xy(outline, x, y):
            continue
        d = math.hypot(x - urban[0], y - urban[1])
        if rng.uniform() < 0.18 + 0.82 * math.exp(-((d / 0.045) ** 2)):
            out.append((x, y))
    return np.array(out)


def cells_for(points: np.ndarray, outline: shapely.Polygon) -> list[shapely.Polygon]:
    diagram = shapely.voronoi_polygons(shapely.MultiPoint(points), extend_to=outline.buffer(0.05), ordered=True)
    return [shapely.intersection(cell, outline, grid_size=PRECISION) for cell in diagram.geoms]


def relax(points: np.ndarray, outline: shapely.Polygon, rounds: int) -> np.ndarray:
    for _ in range(rounds):
        points = np.array([(c.centroid.x, c.centroid.y) for c in cells_for(points, outline)])
    return points


def split(indexes: list[int], centers: dict[int, tuple[float, float]], parts: list[int]) -> list[list[int]]:
    """Recursive bisection along the wider axis: contiguous groups of the sizes asked for."""
    if len(parts) == 1:
        return [indexes]
    half = len(parts) // 2
    xs = [centers[i][0] for i in indexes]
    ys = [centers[i][1] for i in indexes]
    axis = 0 if (max(xs) - min(xs)) * math.cos(math.radians(CENTER[1])) >= max(ys) - min(ys) else 1
    ordered = sorted(indexes, key=lambda i: (centers[i][axis], centers[i][1 - axis]))
    cut = round(len(indexes) * sum(parts[:half]) / sum(parts))
    return split(ordered[:cut], centers, parts[:half]) + split(ordered[cut:], centers, parts[half:])


def reading_order(items: list[int], centers: dict[int, tuple[float, float]], band: float) -> list[int]:
    """North to south in bands, west to east within a band (how grid numbers are given)."""
    return sorted(items, key=lambda i: (-math.floor(centers[i][1] / band), centers[i][0]))


def build_map(seed: int, n_grids: int, communities_per_street: list[int], town_grids: int):
    """Returns the outline and, per street (the town last), a list of communities, each a
    list of grid polygons in numbering order."""
    rng = np.random.default_rng(seed)
    outline = district_outline(rng)
    points = relax(seeds(rng, outline, n_grids), outline, rounds=2)
    cells = cells_for(points, outline)
    centers = {i: (c.centroid.x, c.centroid.y) for i, c in enumerate(cells)}
    # The town takes the rural south-east; the seven urban streets share the rest.
    by_south_east = sorted(centers, key=lambda i: centers[i][0] - centers[i][1] * 1.2, reverse=True)
    town = by_south_east[:town_grids]
    urban = by_south_east[town_grids:]
    urban_counts = communities_per_street[:-1]
    streets = split(urban, centers, [c * 10 for c in urban_counts]) + [town]
    result = []
    for street, n_comm in zip(streets, communities_per_street, strict=True):
        groups = split(street, centers, [1] * n_comm)
        group_centers = {k: tuple(np.mean([centers[i] for i in g], axis=0)) for k, g in enumerate(groups)}
        communities = []
        for k in reading_order(list(group_centers), group_centers, band=0.02):
            communities.append([cells[i] for i in reading_order(groups[k], centers, band=0.006)])
        result.append(communities)
    return outline, result
