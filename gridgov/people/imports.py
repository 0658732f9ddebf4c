"""Excel imports of the people register: check every row, then write the good ones in batches.

`run_import` is a job: it owns its transactions. It streams the workbook (gridgov/core/xlsx_stream),
so memory stays flat however long the file is, and works in two passes:

1. **Check.** Every sheet with the kind's columns is read (its header may sit below a title or
   span two rows; sheets without the columns are skipped and named), and every row checked: its
   cells (ID checksum, dates, codes), the grid (exists, inside the importer's jurisdiction),
   duplicates within the file, and, a batch at a time, the database (people or houses it names,
   someone registered outside the jurisdiction). Good rows are pickled to a spill file under var/;
   bad ones go to the error workbook (in Chinese and in English) as they are found. Only reads run
   here, so nothing holds a write lock while 100,000 rows are checked.
2. **Write.** In `all_or_nothing` mode this pass runs only when no row was bad, and in one
   transaction: a run that fails on the way (a restart, a database error) has written nothing, as
   the mode promises. In `good_rows` it writes the good rows whatever the rest, WRITE_ROWS rows per
   transaction. Either way the rows go through the services' batch primitives (`upsert_residents`
   merges people: a blank is filled, a disagreement becomes a conflict for a person to settle),
   and each write transaction holds the register's write lock (`lock_for_writing`), so two runs of
   overlapping files (or one upload sent twice) merge instead of doubling rows or failing.

In `good_rows` mode a large file is checked by a second process while this one writes what it
has already passed (`_pipelined`): the two passes then take the time of the longer one, not
their sum, on a machine with two cores. `all_or_nothing` must see every row before writing one,
so it keeps the two passes in turn.

Why a check pass and not one transaction for the whole run: SQLite has one writer, so a
transaction over the check of a 100,000-row file would stall every other form in the district for
its length. An all_or_nothing write does hold it for the write pass (a whole 100,000-row
all_or_nothing run, checking included, took 15 s on SQLite on a 2-core machine); its progress is
then kept in this process's memory (`_live`) and read from there, since the run row cannot be
written until it commits. A good_rows run that fails while writing says how many
rows it wrote, and importing the same file again completes it without doubling anything (people
merge by ID number, houses by building/unit/room, relations and tags already present are left).

The run row (ImportRun) carries the progress for the page and the CLI and a heartbeat; a queued or
running run whose heartbeat is older than STALE_AFTER lost its process and is marked failed
the next time anyone looks at it (`mark_stale`).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import queue
import re
import string
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gridgov.accounts.access import Principal
from gridgov.core.db import add_unique
from gridgov.core.errors import AppError, Conflict, FieldProblem, NotFound, ValidationFailed
from gridgov.core.i18n import translate
from gridgov.core.xlsx_stream import NotAWorkbook, XlsxReader
from gridgov.people import sheets
from gridgov.people.import_sheets import (
    BOOK_LANGS,
    BadCell,
    ErrorBook,
    Row,
    book_path,
    find_tables,
    rows_of,
)
from gridgov.people.models import ImportRun
from gridgov.people.service import PeopleContext

log = logging.getLogger("gridgov.people.imports")

BATCH = 1000  # rows checked against the database at a time
# Rows written per transaction. Each index of residents is keyed at random (names, hashes, tails),
# so a transaction dirties pages all over every index and commits them all: 1,000 rows at a time
# rewrote most of each index once per batch (294 µs a row by 100,000 on SQLite, 126 µs at 10,000
# a time). On SQLite another writer waits for a batch (about a second) behind its lock.
WRITE_ROWS = 10_000
WRITER_CACHE_SIZE = -49152  # PRAGMA cache_size of the writer's SQLite connection (negative: in KiB, so 48 MB)
STALE_AFTER = timedelta(minutes=5)
# A file this large is checked in a second process while this one writes. Starting that process
# costs about a second (a fresh interpreter importing the app), as much as checking ~8,000 rows.
PIPELINE_MIN_BYTES = 1 << 20
INBOX_BATCHES = 2 * WRITE_ROWS // BATCH  # checked batches that may wait while the writer commits (bounded memory)
PIPELINED = "正在检查并写入"  # the run row's message while a pipelined run works
CHECKING, WRITING = "正在检查", "正在写入"
STALE = "导入已中断：处理它的进程已停止（服务重启或崩溃），请重新导入。已写入的行会按证件号等合并，不会重复。"
WRITE_LOCK = 4302_0002  # PostgreSQL advisory lock of the people register's import writes (lock_for_writing)
LOCK_POLL_SECONDS = 0.2
HEARTBEAT_SECONDS = 5.0  # how often a run waiting for the write lock writes its heartbeat
LOCK_PATIENCE = 600.0  # seconds a run's own bookkeeping waits for another's SQLite write transaction
CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE2 compound file: an old .xls, or an encrypted .xlsx
ENCRYPTED = "EncryptedPackage".encode("utf-16-le")  # the stream an encrypted .xlsx is held in
TICK_SECONDS = 0.5  # the run row's progress is written at most this often
KINDS = tuple(sheets.KIND_NAMES)
KEY_LIMIT = 200  # characters of an Idempotency-Key (ImportRun.idempotency_key)
Progress = Callable[[int, int], None]


# --- what an importer of one kind provides ---

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

    def sheets(self, names: list[str]) -> tuple[list[tuple[str, list[sheets.Column], str, bool]], list[BadCell]]:
        """The sheets that may be read, each with its columns, its meaning and whether it must have
        them (else a sheet without them is skipped), and any problem with the file's sheets."""
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


# --- the run ---

def imports_dir(ctx: PeopleContext) -> Path:
    path = Path(ctx.settings.var_dir) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _now() -> datetime:
    return datetime.now(UTC)


def check_choices(who: Principal, kind: str, mode: str, source: str, idempotency_key: str | None = None) -> str:
    """Checks the permission and the choices of a run to be made; returns the source as stored."""
    who.require("people.manage")
    problems = {}
    if kind not in KINDS:
        problems["kind"] = sheets.one_of(KINDS)
    if mode not in sheets.MODES:
        problems["mode"] = sheets.one_of(sheets.MODES)
    source = (source or "").strip()
    if len(source) > 60:
        problems["source"] = FieldProblem("长度不能超过 {limit}", limit=60)
    if idempotency_key is not None and len(idempotency_key) > KEY_LIMIT:
        problems["idempotency_key"] = FieldProblem("长度不能超过 {limit}", limit=KEY_LIMIT)
    if problems:
        raise ValidationFailed(problems)
    return source


def create_run(db: Session, who: Principal, kind: str, mode: str, filename: str, source: str,
               idempotency_key: str | None = None) -> ImportRun:
    """A queued run (the caller commits); checks the permission and the choices first.

    With an `idempotency_key` (the uploader's, unique per user) the run claims it as it is
    written; a key already taken raises the `idempotency_race` Conflict (on PostgreSQL after
    waiting for the transaction that took it to end), and the caller rolls back and reads that
    run (`run_for_key`). Nothing is written then."""
    source = check_choices(who, kind, mode, source, idempotency_key)
    key = idempotency_key if idempotency_key and who.user_id else None
    run = ImportRun(kind=kind, mode=mode, filename=(filename or "")[-200:], source=source or who.display_name,
                    status="queued", user_id=who.user_id or None, created_at=_now(), heartbeat_at=_now(),
                    idempotency_key=key)
    if key is None:
        db.add(run)
        db.flush()
    elif not add_unique(db, run):
        raise Conflict("重复提交", code="idempotency_race")
    return run


def run_for_key(db: Session, who: Principal, idempotency_key: str | None) -> ImportRun | None:
    """The caller's run made by an upload with this Idempotency-Key, as `get_run` shows it; None if
    there is none. Keys are the uploader's own: another user's run with the same key is not found.
    A caller without a user account (the CLI's system principal) has no keys."""
    if not idempotency_key or not who.user_id:
        return None
    run_id = db.scalar(select(ImportRun.id).where(ImportRun.user_id == who.user_id,
                                                  ImportRun.idempotency_key == idempotency_key))
    return None if run_id is None else get_run(db, who, run_id)


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
    skipped: list[str] = field(default_factory=list)  # sheets without the columns, left unread
    ticked: float = 0.0  # time.monotonic() of the last progress written to the run row


def process_run(sessions: sessionmaker[Session], ctx: PeopleContext, who: Principal, run_id: int, path: Path,
                progress: Progress | None = None, delete_file: bool = False) -> ImportRun:
    """Runs a queued run to its end. Any failure marks it failed with the reason; nothing raises."""
    state = _State(run_id)
    spill = errors_path = book = None
    try:
        with sessions() as db:
            run = db.get(ImportRun, run_id)
            if run is None:
                raise NotFound("找不到导入任务 {id}", id=run_id)
            kind, mode, source = run.kind, run.mode, run.source
            run.status, run.heartbeat_at, run.message = "running", _now(), CHECKING
            db.commit()
        _live(run_id, message=CHECKING)
        folder = imports_dir(ctx)
        if mode == "good_rows" and path.stat().st_size >= PIPELINE_MIN_BYTES:
            errors_path = _pipelined(sessions, ctx, who, kind, source, path, state, progress)
            _finish(sessions, state, "done", _summary(state, mode, state.good > 0), errors_path)
            return _finished_run(sessions, run_id)
        spill = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in `finally`, read back by name
            dir=folder, prefix=f"run{run_id}-", suffix=".spill", delete=False)
        book = ErrorBook()
        _check_pass(sessions, ctx, who, kind, source, path, BatchSink(spill), book, state, progress)
        spill.close()
        errors_path = _save_errors(book, folder, run_id)
        write = state.good > 0 and (mode == "good_rows" or state.bad == 0)
        if write:
            _update(sessions, run_id, message=WRITING, error_file=str(errors_path or ""))
            _write_pass(sessions, ctx, who, kind, source, Path(spill.name), state, progress,
                        atomic=mode == "all_or_nothing")
        _finish(sessions, state, "done", _summary(state, mode, write), errors_path)
    except Exception as exc:  # the run must end saying why, whatever happened
        message = _failure(exc, path)
        if not isinstance(exc, AppError | NotAWorkbook):
            log.exception("import run %s failed", run_id)
        if state.counts.written:
            message += "；" + _WRITTEN_BEFORE.format(written=state.counts.written)
        elif mode == "all_or_nothing" or state.good:
            message += "；" + _NOTHING_WRITTEN
        try:
            _finish(sessions, state, "failed", message, errors_path)
        except Exception:
            log.exception("could not mark import run %s failed", run_id)
    finally:
        _forget(run_id)
        if book is not None:
            book.discard()  # saved already, unless the run failed on the way
        if spill is not None:
            spill.close()
            Path(spill.name).unlink(missing_ok=True)
        if delete_file:
            Path(path).unlink(missing_ok=True)
    return _finished_run(sessions, run_id)


def _finished_run(sessions: sessionmaker[Session], run_id: int) -> ImportRun:
    with sessions() as db:
        run = db.get(ImportRun, run_id)
        db.expunge(run)
        return run


def _save_errors(book: ErrorBook, folder: Path, run_id: int) -> Path | None:
    if not (book.rows or book.problems):
        return None
    errors_path = folder / f"run{run_id}-errors-{uuid.uuid4().hex[:8]}.xlsx"
    book.save(errors_path)
    return errors_path


NOT_XLSX = "不是有效的 Excel（.xlsx）文件"
PASSWORD = "文件设有打开密码，无法读取：请在 Excel 或 WPS 中取消密码并保存后再导入"
OLD_EXCEL = "这是旧版 Excel（.xls）或 WPS 表格（.et）文件：请在 Excel 或 WPS 中另存为 .xlsx 后再导入"
_INTERNAL = "导入中断：服务器内部错误（{error}），详情已记入服务器日志，请联系管理员"
_CHECKER_DIED = "导入中断：检查进程意外退出（退出码 {exit_code}）"
_WRITTEN_BEFORE = "中断前已写入 {written} 行，重新导入同一文件即可补齐，不会重复"
_NOTHING_WRITTEN = "未写入任何数据"
_REFUSED = "{bad} 行有错误，未导入任何数据（全部正确才导入）"
_NONE_GOOD = "{bad} 行有错误，没有正确的行可导入"
_COUNTS = "共 {checked} 行：新建 {created}，更新 {updated}，未变 {unchanged}"
_CONFLICTS = "{conflicts} 处与登记信息不一致，待人工处理"
_BAD = "{bad} 行有错误未导入"
_SKIPPED = "已跳过没有所需列名的工作表：{sheets}"


def _failure(exc: Exception, path: Path | None = None) -> str:
    if isinstance(exc, NotAWorkbook):
        return _not_a_workbook(path)
    if isinstance(exc, AppError):
        return str(exc)
    # Not the exception's text: a database error quotes the row it failed on (names, numbers), and
    # the uploader needs to know it failed, not what the server saw. The log has the rest.
    return _INTERNAL.format(error=type(exc).__name__)


def _not_a_workbook(path: Path | None) -> str:
    """Why a file is no workbook, when it can be told: an old .xls (or WPS .et), or a password."""
    try:
        with open(path, "rb") as f:  # type: ignore[arg-type]
            if f.read(len(CFB)) != CFB:
                return NOT_XLSX
            tail = b""
            while block := f.read(1 << 20):
                if ENCRYPTED in tail + block:
                    return PASSWORD
                tail = block[-len(ENCRYPTED):]
            return OLD_EXCEL
    except (OSError, TypeError):
        return NOT_XLSX


def _summary(state: _State, mode: str, written: bool) -> str:
    c = state.counts
    if state.bad and not written:
        parts = [(_REFUSED if mode == "all_or_nothing" else _NONE_GOOD).format(bad=state.bad)]
    else:
        parts = [_COUNTS.format(checked=state.checked, created=c.created, updated=c.updated, unchanged=c.unchanged)]
        if c.conflicts:
            parts.append(_CONFLICTS.format(conflicts=c.conflicts))
        if state.bad:
            parts.append(_BAD.format(bad=state.bad))
    if state.skipped:
        parts.append(_SKIPPED.format(sheets="、".join(state.skipped)))
    return "；".join(parts)


# Every message a run row may carry, for `message_in` to say it in English.
MESSAGES = (CHECKING, WRITING, PIPELINED, STALE, NOT_XLSX, PASSWORD, OLD_EXCEL, _INTERNAL, _CHECKER_DIED,
            _WRITTEN_BEFORE, _NOTHING_WRITTEN, _REFUSED, _NONE_GOOD, _COUNTS, _CONFLICTS, _BAD, _SKIPPED,
            "工作表“{sheet}”缺少必填列：{columns}", "工作表“{sheet}”中有重复的列：{columns}",
            "工作簿中有无法识别的工作表，见错误文件")


def _pattern(template: str) -> re.Pattern:
    out = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        out.append(re.escape(literal))
        if name:
            out.append(f"(?P<{name}>[^；]+?)")  # a value never holds the ； that joins a summary's pieces
    return re.compile("^" + "".join(out) + "$", re.S)


_PATTERNS = [(t, _pattern(t)) for t in MESSAGES]


def message_in(message: str, lang: str) -> str:
    """A run's message (stored in Chinese, as it was written) in `lang`, piece by piece (the pieces
    of a summary are joined by ；); a piece this module did not write stays as it is."""
    if lang == "zh" or not message:
        return message
    pieces = []
    for piece in [message] if any(p.match(message) for _t, p in _PATTERNS) else message.split("；"):
        for template, pattern in _PATTERNS:
            m = pattern.match(piece)
            if m:
                piece = translate(template, lang, **m.groupdict())
                break
        pieces.append(piece)
    return translate("；", lang).join(pieces)


# --- the run row: written by the run, overlaid with what this process knows that the row cannot say yet ---

_LIVE: dict[int, dict] = {}  # run id → figures not yet readable from the row (an atomic run's, on SQLite)
_LIVE_LOCK = threading.Lock()


def _live(run_id: int, **values) -> None:
    with _LIVE_LOCK:
        _LIVE.setdefault(run_id, {}).update(values)


def _forget(run_id: int) -> None:
    with _LIVE_LOCK:
        _LIVE.pop(run_id, None)


def _locked(exc: OperationalError) -> bool:
    text = str(exc.orig if getattr(exc, "orig", None) is not None else exc)
    return "locked" in text or "busy" in text


def _update(sessions: sessionmaker[Session], run_id: int, **values) -> None:
    """Writes the run row. On SQLite another run's write transaction may hold the database (an
    all_or_nothing run holds it until its last row): this waits for it, up to LOCK_PATIENCE."""
    _live(run_id, **values)
    deadline = time.monotonic() + LOCK_PATIENCE
    while True:
        try:
            with sessions() as db:
                db.execute(update(ImportRun).where(ImportRun.id == run_id).values(heartbeat_at=_now(), **values))
                db.commit()
            return
        except OperationalError as exc:
            if not _locked(exc) or time.monotonic() > deadline:
                raise


def _progress_update(sessions: sessionmaker[Session], run_id: int, **values) -> None:
    """Progress to the run row if the database can take it now; else only to this process's
    memory (on SQLite another run may hold the database for a while: checking need not wait)."""
    _live(run_id, **values)
    with sessions.kw["bind"].connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            patience = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
            conn.exec_driver_sql("PRAGMA busy_timeout=50")
        try:
            conn.execute(update(ImportRun).where(ImportRun.id == run_id).values(heartbeat_at=_now(), **values))
            conn.commit()
        except OperationalError as exc:
            conn.rollback()
            if not _locked(exc):
                raise
        finally:
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={int(patience)}")


def _finish(sessions, state: _State, status: str, message: str, errors_path: Path | None) -> None:
    _update(sessions, state.run_id, status=status, message=message, finished_at=_now(),
            total_rows=state.checked, processed_rows=state.checked, bad_rows=state.bad,
            imported_rows=state.counts.written, conflicts=state.counts.conflicts,
            error_file=str(errors_path or ""))


def _tick(sessions, state: _State, progress: Progress | None, force: bool = False, record: bool = True) -> None:
    """The check pass's progress: to `progress` every time, to the run row (a transaction of its
    own) at most every TICK_SECONDS. A pipelined checker does not `record`: the writing process
    records its figures with each batch, and only one connection writes while an import runs."""
    now = time.monotonic()
    if record and (force or now - state.ticked >= TICK_SECONDS):
        state.ticked = now
        _progress_update(sessions, state.run_id, **_figures(state, state.counts))
    if progress is not None:
        _report(state, progress)


def _figures(state: _State, counts: Counts) -> dict[str, int]:
    return {"processed_rows": state.checked, "total_rows": max(state.total, state.checked), "bad_rows": state.bad,
            "imported_rows": counts.written, "conflicts": counts.conflicts}


def _report(state: _State, progress: Progress) -> None:
    to_write = state.good if state.checked >= state.total else max(state.total, state.checked)
    progress(state.checked + state.counts.written, max(state.total, state.checked) + to_write)


class BatchSink:
    """Where the check pass puts each batch of good rows: pickled to the spill file."""

    def __init__(self, spill) -> None:
        self.spill = spill

    def put(self, good: list) -> None:
        pickle.dump(good, self.spill, protocol=pickle.HIGHEST_PROTOCOL)


class _PipeSink:
    """…or straight to the writing process, in a pipelined run."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def put(self, good: list) -> None:
        self.conn.send(("batch", good))


def _check_pass(sessions, ctx, who, kind, source, path: Path, sink, book: ErrorBook, state: _State,
                progress: Progress | None, record: bool = True) -> None:
    with XlsxReader(path) as reader, sessions() as db:
        importer = importer_for(kind)(db, ctx, who, source)
        plan, sheet_problems = importer.sheets(reader.sheet_names)
        for problem in sheet_problems:
            book.add(problem.value if isinstance(problem.value, str) else "", 1, [], [], [problem])
            state.bad += 1
        if sheet_problems:
            raise AppError("工作簿中有无法识别的工作表，见错误文件")
        tables, state.skipped = find_tables(reader, plan, sheets.KIND_NAMES.get(kind, ""), book)
        state.total = sum(max(reader.count_rows(t.sheet) - t.above, 0) for t in tables)
        _tick(sessions, state, progress, force=True, record=record)
        db.rollback()  # no transaction stays open while rows are read
        seen: dict[object, tuple[str, int]] = {}
        pending: list[tuple[Row, object]] = []
        for table in tables:
            key_header = next(c.header for c in table.columns if c.key == importer.key_column)
            for row in rows_of(reader, table):
                state.checked += 1
                clean, bad = importer.check(row)
                if clean is not None:
                    key = importer.key(clean)
                    first = seen.get(key)
                    if first is not None:
                        same = (FieldProblem("与第 {row} 行重复", row=first[1]) if first[0] == row.sheet else
                                FieldProblem("与“{sheet}”第 {row} 行重复", sheet=first[0], row=first[1]))
                        bad = [BadCell(key_header, row.cells.get(importer.key_column, ""), same)]
                        clean = None
                    else:
                        seen[key] = (row.sheet, row.number)
                if clean is None:
                    state.bad += 1
                    book.add(row.sheet, row.number, row.raw, table.headers, bad)
                else:
                    pending.append((row, clean))
                if len(pending) >= BATCH:
                    _flush_checked(db, importer, pending, sink, book, state, table.headers)
                    pending = []
                if state.checked % BATCH == 0:
                    _tick(sessions, state, progress, record=record)
            if pending:
                _flush_checked(db, importer, pending, sink, book, state, table.headers)
                pending = []
        state.total = state.checked
        _tick(sessions, state, progress, force=True, record=record)


def _flush_checked(db: Session, importer: Importer, pending: list[tuple[Row, object]], sink, book: ErrorBook,
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
        sink.put(good)
        state.good += len(good)


def _write_pass(sessions, ctx, who, kind, source, spill_path: Path, state: _State, progress: Progress | None,
                atomic: bool = False) -> None:
    with open(spill_path, "rb") as spill, _Writer(sessions, ctx, who, kind, source, state, progress,
                                                  atomic) as writer:
        while True:
            try:
                batch = pickle.load(spill)
            except EOFError:
                break
            writer.write(batch)


def lock_for_writing(db: Session, waiting: Callable[[], None] | None = None) -> None:
    """Begins `db`'s transaction holding the people register's write lock, which every import's
    write transaction (and the nightly tagging) takes, so that what a transaction reads before it
    writes (is this person, house, relation or tag there yet?) stays true until it commits: two
    imports of overlapping files, or one upload sent twice, then merge instead of doubling a
    relation or failing on a unique key. PostgreSQL: an advisory lock, held to the commit. SQLite:
    BEGIN IMMEDIATE, its one writer's lock taken before the first read (pysqlite would begin only
    at the first write, after the reads). `waiting()` is called while another holds it."""
    while True:
        conn = db.connection()
        if conn.dialect.name == "postgresql":
            if conn.scalar(select(func.pg_try_advisory_xact_lock(WRITE_LOCK))):
                return
        else:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
        db.rollback()
        if waiting is not None:
            waiting()
        time.sleep(LOCK_POLL_SECONDS)


class _Writer:
    """Writes checked batches, gathered into transactions of WRITE_ROWS, through one connection
    held for the whole run: SQLite keeps a connection's page cache from one transaction to the
    next unless another connection wrote in between, and a pooled session would take a different
    connection each time. The run row's figures are written in the same transaction as the rows,
    so they never run ahead of (or behind) what was committed.

    `atomic` (all_or_nothing): every batch goes into one transaction, committed at the end, so a
    run that fails on the way (the server restarted, the database refused) has written nothing,
    as the mode promises. The run row is then left out of that transaction: its figures go to
    this process's memory (`live`), and on PostgreSQL through a connection of their own too (on
    SQLite no other connection can write until the commit)."""

    def __init__(self, sessions, ctx, who, kind, source, state: _State, progress: Progress | None,
                 atomic: bool = False) -> None:
        self.sessions, self.state, self.progress, self.atomic = sessions, state, progress, atomic
        self.conn = sessions.kw["bind"].connect()
        self.cache_size = self.prepare_threshold = None
        self.in_transaction = False
        if self.conn.dialect.name == "postgresql":
            self.prepare_threshold = self.conn.connection.driver_connection.prepare_threshold
            _plan_every_statement(self.conn.connection.driver_connection)
        if self.conn.dialect.name == "sqlite":
            # A transaction of WRITE_ROWS dirties tens of MB of index pages; SQLite's default 2 MB page
            # cache would write them out and read them back (229 µs a row by 100,000; 133 with 64 MB, which
            # took the importing process to 291 MB of its 300 MB aim, so 48 MB).
            self.cache_size = self.conn.exec_driver_sql("PRAGMA cache_size").scalar()
            self.conn.exec_driver_sql(f"PRAGMA cache_size={WRITER_CACHE_SIZE}")
            self.conn.commit()  # the session must begin (and commit) its own transactions on it
        self.db = sessions(bind=self.conn)
        self.importer = importer_for(kind)(self.db, ctx, who, source)
        self.db.commit()
        self.pending: list = []

    def write(self, batch: list) -> None:
        self.pending.extend(batch)
        if len(self.pending) >= WRITE_ROWS:
            self.flush()

    def _begin(self) -> None:
        if not self.in_transaction:
            lock_for_writing(self.db, self._waiting)
            self.in_transaction = True

    def _waiting(self) -> None:
        """While another import writes: this run is alive, and says so (its heartbeat)."""
        _live(self.state.run_id, heartbeat_at=_now())
        if self.conn.dialect.name == "postgresql" and time.monotonic() - self.state.ticked >= HEARTBEAT_SECONDS:
            self.state.ticked = time.monotonic()
            _update(self.sessions, self.state.run_id)

    def _commit(self) -> None:
        self.db.commit()
        self.in_transaction = False

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        self._begin()
        counts = self.importer.write(self.db, batch)
        total = Counts()
        total.add(self.state.counts)
        total.add(counts)
        if self.atomic:
            self.db.flush()
            self.state.counts = total
            self._record(force=True)
        else:
            self.db.execute(update(ImportRun).where(ImportRun.id == self.state.run_id).values(
                heartbeat_at=_now(), **_figures(self.state, total)))
            self._commit()
            self.state.counts = total
            self.state.ticked = time.monotonic()
            _live(self.state.run_id, **_figures(self.state, total))
        self.db.expunge_all()  # an import that merges 100,000 known people must not keep them all
        if self.progress is not None:
            _report(self.state, self.progress)

    def _record(self, force: bool = False) -> None:
        """The figures, outside the rows' transaction (atomic runs) or in one of their own."""
        figures = _figures(self.state, self.state.counts)
        _live(self.state.run_id, **figures)
        if not force and time.monotonic() - self.state.ticked < TICK_SECONDS:
            return
        self.state.ticked = time.monotonic()
        if self.atomic:
            if self.conn.dialect.name == "postgresql":
                _update(self.sessions, self.state.run_id, **figures)
            return
        self._begin()
        self.db.execute(update(ImportRun).where(ImportRun.id == self.state.run_id).values(
            heartbeat_at=_now(), **figures))
        self._commit()

    def tick(self) -> None:
        """The checker's progress, through this connection (a write by another one would empty
        this one's page cache) and at most every TICK_SECONDS."""
        self._record()
        if self.progress is not None:
            _report(self.state, self.progress)

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type, *_exc) -> None:
        try:
            if exc_type is None:
                self.flush()
                if self.in_transaction:
                    self._commit()
        except BaseException:
            exc_type = Exception
            raise
        finally:
            if exc_type is not None and self.atomic:
                self.state.counts = Counts()  # rolled back by the close below: nothing was written
            self.db.close()
            if self.cache_size is not None:  # the pooled connection goes back with its usual cache
                self.conn.exec_driver_sql(f"PRAGMA cache_size={int(self.cache_size)}")
            if self.prepare_threshold is not None:  # …and prepares statements again
                self.conn.connection.driver_connection.prepare_threshold = self.prepare_threshold
            self.conn.close()


# --- the pipelined run: a second process checks while this one writes ---

def _pipelined(sessions, ctx: PeopleContext, who: Principal, kind: str, source: str, path: Path, state: _State,
               progress: Progress | None) -> Path | None:
    """Writes each batch as the checking process passes it. Returns the error workbook's path;
    raises AppError with the checker's reason if the check failed (the batches written before
    stay written: this mode imports the good rows, and importing the file again completes it)."""
    spawn = multiprocessing.get_context("spawn")  # not fork: this process may be a threaded server
    receive, send = spawn.Pipe(duplex=False)
    checker = spawn.Process(target=_check_in_child, name=f"import-check-{state.run_id}", daemon=True,
                            args=(send, ctx.settings, who, state.run_id, kind, source, str(path)))
    checker.start()
    _update(sessions, state.run_id, message=PIPELINED)
    send.close()  # ours is the reading end: when the checker ends, recv raises EOFError
    inbox = _Inbox(receive)
    try:
        with _Writer(sessions, ctx, who, kind, source, state, progress) as writer:
            return _write_as_checked(inbox, checker, writer, state)
    finally:
        inbox.stop()
        receive.close()
        checker.join(10)
        if checker.is_alive():
            checker.terminate()
            checker.join()


class _Inbox:
    """The checker's messages, received by a thread of their own: while the writer commits a
    transaction (a second or so) the checker must not wait for it with a full pipe, so up to
    INBOX_BATCHES batches wait here instead."""

    def __init__(self, receive) -> None:
        self.receive = receive
        self.queue: queue.Queue = queue.Queue(maxsize=INBOX_BATCHES)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="import-inbox", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                message = self.receive.recv()
            except (EOFError, OSError):
                message = None  # the checker ended (or we closed the pipe)
            while not self.stopped.is_set():
                try:
                    self.queue.put(message, timeout=0.5)
                    break
                except queue.Full:
                    continue
            if message is None:
                return

    def get(self):
        """The next message; None once the checker has ended without another word."""
        return self.queue.get()

    def stop(self) -> None:
        self.stopped.set()


def _write_as_checked(inbox: _Inbox, checker, writer: _Writer, state: _State) -> Path | None:
    while True:
        message = inbox.get()
        if message is None:
            checker.join(5)
            raise AppError(_CHECKER_DIED, exit_code=checker.exitcode) from None
        what = message[0]
        if what == "batch":
            writer.write(message[1])
        elif what == "tick":
            state.checked, state.total, state.bad, state.good = message[1:]
            writer.tick()
        elif what == "done":
            state.checked, state.total, state.bad, state.good, errors, state.skipped = message[1:]
            return Path(errors) if errors else None
        else:  # "failed"
            raise AppError(message[1])


def _plan_every_statement(psycopg_connection) -> None:
    """psycopg prepares a statement run five times, and PostgreSQL may then keep one generic plan
    for it: made while an import's table was nearly empty, that plan scans the whole table, and
    every batch of a growing import gets slower (905 rows/s over 100,000). An import's lookups
    are few and large, so planning each one costs nothing that shows."""
    psycopg_connection.prepare_threshold = None


class _ChildProgress:
    """The checker's progress callback: tells the writing process, which drives the progress bar."""

    def __init__(self, conn, state: _State) -> None:
        self.conn, self.state = conn, state

    def __call__(self, _done: int, _total: int) -> None:
        s = self.state
        self.conn.send(("tick", s.checked, s.total, s.bad, s.good))


def _check_in_child(conn, settings, who: Principal, run_id: int, kind: str, source: str, path: str) -> None:
    """The checking process of a pipelined run: its own engine, the same check pass, the batches
    sent down `conn`, and the error workbook saved here."""
    from gridgov.core.db import make_engine, make_sessionmaker
    from gridgov.people.service import people_context

    engine = make_engine(settings.database_url)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", lambda dbapi_conn, _record: _plan_every_statement(dbapi_conn))
    try:
        sessions = make_sessionmaker(engine)
        ctx = people_context(settings)
        state = _State(run_id)
        book = ErrorBook()
        _check_pass(sessions, ctx, who, kind, source, Path(path), _PipeSink(conn), book, state,
                    _ChildProgress(conn, state), record=False)
        errors = _save_errors(book, imports_dir(ctx), run_id)
        conn.send(("done", state.checked, state.total, state.bad, state.good, str(errors or ""), state.skipped))
    except Exception as exc:
        if not isinstance(exc, AppError | NotAWorkbook | BrokenPipeError):
            log.exception("import run %s: the check failed", run_id)
        # The writing process may have stopped listening: it failed first, and says why.
        with contextlib.suppress(OSError):
            conn.send(("failed", _failure(exc, Path(path))))
    finally:
        conn.close()
        engine.dispose()


# --- reading runs ---

def mark_stale(db: Session, now: datetime | None = None) -> int:
    """Marks queued or running runs whose heartbeat stopped as failed; returns how many (caller commits).
    Looks before it writes: a page that only lists runs must not wait for an import's write lock
    (on SQLite, the whole database's); and a run this process is working on is alive, whatever
    its row says (an all_or_nothing run on SQLite cannot write its heartbeat until it commits)."""
    now = now or _now()
    where = [ImportRun.status.in_(("queued", "running")),
             or_(ImportRun.heartbeat_at.is_(None), ImportRun.heartbeat_at < now - STALE_AFTER)]
    with _LIVE_LOCK:
        alive = list(_LIVE)
    if alive:
        where.append(ImportRun.id.not_in(alive))
    if db.scalar(select(ImportRun.id).where(*where).limit(1)) is None:
        return 0
    result = db.execute(update(ImportRun).where(*where).values(status="failed", finished_at=now, message=STALE))
    return result.rowcount or 0


def _overlaid(db: Session, run: ImportRun) -> ImportRun:
    """A run as this process knows it: a working run's figures may be ahead of its row. The row
    is then detached first, so what is shown is never written back."""
    with _LIVE_LOCK:
        live = dict(_LIVE.get(run.id) or {})
    if live and run.status in ("queued", "running"):
        if run in db:
            db.expunge(run)
        for key, value in live.items():
            setattr(run, key, value)
    return run


def get_run(db: Session, who: Principal, run_id: int) -> ImportRun:
    """A run of the caller's own (its error workbook holds the personal data they uploaded)."""
    run = db.get(ImportRun, run_id)
    if run is None or run.user_id != (who.user_id or None):
        raise NotFound("找不到导入任务 {id}", id=run_id)
    if run.status in ("queued", "running") and mark_stale(db):
        db.commit()
        db.refresh(run)
    return _overlaid(db, run)


def my_runs(db: Session, who: Principal, limit: int = 20) -> list[ImportRun]:
    if mark_stale(db):
        db.commit()
    return [_overlaid(db, r) for r in db.scalars(select(ImportRun).where(ImportRun.user_id == (who.user_id or None))
                                                 .order_by(ImportRun.id.desc()).limit(limit))]


def error_file(ctx: PeopleContext, run: ImportRun, lang: str = "zh") -> Path:
    """The run's error workbook in `lang` (Chinese when there is none in it); only files inside
    var/imports are served."""
    if not run.error_file:
        if run.bad_rows and run.status in ("done", "failed"):
            raise NotFound("错误文件已超过保留期限，已删除；请重新导入以再次得到错误行")
        raise NotFound("该导入没有错误文件")
    path = Path(run.error_file).resolve()
    if path.parent != imports_dir(ctx).resolve() or not path.is_file():
        raise NotFound("该导入没有错误文件")
    translated = book_path(path, lang) if lang in BOOK_LANGS else path
    return translated if translated.is_file() else path


@dataclass
class Purged:
    error_files: int = 0  # finished runs' error workbooks past the retention
    stray_files: int = 0  # files no run points to: uploads a stopped process left, workbooks of deleted runs


def purge_import_files(db: Session, ctx: PeopleContext, now: datetime | None = None) -> Purged:
    """Deletes what imports leave under var/imports once it is no longer needed. An error
    workbook holds the bad rows as they were uploaded, ID and phone numbers in the clear, so it
    is kept `Settings.import_files_days` after its run finished, for the uploader to correct
    them, and no longer. Any other file there older than that is no run's (an upload is deleted
    when its run ends, and a run whose process stopped is marked failed within minutes). The
    caller commits; the files are gone at once, and a run that lost its workbook says so."""
    now = now or _now()
    cutoff = now - timedelta(days=ctx.settings.import_files_days)
    folder = imports_dir(ctx).resolve()
    done = Purged()
    expired = db.scalars(select(ImportRun).where(ImportRun.error_file != "", ImportRun.finished_at < cutoff,
                                                 ImportRun.status.in_(("done", "failed"))))
    for run in expired:
        path = Path(run.error_file).resolve()
        if path.parent == folder:  # never anything outside the folder, whatever the row says
            for lang in BOOK_LANGS:
                book_path(path, lang).unlink(missing_ok=True)
        run.error_file = ""
        done.error_files += 1
    db.flush()
    kept = {book_path(Path(p).resolve(), lang) for p in db.scalars(select(ImportRun.error_file).where(
        ImportRun.error_file != "")) for lang in BOOK_LANGS}
    for path in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):  # another worker may purge at the same time
            if path.is_file() and path not in kept and path.stat().st_mtime < cutoff.timestamp():
                path.unlink()
                done.stray_files += 1
    return done


def progress_of(run: ImportRun) -> int:
    """0–100 for a progress bar: checking is the first half, writing the second."""
    if run.status in ("done", "failed"):
        return 100
    total = max(run.total_rows, 1)
    if run.message == PIPELINED:  # checking and writing at once, each half the bar
        return min(99, int(50 * run.processed_rows / total + 50 * run.imported_rows / total))
    if run.message == WRITING:
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


def check_workbook(path: Path) -> None:
    """Refuses a stored upload that is no .xlsx workbook at all (an old .xls or WPS .et file, one
    with an open password, anything else), before a run is made for it: the uploader is told at
    once, on the form, and no run (nor an Idempotency-Key) is spent on it. Only the archive's
    directory and its list of sheets are read; the sheets' columns are the run's to check."""
    try:
        XlsxReader(path).close()
    except NotAWorkbook:
        raise ValidationFailed({"file": FieldProblem(_not_a_workbook(path))}) from None
