"""The workbook side of a people import (see gridgov/people/imports.py for the run): which sheets
hold the rows and where their header is, the rows below it, and the error workbook.

A sheet's header is found among its first rows, below a title or over two rows of merged cells,
and compared without blanks, line breaks, full-width forms or required marks; every sheet with the
kind's required columns is read. The error workbook is written in Chinese and in English side by
side; its copies of the bad rows keep the file's own headers, so a corrected copy imports again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from gridgov.core.errors import AppError, FieldProblem
from gridgov.core.excel import discard_workbook
from gridgov.core.i18n import translate
from gridgov.core.xlsx_stream import XlsxReader
from gridgov.people import sheets


@dataclass
class BadCell:
    header: str
    value: object
    problem: FieldProblem


@dataclass
class Row:
    sheet: str
    number: int
    raw: list
    cells: dict[str, object]  # column key → cell value
    extra: str = ""  # the sheet's own meaning (a tag sheet: the tag code)


# --- the error workbook ---

DETAIL_SHEET, COPY_PREFIX = "错误明细", "错误行-"
BOOK_LANGS = ("zh", "en")  # an error workbook is written in each; the download gives the asker's
DETAIL_SHEETS = frozenset(translate(DETAIL_SHEET, lang) for lang in BOOK_LANGS)
COPY_PREFIXES = tuple(dict.fromkeys(translate(COPY_PREFIX, lang) for lang in BOOK_LANGS))


class ErrorBook:
    """Streams the bad rows to an .xlsx: 错误明细 (one line a problem: sheet, row, column, value,
    reason) and, per sheet read, the bad rows as they were with 原行号 and 错误原因, which can be
    fixed and imported again (extra columns are ignored). One workbook per language of BOOK_LANGS,
    written side by side (`book_path`), so the download can answer in the asker's language; the
    bad rows' own headers stay as in the file, so a corrected copy imports whichever it is."""

    def __init__(self) -> None:
        self.books: dict[str, _Book] = {}  # made at the first bad row: a clean run writes no file
        self.problems = 0
        self.rows = 0

    def add(self, sheet: str, number: int, raw: list, headers: list[str], bad: list[BadCell]) -> None:
        if not self.books:
            self.books = {lang: _Book(lang) for lang in BOOK_LANGS}
        self.rows += 1
        self.problems += len(bad)
        for book in self.books.values():
            book.add(sheet, number, raw, headers, bad)

    def save(self, path: Path) -> None:
        books, self.books = self.books, {}
        for lang, book in books.items():
            book.wb.save(book_path(path, lang))

    def discard(self) -> None:
        """Lets go of a book that will not be saved (its run failed): its temporary file holds the
        bad rows with their ID numbers (see core.excel.discard_workbook)."""
        books, self.books = self.books, {}
        for book in books.values():
            discard_workbook(book.wb)


def book_path(path: Path, lang: str) -> Path:
    """Where the error workbook in `lang` is, beside the Chinese one the run row points to."""
    return path if lang == BOOK_LANGS[0] else path.with_name(f"{path.stem}.{lang}{path.suffix}")


class _Book:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.wb = Workbook(write_only=True)
        self.details = self.wb.create_sheet(self._(DETAIL_SHEET))
        self._header(self.details, [self._(h) for h in ("工作表", "行号", "列", "值", "错误原因")])
        self.copies: dict[str, object] = {}

    def _(self, text: str) -> str:
        return translate(text, self.lang)

    def _column(self, header: str) -> str:
        """A column as the file names it; in English its translation first, when there is one."""
        shown = self._(header)
        return header if shown == header else f"{shown} ({header})"

    def _header(self, ws, headers: list[str]) -> None:
        cells = []
        for h in headers:
            cell = WriteOnlyCell(ws, value=h)
            cell.font = Font(bold=True)
            cells.append(cell)
        ws.append(cells)

    def add(self, sheet: str, number: int, raw: list, headers: list[str], bad: list[BadCell]) -> None:
        reasons = []
        for b in bad:
            reason, column = b.problem.render(self.lang), self._column(b.header)
            reasons.append(f"{column}{self._('：')}{reason}")
            self.details.append([sheet, number, column, _shown(b.value), reason])
        if headers:
            ws = self.copies.get(sheet)
            if ws is None:
                ws = self.wb.create_sheet(f"{self._(COPY_PREFIX)}{sheet}"[:31])
                self._header(ws, [*headers, self._("原行号"), self._("错误原因")])
                self.copies[sheet] = ws
            cells = (list(raw) + [None] * len(headers))[:len(headers)]
            ws.append([*(_shown(v) for v in cells), number, self._("；").join(reasons)])


def _shown(value):
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return sheets.text(value)


# --- sheets, headers and rows ---

HEADER_SCAN = 10  # the header is looked for in a sheet's first rows: a title, or a two-row header, may sit above


@dataclass
class Table:
    """A sheet's header as found: its row, the file's own header texts, and column key → position."""

    sheet: str
    columns: list[sheets.Column]
    extra: str
    number: int  # the header's row number; data rows come below it
    above: int  # rows the sheet writes down up to and including the header (for the progress total)
    headers: list[str]
    index: dict[str, int]


def _match(keys: list[str], wanted: dict[str, sheets.Column], required: list[sheets.Column],
           sheet: str) -> dict[str, int] | None:
    index: dict[str, int] = {}
    twice: list[str] = []
    for i, key in enumerate(keys):
        column = wanted.get(key)
        if column is None:
            continue  # a column of the sender's own (序号, 原行号, 错误原因): ignored
        if column.key in index:
            twice.append(column.header)
        else:
            index[column.key] = i
    if not all(c.key in index for c in required):
        return None
    if twice:  # which of the two to read? Neither guess is safe
        raise AppError("工作表“{sheet}”中有重复的列：{columns}", sheet=sheet, columns="、".join(dict.fromkeys(twice)))
    return index


def _find_table(reader: XlsxReader, sheet: str, columns: list[sheets.Column],
                extra: str) -> tuple[Table | None, tuple[int, list] | None]:
    """The sheet's header: the first of its first HEADER_SCAN rows that names every required column,
    alone or together with the row above it (a two-row header whose upper cells are merged: 姓名
    over two rows, 证件信息 over 证件类型 and 证件号码). Headers are compared without blanks, line
    breaks, full-width forms or required marks. Without one: (None, the first non-blank row)."""
    wanted = {sheets.header_key(c.header): c for c in columns}
    required = [c for c in columns if c.required]
    first = previous = None
    for seen, (number, values) in enumerate(reader.rows(sheet), start=1):
        if seen > HEADER_SCAN:
            break
        keys = [sheets.header_key(v) for v in values]
        if first is None and any(keys):
            first = (number, values)
        index = _match(keys, wanted, required, sheet)
        if index is None and previous is not None and any(keys):
            above_keys, above_values = previous
            width = max(len(keys), len(above_keys))
            keys = [(keys[i] if i < len(keys) else "") or (above_keys[i] if i < len(above_keys) else "")
                    for i in range(width)]
            values = [(values[i] if i < len(values) and sheets.text(values[i]) else
                       (above_values[i] if i < len(above_values) else None)) for i in range(width)]
            index = _match(keys, wanted, required, sheet)
        if index is not None:
            headers = [sheets.text(v) for v in values]
            while headers and not headers[-1]:
                headers.pop()
            return Table(sheet, columns, extra, number, seen, headers, index), first
        previous = (keys, values)
    return None, first


def find_tables(reader: XlsxReader, plan: list[tuple[str, list[sheets.Column], str, bool]], preferred: str,
                book: ErrorBook) -> tuple[list[Table], list[str]]:
    """The sheets to read. A sheet the plan `requires` (a tag sheet) must have its header; of the
    others, every sheet with one is read (data split over two sheets is all imported) and one
    without is skipped, named in the run's summary when it holds anything. No header anywhere:
    the preferred sheet's missing columns end the run. Returns the tables and the skipped sheets."""
    found: list[Table] = []
    missing: list[tuple[str, tuple[int, list] | None, list[sheets.Column]]] = []
    for name, columns, extra, required in plan:
        table, first = _find_table(reader, name, columns, extra)
        if table is not None:
            found.append(table)
        elif required:
            _missing_columns(name, first, columns, book)
        else:
            missing.append((name, first, columns))
    if not found:
        name, first, columns = next((m for m in missing if m[0] == preferred), None) or next(
            (m for m in missing if m[1] is not None), None) or missing[0]
        _missing_columns(name, first, columns, book)
    return found, [name for name, first, _c in missing if first is not None]


def _missing_columns(sheet: str, first: tuple[int, list] | None, columns: list[sheets.Column],
                     book: ErrorBook) -> None:
    """Ends the run: the sheet's first non-blank row, taken for its header, lacks required columns."""
    given = {sheets.header_key(v) for v in (first[1] if first else [])}
    missing = [c.header for c in columns if c.required and sheets.header_key(c.header) not in given]
    book.add(sheet, first[0] if first else 1, [], [], [BadCell(h, "", FieldProblem("缺少此列")) for h in missing])
    raise MissingColumns(sheet, missing)


def rows_of(reader: XlsxReader, table: Table) -> Iterator[Row]:
    """The data rows below the header as Rows keyed by column. A row whose cells are all blank
    (spaces, full-width ones too) is no row: it is skipped, and the rows keep their numbers."""
    index = table.index.items()
    for number, values in reader.rows(table.sheet):
        if number <= table.number:
            continue
        if not any(v not in (None, "") for v in values) or not any(sheets.text(v) for v in values):
            continue
        width = len(values)
        yield Row(table.sheet, number, values, {k: values[i] if i < width else None for k, i in index}, table.extra)


class MissingColumns(AppError):
    """A sheet without its required columns: the run ends, saying which."""

    def __init__(self, sheet: str, missing: list[str]) -> None:
        super().__init__("工作表“{sheet}”缺少必填列：{columns}", sheet=sheet, columns="、".join(missing))
