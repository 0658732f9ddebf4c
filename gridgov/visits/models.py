"""Grid workers' visits to tagged people and their logged services (走访、服务)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.core.db import Base, UTCDateTime, utcnow


class Visit(Base):
    """A visit that is due (generated from a tag's frequency) or done. Overdue is a due visit
    whose date has passed; it stays on the worker's list until it is done."""

    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("resident_id", "tag_code", "due_date"),
        Index("ix_visits_worker_status_due", "worker_id", "status", "due_date"),
        Index("ix_visits_region_status_due", "region_path", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    tag_code: Mapped[str] = mapped_column(String(30), default="")  # "" for a visit not from a schedule
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    grid_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    region_path: Mapped[str] = mapped_column(String(80))
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="due")  # due | done
    visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    place: Mapped[str] = mapped_column(String(200), default="")
    met: Mapped[str] = mapped_column(String(60), default="")  # 本人 / 家属 / 邻居 / 未见到
    findings: Mapped[str] = mapped_column(Text, default="")
    follow_up: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))  # a finding turned into an event
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class VisitPhoto(Base):
    __tablename__ = "visit_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServiceRecord(Base):
    """A service a grid worker gave, typed by the six roles (六员)."""

    __tablename__ = "service_records"
    __table_args__ = (Index("ix_service_records_region_served", "region_path", "served_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(10))  # collect help law rights mediate risk
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"), index=True)
    grid_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    region_path: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(120))
    content: Mapped[str] = mapped_column(Text, default="")
    served_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
