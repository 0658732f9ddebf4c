"""Excel imports of the people register: check every row, then write the good ones in batches.

`run_import` is a job: it owns its transactions. It streams the workbook (gridgov/core/xlsx_stream),
so memory stays flat however long the file is, and works in two passes:

1. **Check.** Every row is read and checked: its cells (ID checksum, dates, codes), the grid
   (exists, inside the importer's jurisdiction), duplicates within the file, and, a batch at a
   time, the database (people or houses it names, someone registered outside the jurisdiction).
   Good rows are pickled to a spill file under var/; bad ones go to the error workbook as they are
   found. Only reads run here, so nothing holds a write lock while 100,000 rows are checked.
2. **Write.** In `all_or_nothing` mode this pass runs only when no row was bad; in `good_rows` it
   writes the good rows whatever the rest. The spill file is read back and written 1,000 rows per
   transaction through the services' batch primitives (`upsert_residents` merges people: a blank is
   filled, a disagreement becomes a conflict for a person to settle).

Why a check pass and not one transaction for the whole file: SQLite has one writer, so a
transaction over a 100,000-row file would stall every other form in the district for its length,
and progress written to the run row could not be seen until the end. Rows that passed the check
can only fail to write when the database itself fails; the run then says how many rows were
written, and importing the same file again completes it without doubling anything (people merge by
ID number, houses by building/unit/room, relations and tags already present are left as they are).

The run row (ImportRun) carries the progress for the page and the CLI and a heartbeat; a queued or
running run whose heartbeat is older than STALE_AFTER lost its process and is marked failed
the next time anyone looks at it (`mark_stale`).
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from gridgov.accounts.access import Principal
from gridgov.core.errors import AppError, FieldProblem, NotFound, ValidationFailed
from gridgov.core.xlsx_stream import NotAWorkbook, XlsxReader
from gridgov.people import sheets
from gridgov.people.models import ImportRun
from gridgov.people.service import PeopleContext

log = logging.getLogger("gridgov.people.imports")

BATCH = 1000
STALE_AFTER = timedelta(minutes=5)
KINDS = tuple(sheets.KIND_NAMES)
Progress = Callable[[int, int], None]


# --- what an importer of one kind provides ---

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


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0

    def add(self, other: Counts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.conflicts += other.conflicts

    @property
    def written(self) -> int:
        return self.created + self.updated + self.unchanged


class Importer:
    """One kind. `check` a row on its own; `check_batch` against the database (read only);
    `write` a batch of checked rows in the caller's transaction."""

    kind = ""
    key_column = "id_number"  # the column a duplicate within the file is reported on

    def __init__(self, db: Session, ctx: PeopleContext, who: Principal, source: str) -> None:
        self.ctx, self.who, self.source = ctx, who, source

    def sheets(self, names: list[str]) -> tuple[list[tuple[str, list[sheets.Column], str]], list[BadCell]]:
        """The sheets to read, each with its columns and meaning, and any problem with the file's sheets."""
        raise NotImplementedError

    def check(self, row: Row) -> tuple[object | None, list[BadCell]]:
        raise NotImplementedError

    def key(self, clean) -> object:
        raise NotImplementedError

    def check_batch(self, db: Session, rows: list[tuple[Row, object]]) -> dict[int, list[BadCell]]:
        return {}

    def write(self, db: Session, batch: list) -> Counts:
        raise NotImplementedError


def importer_for(kind: str) -> type[Importer]:
    from gridgov.people import import_kinds

    return {"residents": import_kinds.ResidentImporter, "houses": import_kinds.HouseImporter,
            "relations": import_kinds.RelationImporter, "tags": import_kinds.TagImporter}[kind]


# --- the error workbook ---

class ErrorBook:
    """Streams the bad rows to an .xlsx: 错误明细 (one line a problem: sheet, row, column, value,
    reason) and, per sheet read, the bad rows as they were with 原行号 and 错误原因, which can be
    fixed and imported again (extra columns are ignored)."""

    def __init__(self, lang: str = "zh") -> None:
        self.lang = lang
        self.wb: Workbook | None = None  # made at the first bad row: a clean run writes no file
        self.copies: dict[str, object] = {}
        self.problems = 0
        self.rows = 0

    def _open(self) -> None:
        self.wb = Workbook(write_only=True)
        self.details = self.wb.create_sheet("错误明细")
        self._header(self.details, ["工作表", "行号", "列", "值", "错误原因"])

    def _header(self, ws, headers: list[str]) -> None:
        cells = []
        for h in headers:
            cell = WriteOnlyCell(ws, value=h)
            cell.font = Font(bold=True)
            cells.append(cell)
        ws.append(cells)

    def add(self, sheet: str, number: int, raw: list, headers: list[str], bad: list[BadCell]) -> None:
        if self.wb is None:
            self._open()
        self.rows += 1
        reasons = []
        for b in bad:
            reason = b.problem.render(self.lang)
            reasons.append(f"{b.header}：{reason}")
            self.details.append([sheet, number, b.header, _shown(b.value), reason])
            self.problems += 1
        if headers:
            ws = self.copies.get(sheet)
            if ws is None:
                ws = self.wb.create_sheet(f"错误行-{sheet}"[:31])
                self._header(ws, [*headers, "原行号", "错误原因"])
                self.copies[sheet] = ws
            cells = (list(raw) + [None] * len(headers))[:len(headers)]
            ws.append([*(_shown(v) for v in cells), number, "；".join(reasons)])

    def save(self, path: Path) -> None:
        if self.wb is not None:
            self.wb.save(path)


def _shown(value):
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return sheets.text(value)


# --- the run ---

def imports_dir(ctx: PeopleContext) -> Path:
    path = Path(ctx.settings.var_dir) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _now() -> datetime:
    return datetime.now(UTC)


def create_run(db: Session, who: Principal, kind: str, mode: str, filename: str, source: str) -> ImportRun:
    """A queued run (the caller commits); checks the permission and the choices first."""
    who.require("people.manage")
    problems = {}
    if kind not in KINDS:
        problems["kind"] = sheets.one_of(KINDS)
    if mode not in sheets.MODES:
        problems["mode"] = sheets.one_of(sheets.MODES)
    source = (source or "").strip()
    if len(source) > 60:
        problems["source"] = FieldProblem("长度不能超过 {limit}", limit=60)
    if problems:
        raise ValidationFailed(problems)
    run = ImportRun(kind=kind, mode=mode, filename=(filename or "")[-200:], source=source or who.display_name,
                    status="queued", user_id=who.user_id or None, created_at=_now(), heartbeat_at=_now())
    db.add(run)
    db.flush()
    return run


def run_import(sessions: sessionmaker[Session], ctx: PeopleContext, who: Principal, kind: str, path,
               mode: str, source: str, progress: Progress | None = None) -> ImportRun:
    """Imports the workbook at `path` and returns the finished run (done or failed, never raising
    for what is in the file). `progress(done, total)` counts units of work: a row checked, then a
    row written; `total` is rows × 2 until the check knows how many rows will be written."""
    with sessions() as db:
        run = create_run(db, who, kind, mode, Path(path).name, source)
        db.commit()
        run_id = run.id
    return process_run(sessions, ctx, who, run_id, Path(path), progress)


@dataclass
class _State:
    run_id: int
    total: int = 0
    checked: int = 0
    bad: int = 0
    good: int = 0
    counts: Counts = field(default_factory=Counts)


def process_run(sessions: sessionmaker[Session], ctx: PeopleContext, who: Principal, run_id: int, path: Path,
                progress: Progress | None = None, delete_file: bool = False) -> ImportRun:
    """Runs a queued run to its end. Any failure marks it failed with the reason; nothing raises."""
    state = _State(run_id)
    spill = errors_path = None
    try:
        with sessions() as db:
            run = db.get(ImportRun, run_id)
            if run is None:
                raise NotFound("找不到导入任务 {id}", id=run_id)
            kind, mode, source = run.kind, run.mode, run.source
            run.status, run.heartbeat_at, run.message = "running", _now(), "正在检查"
            db.commit()
        folder = imports_dir(ctx)
        spill = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in `finally`, read back by name
            dir=folder, prefix=f"run{run_id}-", suffix=".spill", delete=False)
        book = ErrorBook()
        _check_pass(sessions, ctx, who, kind, source, path, spill, book, state, progress)
        spill.close()
        if book.rows or book.problems:
            errors_path = folder / f"run{run_id}-errors-{uuid.uuid4().hex[:8]}.xlsx"
            book.save(errors_path)
        write = state.good > 0 and (mode == "good_rows" or state.bad == 0)
        if write:
            _update(sessions, run_id, message="正在写入", error_file=str(errors_path or ""))
            _write_pass(sessions, ctx, who, kind, source, Path(spill.name), state, progress)
        _finish(sessions, state, "done", _summary(state, mode, write), errors_path)
    except Exception as exc:  # the run must end saying why, whatever happened
        message = _failure(exc)
        if not isinstance(exc, AppError | NotAWorkbook):
            log.exception("import run %s failed", run_id)
        try:
            _finish(sessions, state, "failed", message, errors_path)
        except Exception:
            log.exception("could not mark import run %s failed", run_id)
    finally:
        if spill is not None:
            spill.close()
            Path(spill.name).unlink(missing_ok=True)
        if delete_file:
            Path(path).unlink(missing_ok=True)
    with sessions() as db:
        run = db.get(ImportRun, run_id)
        db.expunge(run)
        return run


def _failure(exc: Exception) -> str:
    if isinstance(exc, NotAWorkbook):
        return "不是有效的 Excel（.xlsx）文件"
    if isinstance(exc, AppError):
        return str(exc)
    return f"导入中断：{type(exc).__name__}: {exc}"[:1000]


def _summary(state: _State, mode: str, written: bool) -> str:
    c = state.counts
    if state.bad and not written:
        if mode == "all_or_nothing":
            return f"{state.bad} 行有错误，未导入任何数据（全部正确才导入）"
        return f"{state.bad} 行有错误，没有正确的行可导入"
    text = f"共 {state.checked} 行：新建 {c.created}，更新 {c.updated}，未变 {c.unchanged}"
    if c.conflicts:
        text += f"；{c.conflicts} 处与登记信息不一致，待人工处理"
    if state.bad:
        text += f"；{state.bad} 行有错误未导入"
    return text


def _update(sessions: sessionmaker[Session], run_id: int, **values) -> None:
    with sessions() as db:
        db.execute(update(ImportRun).where(ImportRun.id == run_id).values(heartbeat_at=_now(), **values))
        db.commit()


def _finish(sessions, state: _State, status: str, message: str, errors_path: Path | None) -> None:
    _update(sessions, state.run_id, status=status, message=message, finished_at=_now(),
            total_rows=state.checked, processed_rows=state.checked, bad_rows=state.bad,
            imported_rows=state.counts.written, conflicts=state.counts.conflicts,
            error_file=str(errors_path or ""))


def _tick(sessions, state: _State, progress: Progress | None, writing: bool = False) -> None:
    values = {"processed_rows": state.checked, "total_rows": max(state.total, state.checked), "bad_rows": state.bad}
    if writing:
        values.update(imported_rows=state.counts.written, conflicts=state.counts.conflicts)
    _update(sessions, state.run_id, **values)
    if progress is not None:
        to_write = state.good if state.checked >= state.total else max(state.total, state.checked)
        progress(state.checked + state.counts.written, max(state.total, state.checked) + to_write)


def _headers_of(values: list) -> list[str]:
    out = [sheets.text(v).rstrip("*＊").replace("（必填）", "").strip() for v in values]
    while out and not out[-1]:
        out.pop()
    return out


def _rows(reader: XlsxReader, sheet: str, columns: list[sheets.Column], extra: str, book: ErrorBook,
          file_headers: dict[str, list[str]]) -> Iterator[Row]:
    """The data rows of a sheet as Rows keyed by column; a sheet without its required columns is
    reported on its header row and yields nothing."""
    headers: list[str] | None = None
    index: dict[str, int] = {}
    for number, values in reader.rows(sheet):
        if headers is None:
            if not any(sheets.text(v) for v in values):
                continue
            headers = file_headers[sheet] = _headers_of(values)
            by_header = {h: i for i, h in enumerate(headers) if h}
            missing = [c.header for c in columns if c.required and c.header not in by_header]
            if missing:
                book.add(sheet, number, [], [], [BadCell(h, "", FieldProblem("缺少此列")) for h in missing])
                raise _MissingColumns(sheet, missing)
            index = {c.key: by_header[c.header] for c in columns if c.header in by_header}
            continue
        if not any(v not in (None, "") for v in values):
            continue
        width = len(values)
        yield Row(sheet, number, values, {k: values[i] if i < width else None for k, i in index.items()}, extra)
    if headers is None:
        raise _MissingColumns(sheet, [c.header for c in columns if c.required])


class _MissingColumns(AppError):
    def __init__(self, sheet: str, missing: list[str]) -> None:
        super().__init__("工作表“{sheet}”缺少必填列：{columns}", sheet=sheet, columns="、".join(missing))


def _check_pass(sessions, ctx, who, kind, source, path: Path, spill, book: ErrorBook, state: _State,
                progress: Progress | None) -> None:
    with XlsxReader(path) as reader, sessions() as db:
        importer = importer_for(kind)(db, ctx, who, source)
        plan, sheet_problems = importer.sheets(reader.sheet_names)
        for problem in sheet_problems:
            book.add(problem.value if isinstance(problem.value, str) else "", 1, [], [], [problem])
            state.bad += 1
        if sheet_problems:
            raise AppError("工作簿中有无法识别的工作表，见错误文件")
        state.total = sum(max(reader.count_rows(name) - 1, 0) for name, _c, _e in plan)
        _update(sessions, state.run_id, total_rows=state.total)
        db.rollback()  # no transaction stays open while rows are read
        seen: dict[object, tuple[str, int]] = {}
        pending: list[tuple[Row, object]] = []
        headers: dict[str, list[str]] = {}
        for name, columns, extra in plan:
            key_header = next(c.header for c in columns if c.key == importer.key_column)
            for row in _rows(reader, name, columns, extra, book, headers):
                state.checked += 1
                clean, bad = importer.check(row)
                if clean is not None:
                    key = importer.key(clean)
                    first = seen.get(key)
                    if first is not None:
                        where = f"“{first[0]}”第 {first[1]} 行" if first[0] != row.sheet else f"第 {first[1]} 行"
                        bad = [BadCell(key_header, row.cells.get(importer.key_column, ""),
                                       FieldProblem("与{where}重复", where=where))]
                        clean = None
                    else:
                        seen[key] = (row.sheet, row.number)
                if clean is None:
                    state.bad += 1
                    book.add(row.sheet, row.number, row.raw, headers[row.sheet], bad)
                else:
                    pending.append((row, clean))
                if len(pending) >= BATCH:
                    _flush_checked(db, importer, pending, spill, book, state, headers[name])
                    pending = []
                if state.checked % BATCH == 0:
                    _tick(sessions, state, progress)
            if pending:
                _flush_checked(db, importer, pending, spill, book, state, headers[name])
                pending = []
        state.total = state.checked
        _tick(sessions, state, progress)


def _flush_checked(db: Session, importer: Importer, pending: list[tuple[Row, object]], spill, book: ErrorBook,
                   state: _State, headers: list[str]) -> None:
    problems = importer.check_batch(db, pending)
    db.rollback()
    good = []
    for i, (row, clean) in enumerate(pending):
        if i in problems:
            state.bad += 1
            book.add(row.sheet, row.number, row.raw, headers, problems[i])
        else:
            good.append(clean)
    if good:
        pickle.dump(good, spill, protocol=pickle.HIGHEST_PROTOCOL)
        state.good += len(good)


def _write_pass(sessions, ctx, who, kind, source, spill_path: Path, state: _State, progress: Progress | None) -> None:
    with open(spill_path, "rb") as spill:
        while True:
            try:
                batch = pickle.load(spill)
            except EOFError:
                break
            with sessions() as db:
                importer = importer_for(kind)(db, ctx, who, source)
                counts = importer.write(db, batch)
                db.commit()
            state.counts.add(counts)
            _tick(sessions, state, progress, writing=True)


# --- reading runs ---

def mark_stale(db: Session, now: datetime | None = None) -> int:
    """Marks queued or running runs whose heartbeat stopped as failed; returns how many (caller commits)."""
    now = now or _now()
    result = db.execute(update(ImportRun).where(
        ImportRun.status.in_(("queued", "running")),
        or_(ImportRun.heartbeat_at.is_(None), ImportRun.heartbeat_at < now - STALE_AFTER)).values(
        status="failed", finished_at=now,
        message="导入已中断：处理它的进程已停止（服务重启或崩溃），请重新导入。已写入的行会按证件号等合并，不会重复。"))
    return result.rowcount or 0


def get_run(db: Session, who: Principal, run_id: int) -> ImportRun:
    """A run of the caller's own (its error workbook holds the personal data they uploaded)."""
    run = db.get(ImportRun, run_id)
    if run is None or run.user_id != (who.user_id or None):
        raise NotFound("找不到导入任务 {id}", id=run_id)
    if run.status in ("queued", "running") and mark_stale(db):
        db.commit()
        db.refresh(run)
    return run


def my_runs(db: Session, who: Principal, limit: int = 20) -> list[ImportRun]:
    if mark_stale(db):
        db.commit()
    return list(db.scalars(select(ImportRun).where(ImportRun.user_id == (who.user_id or None))
                           .order_by(ImportRun.id.desc()).limit(limit)))


def error_file(ctx: PeopleContext, run: ImportRun) -> Path:
    """The run's error workbook; only files inside var/imports are served."""
    if not run.error_file:
        raise NotFound("该导入没有错误文件")
    path = Path(run.error_file).resolve()
    if path.parent != imports_dir(ctx).resolve() or not path.is_file():
        raise NotFound("该导入没有错误文件")
    return path


def progress_of(run: ImportRun) -> int:
    """0–100 for a progress bar: checking is the first half, writing the second."""
    if run.status in ("done", "failed"):
        return 100
    total = max(run.total_rows, 1)
    if run.message == "正在写入":
        good = max(run.processed_rows - run.bad_rows, 1)
        return min(99, 50 + int(50 * run.imported_rows / good))
    return min(50, int(50 * run.processed_rows / total))


def save_upload(ctx: PeopleContext, stream, limit: int) -> Path:
    """Copies an upload under var/imports, refusing one larger than `limit` bytes."""
    path = imports_dir(ctx) / f"upload-{uuid.uuid4().hex}.xlsx"
    size = 0
    with open(path, "wb") as out:
        while block := stream.read(1 << 20):
            size += len(block)
            if size > limit:
                out.close()
                os.unlink(path)
                raise ValidationFailed({"file": FieldProblem("文件不能超过 {limit} MB", limit=limit // 1024 // 1024)})
            out.write(block)
    if size == 0:
        os.unlink(path)
        raise ValidationFailed({"file": FieldProblem("必填")})
    return path
