"""The catalog in and out of Excel (openpyxl).

One sheet, 事项清单, one item a row, Chinese headers. Import checks every row before it
writes anything, reports each problem with its row number, column header and reason, and
can hand back the bad rows as a workbook with a 错误原因 column (fix them there and import
that file again: the extra columns are ignored). Items are upserted by 事项编码; 大类/小类
named in the file are created when missing. Exporting and importing the result changes nothing.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.catalog import service
from gridgov.catalog.models import HANDLING_LEVELS, TIME_UNITS, TIMED_STEPS, CatalogItem, Category
from gridgov.catalog.service import CATEGORY_KINDS, MAJOR_CODE, MINOR_CODE, Known
from gridgov.core.errors import FieldProblem, ValidationFailed
from gridgov.departments.models import Department

SHEET = "事项清单"
MODES = {"all_or_nothing": "全部正确才导入", "good_rows": "只导入正确的行"}
MAX_ROWS = 5000
MAX_BYTES = 10 * 1024 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

STEP_COLUMNS = {step: (f"{label}时限", f"{label}时限单位") for step, label in TIMED_STEPS.items()}
HEADERS = (["事项编码", "事项名称", "大类编码", "大类名称", "大类类型", "小类编码", "小类名称", "责任部门代码",
            "责任部门名称", "处置层级", "立案标准", "结案标准"]
           + [h for pair in STEP_COLUMNS.values() for h in pair]
           + ["关键词", "网格员可自处理", "启用"])
REQUIRED = ["事项编码", "事项名称", "大类编码", "小类编码", "责任部门代码", "处置层级"]
TEXT_COLUMNS = ["事项编码", "大类编码", "小类编码", "责任部门代码"]
FIELD_COLUMNS = {"code": "事项编码", "name": "事项名称", "category_code": "小类编码", "department_code": "责任部门代码",
                 "handling_level": "处置层级", "registration_standard": "立案标准", "closure_standard": "结案标准",
                 "keywords": "关键词", "self_handle": "网格员可自处理", "active": "启用"}
for _step, (_amount, _unit) in STEP_COLUMNS.items():
    FIELD_COLUMNS[f"time_limits.{_step}"] = _amount
    FIELD_COLUMNS[f"time_limits.{_step}.amount"] = _amount
    FIELD_COLUMNS[f"time_limits.{_step}.unit"] = _unit
OPTIONAL_FIELDS = {"立案标准": "registration_standard", "结案标准": "closure_standard", "关键词": "keywords",
                   "网格员可自处理": "self_handle", "启用": "active"}


# --- export ---

def _yes(flag: bool) -> str:
    return "是" if flag else "否"


def item_row(item: CatalogItem, minor: Category, major: Category) -> list[Any]:
    row: list[Any] = [item.code, item.name, major.code, major.name, CATEGORY_KINDS.get(major.kind, major.kind),
                      minor.code, minor.name, item.department.code, item.department.name,
                      HANDLING_LEVELS.get(item.handling_level, item.handling_level),
                      item.registration_standard, item.closure_standard]
    for step in TIMED_STEPS:
        limit = (item.time_limits or {}).get(step)
        row += [limit["amount"], TIME_UNITS.get(limit["unit"], limit["unit"])] if limit else ["", ""]
    return row + [item.keywords, _yes(item.self_handle), _yes(item.active)]


def export_workbook(db: Session) -> bytes:
    categories = {c.id: c for c in service.list_categories(db)}
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append(HEADERS)
    for item in service.list_items(db):
        minor = categories[item.category_id]
        major = categories.get(minor.parent_id, minor)
        ws.append(item_row(item, minor, major))
    _style(ws)
    _notes(wb.create_sheet("填写说明"))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _style(ws) -> None:
    last = max(ws.max_row, 2) + 1000
    for i, header in enumerate(HEADERS, start=1):
        ws.cell(1, i).font = Font(bold=True)
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = 30 if header in ("立案标准", "结案标准", "关键词") else max(
            10, len(header) * 2 + 2)
        if header in TEXT_COLUMNS:  # codes stay text (a typed number is padded back on import)
            for (cell,) in ws.iter_rows(min_row=2, max_row=ws.max_row, min_col=i, max_col=i):
                cell.number_format = "@"
    ws.freeze_panes = "C2"
    lists = {"处置层级": HANDLING_LEVELS.values(), "大类类型": CATEGORY_KINDS.values(),
             "网格员可自处理": ["是", "否"], "启用": ["是", "否"]}
    lists.update({unit: TIME_UNITS.values() for _a, unit in STEP_COLUMNS.values()})
    for header, choices in lists.items():
        letter = get_column_letter(HEADERS.index(header) + 1)
        dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True)
        dv.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(dv)


def _notes(ws) -> None:
    ws.append(["列", "说明"])
    ws.append(["事项编码", "6 位数字，前 4 位是小类编码；已存在的编码更新该事项，新编码新建事项"])
    ws.append(["大类编码 / 小类编码", "大类 2 位数字；小类 4 位数字，以大类编码开头；不存在的类别按所填名称新建"])
    ws.append(["大类类型", "、".join(CATEGORY_KINDS.values()) + "；留空时 01–05 为城市管理，其余为社会治理"])
    ws.append(["责任部门代码", "系统中已有的部门代码，如 CGJ；责任部门名称列仅供阅读，导入时忽略"])
    ws.append(["处置层级", "、".join(HANDLING_LEVELS.values())])
    units = "、".join(TIME_UNITS.values())
    ws.append(["××时限 / ××时限单位", f"大于 0 的数字和单位（{units}）；两列都留空表示该环节不计时"])
    ws.append(["关键词", "空格分隔"])
    ws.append(["网格员可自处理 / 启用", "是 或 否"])
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 90


# --- import ---

@dataclass
class RowError:
    row: int
    column: str
    problem: FieldProblem

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "reason": self.problem.render(lang)}


@dataclass
class ImportReport:
    mode: str
    headers: list[str] = field(default_factory=list)
    rows: int = 0
    good_rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    categories_created: int = 0
    categories_updated: int = 0
    written: bool = False
    errors: list[RowError] = field(default_factory=list)
    bad_rows: dict[int, list[Any]] = field(default_factory=dict)  # row number → its cells as read

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_workbook(self, lang: str = "zh") -> bytes | None:
        """The bad rows as they were, each with 原行号 and 错误原因; the bad cells are shaded."""
        if not self.errors:
            return None
        wb = Workbook()
        ws = wb.active
        ws.title = SHEET
        headers = self.headers or list(HEADERS)
        ws.append(headers + ["原行号", "错误原因"])
        for i in range(1, len(headers) + 3):
            ws.cell(1, i).font = Font(bold=True)
        by_row: dict[int, list[RowError]] = {}
        for e in self.errors:
            by_row.setdefault(e.row, []).append(e)
        shade = PatternFill("solid", fgColor="F8D7DA")
        for row, errs in sorted(by_row.items()):
            cells = list(self.bad_rows.get(row, []))
            cells += [None] * (len(headers) - len(cells))
            reason = "；".join(f"{e.column}：{e.problem.render(lang)}" for e in errs)
            ws.append(cells[:len(headers)] + [row, reason])
            for e in errs:
                if e.column in headers:
                    ws.cell(ws.max_row, headers.index(e.column) + 1).fill = shade
        ws.column_dimensions[get_column_letter(len(headers) + 2)].width = 80
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        return {"mode": self.mode, "ok": self.ok, "written": self.written, "rows": self.rows,
                "good_rows": self.good_rows, "bad_rows": len({e.row for e in self.errors}),
                "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "categories_created": self.categories_created, "categories_updated": self.categories_updated,
                "errors": [e.as_dict(lang) for e in self.errors]}


def _code(value: Any, width: int) -> str:
    """A code cell as text. Excel turns a typed 010101 into the number 10101: pad it back."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return str(int(value)).zfill(width)
    return service._text(value)


def _open(data: bytes):
    if len(data) > MAX_BYTES:
        raise ValidationFailed({"file": FieldProblem("文件不能超过 {limit} MB", limit=MAX_BYTES // 1024 // 1024)})
    try:
        wb = load_workbook(io.BytesIO(data), data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise ValidationFailed({"file": FieldProblem("不是有效的 Excel（.xlsx）文件")}) from None
    return wb[SHEET] if SHEET in wb.sheetnames else wb.worksheets[0]


@dataclass
class _Row:
    number: int
    cells: dict[str, Any]
    raw: list[Any]
    errors: dict[str, FieldProblem] = field(default_factory=dict)
    major: str = ""
    minor: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    existing: CatalogItem | None = None

    def fail(self, column: str, problem: FieldProblem) -> None:
        self.errors.setdefault(column, problem)


def import_workbook(db: Session, data: bytes, mode: str = "all_or_nothing") -> ImportReport:
    """Checks every row, then writes: nothing at all when any row is bad (`all_or_nothing`), or
    the good rows only (`good_rows`). Permission is the caller's to check (catalog.manage)."""
    if mode not in MODES:
        raise ValidationFailed({"mode": FieldProblem("必须是以下之一：{expected}", expected="、".join(MODES))})
    ws = _open(data)
    report = ImportReport(mode=mode)
    grid = [list(r) for r in ws.iter_rows(values_only=True)]
    if not grid or not any(service._text(v) for v in grid[0]):
        raise ValidationFailed({"file": FieldProblem("第 1 行必须是列名")})
    headers = [service._text(h) for h in grid[0]]
    while headers and headers[-1] == "":
        headers.pop()
    report.headers = headers
    index: dict[str, int] = {}
    for i, h in enumerate(headers):
        if h and h in index:
            report.errors.append(RowError(1, h, FieldProblem("列名重复")))
        elif h:
            index[h] = i
    for h in REQUIRED:
        if h not in index:
            report.errors.append(RowError(1, h, FieldProblem("缺少此列")))
    for amount_col, unit_col in STEP_COLUMNS.values():
        if (amount_col in index) != (unit_col in index):
            missing = unit_col if amount_col in index else amount_col
            report.errors.append(RowError(1, missing, FieldProblem("时限和时限单位两列必须同时出现")))
    rows: list[_Row] = []
    for n, values in enumerate(grid[1:], start=2):
        raw = (values + [None] * len(headers))[:len(headers)]
        if not any(service._text(v) for v in raw):
            continue
        rows.append(_Row(n, {h: raw[i] for h, i in index.items()}, raw))
    report.rows = len(rows)
    if len(rows) > MAX_ROWS:
        raise ValidationFailed({"file": FieldProblem("一次最多导入 {limit} 行", limit=MAX_ROWS)})
    if report.errors:  # the file's shape is wrong: no row can be read
        return report

    names, kinds = _check_rows(db, rows, index)
    for r in rows:
        for column, problem in r.errors.items():
            report.errors.append(RowError(r.number, column, problem))
            report.bad_rows[r.number] = r.raw
    order = {h: i for i, h in enumerate(headers)}
    report.errors.sort(key=lambda e: (e.row, order.get(e.column, len(order))))
    good = [r for r in rows if not r.errors]
    report.good_rows = len(good)
    if report.errors and mode == "all_or_nothing":
        return report
    _write(db, good, report, names, kinds)
    report.written = True
    if report.created or report.updated or report.categories_created or report.categories_updated:
        service._forget_suggestion_index(db)
    return report


def _check_rows(db: Session, rows: list[_Row], index: Mapping[str, int]) -> tuple[dict[str, str], dict[str, str]]:
    """Fills each row's errors and checked values; returns the category names and 大类 kinds the
    file gives (first occurrence of each code)."""
    db_categories = {c.code: c for c in db.scalars(select(Category))}
    items = {i.code: i for i in db.scalars(select(CatalogItem))}
    departments = dict(db.execute(select(Department.code, Department.id)).all())
    first_name: dict[str, tuple[int, str]] = {}
    first_kind: dict[str, tuple[int, str]] = {}
    # Category cells first: which codes the file introduces, under which names.
    for r in rows:
        r.major = _code(r.cells.get("大类编码"), 2)
        r.minor = _code(r.cells.get("小类编码"), 4)
        if not r.major:
            r.fail("大类编码", FieldProblem("必填"))
        elif not MAJOR_CODE.match(r.major):
            r.fail("大类编码", FieldProblem("大类编码必须是 2 位数字"))
        if not r.minor:
            r.fail("小类编码", FieldProblem("必填"))
        elif not MINOR_CODE.match(r.minor):
            r.fail("小类编码", FieldProblem("小类编码必须是 4 位数字"))
        elif "大类编码" not in r.errors and not r.minor.startswith(r.major):
            r.fail("小类编码", FieldProblem("小类编码必须以大类编码 {major} 开头", major=r.major))
        if "大类编码" in r.errors or "小类编码" in r.errors:
            continue
        for code, column in ((r.major, "大类名称"), (r.minor, "小类名称")):
            name = service._text(r.cells.get(column))
            if not name:
                continue
            if len(name) > 60:
                r.fail(column, FieldProblem("长度不能超过 {limit}", limit=60))
            elif code not in first_name:
                first_name[code] = (r.number, name)
            elif first_name[code][1] != name:
                r.fail(column, FieldProblem("与第 {row} 行的名称“{name}”不一致", row=first_name[code][0],
                                            name=first_name[code][1]))
        kind_text = service._text(r.cells.get("大类类型"))
        if kind_text:
            kind = service.parse_kind(kind_text)
            if kind is None:
                kinds = "、".join(CATEGORY_KINDS.values())
                r.fail("大类类型", FieldProblem("必须是以下之一：{expected}", expected=kinds))
            elif r.major not in first_kind:
                first_kind[r.major] = (r.number, kind)
            elif first_kind[r.major][1] != kind:
                r.fail("大类类型", FieldProblem("与第 {row} 行的大类类型不一致", row=first_kind[r.major][0]))
    minors = {c for c, row in db_categories.items() if row.parent_id is not None}
    minors |= {r.minor for r in rows if "小类编码" not in r.errors and "大类编码" not in r.errors}
    known = Known(departments=departments, minors=minors)
    seen: dict[str, int] = {}
    for r in rows:
        if "大类编码" not in r.errors and "小类编码" not in r.errors:
            for code, column in ((r.major, "大类名称"), (r.minor, "小类名称")):
                if code not in db_categories and code not in first_name:
                    r.fail(column, FieldProblem("新类别 {code} 必须填写名称", code=code))
        code = _code(r.cells.get("事项编码"), 6)
        if code and code in seen:
            r.fail("事项编码", FieldProblem("事项编码与第 {row} 行重复", row=seen[code]))
        elif code:
            seen[code] = r.number
        r.existing = items.get(code)
        values: dict[str, Any] = {"name": r.cells.get("事项名称"), "category_code": r.minor,
                                  "department_code": r.cells.get("责任部门代码"),
                                  "handling_level": r.cells.get("处置层级")}
        if r.existing is None:
            values["code"] = code
        for column, key in OPTIONAL_FIELDS.items():
            if column in index:
                value = r.cells.get(column)
                if key in ("active", "self_handle") and service._text(value) == "":
                    # A blank yes/no cell states nothing: an existing item keeps its flag, a new one
                    # takes the default (enabled; not for self-handling).
                    value = None
                values[key] = value
        limits = _limits(r, index)
        if limits is not None:
            values["time_limits"] = limits
        checked = service.check_item(values, known, current=r.existing)
        for key, problem in checked.problems.items():
            column = FIELD_COLUMNS.get(key, key)
            if key == "category_code" and ("小类编码" in r.errors or "大类编码" in r.errors):
                continue
            r.fail(column, problem)
        r.values = checked.values
    return {c: n for c, (_r, n) in first_name.items()}, {c: k for c, (_r, k) in first_kind.items()}


def _limits(r: _Row, index: Mapping[str, int]) -> dict[str, dict] | None:
    present = {s: cols for s, cols in STEP_COLUMNS.items() if cols[0] in index}
    if not present:
        return None
    # Steps the file has no columns for keep the item's current limits.
    limits = {s: v for s, v in ((r.existing.time_limits or {}) if r.existing else {}).items() if s not in present}
    for step, (amount_col, unit_col) in present.items():
        amount, unit = r.cells.get(amount_col), r.cells.get(unit_col)
        if service._text(amount) == "" and service._text(unit) == "":
            continue
        limits[step] = {"amount": amount, "unit": unit}
    return limits


def _write(db: Session, good: list[_Row], report: ImportReport, names: Mapping[str, str],
           kinds: Mapping[str, str]) -> None:
    categories = {c.code: c for c in db.scalars(select(Category))}
    ids: dict[str, int] = {}
    for r in good:
        for code, parent in ((r.major, None), (r.minor, r.major)):
            if code in ids:
                continue
            name = names.get(code, "")
            row = categories.get(code)
            if row is None:
                parent_row = categories[parent] if parent else None
                kind = parent_row.kind if parent_row else kinds.get(code, service.kind_for(code))
                row = Category(code=code, name=name, parent_id=parent_row.id if parent_row else None, kind=kind)
                db.add(row)
                db.flush()
                categories[code] = row
                report.categories_created += 1
            else:
                changed = False
                if name and row.name != name:
                    row.name = name
                    changed = True
                kind = kinds.get(code) if parent is None else None
                if kind and row.kind != kind:
                    row.kind = kind
                    for child in categories.values():
                        if child.parent_id == row.id:
                            child.kind = kind
                    changed = True
                if changed:
                    db.flush()
                    report.categories_updated += 1
            ids[code] = row.id
    for r in good:
        _item, changed = service.apply_item(db, r.existing, r.values, ids)
        if r.existing is None:
            report.created += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1
