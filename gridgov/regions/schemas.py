from __future__ import annotations

from pydantic import BaseModel

from gridgov.regions.models import LEVEL_LABELS, Region


class RegionRef(BaseModel):
    code: str
    name: str
    level: str

    @classmethod
    def of(cls, r: Region) -> RegionRef:
        return cls(code=r.code, name=r.name, level=r.level)


class RegionOut(RegionRef):
    level_label: str
    kind: str
    parent_code: str | None
    lineage: list[RegionRef]
    center_lon: float | None
    center_lat: float | None
    area_m2: float | None

    @classmethod
    def build(cls, r: Region, lineage: list[Region]) -> RegionOut:
        return cls(code=r.code, name=r.name, level=r.level, level_label=LEVEL_LABELS[r.level], kind=r.kind,
                   parent_code=r.parent_code, lineage=[RegionRef.of(x) for x in lineage],
                   center_lon=r.center_lon, center_lat=r.center_lat,
                   area_m2=round(r.area_m2, 1) if r.area_m2 is not None else None)


class Point(BaseModel):
    lon: float
    lat: float


class LocateOut(BaseModel):
    grid: RegionRef
    community: RegionRef | None
    street: RegionRef | None
    district: RegionRef | None
    city: RegionRef | None
    wgs84: Point
    crs: str
