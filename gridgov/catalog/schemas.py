from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from gridgov.catalog.models import HANDLING_LEVELS, TIME_UNITS, TIMED_STEPS, CatalogItem, Category
from gridgov.catalog.service import CATEGORY_KINDS


class CategoryRef(BaseModel):
    code: str
    name: str


class DepartmentRef(BaseModel):
    id: int
    code: str
    name: str


class TimeLimitOut(BaseModel):
    amount: float | int
    unit: str
    unit_label: str
    step_label: str


class ItemOut(BaseModel):
    id: int
    code: str
    name: str
    category: CategoryRef  # the 小类
    major: CategoryRef  # its 大类
    department: DepartmentRef
    handling_level: str
    handling_level_label: str
    registration_standard: str
    closure_standard: str
    time_limits: dict[str, TimeLimitOut]  # step → limit, in lifecycle order
    keywords: list[str]
    self_handle: bool
    active: bool
    updated_at: datetime

    @classmethod
    def of(cls, item: CatalogItem, categories: dict[int, Category]) -> ItemOut:
        minor = categories[item.category_id]
        major = categories.get(minor.parent_id, minor) if minor.parent_id else minor
        limits = {step: TimeLimitOut(amount=v["amount"], unit=v["unit"], unit_label=TIME_UNITS.get(v["unit"], ""),
                                     step_label=TIMED_STEPS[step])
                  for step, v in (item.time_limits or {}).items() if step in TIMED_STEPS}
        return cls(id=item.id, code=item.code, name=item.name, category=CategoryRef(code=minor.code, name=minor.name),
                   major=CategoryRef(code=major.code, name=major.name),
                   department=DepartmentRef(id=item.department.id, code=item.department.code,
                                            name=item.department.name),
                   handling_level=item.handling_level,
                   handling_level_label=HANDLING_LEVELS.get(item.handling_level, item.handling_level),
                   registration_standard=item.registration_standard, closure_standard=item.closure_standard,
                   time_limits=limits, keywords=item.keywords.split(), self_handle=item.self_handle,
                   active=item.active, updated_at=item.updated_at)


class CategoryOut(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    kind_label: str
    parent_code: str | None
    item_count: int

    @classmethod
    def of(cls, c: Category, categories: dict[int, Category], item_count: int) -> CategoryOut:
        parent = categories.get(c.parent_id) if c.parent_id else None
        return cls(id=c.id, code=c.code, name=c.name, kind=c.kind, kind_label=CATEGORY_KINDS.get(c.kind, c.kind),
                   parent_code=parent.code if parent else None, item_count=item_count)


class ItemCreate(BaseModel):
    """Codes and choices are checked by the service, which names the field and the rule."""

    code: str = Field(max_length=40)
    name: str = Field(max_length=200)
    category_code: str = Field(max_length=40, description="the 小类 code")
    department_code: str = Field(max_length=40)
    handling_level: str = Field(description="community | street | district (or 社区/街道/区)")
    registration_standard: str = ""
    closure_standard: str = ""
    time_limits: dict[str, Any] = Field(default_factory=dict,
                                        description='step → {"amount": number > 0, "unit": one of TIME_UNITS}')
    keywords: list[str] | str = ""
    self_handle: bool = False
    active: bool = True


class ItemUpdate(BaseModel):
    """Only the fields sent change; the code stays."""

    name: str | None = Field(default=None, max_length=200)
    category_code: str | None = Field(default=None, max_length=40)
    department_code: str | None = Field(default=None, max_length=40)
    handling_level: str | None = None
    registration_standard: str | None = None
    closure_standard: str | None = None
    time_limits: dict[str, Any] | None = None
    keywords: list[str] | str | None = None
    self_handle: bool | None = None
    active: bool | None = None


class CategoryCreate(BaseModel):
    code: str = Field(max_length=40, description="2 digits: 大类; 4 digits starting with its 大类: 小类")
    name: str = Field(max_length=200)
    kind: str | None = Field(default=None, description="urban | social (a 小类 takes its 大类's)")


class CategoryUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    kind: str | None = None


class SuggestionOut(BaseModel):
    item: ItemOut
    score: float
    reasons: list[str]


class ImportRowError(BaseModel):
    row: int
    column: str
    reason: str


class ImportReportOut(BaseModel):
    mode: str
    ok: bool
    written: bool
    rows: int
    good_rows: int
    bad_rows: int
    created: int
    updated: int
    unchanged: int
    categories_created: int
    categories_updated: int
    errors: list[ImportRowError]
    error_workbook: str | None = Field(description="base64 of an .xlsx holding the bad rows with 错误原因, or null")
    error_workbook_filename: str | None
