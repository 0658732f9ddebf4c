"""gridgov.regions.coords against published reference pairs, and round trips over China."""

from __future__ import annotations

import math

import pytest

from gridgov.regions.coords import CRS_NAMES, from_wgs84, to_wgs84

# AMap (高德) web service documentation, 坐标转换 /v3/assistant/coordinate/convert, example:
# locations=116.481499,39.990475 with coordsys=gps → "116.487585177952,39.991754014757".
AMAP_GPS = (116.481499, 39.990475)
AMAP_GCJ = (116.487585177952, 39.991754014757)

# Alibaba Cloud 地址标准化 TransferCoord documentation, example response for the GCJ-02 input
# 120.026268,30.279164: "BD09":"120.032768,30.285238". Published to 6 decimals, so the
# reference itself is only good to ±5e-7°; 1e-6° (≈0.1 m) covers that rounding and nothing
# more. (Its WGS84 value in the same example comes from a one-step approximate inverse, ~1.5 m
# off the exact inverse, so it is not used as a reference.)
ALIYUN_GCJ = (120.026268, 30.279164)
ALIYUN_BD = (120.032768, 30.285238)

TOL = 1e-6  # degrees; about 0.1 m


def close(a: tuple[float, float], b: tuple[float, float], tol: float = TOL) -> bool:
    return abs(a[0] - b[0]) <= tol and abs(a[1] - b[1]) <= tol


def test_amap_documented_gps_to_gcj02_example():
    assert close(from_wgs84(*AMAP_GPS, "gcj02"), AMAP_GCJ)


def test_gcj02_inverse_recovers_the_amap_gps_point():
    assert close(to_wgs84(*AMAP_GCJ, "gcj02"), AMAP_GPS)


def test_aliyun_documented_gcj02_to_bd09_example():
    # GCJ-02 → WGS-84 → BD-09 through the module's two public conversions.
    wgs = to_wgs84(*ALIYUN_GCJ, "gcj02")
    assert close(from_wgs84(*wgs, "bd09"), ALIYUN_BD)


def test_bd09_inverse_recovers_the_point_behind_the_aliyun_example():
    wgs = to_wgs84(*ALIYUN_GCJ, "gcj02")
    assert close(to_wgs84(*ALIYUN_BD, "bd09"), wgs)


def test_the_offsets_are_hundreds_of_metres_so_a_missed_conversion_shows():
    gcj = from_wgs84(113.15, 27.8, "gcj02")
    bd = from_wgs84(113.15, 27.8, "bd09")
    assert 0.001 < math.hypot(gcj[0] - 113.15, gcj[1] - 27.8) < 0.01
    assert 0.005 < math.hypot(bd[0] - 113.15, bd[1] - 27.8) < 0.02


@pytest.mark.parametrize(("lon", "lat"), [(113.15, 27.8), (116.4, 39.9), (121.47, 31.23), (87.6, 43.8)])
def test_bd09_is_gcj02_shifted_by_baidus_known_offset(lon, lat):
    """BD-09 = GCJ-02 moved by about (+0.0065°, +0.0060°), with a small position-dependent
    rotation: the offset stays within a few ten-thousandths of a degree of that."""
    gcj = from_wgs84(lon, lat, "gcj02")
    bd = from_wgs84(lon, lat, "bd09")
    assert bd[0] - gcj[0] == pytest.approx(0.0065, abs=5e-4)
    assert bd[1] - gcj[1] == pytest.approx(0.0060, abs=5e-4)


def test_wgs84_is_passed_through_unchanged():
    for point in [(113.15, 27.8), (0.0, 0.0), (-73.98, 40.75), (179.9, -89.9)]:
        assert to_wgs84(*point, "wgs84") == point
        assert from_wgs84(*point, "wgs84") == point


def test_every_crs_name_converts():
    assert set(CRS_NAMES) == {"wgs84", "gcj02", "bd09"}
    for crs in CRS_NAMES:
        lon, lat = to_wgs84(*from_wgs84(113.15, 27.8, crs), crs)
        assert close((lon, lat), (113.15, 27.8))


def test_an_unknown_crs_is_refused_on_the_way_in():
    with pytest.raises(ValueError):
        to_wgs84(113.15, 27.8, "utm")  # type: ignore[arg-type]


def test_an_unknown_crs_is_refused_on_the_way_out():
    with pytest.raises(ValueError):
        from_wgs84(113.15, 27.8, "utm")  # type: ignore[arg-type]


CHINA = [(lon + 0.37, lat + 0.21) for lon in range(74, 135, 4) for lat in range(18, 54, 4)]


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_round_trips_over_china(crs):
    worst = 0.0
    for lon, lat in CHINA:
        shifted = from_wgs84(lon, lat, crs)
        assert not close(shifted, (lon, lat), 1e-4)  # it did move
        back = to_wgs84(*shifted, crs)
        worst = max(worst, abs(back[0] - lon), abs(back[1] - lat))
    assert worst <= TOL, worst


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_round_trips_the_other_way_over_china(crs):
    """A map coordinate → WGS-84 → back to the map's system lands where it started."""
    for lon, lat in CHINA:
        back = from_wgs84(*to_wgs84(lon, lat, crs), crs)
        assert close(back, (lon, lat)), (lon, lat, back)
