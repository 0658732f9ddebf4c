from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from gridgov.core.deps import DB, Who
from gridgov.regions import service
from gridgov.regions.coords import CRS, to_wgs84
from gridgov.regions.schemas import LocateOut, Point, RegionOut, RegionRef
from gridgov.regions.service import Located

router = APIRouter(prefix="/api/v1", tags=["regions"])


def locate_out(found: Located, lon: float, lat: float, crs: str) -> LocateOut:
    by_level = {r.level: RegionRef.of(r) for r in found.lineage}
    return LocateOut(grid=RegionRef.of(found.grid), community=by_level.get("community"),
                     street=by_level.get("street"), district=by_level.get("district"),
                     city=by_level.get("city"), wgs84=Point(lon=lon, lat=lat), crs=crs)


@router.get("/grids/locate", response_model=LocateOut)
def locate(request: Request, db: DB, who: Who,
           lon: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False, description="经度")],
           lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False, description="纬度")],
           crs: Annotated[CRS, Query(description="wgs84 | gcj02 | bd09")] = "wgs84"):
    who.require("grids.locate")
    wlon, wlat = to_wgs84(lon, lat, crs)
    found = request.app.state.locator.grid_for_point(db, wlon, wlat)
    return locate_out(found, wlon, wlat, crs)


@router.get("/regions/{code}", response_model=RegionOut)
def region(code: str, db: DB, who: Who):
    who.require("regions.read")
    r = service.visible_region(db, who, code)
    return RegionOut.build(r, service.lineage(db, r))


@router.get("/regions/{code}/children", response_model=list[RegionOut])
def region_children(code: str, db: DB, who: Who):
    who.require("regions.read")
    parent = service.visible_region(db, who, code)
    above = service.lineage(db, parent)
    return [RegionOut.build(c, [*above, c]) for c in service.children(db, who, code)]


@router.get("/regions/{code}/grids.geojson")
def region_grids(code: str, db: DB, who: Who):
    who.require("regions.read")
    collection = service.grids_feature_collection(db, who, code)
    return Response(json.dumps(collection, ensure_ascii=False, separators=(",", ":")),
                    media_type="application/geo+json")
