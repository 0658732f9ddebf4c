from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.core.db import Base, UTCDateTime, utcnow

# Levels of the region tree, top down (DESIGN §3).
LEVELS = ("city", "district", "street", "community", "grid")
LEVEL_LABELS = {"city": "市", "district": "区县", "street": "街道乡镇", "community": "社区村", "grid": "网格"}
CODE_LENGTHS = {"city": 6, "district": 6, "street": 9, "community": 12, "grid": 14}


class Region(Base):
    """A node of the region tree. `path` lists the codes from the root, so a jurisdiction's
    subtree is one indexed prefix match in any database."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(14), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(12), index=True)
    kind: Mapped[str] = mapped_column(String(12), default="")  # 街道 / 镇 / 乡 / 社区 / 村 …
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    path: Mapped[str] = mapped_column(String(80), index=True, unique=True)
    geometry: Mapped[str | None] = mapped_column(Text)  # GeoJSON geometry, WGS-84
    area_m2: Mapped[float | None] = mapped_column(Float)
    center_lon: Mapped[float | None] = mapped_column(Float)
    center_lat: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MetaValue(Base):
    """Small key/value facts about the database itself (demo flag, grid layer version)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    counter: Mapped[int] = mapped_column(Integer, default=0)
