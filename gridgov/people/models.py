"""Residents (实有人口), houses (实有房屋), who lives where, tags and their history.

ID and phone numbers are never stored in the clear: `*_cipher` holds AES-GCM, `*_hash` a keyed
hash for exact lookup, `*_masked` what every screen shows, and `*_tail` the last four characters
that the masked form shows anyway, so "后四位" searches run on an index.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.core.db import Base, UTCDateTime, utcnow
from gridgov.people.identity import INITIALS_MAX, PINYIN_MAX

TAGGED = "active_tags <> ''"  # the condition of the tagged people's indexes; a search names it to use them


def search_key(length: int) -> String:
    """Byte-order collation on PostgreSQL, as SQLite has it, so a prefix is one index range whatever
    collation the database was created with."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class Resident(Base):
    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # registered 户籍 | floating 流动 | overseas 境外
    name: Mapped[str] = mapped_column(search_key(60))
    name_pinyin: Mapped[str] = mapped_column(search_key(PINYIN_MAX))  # "zhangsan"
    name_initials: Mapped[str] = mapped_column(search_key(INITIALS_MAX))  # "zs"
    id_type: Mapped[str] = mapped_column(String(10))  # ric 身份证 | passport 护照 | permit 通行证/居留证
    id_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    id_masked: Mapped[str] = mapped_column(String(40))
    id_tail: Mapped[str] = mapped_column(search_key(4))
    gender: Mapped[str] = mapped_column(String(1), default="")  # M | F
    birth_date: Mapped[date | None] = mapped_column(Date)
    nationality: Mapped[str] = mapped_column(String(40), default="中国")
    ethnicity: Mapped[str] = mapped_column(String(20), default="")
    phone_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_masked: Mapped[str] = mapped_column(String(20), default="")
    phone_tail: Mapped[str] = mapped_column(search_key(4), default="")
    education: Mapped[str] = mapped_column(String(20), default="")
    occupation: Mapped[str] = mapped_column(String(60), default="")
    employer: Mapped[str] = mapped_column(String(120), default="")
    hukou_address: Mapped[str] = mapped_column(String(200), default="")  # 户籍地址
    address: Mapped[str] = mapped_column(String(200), default="")  # 现住址
    household_status: Mapped[str] = mapped_column(String(10), default="")  # 人户同在 | 户在人不在 | 人在户不在
    # No index of its own: ix_residents_grid_id begins with it (one index fewer for every import to keep).
    grid_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    region_path: Mapped[str] = mapped_column(String(80))
    # The codes of the person's active tags, sorted, as ",code1,code2," ('' when none): the search
    # indexes below carry it, so a tag filter is checked in the index instead of in resident_tags once
    # per candidate. tagging.sync_active_tags writes it whenever a tag becomes or stops being active.
    # A server default only: a new person has no tags, and bulk inserts need not name the column.
    active_tags: Mapped[str] = mapped_column(String(600), server_default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    sources: Mapped[list] = mapped_column(JSON, default=list)  # departments whose data this record merges
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}
    # Each search walks one of these in order and stops at a page: (key, id) keeps paging stable. The
    # columns after the unique id do not change that order; they are there so that what a search
    # checks besides the key is read from the index, not from rows it rejects: the jurisdiction
    # (grid_code), the tag (active_tags), and what an earlier key of the same search matched (the
    # initials search leaves out whom the pinyin one found, the phone-tail one whom the ID-tail found).
    __table_args__ = (
        Index("ix_residents_name_id", "name", "id", "grid_code", "active_tags"),
        Index("ix_residents_pinyin_id", "name_pinyin", "id", "grid_code", "active_tags"),
        Index("ix_residents_initials_id", "name_initials", "id", "grid_code", "active_tags", "name_pinyin"),
        Index("ix_residents_id_tail", "id_tail", "id", "grid_code", "active_tags"),
        Index("ix_residents_phone_tail", "phone_tail", "id", "grid_code", "active_tags", "id_tail"),
        Index("ix_residents_region_path_id", "region_path", "id"),
        # The tagged people alone (15% of a register). A name with a tag walks only those under that
        # name: a common surname with a rare tag is the long case, and this keeps it a seventh as
        # long. A tag alone starts from the tag's own rows, and checks each person's grid here
        # rather than in the table.
        Index("ix_residents_tagged_id", "id", "grid_code", "active_tags",
              postgresql_where=text(TAGGED), sqlite_where=text(TAGGED)),
        Index("ix_residents_tagged_name_id", "name", "id", "grid_code", "active_tags",
              postgresql_where=text(TAGGED), sqlite_where=text(TAGGED)),
        Index("ix_residents_tagged_pinyin_id", "name_pinyin", "id", "grid_code", "active_tags",
              postgresql_where=text(TAGGED), sqlite_where=text(TAGGED)),
        Index("ix_residents_tagged_initials_id", "name_initials", "id", "grid_code", "active_tags", "name_pinyin",
              postgresql_where=text(TAGGED), sqlite_where=text(TAGGED)),
        # A grid worker searches one grid: the grid, then the key, in order.
        Index("ix_residents_grid_name_id", "grid_code", "name", "id"),
        Index("ix_residents_grid_pinyin_id", "grid_code", "name_pinyin", "id"),
        Index("ix_residents_grid_initials_id", "grid_code", "name_initials", "id"),
        Index("ix_residents_grid_id", "grid_code", "id", "active_tags"),
    )


class ResidentConflict(Base):
    """A value from an import that disagrees with the register; a person decides which stands."""

    __tablename__ = "resident_conflicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(30))
    current_value: Mapped[str] = mapped_column(Text, default="")  # masked for personal data
    proposed_value: Mapped[str] = mapped_column(Text, default="")  # masked for personal data
    proposed_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)  # the real value, for phone
    source: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | kept | replaced
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Building(Base):
    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("grid_code", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))  # 建设小区3栋
    address: Mapped[str] = mapped_column(String(200), default="")
    grid_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    region_path: Mapped[str] = mapped_column(String(80), index=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    floors: Mapped[int | None] = mapped_column(Integer)
    structure: Mapped[str] = mapped_column(String(20), default="")  # 砖混 / 框架 / …
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class House(Base):
    """A room (房间/户) in a unit of a building."""

    __tablename__ = "houses"
    __table_args__ = (UniqueConstraint("building_id", "unit", "room"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"), index=True)
    unit: Mapped[str] = mapped_column(String(20), default="")  # 单元
    room: Mapped[str] = mapped_column(String(20))
    floor: Mapped[int | None] = mapped_column(Integer)
    area_m2: Mapped[float | None] = mapped_column(Float)
    use: Mapped[str] = mapped_column(String(10), default="住宅")  # 住宅 商铺 办公 厂房 仓储 其他
    ownership: Mapped[str] = mapped_column(String(10), default="商品房")  # 商品房 房改房 公租房 自建房 单位产权 其他
    rented: Mapped[bool] = mapped_column(Boolean, default=False)
    grid_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    region_path: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(240), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Residence(Base):
    """A person–house relation: 居住 lives, 产权 owns, 租住 rents (the tenant record)."""

    __tablename__ = "residences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    house_id: Mapped[int] = mapped_column(ForeignKey("houses.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str] = mapped_column(String(4))  # 居住 | 产权 | 租住
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TagKind(Base):
    """A special group and how often its people are visited (an editable table)."""

    __tablename__ = "tag_kinds"

    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    visit_days: Mapped[int] = mapped_column(Integer, default=0)  # 0: not visited on a schedule
    sort: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ResidentTag(Base):
    """One row per person and tag; its status moves, its history is in TagEvent."""

    __tablename__ = "resident_tags"
    __table_args__ = (
        UniqueConstraint("resident_id", "tag_code"),
        Index("ix_resident_tags_tag_status_resident", "tag_code", "status", "resident_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    tag_code: Mapped[str] = mapped_column(ForeignKey("tag_kinds.code"))
    status: Mapped[str] = mapped_column(String(10))  # proposed | active | rejected | removed
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(40), default="manual")  # manual | import | rule:<name>
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class TagEvent(Base):
    """Immutable history of a tag: who proposed, added, changed, confirmed or removed it, and why."""

    __tablename__ = "tag_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_tag_id: Mapped[int] = mapped_column(ForeignKey("resident_tags.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    tag_code: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(10))  # propose | add | change | confirm | reject | remove
    before: Mapped[dict] = mapped_column(JSON, default=dict)
    after: Mapped[dict] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(String(300), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportRun(Base):
    """An Excel import: progress for the page and the CLI, and where the error workbook is."""

    __tablename__ = "import_runs"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key", name="uq_import_runs_user_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # residents | houses | relations | tags
    mode: Mapped[str] = mapped_column(String(20))  # all_or_nothing | good_rows (14 characters: 0006 widens it)
    filename: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(60), default="")  # the department the data came from
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued | running | done | failed
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    imported_rows: Mapped[int] = mapped_column(Integer, default=0)
    bad_rows: Mapped[int] = mapped_column(Integer, default=0)
    conflicts: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    error_file: Mapped[str] = mapped_column(String(300), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The uploader's Idempotency-Key (or the upload form's own): a resent upload finds its first run.
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Written with every batch while queued or running: a run whose heartbeat stops has lost its process.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
