"""The catalog (事项清单): categories (大类/小类) and items (事项).

Anyone logged in may read the catalog; changing it needs `catalog.manage`. Codes are
hierarchical — 大类 two digits, 小类 four digits starting with its 大类, item six digits
starting with its 小类 — so a code alone says where an item belongs. Services never commit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from gridgov.accounts.access import Principal
from gridgov.catalog.models import HANDLING_LEVELS, TIME_UNITS, TIMED_STEPS, CatalogItem, Category
from gridgov.core.errors import FieldProblem, NotFound, ValidationFailed
from gridgov.departments.models import Department

MANAGE = "catalog.manage"
# ASCII digits only: `\d` also takes full-width ０-９ (typed with a Chinese IME) and other scripts'
# digits, which look like a code but would make a second 大类 "０１" beside 01.
MAJOR_CODE = re.compile(r"^[0-9]{2}$")
MINOR_CODE = re.compile(r"^[0-9]{4}$")
ITEM_CODE = re.compile(r"^[0-9]{6}$")
CATEGORY_KINDS = {"urban": "城市管理", "social": "社会治理"}
URBAN_MAJORS = {"01", "02", "03", "04", "05"}  # the CJ/T 214 event classes
MAX_AMOUNT = 10000
MAX_STANDARD = 2000
ITEM_FIELDS = ("code", "name", "category_code", "department_code", "handling_level", "registration_standard",
               "closure_standard", "time_limits", "keywords", "self_handle", "active")
# An item's department comes along; the department's region only when asked for.
ITEM_LOAD = (joinedload(CatalogItem.department).lazyload(Department.region),)
_KEYWORD_SPLIT = re.compile(r"[\s,，、;；]+")
# Control characters: an .xlsx cannot hold them (the export would fail) and no one types them;
# they come with text pasted from Word (\x0b is its manual line break) or a form (\r\n).
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_TRUE = {"1", "true", "yes", "y", "是", "对", "√", "on"}
_FALSE = {"0", "false", "no", "n", "否", "", "off"}


# --- reading ---

def list_categories(db: Session) -> list[Category]:
    return list(db.scalars(select(Category).order_by(Category.code)))


def get_category_by_code(db: Session, code: str) -> Category:
    row = db.scalar(select(Category).where(Category.code == code))
    if row is None:
        raise NotFound("找不到类别 {category}", category=code)
    return row


def list_items(db: Session, *, category: str | None = None, department: str | None = None,
               q: str | None = None, active: bool | None = None) -> list[CatalogItem]:
    """Items in code order. `category` is a 大类 or 小类 code (codes nest, so a prefix selects a
    大类's items); `department` a department code; `q` searches code, name and keywords."""
    stmt = select(CatalogItem).options(*ITEM_LOAD).join(Category, Category.id == CatalogItem.category_id)
    if category:
        stmt = stmt.where(Category.code.startswith(category.strip(), autoescape=True))
    if department:
        stmt = stmt.where(CatalogItem.department.has(Department.code == department.strip().upper()))
    if q and q.strip():
        for word in q.split():
            stmt = stmt.where(or_(CatalogItem.code.contains(word, autoescape=True),
                                  CatalogItem.name.contains(word, autoescape=True),
                                  CatalogItem.keywords.contains(word, autoescape=True),
                                  Category.name.contains(word, autoescape=True)))
    if active is not None:
        stmt = stmt.where(CatalogItem.active.is_(active))
    return list(db.scalars(stmt.order_by(CatalogItem.code)).unique())


def get_item(db: Session, item_id: int) -> CatalogItem:
    item = db.get(CatalogItem, item_id, options=ITEM_LOAD)
    if item is None:
        raise NotFound("找不到事项 {item}", item=item_id)
    return item


def get_item_by_code(db: Session, code: str) -> CatalogItem:
    item = db.scalar(select(CatalogItem).options(*ITEM_LOAD).where(CatalogItem.code == code))
    if item is None:
        raise NotFound("找不到事项 {item}", item=code)
    return item


def step_limit(item: CatalogItem, step: str) -> tuple[int | float, str] | None:
    """The (amount, unit) limit of one step of an item, or None when the step is not timed."""
    limit = (item.time_limits or {}).get(step)
    return (limit["amount"], limit["unit"]) if limit else None


# --- normalising input ---

def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def clean_text(value: Any, *, multiline: bool = False) -> str:
    """Text as stored: line breaks are "\n" (a form sends "\r\n", Word pastes "\x0b"), or spaces
    in a one-line field; other control characters are dropped; surrounding blanks stripped."""
    text = _CONTROL.sub("", _LINE_BREAKS.sub("\n", _text(value)))
    if not multiline:
        text = text.replace("\n", " ").replace("\t", " ")
    return text.strip()


def normalise_keywords(value: Any) -> str:
    words = value if isinstance(value, list | tuple) else _KEYWORD_SPLIT.split(clean_text(value))
    seen: dict[str, None] = {}
    for w in words:
        w = clean_text(w)
        if w:
            seen.setdefault(w, None)
    return " ".join(seen)


def parse_bool(value: Any) -> bool | None:
    """True/False from a checkbox, JSON or a spreadsheet cell (是/否); None when it is neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def parse_level(value: Any) -> str | None:
    text = _text(value)
    if text in HANDLING_LEVELS:
        return text
    return next((k for k, label in HANDLING_LEVELS.items() if label == text), None)


def parse_unit(value: Any) -> str | None:
    text = _text(value)
    if text in TIME_UNITS:
        return text
    return next((k for k, label in TIME_UNITS.items() if label == text), None)


def parse_kind(value: Any) -> str | None:
    text = _text(value)
    if text in CATEGORY_KINDS:
        return text
    return next((k for k, label in CATEGORY_KINDS.items() if label == text), None)


def parse_amount(value: Any) -> int | float | None:
    """A positive finite number (whole numbers come back as int); None when it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(_text(value))
        except ValueError:
            return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else number


def kind_for(major_code: str) -> str:
    return "urban" if major_code in URBAN_MAJORS else "social"


def _choices(labels: Mapping[str, str]) -> str:
    return "、".join(f"{k}（{v}）" for k, v in labels.items())


# --- checking an item ---

@dataclass
class Known:
    """What item values are checked against: department codes and 小类 codes (those in the
    database, plus, during an import, those the file itself introduces)."""

    departments: dict[str, int]
    minors: set[str]
    item_exists: Callable[[str], bool] = lambda _code: False

    @classmethod
    def of(cls, db: Session) -> Known:
        return cls(departments=dict(db.execute(select(Department.code, Department.id)).all()),
                   minors=set(db.scalars(select(Category.code).where(Category.parent_id.is_not(None)))),
                   item_exists=lambda code: db.scalar(select(CatalogItem.id).where(CatalogItem.code == code))
                   is not None)


@dataclass
class Checked:
    values: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, FieldProblem] = field(default_factory=dict)


def check_time_limits(raw: Any, problems: dict[str, FieldProblem]) -> dict[str, dict]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems["time_limits"] = FieldProblem("时限必须是按环节给出数量和单位的对象")
        return {}
    clean: dict[str, dict] = {}
    for step, limit in raw.items():
        key = f"time_limits.{step}"
        if step not in TIMED_STEPS:
            problems[key] = FieldProblem("未知环节，应为以下之一：{expected}", expected=_choices(TIMED_STEPS))
            continue
        if not isinstance(limit, Mapping):
            problems[key] = FieldProblem("时限必须包含数量（amount）和单位（unit）")
            continue
        amount_raw, unit_raw = limit.get("amount"), limit.get("unit")
        amount = parse_amount(amount_raw)
        if _text(amount_raw) == "":
            problems[f"{key}.amount"] = FieldProblem("必填")
        elif amount is None:
            problems[f"{key}.amount"] = FieldProblem("必须是数字")
        elif amount <= 0:
            problems[f"{key}.amount"] = FieldProblem("必须大于 {limit}", limit=0)
        elif amount > MAX_AMOUNT:
            problems[f"{key}.amount"] = FieldProblem("不能大于 {limit}", limit=MAX_AMOUNT)
        unit = parse_unit(unit_raw)
        if _text(unit_raw) == "":
            problems[f"{key}.unit"] = FieldProblem("必填")
        elif unit is None:
            problems[f"{key}.unit"] = FieldProblem("时限单位必须是以下之一：{expected}", expected=_choices(TIME_UNITS))
        if f"{key}.amount" not in problems and f"{key}.unit" not in problems:
            clean[step] = {"amount": amount, "unit": unit}
    # Steps in their lifecycle order, so equal limits compare and export alike.
    return {s: clean[s] for s in TIMED_STEPS if s in clean}


def check_item(values: Mapping[str, Any], known: Known, *, current: CatalogItem | None = None) -> Checked:
    """Checks the given item fields. Creating (`current` None) needs code, name, category_code,
    department_code and handling_level; updating checks only the fields given. Returns the
    normalised values and, per field, what is wrong."""
    out = Checked()
    p = out.problems
    given = {k: values[k] for k in ITEM_FIELDS if k in values}
    creating = current is None
    for required in ("code", "name", "category_code", "department_code", "handling_level"):
        # Also when an update clears one: the rule broken is "required", not the code's format.
        if (creating or required in given) and _text(given.get(required)) == "":
            p[required] = FieldProblem("必填")

    if creating and "code" not in p:
        code = _text(given["code"])
        if not ITEM_CODE.match(code):
            p["code"] = FieldProblem("事项编码必须是 6 位数字")
        elif known.item_exists(code):
            p["code"] = FieldProblem("事项编码 {code} 已存在", code=code)
        else:
            out.values["code"] = code
    if "name" in given and "name" not in p:
        name = clean_text(given["name"])
        if not name:
            p["name"] = FieldProblem("必填")
        elif len(name) > 100:
            p["name"] = FieldProblem("长度不能超过 {limit}", limit=100)
        else:
            out.values["name"] = name
    if "category_code" in given and "category_code" not in p:
        minor = _text(given["category_code"])
        item_code = current.code if current else out.values.get("code")
        if not MINOR_CODE.match(minor):
            p["category_code"] = FieldProblem("小类编码必须是 4 位数字")
        elif minor not in known.minors:
            p["category_code"] = FieldProblem("小类 {code} 不存在", code=minor)
        elif current is not None and not current.code.startswith(minor):
            p["category_code"] = FieldProblem("事项编码 {code} 只能归入小类 {minor}", code=current.code,
                                              minor=current.code[:4])
        else:
            out.values["category_code"] = minor
        if item_code and "category_code" not in p and not item_code.startswith(minor):
            p["code"] = FieldProblem("事项编码必须以小类编码 {minor} 开头", minor=minor)
            out.values.pop("code", None)
    if "department_code" in given and "department_code" not in p:
        dept = _text(given["department_code"]).upper()
        if dept not in known.departments:
            p["department_code"] = FieldProblem("部门代码 {code} 不存在", code=dept)
        else:
            out.values["department_id"] = known.departments[dept]
    if "handling_level" in given and "handling_level" not in p:
        level = parse_level(given["handling_level"])
        if level is None:
            p["handling_level"] = FieldProblem("处置层级必须是以下之一：{expected}", expected=_choices(HANDLING_LEVELS))
        else:
            out.values["handling_level"] = level
    for key in ("registration_standard", "closure_standard"):
        if key in given:
            text = clean_text(given[key], multiline=True)
            if len(text) > MAX_STANDARD:
                p[key] = FieldProblem("长度不能超过 {limit}", limit=MAX_STANDARD)
            else:
                out.values[key] = text
    if "time_limits" in given:
        before = len(p)
        limits = check_time_limits(given["time_limits"], p)
        if len(p) == before:
            out.values["time_limits"] = limits
    if "keywords" in given:
        words = normalise_keywords(given["keywords"])
        if len(words) > 400:
            p["keywords"] = FieldProblem("长度不能超过 {limit}", limit=400)
        else:
            out.values["keywords"] = words
    for key in ("self_handle", "active"):
        if given.get(key) is not None:  # JSON null is "not stated": the item keeps its flag (a new one, the default)
            flag = parse_bool(given[key])
            if flag is None:
                p[key] = FieldProblem("必须是“是”或“否”")
            else:
                out.values[key] = flag
    return out


def apply_item(db: Session, item: CatalogItem | None, values: Mapping[str, Any],
               category_ids: Mapping[str, int] | None = None) -> tuple[CatalogItem, bool]:
    """Writes checked values onto an item (a new one when `item` is None); returns it and
    whether anything changed. Only changed attributes are set, so an unchanged item keeps
    its `updated_at`."""
    changes = dict(values)
    if "category_code" in changes:
        minor = changes.pop("category_code")
        changes["category_id"] = (category_ids or {}).get(minor) or get_category_by_code(db, minor).id
    if item is None:
        defaults = {"registration_standard": "", "closure_standard": "", "time_limits": {}, "keywords": "",
                    "self_handle": False, "active": True}
        item = CatalogItem(**{**defaults, **changes})
        db.add(item)
        db.flush()
        return item, True
    changed = False
    for key, value in changes.items():
        if key == "code":
            continue
        if getattr(item, key) != value:
            setattr(item, key, value)
            changed = True
    if changed:
        db.flush()
        db.expire(item, ["department", "category"])  # follow the changed ids
    return item, changed


CATALOG_KEY = "catalog"  # its version in `meta`: other processes' suggestion indexes follow it


def _forget_suggestion_index(db: Session) -> None:
    """After a change to the catalog: this process drops its suggestion index now, the others see
    the version move when the change commits (a renamed category changes neither the items' count
    nor their last change, which is all the index's other signature reads)."""
    from gridgov.catalog import suggest
    from gridgov.regions.service import bump_meta

    bump_meta(db, CATALOG_KEY)
    suggest.forget()


def create_item(db: Session, who: Principal, values: Mapping[str, Any]) -> CatalogItem:
    who.require(MANAGE)
    checked = check_item(values, Known.of(db))
    if checked.problems:
        raise ValidationFailed(checked.problems)
    item, _ = apply_item(db, None, checked.values)
    _forget_suggestion_index(db)
    return item


def update_item(db: Session, who: Principal, code: str, values: Mapping[str, Any]) -> CatalogItem:
    """Changes the fields given (the code itself stays: cases refer to it)."""
    who.require(MANAGE)
    item = get_item_by_code(db, code)
    checked = check_item({k: v for k, v in values.items() if k != "code"}, Known.of(db), current=item)
    if checked.problems:
        raise ValidationFailed(checked.problems)
    item, changed = apply_item(db, item, checked.values)
    if changed:
        _forget_suggestion_index(db)
    return item


# --- categories ---

def check_category(db: Session, *, code: Any, name: Any, kind: Any = None,
                   creating: bool = True) -> tuple[dict[str, Any], dict[str, FieldProblem]]:
    problems: dict[str, FieldProblem] = {}
    values: dict[str, Any] = {}
    code = _text(code)
    if creating:
        if not code:
            problems["code"] = FieldProblem("必填")
        elif MAJOR_CODE.match(code):
            values["parent_id"] = None
        elif MINOR_CODE.match(code):
            parent = db.scalar(select(Category).where(Category.code == code[:2], Category.parent_id.is_(None)))
            if parent is None:
                problems["code"] = FieldProblem("大类 {code} 不存在，请先建立大类", code=code[:2])
            else:
                values["parent_id"] = parent.id
                values["kind"] = parent.kind
        else:
            problems["code"] = FieldProblem("类别编码必须是 2 位数字（大类）或 4 位数字（小类）")
        if "code" not in problems:
            if db.scalar(select(Category.id).where(Category.code == code)) is not None:
                problems["code"] = FieldProblem("类别编码 {code} 已存在", code=code)
            else:
                values["code"] = code
    if name is not None or creating:
        text = clean_text(name)
        if not text:
            problems["name"] = FieldProblem("必填")
        elif len(text) > 60:
            problems["name"] = FieldProblem("长度不能超过 {limit}", limit=60)
        else:
            values["name"] = text
    if kind is not None and _text(kind) != "":
        parsed = parse_kind(kind)
        if parsed is None:
            problems["kind"] = FieldProblem("必须是以下之一：{expected}", expected=_choices(CATEGORY_KINDS))
        elif "kind" not in values:  # a 小类 always takes its 大类's kind
            values["kind"] = parsed
    elif creating and "kind" not in values and "code" in values:
        values["kind"] = kind_for(values["code"])
    return values, problems


def create_category(db: Session, who: Principal, *, code: str, name: str, kind: str | None = None) -> Category:
    who.require(MANAGE)
    values, problems = check_category(db, code=code, name=name, kind=kind)
    if problems:
        raise ValidationFailed(problems)
    row = Category(**values)
    db.add(row)
    db.flush()
    _forget_suggestion_index(db)
    return row


def update_category(db: Session, who: Principal, code: str, *, name: str | None = None,
                    kind: str | None = None) -> Category:
    """Renames a category or changes a 大类's kind (its 小类 follow)."""
    who.require(MANAGE)
    row = get_category_by_code(db, code)
    values, problems = check_category(db, code=code, name=name, kind=kind, creating=False)
    if problems:
        raise ValidationFailed(problems)
    if "kind" in values and row.parent_id is not None and values["kind"] != row.kind:
        raise ValidationFailed({"kind": FieldProblem("小类的类型随其大类，请修改大类")})
    for key, value in values.items():
        setattr(row, key, value)
    if "kind" in values and row.parent_id is None:
        for child in db.scalars(select(Category).where(Category.parent_id == row.id)):
            child.kind = values["kind"]
    db.flush()
    _forget_suggestion_index(db)
    return row
