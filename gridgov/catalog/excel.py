"""The catalog in and out of Excel (openpyxl).

One sheet, 事项清单, one item a row, Chinese headers. Import checks every row before it
writes anything, reports each problem with its row number, column header and reason, and
can hand back the bad rows as a workbook with a 错误原因 column (fix them there and import
that file again: the extra columns are ignored). Items are upserted by 事项编码; 大类/小类
named in the file are created when missing. Exporting and importing the result changes nothing.

What Excel and WPS do to a file on its way back is allowed for: codes turned into numbers are
padded back, headers are found below a title row, in any order, in English too, on a renamed
sheet; cells Excel turned into dates, a password, an old .xls and a file too big to read are
refused with the reason.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.catalog import service
from gridgov.catalog.models import HANDLING_LEVELS, TIME_UNITS, TIMED_STEPS, CatalogItem, Category
from gridgov.catalog.service import CATEGORY_KINDS, MAJOR_CODE, MINOR_CODE, Known
from gridgov.core.errors import FieldProblem, ValidationFailed
from gridgov.core.i18n import EN, translate
from gridgov.departments.models import Department

SHEET = "事项清单"
MODES = {"all_or_nothing": "全部正确才导入", "good_rows": "只导入正确的行"}
MAX_ROWS = 5000
MAX_BYTES = 10 * 1024 * 1024
MAX_UNZIPPED = 100 * 1024 * 1024  # inflated: 5,000 rows with the longest standards take ~60 MB
HEADER_SCAN = 10  # the header row is looked for in a sheet's first rows (a title may sit above it)
CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE2 compound file: an old .xls, or an encrypted .xlsx
ENCRYPTED = "EncryptedPackage".encode("utf-16-le")  # the stream an encrypted .xlsx is held in
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


def _header_key(value: Any) -> str:
    """A header as compared: full-width forms folded (NFKC), blanks and line breaks dropped, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", service._text(value))).lower()


# A header is known by its Chinese name or its English one (the page's translation).
HEADER_ALIASES = {_header_key(h): h for h in HEADERS} | {_header_key(EN[h]): h for h in HEADERS if h in EN}


# --- export ---

def _yes(flag: bool) -> str:
    return "是" if flag else "否"


def _append(ws, values: Iterable[Any]) -> None:
    """Appends a row whose text stays text: a standard that starts with "=" is not a formula (which
    Excel would run, and which reads back empty), and characters an .xlsx cannot hold are dropped."""
    ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in values])
    for cell in ws[ws.max_row]:
        if cell.data_type == "f":
            cell.data_type = "s"


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
        _append(ws, item_row(item, minor, major))
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
    ws.append(["事项编码", "6 位数字，前 4 位是小类编码；已存在的编码更新该事项，新编码新建事项。"
               "编码列请保持“文本”格式，日期、数字格式会改变所填内容"])
    ws.append(["大类编码 / 小类编码", "大类 2 位数字；小类 4 位数字，以大类编码开头；不存在的类别按所填名称新建"])
    ws.append(["大类类型", "、".join(CATEGORY_KINDS.values()) + "；留空时 01–05 为城市管理，其余为社会治理"])
    ws.append(["责任部门代码 / 责任部门名称", "系统中已有的部门代码，如 CGJ；名称须与代码所指的部门一致，"
               "只填名称时按名称查找部门"])
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
    headers: list[str] = field(default_factory=list)  # the file's header row, as written
    columns: dict[str, int] = field(default_factory=dict)  # known column (Chinese header) → its position
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
        columns = self.columns if self.headers else {h: i for i, h in enumerate(HEADERS)}
        _append(ws, headers + ["原行号", "错误原因"])
        for i in range(1, len(headers) + 3):
            ws.cell(1, i).font = Font(bold=True)
        by_row: dict[int, list[RowError]] = {}
        for e in self.errors:
            by_row.setdefault(e.row, []).append(e)
        shade = PatternFill("solid", fgColor="F8D7DA")
        for row, errs in sorted(by_row.items()):
            cells = list(self.bad_rows.get(row, []))
            cells += [None] * (len(headers) - len(cells))
            reason = "；".join(f"{translate(e.column, lang)}：{e.problem.render(lang)}" for e in errs)
            _append(ws, cells[:len(headers)] + [row, reason])
            for e in errs:
                if e.column in columns:
                    ws.cell(ws.max_row, columns[e.column] + 1).fill = shade
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


def _bad_file(message: str, **params: Any) -> ValidationFailed:
    return ValidationFailed({"file": FieldProblem(message, **params)})


NOT_XLSX = "不是有效的 Excel（.xlsx）文件"


def _open(data: bytes):
    """The workbook, read-only (rows are read as they are needed, so a big file is refused after
    its first rows over the limit, not after all of it is in memory)."""
    if len(data) > MAX_BYTES:
        raise _bad_file("文件不能超过 {limit} MB", limit=MAX_BYTES // 1024 // 1024)
    if data.startswith(CFB):
        if ENCRYPTED in data:
            raise _bad_file("文件设有打开密码，无法读取：请在 Excel 或 WPS 中取消密码并保存后再导入")
        raise _bad_file("这是旧版 Excel（.xls）或 WPS 表格（.et）文件：请在 Excel 或 WPS 中另存为 .xlsx 后再导入")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except Exception:  # not a zip archive (a CSV, a PDF, a renamed .docx is one but fails below)
        raise _bad_file(NOT_XLSX) from None
    if inflated > MAX_UNZIPPED:
        raise _bad_file("文件内容过多（解压后超过 {limit} MB）：请只保留事项清单一个工作表后再导入",
                        limit=MAX_UNZIPPED // 1024 // 1024)
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl on a damaged or foreign file raises anything from KeyError to ParseError
        raise _bad_file(NOT_XLSX) from None


@dataclass
class _Table:
    headers: list[str]  # as written in the file
    header_row: int
    index: dict[str, int]  # known column (Chinese header) → position
    rows: Iterator[tuple[int, tuple]]  # the rows below the header: (row number, cells)
    problems: list[RowError] = field(default_factory=list)


def _rows_of(ws) -> Iterator[tuple[int, tuple]]:
    ws.reset_dimensions()  # a stated size may be wrong (some programs write A1): read the rows there are
    return enumerate(ws.iter_rows(values_only=True), start=1)


def _header_at(rows: Iterator[tuple[int, tuple]]) -> tuple[int, tuple] | None:
    """The header row among a sheet's first rows: the one naming 事项编码."""
    for number, values in rows:
        if any(HEADER_ALIASES.get(_header_key(v)) == "事项编码" for v in values):
            return number, values
        if number >= HEADER_SCAN:
            return None
    return None


def _find_table(wb) -> _Table:
    """The sheet 事项清单, or else the first sheet with the headers (a renamed or moved sheet), and
    its header row: the first of its first rows that names 事项编码 (a title may sit above it)."""
    sheets = list(wb.worksheets)  # chart sheets are not among them
    if not sheets:
        raise _bad_file(NOT_XLSX)
    sheets.sort(key=lambda ws: ws.title != SHEET)
    found = None
    for ws in sheets:
        rows = _rows_of(ws)
        at = _header_at(rows)
        if at is not None:
            found = at, rows
            break
    if found is None:  # no header anywhere: the first non-blank row stands for it, and says what is missing
        rows = _rows_of(sheets[0])
        at = next(((n, v) for n, v in rows if any(service._text(x) for x in v)), None)
        if at is None:
            raise _bad_file("第 1 行必须是列名")
        found = at, rows
    (number, values), rows = found
    headers = [service._text(h) for h in values]
    while headers and headers[-1] == "":
        headers.pop()
    table = _Table(headers=headers, header_row=number, index={}, rows=rows)
    for i, h in enumerate(headers):
        known = HEADER_ALIASES.get(_header_key(h))
        if known is None:
            continue  # a column of the admin's own (备注, or 原行号 and 错误原因 of an error workbook)
        if known in table.index:
            table.problems.append(RowError(number, known, FieldProblem("列名重复")))
        else:
            table.index[known] = i
    for h in REQUIRED:
        if h not in table.index:
            table.problems.append(RowError(number, h, FieldProblem("缺少此列")))
    for amount_col, unit_col in STEP_COLUMNS.values():
        if (amount_col in table.index) != (unit_col in table.index):
            missing = unit_col if amount_col in table.index else amount_col
            table.problems.append(RowError(number, missing, FieldProblem("时限和时限单位两列必须同时出现")))
    return table


@dataclass
class _Row:
    number: int
    cells: dict[str, Any]
    raw: list[Any]
    errors: dict[str, FieldProblem] = field(default_factory=dict)
    major: str = ""
    minor: str = ""
    names: dict[str, str] = field(default_factory=dict)  # category code → the name this row gives it
    kind: str = ""  # the 大类 kind this row gives
    values: dict[str, Any] = field(default_factory=dict)
    existing: CatalogItem | None = None

    def fail(self, column: str, problem: FieldProblem) -> None:
        self.errors.setdefault(column, problem)


def _read(data: bytes, report: ImportReport) -> list[_Row]:
    wb = _open(data)
    try:
        table = _find_table(wb)
        report.headers, report.columns = table.headers, table.index
        report.errors.extend(table.problems)
        width = len(table.headers)
        rows: list[_Row] = []
        for n, values in table.rows:
            raw = (list(values) + [None] * width)[:width]
            if not any(service._text(v) for v in raw):
                continue
            if len(rows) == MAX_ROWS:
                raise _bad_file("一次最多导入 {limit} 行", limit=MAX_ROWS)
            rows.append(_Row(n, {h: raw[i] for h, i in table.index.items()}, raw))
        return rows
    except ValidationFailed:
        raise
    except Exception:  # a sheet that breaks off or holds what no spreadsheet writes
        raise _bad_file(NOT_XLSX) from None
    finally:
        wb.close()


def import_workbook(db: Session, data: bytes, mode: str = "all_or_nothing") -> ImportReport:
    """Checks every row, then writes: nothing at all when any row is bad (`all_or_nothing`), or
    the good rows only (`good_rows`). Permission is the caller's to check (catalog.manage)."""
    if mode not in MODES:
        raise ValidationFailed({"mode": FieldProblem("必须是以下之一：{expected}", expected="、".join(MODES))})
    report = ImportReport(mode=mode)
    rows = _read(data, report)
    report.rows = len(rows)
    if report.errors:  # the file's shape is wrong: no row can be read
        return report

    _check_rows(db, rows, report.columns)
    for r in rows:
        for column, problem in r.errors.items():
            report.errors.append(RowError(r.number, column, problem))
            report.bad_rows[r.number] = r.raw
    order = report.columns
    report.errors.sort(key=lambda e: (e.row, order.get(e.column, len(order))))
    good = [r for r in rows if not r.errors]
    report.good_rows = len(good)
    if report.errors and mode == "all_or_nothing":
        return report
    # A category takes the name and kind its good rows give it; a bad row's only name one it must create.
    names = _first(r.names.items() for r in good)
    kinds = _first([(r.major, r.kind)] if r.kind else [] for r in good)
    new_names = _first(r.names.items() for r in rows)
    new_kinds = _first([(r.major, r.kind)] if r.kind else [] for r in rows)
    _write(db, good, report, names, kinds, new_names, new_kinds)
    report.written = True
    if report.created or report.updated or report.categories_created or report.categories_updated:
        service._forget_suggestion_index(db)
    return report


def _first(pairs: Iterable[Iterable[tuple[str, str]]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for some in pairs:
        for key, value in some:
            out.setdefault(key, value)
    return out


def _dates_refused(r: _Row) -> None:
    """No column holds a date: a date cell is Excel's reading of what was typed (3-15 in 关键词, 1/2
    in a code or a limit). Said as such, and the cell is not read further."""
    for column, value in r.cells.items():
        if isinstance(value, datetime | date | time | timedelta):
            shown = value.isoformat() if not isinstance(value, timedelta) else str(value)
            r.fail(column, FieldProblem("Excel 把此格识别成了日期或时间（{value}）：请把该列设为“文本”格式后重新填写",
                                        value=shown.removesuffix("T00:00:00")))
            r.cells[column] = None


def _department(r: _Row, departments: Mapping[str, tuple[int, str]], by_name: Mapping[str, list[str]]) -> Any:
    """The 责任部门代码 to check: the code given, or the one the 责任部门名称 names when the code is
    blank. A name that is not the code's department's is the row's error (not silently ignored)."""
    code = r.cells.get("责任部门代码")
    name = service.clean_text(r.cells.get("责任部门名称"))
    if not name:
        return code
    key = _name_key(name)
    text = service._text(code).upper()
    if not text:
        codes = by_name.get(key, [])
        if len(codes) == 1:
            return codes[0]
        if codes:
            r.fail("责任部门名称", FieldProblem("有多个部门名为“{name}”，请填写责任部门代码", name=name))
        else:
            r.fail("责任部门名称", FieldProblem("部门“{name}”不存在", name=name))
        return code
    if text in departments and _name_key(departments[text][1]) != key:
        r.fail("责任部门名称", FieldProblem("与责任部门代码 {code} 不符：该代码是“{actual}”", code=text,
                                         actual=departments[text][1]))
    return code


def _name_key(name: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


def _check_rows(db: Session, rows: list[_Row], index: Mapping[str, int]) -> None:
    """Fills each row's errors, checked values, and the category names and 大类 kind it gives."""
    db_categories = {c.code: c for c in db.scalars(select(Category))}
    items = {i.code: i for i in db.scalars(select(CatalogItem))}
    departments = {code: (id_, name) for code, id_, name in db.execute(
        select(Department.code, Department.id, Department.name)).all()}
    by_name: dict[str, list[str]] = {}
    for code, (_id, name) in departments.items():
        by_name.setdefault(_name_key(name), []).append(code)
    first_name: dict[str, tuple[int, str]] = {}
    first_kind: dict[str, tuple[int, str]] = {}
    # Category cells first: which codes the file introduces, under which names.
    for r in rows:
        _dates_refused(r)
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
            name = service.clean_text(r.cells.get(column))
            if not name:
                continue
            if len(name) > 60:
                r.fail(column, FieldProblem("长度不能超过 {limit}", limit=60))
                continue
            r.names[code] = name
            if code not in first_name:
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
                continue
            r.kind = kind
            if r.major not in first_kind:
                first_kind[r.major] = (r.number, kind)
            elif first_kind[r.major][1] != kind:
                r.fail("大类类型", FieldProblem("与第 {row} 行的大类类型不一致", row=first_kind[r.major][0]))
    minors = {c for c, row in db_categories.items() if row.parent_id is not None}
    minors |= {r.minor for r in rows if "小类编码" not in r.errors and "大类编码" not in r.errors}
    known = Known(departments={code: id_ for code, (id_, _name) in departments.items()}, minors=minors)
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
                                  "department_code": _department(r, departments, by_name),
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
           kinds: Mapping[str, str], new_names: Mapping[str, str], new_kinds: Mapping[str, str]) -> None:
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
                kind = parent_row.kind if parent_row else (
                    kinds.get(code) or new_kinds.get(code) or service.kind_for(code))
                row = Category(code=code, name=name or new_names.get(code, ""),
                               parent_id=parent_row.id if parent_row else None, kind=kind)
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
