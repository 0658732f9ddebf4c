"""The missing-prone registry (易走失人员名册) and its alerts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.core.db import Base, UTCDateTime, utcnow


class MissingProne(Base):
    __tablename__ = "missing_prone"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")  # 体貌特征: height, build, clothing habits
    condition: Mapped[str] = mapped_column(String(200), default="")  # 阿尔茨海默病 / 智力残疾 / …
    guardian_name: Mapped[str] = mapped_column(String(60), default="")
    guardian_phone_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    guardian_phone_masked: Mapped[str] = mapped_column(String(20), default="")
    contacts_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)  # JSON list of {name, relation, phone}
    home_address: Mapped[str] = mapped_column(String(200), default="")
    home_lon: Mapped[float | None] = mapped_column(Float)
    home_lat: Mapped[float | None] = mapped_column(Float)
    grid_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    region_path: Mapped[str] = mapped_column(String(80), index=True)
    photo_filename: Mapped[str] = mapped_column(String(200), default="")
    photo_content_type: Mapped[str] = mapped_column(String(80), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MissingAlert(Base):
    __tablename__ = "missing_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("missing_prone.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)  # open | found | cancelled
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    place: Mapped[str] = mapped_column(String(200), default="")
    radius_m: Mapped[int] = mapped_column(Integer, default=2000)
    grid_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))  # where the person was last seen
    region_path: Mapped[str] = mapped_column(String(80), index=True)  # the home grid's path
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class MissingAlertEvent(Base):
    """The alert's timeline: reported, each sighting, found or cancelled."""

    __tablename__ = "missing_alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("missing_alerts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # report | sighting | found | cancel | note
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    place: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
