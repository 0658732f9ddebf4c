"""`gridgov audit verify`: walk the hash chain and name the first entry that does not hold."""

from __future__ import annotations

import typer
from rich.console import Console

audit_app = typer.Typer(help="审计日志 Audit log", no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@audit_app.command("verify")
def verify() -> None:
    """校验审计日志的哈希链（被修改或删除的记录会被发现）/ Verify the audit log's hash chain."""
    from gridgov.cli import _migrated_sessions
    from gridgov.core.audit import verify_chain
    from gridgov.core.crypto import data_cipher

    settings, _, sessions = _migrated_sessions()
    with sessions() as db, console.status("正在校验审计日志…"):
        report = verify_chain(db, data_cipher(settings))
    if report.ok:
        console.print(f"审计日志完整：共 {report.entries} 条记录，哈希链校验通过。")
        return
    err.print(f"[red]审计日志已被篡改：{report.problem.reason}[/red]（第一条有问题的记录：#{report.problem.seq}；"
              f"此前 {report.entries} 条完好）")
    raise typer.Exit(1)
