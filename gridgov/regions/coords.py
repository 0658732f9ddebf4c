"""Coordinate systems. We store WGS-84; phones and Chinese web maps send GCJ-02 (AMap,
Tencent) or BD-09 (Baidu). PRCoords' iterative inverses recover WGS-84 to well under a
metre inside China, where the offsets apply at all."""

from __future__ import annotations

from typing import Literal

import prcoords

CRS = Literal["wgs84", "gcj02", "bd09"]
CRS_NAMES: tuple[str, ...] = ("wgs84", "gcj02", "bd09")


def to_wgs84(lon: float, lat: float, crs: CRS) -> tuple[float, float]:
    if crs == "wgs84":
        return lon, lat
    point = prcoords.Coords(lat, lon)
    if crs == "gcj02":
        out = prcoords.gcj_wgs_bored(point, check_china=False)
    elif crs == "bd09":
        out = prcoords.bd_wgs_bored(point, check_china=False)
    else:
        raise ValueError(crs)
    return out.lon, out.lat


def from_wgs84(lon: float, lat: float, crs: CRS) -> tuple[float, float]:
    if crs == "wgs84":
        return lon, lat
    point = prcoords.Coords(lat, lon)
    if crs == "gcj02":
        out = prcoords.wgs_gcj(point, check_china=False)
    elif crs == "bd09":
        out = prcoords.wgs_bd(point, check_china=False)
    else:
        raise ValueError(crs)
    return out.lon, out.lat
