"""Grid layer import and export (GeoJSON).

The file carries features for streets, communities and grids (`code`, `name`, `level`,
`kind`, `parent_code`; polygons for grids). Everything is checked before anything is
written: one bad feature and nothing is imported, and every problem is listed. The
checks run on the layer as it would be after the import (grids already in the database
that the file does not mention included), so a partial file cannot create an overlap.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import shapely
from shapely import STRtree
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.regions.geo import area_m2, from_geojson, to_geojson_text
from gridgov.regions.models import CODE_LENGTHS, Region
from gridgov.regions.service import bump_grid_layer, child_path

# Slivers below this come from floating point, not from a mapping mistake.
AREA_TOLERANCE_M2 = 1.0
IMPORT_LEVELS = ("street", "community", "grid")
PARENT_LEVEL = {"street": "district", "community": "street", "grid": "community"}


@dataclass
class Problem:
    feature: int | None  # 1-based position in the file, None for problems between features
    code: str | None
    kind: str
    message: str
    area_m2: float | None = None

    def as_dict(self) -> dict:
        return {"feature": self.feature, "code": self.code, "kind": self.kind, "message": self.message,
                "area_m2": None if self.area_m2 is None else round(self.area_m2, 1)}


@dataclass
class Parsed:
    code: str
    name: str
    level: str
    kind: str
    parent_code: str
    geometry: shapely.Geometry | None
    position: int


@dataclass
class ImportReport:
    problems: list[Problem] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def code_problem(code: str, level: str) -> str | None:
    want = CODE_LENGTHS[level]
    if not re.fullmatch(rf"[0-9]{{{want}}}", code):  # not \d: full-width ０ would make another region
        return f"编码必须是 {want} 位数字"
    if level == "street" and not 1 <= int(code[6:9]) <= 399:
        return "街道乡镇编码的后三位必须在 001–399 之间（001–099 街道，100–199 镇，200–399 乡）"
    if level in ("community", "grid") and int(code[-3 if level == "community" else -2:]) == 0:
        return "编码的序号不能为 0"
    return None


def parse_features(data: dict, report: ImportReport) -> list[Parsed]:
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(
            data.get("features"), list):
        report.problems.append(Problem(None, None, "format", "文件必须是 GeoJSON FeatureCollection"))
        return []
    out: list[Parsed] = []
    seen: dict[str, int] = {}
    for i, feat in enumerate(data["features"], start=1):
        if not isinstance(feat, dict) or not isinstance(feat.get("properties") or {}, dict):
            report.problems.append(Problem(i, None, "format", "要素必须是 GeoJSON Feature 对象，properties 必须是对象"))
            continue
        props = feat.get("properties") or {}
        code = str(props.get("code") or "").strip()
        level = str(props.get("level") or "grid").strip()
        name = str(props.get("name") or "").strip()
        parent = str(props.get("parent_code") or "").strip()

        def bad(kind: str, message: str, code: str = code, i: int = i) -> None:
            report.problems.append(Problem(i, code or None, kind, message))

        if level not in IMPORT_LEVELS:
            bad("level", f"级别 {level!r} 不可导入，只能是 street、community 或 grid")
            continue
        if not code:
            bad("code", "缺少编码 code")
            continue
        if msg := code_problem(code, level):
            bad("code", msg)
            continue
        if code in seen:
            bad("duplicate", f"编码重复：与第 {seen[code]} 个要素相同")
            continue
        seen[code] = i
        if not name:
            bad("name", "缺少名称 name")
        expected_parent = code[: CODE_LENGTHS[PARENT_LEVEL[level]]]
        if parent and parent != expected_parent:
            bad("parent", f"上级编码 {parent} 与编码前缀 {expected_parent} 不一致")
            continue
        geom = None
        raw = feat.get("geometry")
        if level == "grid":
            geom = _grid_geometry(raw, bad)
            if geom is None:
                continue
        out.append(Parsed(code, name, level, str(props.get("kind") or ""), expected_parent, geom, i))
    return out


def _grid_geometry(raw, bad) -> shapely.Geometry | None:
    if not raw:
        bad("geometry", "网格必须有多边形边界")
        return None
    try:
        geom = shape(raw)
    except Exception as exc:  # malformed coordinates arrays, unknown types
        bad("geometry", f"无法解析几何：{exc}")
        return None
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        bad("geometry", f"网格边界必须是 Polygon 或 MultiPolygon，而不是 {geom.geom_type}")
        return None
    if geom.is_empty:
        bad("geometry", "网格边界为空")
        return None
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        bad("geometry", "坐标超出经纬度范围（应为 WGS-84 经度、纬度）")
        return None
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        kind = "self_intersection" if "Self-intersection" in reason or "Ring Self" in reason else "invalid"
        bad(kind, f"多边形无效：{_explain(reason)}")
        return None
    return geom


def _explain(reason: str) -> str:
    words = {"Self-intersection": "自相交", "Ring Self-intersection": "环自相交",
             "Too few points": "顶点太少", "Hole lies outside shell": "内环在外环之外",
             "Nested shells": "多边形嵌套", "Interior is disconnected": "内部不连通",
             "Duplicate Rings": "环重复", "Invalid Coordinate": "坐标无效"}
    head, _, where = reason.partition("[")
    zh = words.get(head.strip(), head.strip())
    return f"{zh}，位置 [{where}" if where else zh


def check_layer(db: Session, parsed: list[Parsed], report: ImportReport) -> None:
    existing = {r.code: r for r in db.scalars(select(Region))}
    in_file = {p.code: p for p in parsed}
    for p in parsed:
        parent = in_file.get(p.parent_code) or existing.get(p.parent_code)
        parent_level = parent.level if parent is not None else None
        if parent is None or parent_level != PARENT_LEVEL[p.level]:
            report.problems.append(Problem(p.position, p.code, "unknown_parent",
                                           f"上级区划 {p.parent_code} 不存在"))
        elif p.code in existing and existing[p.code].level != p.level:
            report.problems.append(Problem(p.position, p.code, "level", "编码已被其他级别的区划使用"))

    # The grid layer after the import: the file's grids over the database's.
    layer: dict[str, tuple[shapely.Geometry, int | None]] = {
        code: (from_geojson(r.geometry), None) for code, r in existing.items()
        if r.level == "grid" and r.geometry and code not in in_file}
    layer.update({p.code: (p.geometry, p.position) for p in parsed if p.level == "grid"})
    codes = sorted(layer)
    geoms = [layer[c][0] for c in codes]
    touched = {c for c in codes if layer[c][1] is not None}
    tree = STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a >= b or (codes[a] not in touched and codes[b] not in touched):
            continue
        overlap = area_m2(shapely.intersection(geoms[a], geoms[b]))
        if overlap > AREA_TOLERANCE_M2:
            pos = layer[codes[a]][1] or layer[codes[b]][1]
            report.problems.append(Problem(pos, codes[a], "overlap",
                                           f"与网格 {codes[b]} 重叠 {overlap:,.1f} 平方米", overlap))

    by_community: dict[str, list[shapely.Geometry]] = {}
    for c, g in zip(codes, geoms, strict=True):
        by_community.setdefault(c[:12], []).append(g)
    for community in sorted({c[:12] for c in touched}):
        union = shapely.union_all(by_community[community])
        for polygon in getattr(union, "geoms", [union]):
            for ring in polygon.interiors:
                # A hole filled by another community's grids is a neighbour, not a gap.
                hole = shapely.Polygon(ring)
                fillers = [geoms[i] for i in tree.query(hole, predicate="intersects").tolist()]
                hole = shapely.difference(hole, shapely.union_all(fillers)) if fillers else hole
                gap = area_m2(hole)
                if gap > AREA_TOLERANCE_M2:
                    x, y = hole.representative_point().coords[0]
                    report.problems.append(Problem(None, community, "gap",
                                                   f"社区内网格之间有空隙 {gap:,.1f} 平方米，位于 ({x:.6f}, {y:.6f})",
                                                   gap))


def import_layer(db: Session, data: dict) -> ImportReport:
    """Validates the whole file, then writes it; writes nothing when any problem is found.
    The caller commits."""
    report = ImportReport()
    parsed = parse_features(data, report)
    if parsed:
        check_layer(db, parsed, report)
    if not report.ok:
        return report
    order = {lv: i for i, lv in enumerate(IMPORT_LEVELS)}
    grids_changed = False
    for p in sorted(parsed, key=lambda p: (order[p.level], p.code)):
        parent = db.get(Region, p.parent_code)
        values = {"name": p.name, "level": p.level, "kind": p.kind or _default_kind(p),
                  "parent_code": p.parent_code, "path": child_path(parent, p.code)}
        if p.geometry is not None:
            center = p.geometry.representative_point()
            values.update(geometry=to_geojson_text(p.geometry), area_m2=area_m2(p.geometry),
                          center_lon=center.x, center_lat=center.y)
        row = db.get(Region, p.code)
        if row is None:
            db.add(Region(code=p.code, **values))
            report.created += 1
            grids_changed |= p.level == "grid"
        elif any(getattr(row, k) != v for k, v in values.items() if k not in ("area_m2", "center_lon",
                                                                                "center_lat")):
            for k, v in values.items():
                setattr(row, k, v)
            report.updated += 1
            grids_changed |= p.level == "grid"
        else:
            report.unchanged += 1
        db.flush()
    if grids_changed:
        bump_grid_layer(db)
    return report


def _default_kind(p: Parsed) -> str:
    if p.level == "street":
        n = int(p.code[6:9])
        return "街道" if n < 100 else "镇" if n < 200 else "乡"
    return {"community": "社区", "grid": "网格"}[p.level]


def export_layer(db: Session, root_code: str | None = None) -> dict:
    q = select(Region).where(Region.level.in_(IMPORT_LEVELS)).order_by(Region.code)
    if root_code:
        root = db.get(Region, root_code)
        q = q.where(Region.path.startswith(root.path if root else "/none/", autoescape=True))
    features = []
    for r in db.scalars(q):
        features.append({
            "type": "Feature",
            "properties": {"code": r.code, "name": r.name, "level": r.level, "kind": r.kind,
                           "parent_code": r.parent_code},
            "geometry": json.loads(r.geometry) if r.geometry else None,
        })
    return {"type": "FeatureCollection", "features": features}
