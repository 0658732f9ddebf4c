"""The `gridgov` command. Each command is a job that owns its transaction."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gridgov.core.config import Settings
from gridgov.core.db import make_engine, make_sessionmaker

app = typer.Typer(help="GridGov 网格化社会治理平台", no_args_is_help=True, add_completion=False)
users_app = typer.Typer(help="账户管理 Accounts", no_args_is_help=True)
grids_app = typer.Typer(help="网格图层 Grid layer", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(grids_app, name="grids")
console = Console()


def _register_subcommands() -> None:
    from gridgov.core.audit_cli import audit_app
    from gridgov.core.jobs import worker_command
    from gridgov.open311.cli import open311_app
    from gridgov.people.import_cli import import_command
    from gridgov.visits.cli import visits_app
    from gridgov.workcal.cli import calendar_app

    app.command("worker", help="运行后台任务（通知投递、时限巡检）/ Run background jobs")(worker_command)
    app.add_typer(open311_app, name="open311")
    app.add_typer(calendar_app, name="calendar")
    app.command("import", help="从 Excel 导入人口、房屋、人房关系或标签 / Import people data")(import_command)
    app.add_typer(audit_app, name="audit")
    app.add_typer(visits_app, name="visits")


_register_subcommands()
err = Console(stderr=True)


def _engine():
    settings = Settings()
    return settings, make_engine(settings.resolved_database_url)


def _migrated_sessions():
    from gridgov.core import migrate

    settings, engine = _engine()
    if not migrate.is_current(engine):
        err.print("[red]数据库尚未迁移或版本落后。[/red] 请先运行：[bold]gridgov migrate[/bold]  "
                  "(The database is not migrated: run `gridgov migrate` first.)")
        raise typer.Exit(2)
    return settings, engine, make_sessionmaker(engine)


def _system_principal():
    from gridgov.accounts.access import Principal

    # The command line is run by the operator of the installation: the whole tree, as admin.
    return Principal(user_id=0, username="cli", display_name="命令行", role="admin", region_code="",
                     region_path="/", department_id=None)


@app.command()
def migrate() -> None:
    """升级数据库到最新版本 / Upgrade the database schema."""
    from gridgov.core import migrate as m

    settings, engine = _engine()
    before = m.current_revision(engine)
    m.upgrade(engine, data_key=settings.resolved_data_key)
    after = m.current_revision(engine)
    from gridgov.workcal.service import seed_from_chinesecalendar

    with make_sessionmaker(engine)() as db:
        seeded = seed_from_chinesecalendar(db)
        db.commit()
    if seeded:
        console.print(f"工作日历：已从 chinesecalendar 载入 {seeded} 个节假日和调休日")
    console.print(f"数据库已是最新版本 {after}" if before == after else f"数据库已从 {before or '空库'} 升级到 {after}")


@app.command()
def demo() -> None:
    """生成芦淞区演示数据（可重复运行）/ Build the demo district (idempotent)."""
    from gridgov.cases.sweep import sweep_until_done
    from gridgov.demo.service import build_demo

    settings, _, sessions = _migrated_sessions()
    with sessions() as db, console.status("正在生成演示数据…") as status:
        report = build_demo(db, progress=lambda step: status.update(f"正在生成演示数据：{step}"),
                            settings=settings, history=settings.demo_cases)
        db.commit()
    sweep_until_done(sessions)
    if report.created:
        console.print("演示数据已生成：" + "，".join(f"{k} {v}" for k, v in report.created.items()))
    else:
        console.print("演示数据已存在，无需更改。")


def print_demo_logins(sessions) -> None:
    from sqlalchemy import select

    from gridgov.demo.service import DEMO_PASSWORD
    from gridgov.regions.models import MetaValue
    from gridgov.web.views import _demo_logins

    with sessions() as db:
        if db.scalar(select(MetaValue.value).where(MetaValue.key == "demo")) != "1":
            return
        table = Table(title=f"演示账户 Demo logins — 密码 password: {DEMO_PASSWORD}")
        for col in ("用户名 username", "角色 role", "姓名 name"):
            table.add_column(col)
        for username, role, name in _demo_logins(db):
            table.add_row(username, role, name)
        console.print(table)
        console.print("其他演示账户: jd+街道编码, sq+社区编码, wg+网格编码, bm+部门代码+两位序号 (00 为部门管理员)")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """启动网站和 API / Serve the web app and API."""
    import uvicorn

    from gridgov.app import create_app

    settings, _, sessions = _migrated_sessions()
    print_demo_logins(sessions)
    console.print(f"GridGov 正在监听 http://{host}:{port}")
    if workers > 1:
        _serve_workers(host, port, workers)
    else:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def _serve_workers(host: str, port: int, workers: int) -> None:
    """Several worker processes on one listening socket. We bind it ourselves, labelled IPPROTO_TCP:
    asyncio turns TCP_NODELAY on only for such sockets, and without it every keep-alive response
    waits ~40 ms for the client's delayed ACK (uvicorn binds with protocol 0)."""
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("gridgov.app:create_app", factory=True, host=host, port=port, workers=workers,
                            log_level="warning")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()


@users_app.command("add")
def users_add(username: str = typer.Option(..., help="登录名"), name: str = typer.Option(..., help="姓名"),
              role: str = typer.Option(..., help="角色，如 grid_worker、admin"),
              region: str = typer.Option(..., help="管辖区划编码"),
              department: str | None = typer.Option(None, help="部门代码"),
              mobile: str | None = typer.Option(None, help="手机号（短信通知用）"),
              password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True)) -> None:
    """新建账户 / Add a user."""
    from sqlalchemy import select

    from gridgov.accounts import service
    from gridgov.core.crypto import data_cipher
    from gridgov.core.errors import AppError
    from gridgov.departments.models import Department

    settings, _, sessions = _migrated_sessions()
    with sessions() as db:
        dept_id = None
        if department:
            dept_id = db.scalar(select(Department.id).where(Department.code == department.upper()))
            if dept_id is None:
                err.print(f"[red]部门 {department} 不存在[/red]")
                raise typer.Exit(1)
        try:
            user = service.create_user(db, _system_principal(), username=username, display_name=name,
                                       password=password, role=role, region_code=region, department_id=dept_id,
                                       mobile=mobile, cipher=data_cipher(settings))
        except AppError as exc:
            body = exc.body("zh")["error"]
            err.print(f"[red]{body['message']}[/red]")
            for field, msg in body["fields"].items():
                err.print(f"  {field}: {msg}")
            raise typer.Exit(1) from None
        db.commit()
        console.print(f"已创建账户 {user.username}（{user.display_name}，{role}，{region}）")


@grids_app.command("import")
def grids_import(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True)) -> None:
    """导入网格图层（全部校验通过才写入）/ Import a grid layer; nothing is written unless all of it is valid."""
    from gridgov.regions.importer import import_layer

    _, _, sessions = _migrated_sessions()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        err.print(f"[red]{file} 不是合法的 GeoJSON：{exc}[/red]")
        raise typer.Exit(1) from None
    with sessions() as db, console.status("正在校验…"):
        report = import_layer(db, data)
        if report.ok:
            db.commit()
    if not report.ok:
        table = Table(title=f"导入失败，未写入任何数据：发现 {len(report.problems)} 个问题")
        for col in ("要素", "编码", "类型", "说明"):
            table.add_column(col)
        for p in report.problems:
            table.add_row(str(p.feature or "—"), p.code or "—", p.kind, p.message)
        Console(stderr=True, width=160).print(table)
        raise typer.Exit(1)
    console.print(f"导入完成：新增 {report.created}，更新 {report.updated}，未变 {report.unchanged}")


@grids_app.command("export")
def grids_export(out: Path | None = typer.Option(None, "--out", "-o", help="输出文件，省略则写到标准输出"),
                 region: str | None = typer.Option(None, help="只导出该区划以下")) -> None:
    """导出网格图层为 GeoJSON / Export the grid layer as GeoJSON."""
    from gridgov.regions.importer import export_layer
    from gridgov.regions.models import Region

    _, _, sessions = _migrated_sessions()
    with sessions() as db:
        if region and db.get(Region, region) is None:
            err.print(f"[red]区划 {region} 不存在[/red]")
            raise typer.Exit(1)
        data = export_layer(db, region)
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    if out:
        out.write_text(text, encoding="utf-8")
        err.print(f"已导出 {len(data['features'])} 个要素到 {out}")
    else:
        sys.stdout.write(text)


def main() -> None:
    """The `gridgov` command: `app`, with settings that cannot be read told as such, not as a traceback."""
    from pydantic import ValidationError

    from gridgov.core.config import settings_problems

    try:
        app()
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        err.print("[red]配置有误，请检查以下环境变量（或 .env 文件）/ Invalid settings: check these environment "
                  "variables (or the .env file):[/red]", soft_wrap=True)
        for line in settings_problems(exc):
            err.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
