"""`gridgov open311 …`: issue, list and disable the API keys of Open311 civic clients."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

open311_app = typer.Typer(help="Open311 接口客户端 Open311 clients", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _sessions():
    from gridgov.cli import _migrated_sessions

    return _migrated_sessions()


@open311_app.command("add-client")
def add_client(name: str = typer.Argument(..., help="客户端名称，如 “市民通 App”")) -> None:
    """新建客户端并发放 API 密钥（只显示这一次）/ Add a client and print its API key once."""
    from gridgov.open311 import service

    _, engine, sessions = _sessions()
    try:
        with sessions() as db:
            try:
                client, key = service.create_client(db, name)
            except ValueError as exc:
                err.print(f"[red]无法创建客户端 (cannot create the client)：{exc}[/red]")
                raise typer.Exit(1) from None
            db.commit()
    finally:
        engine.dispose()
    console.print(f"已创建 Open311 客户端 #{client.id}「{client.name}」。API 密钥（只显示这一次，请妥善保存）："
                  "\nCreated. Its API key is shown this once only:")
    # The key alone on its own line, unstyled, so it can be copied or piped.
    typer.echo(key)


@open311_app.command("list-clients")
def list_clients() -> None:
    """列出客户端（不显示密钥）/ List clients (keys are never shown)."""
    from gridgov.open311 import service

    _, engine, sessions = _sessions()
    try:
        with sessions() as db:
            clients = service.list_clients(db)
    finally:
        engine.dispose()
    table = Table(title="Open311 客户端 clients")
    for col in ("ID", "名称 name", "状态 status", "创建时间 created"):
        table.add_column(col)
    for c in clients:
        table.add_row(str(c.id), c.name, "启用 active" if c.active else "停用 disabled",
                      c.created_at.isoformat(timespec="seconds"))
    console.print(table)


@open311_app.command("disable-client")
def disable_client(client_id: int = typer.Argument(..., help="客户端 ID（见 list-clients）")) -> None:
    """停用客户端，其密钥立即失效 / Disable a client: its key stops working at once."""
    from gridgov.open311 import service

    _, engine, sessions = _sessions()
    try:
        with sessions() as db:
            client = service.set_client_active(db, client_id, False)
            if client is None:
                err.print(f"[red]客户端 {client_id} 不存在 (no such client)[/red]")
                raise typer.Exit(1)
            db.commit()
    finally:
        engine.dispose()
    console.print(f"已停用客户端 #{client.id}「{client.name}」。")
