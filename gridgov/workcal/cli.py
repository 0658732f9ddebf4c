"""`gridgov calendar …`: seed, show and enter the working calendar, and compute a deadline."""

from __future__ import annotations

from datetime import datetime, timedelta

import typer
from rich.console import Console
from rich.table import Table

calendar_app = typer.Typer(help="工作日历 Working calendar", no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _sessions():
    from gridgov.cli import _migrated_sessions

    return _migrated_sessions()


OPTIONS = {"holidays": "--holiday", "workdays": "--workday", "note": "--note", "year": "年份 YEAR"}


def _fail(exc) -> None:
    body = exc.body("zh")["error"]
    err.print(f"[red]{body['message']}[/red]")
    for field, message in body["fields"].items():
        err.print(f"  {OPTIONS.get(field, field)}: {message}")
    raise typer.Exit(1)


@calendar_app.command("seed")
def seed() -> None:
    """从 chinesecalendar 数据包导入节假日安排（可重复运行，不覆盖管理员录入的年份）/ Seed from chinesecalendar."""
    from gridgov.workcal import service

    _, engine, sessions = _sessions()
    try:
        with sessions() as db:
            changed = service.seed_from_chinesecalendar(db)
            db.commit()
            years = service.package_years()
            admin = [y for y, source in service.years_with_data(db) if source == service.ADMIN and y in years]
    finally:
        engine.dispose()
    span = f"{years.start}–{years.stop - 1}"
    if changed:
        console.print(f"已从 chinesecalendar {service.package_version()} 导入 {span} 年，写入 {changed} 个日期。")
    else:
        console.print(f"工作日历已与 chinesecalendar（{span} 年）一致，无需更改。")
    if admin:
        console.print("管理员录入的年份未覆盖：" + "、".join(str(y) for y in admin))


@calendar_app.command("show")
def show(year: int = typer.Argument(..., help="年份，如 2027")) -> None:
    """显示某年的节假日和调休上班日 / Show a year's holidays and make-up workdays."""
    from gridgov.core.errors import AppError
    from gridgov.workcal import service

    _, engine, sessions = _sessions()
    try:
        with sessions() as db:
            try:
                status = service.year_status(db, year)
            except AppError as exc:
                _fail(exc)
    finally:
        engine.dispose()
    source = service.SOURCE_LABELS[status.source]
    if status.fallback:
        console.print(f"[yellow]{year} 年没有节假日安排数据：按周一至周五计算工作日。[/yellow]"
                      f"可用 [bold]gridgov calendar set {year} --holiday … --workday …[/bold] 录入。"
                      f" (No data for {year}: working days fall back to Monday–Friday.)")
    else:
        by = f"，{status.updated_by}" if status.updated_by else ""
        console.print(f"{year} 年：{source}{by}；放假 {len(status.holidays)} 天，调休上班 {len(status.workdays)} 天")
    if status.days:
        table = Table(title=f"{year} 年节假日与调休 / exceptions to Monday–Friday")
        for col in ("日期 date", "星期", "类型 kind", "名称 name", "来源 source"):
            table.add_column(col)
        for d in status.days:
            table.add_row(d.day.isoformat(), d.weekday, d.kind_label, d.name, d.source)
        console.print(table)


@calendar_app.command("set")
def set_year(year: int = typer.Argument(..., help="年份"),
             holiday: list[str] = typer.Option(
                 [], "--holiday", help="放假：YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD，可加 :名称（范围内周末自动略过）"),
             workday: list[str] = typer.Option([], "--workday", help="调休上班（周六或周日）：YYYY-MM-DD[:名称]"),
             note: str = typer.Option("", help="备注，如公告文号")) -> None:
    """录入某年的节假日安排（替换该年已有数据）/ Enter a year's schedule, replacing what it had."""
    from gridgov.core.errors import AppError
    from gridgov.workcal import service

    _, engine, sessions = _sessions()
    try:
        with sessions() as db:
            try:
                status = service.set_year(db, year, service.parse_days("holiday", holiday),
                                          service.parse_days("workday", workday), actor="cli", note=note)
            except AppError as exc:
                _fail(exc)
            db.commit()
    finally:
        engine.dispose()
    console.print(f"已保存 {year} 年：放假 {len(status.holidays)} 天，调休上班 {len(status.workdays)} 天（管理员录入）")


@calendar_app.command("clear")
def clear(year: int = typer.Argument(..., help="年份")) -> None:
    """删除某年的数据，改为按周一至周五计算 / Forget a year's data (back to Monday–Friday)."""
    from gridgov.core.errors import AppError
    from gridgov.workcal import service

    _, engine, sessions = _sessions()
    try:
        with sessions() as db:
            try:
                had = service.clear_year(db, year)
            except AppError as exc:
                _fail(exc)
            db.commit()
    finally:
        engine.dispose()
    console.print(f"已删除 {year} 年的数据。" if had else f"{year} 年本来就没有数据。")


@calendar_app.command("deadline")
def deadline(start: str = typer.Argument(..., help="开始时间，ISO 格式，如 2026-09-30T17:00（不带时区按系统时区）"),
             amount: float = typer.Argument(..., help="时限数量，可为小数"),
             unit: str = typer.Argument(..., help="urgent_hours | work_hours | work_days | calendar_days")) -> None:
    """计算截止时间 / Compute a deadline."""
    from gridgov.workcal import service
    from gridgov.workcal.calendar import UNITS, WORKING_UNITS

    if unit not in UNITS:
        err.print(f"[red]未知的时限单位 {unit}[/red]，可用：{', '.join(UNITS)}")
        raise typer.Exit(1)
    try:
        when = datetime.fromisoformat(start)
    except ValueError:
        err.print(f"[red]开始时间格式不正确：{start}[/red]（如 2026-09-30T17:00 或 2026-09-30T17:00+08:00）")
        raise typer.Exit(1) from None
    settings, engine, sessions = _sessions()
    try:
        with sessions() as db:
            cal = service.calendar_for(db, settings)
    finally:
        engine.dispose()
    if when.tzinfo is None:
        when = when.replace(tzinfo=cal.tz)
    try:
        due = cal.deadline(when, amount, unit)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    local = due.astimezone(cal.tz)
    console.print(f"截止时间 deadline: {local:%Y-%m-%d %H:%M} ({cal.tz.key})  = {due.isoformat()}")
    console.print(f"开始 start: {when.astimezone(cal.tz):%Y-%m-%d %H:%M:%S}，时限 {amount:g} {UNITS[unit]}")
    if unit in WORKING_UNITS:
        first = cal.next_working_minute(when) if amount > 0 else when
        missing = sorted(cal.missing_years(first, max(first, due - timedelta(minutes=1))))
        if missing:
            years = "、".join(map(str, missing))
            console.print(f"[yellow]注意：{years} 年没有节假日安排数据，按周一至周五计算。[/yellow]"
                          " (no calendar data: Monday–Friday)")
