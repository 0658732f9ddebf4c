from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridgov.core.db import Base, UTCDateTime, utcnow
from gridgov.departments.models import Department

HANDLING_LEVELS = {"community": "社区", "street": "街道", "district": "区"}
TIME_UNITS = {"urgent_hours": "紧急工作时", "work_hours": "工作时", "work_days": "工作日", "calendar_days": "自然日"}
TIMED_STEPS = {"register": "立案", "dispatch": "派遣", "sign": "签收", "handle": "处置", "verify": "核查",
               "close": "结案"}


class Category(Base):
    """大类 (parent_id is None) or 小类 (parent_id is its 大类)."""

    __tablename__ = "catalog_categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_categories.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="urban")  # urban (CJ/T 214) | social


class CatalogItem(Base):
    """An event-handling matter (事项): who handles it, at which level, within which limits."""

    __tablename__ = "catalog_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    category_id: Mapped[int] = mapped_column(ForeignKey("catalog_categories.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    handling_level: Mapped[str] = mapped_column(String(10))
    registration_standard: Mapped[str] = mapped_column(Text, default="")
    closure_standard: Mapped[str] = mapped_column(Text, default="")
    # {"dispatch": {"amount": 2, "unit": "work_hours"}, "handle": {...}, ...}
    time_limits: Mapped[dict] = mapped_column(JSON, default=dict)
    keywords: Mapped[str] = mapped_column(String(400), default="")  # space separated
    self_handle: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    category: Mapped[Category] = relationship(lazy="joined")
    department: Mapped[Department] = relationship(lazy="joined")
