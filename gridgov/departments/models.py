from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridgov.core.db import Base, UTCDateTime, utcnow
from gridgov.regions.models import Region

# The roles that belong to a department and take its cases.
DEPARTMENT_ROLES = ("dept_handler", "dept_admin")
DEPARTMENT_LEVELS = {"district_bureau": "区直部门", "street_office": "街道办事处", "utility": "公共事业单位"}


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    # The region the department serves (its own subtree); access follows it.
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    region: Mapped[Region] = relationship(lazy="joined")


class AreaAssignment(Base):
    """Which handler of a department answers for which region subtree. The most specific
    region wins when cases are routed."""

    __tablename__ = "area_assignments"
    __table_args__ = (UniqueConstraint("department_id", "region_code", "handler_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    handler_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    region: Mapped[Region] = relationship(lazy="joined")
