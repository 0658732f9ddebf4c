"""`gridgov import residents|houses|relations|tags FILE`: the same import as the page, with a progress bar.

Exit codes: 0 when the run finished (in `good_rows` mode bad rows are reported, and the good ones
written); 1 when rows were rejected in `all_or_nothing` mode and nothing was written; 2 when the
file could not be imported at all (unreadable, missing columns, unknown user).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table


class Kind(StrEnum):
    residents = "residents"
    houses = "houses"
    relations = "relations"
    tags = "tags"


class Mode(StrEnum):
    all_or_nothing = "all_or_nothing"
    good_rows = "good_rows"


def import_command(
        kind: Kind = typer.Argument(..., help="residents 居民 | houses 房屋 | relations 人房关系 | tags 标签"),
        file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="Excel (.xlsx) 文件"),
        mode: Mode = typer.Option(Mode.all_or_nothing, "--mode",
                                  help="all_or_nothing 全部正确才导入 | good_rows 只导入正确的行"),
        source: str = typer.Option("", "--source", help="数据来源部门，如 卫健局 / The department the data came from"),
        as_user: str = typer.Option("", "--as", help="以该用户的权限和管辖范围导入 / Import as this user"),
) -> None:
    """从 Excel 导入人口、房屋、人房关系或标签 / Import people data from Excel."""
    from sqlalchemy import select

    from gridgov.accounts.models import User
    from gridgov.accounts.service import principal_of
    from gridgov.cli import _migrated_sessions, _system_principal
    from gridgov.core.errors import AppError
    from gridgov.people.imports import run_import
    from gridgov.people.service import people_context

    console, err = Console(), Console(stderr=True)
    settings, engine, sessions = _migrated_sessions()
    try:
        who = _system_principal()
        if as_user:
            with sessions() as db:
                user = db.scalar(select(User).where(User.username == as_user))
                if user is None or not user.is_active:
                    err.print(f"[red]没有可用的用户 {escape(as_user)}[/red] (no such active user)")
                    raise typer.Exit(2)
                who = principal_of(user)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=console, transient=False) as bar:
            task = bar.add_task(f"导入 {kind.value}", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            try:
                run = run_import(sessions, people_context(settings), who, kind.value, file, mode.value, source,
                                 progress=progress)
            except AppError as exc:
                err.print(f"[red]{escape(str(exc))}[/red]")
                raise typer.Exit(2) from None
            bar.update(task, completed=bar.tasks[0].total or 0)
        table = Table(show_header=False)
        for label, value in (("状态 status", run.status), ("总行数 rows", run.total_rows),
                             ("已写入 written", run.imported_rows), ("错误行 bad rows", run.bad_rows),
                             ("待处理冲突 conflicts", run.conflicts)):
            table.add_row(label, str(value))
        console.print(table)
        console.print(escape(run.message))
        if run.error_file:
            console.print(f"错误文件 (error workbook): {escape(run.error_file)}")
        if run.status == "failed":
            raise typer.Exit(2)
        if run.bad_rows and mode == Mode.all_or_nothing:
            raise typer.Exit(1)
    finally:
        engine.dispose()
