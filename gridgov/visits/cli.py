"""`gridgov visits generate`: make the due visits now, as the background job does."""

from __future__ import annotations

from datetime import date

import typer
from rich.console import Console

visits_app = typer.Typer(help="走访 Visits", no_args_is_help=True)
console = Console()


@visits_app.command("generate")
def generate_command(
        day: str = typer.Option("", "--today", help="按此日期生成（YYYY-MM-DD，默认今天）/ Generate as of this date."),
        horizon: int = typer.Option(14, "--horizon", min=0, max=366, help="提前生成的天数 / Days ahead."),
        region: str = typer.Option("", "--region", help="只生成此区划（编码）/ Only under this region code.")) -> None:
    """生成到期走访任务 / Generate due visits from the tags' visit frequencies."""
    from gridgov.cli import _migrated_sessions
    from gridgov.regions.models import Region
    from gridgov.visits.service import generate_due_visits, local_today

    settings, engine, sessions = _migrated_sessions()
    try:
        today = date.fromisoformat(day) if day else local_today(settings)
    except ValueError:
        console.print(f"[red]日期格式应为 YYYY-MM-DD：{day}[/red]")
        raise typer.Exit(2) from None
    try:
        with sessions() as db:
            path = "/"
            if region:
                row = db.get(Region, region)
                if row is None:
                    console.print(f"[red]找不到区划 {region}[/red]")
                    raise typer.Exit(2)
                path = row.path
            report = generate_due_visits(db, today, settings.timezone, horizon_days=horizon, region_path=path)
            db.commit()
    finally:
        engine.dispose()
    console.print(f"走访任务（截至 {today.isoformat()} 后 {horizon} 天）：新生成 {report.created} 条，"
                  f"移除 {report.dropped} 条（标签已撤销），补派网格员 {report.assigned} 条")
