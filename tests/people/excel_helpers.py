"""Workbooks for the import tests, uploads through the API, and a principal for direct calls."""

from __future__ import annotations

import io
import time

from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from gridgov.accounts.models import User
from gridgov.accounts.service import principal_of
from gridgov.people.sheets import HOUSE_COLUMNS, RELATION_COLUMNS, RESIDENT_COLUMNS

RESIDENT_HEADERS = [c.header for c in RESIDENT_COLUMNS]
HOUSE_HEADERS = [c.header for c in HOUSE_COLUMNS]
RELATION_HEADERS = [c.header for c in RELATION_COLUMNS]


def xlsx(sheets: dict[str, tuple[list[str], list[dict]]], write_only: bool = False) -> bytes:
    """{sheet: (headers, [row as {header: value}])} → .xlsx bytes."""
    wb = Workbook(write_only=write_only)
    if not write_only:
        wb.remove(wb.active)
    for title, (headers, rows) in sheets.items():
        ws = wb.create_sheet(title)
        ws.append(headers)
        for row in rows:
            ws.append([row.get(h) for h in headers])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def residents_xlsx(rows: list[dict]) -> bytes:
    return xlsx({"居民": (RESIDENT_HEADERS, rows)})


def person(id_number: str, grid: str, name: str = "导入居民", **more) -> dict:
    return {"姓名": name, "证件号码": id_number, "所属网格": grid, **more}


def principal(sessions, username: str):
    with sessions() as db:
        user = db.scalar(select(User).where(User.username == username))
        return principal_of(user)  # reads user.region while the session is open


def upload(client, headers, data: bytes, kind: str = "residents", mode: str = "all_or_nothing",
           source: str = "卫健局") -> dict:
    """Posts the file and polls the run until it ends; returns its JSON."""
    r = client.post("/api/v1/people/imports", headers=headers, data={"kind": kind, "mode": mode, "source": source},
                    files={"file": ("导入.xlsx", data, "application/octet-stream")})
    assert r.status_code == 202, r.text
    return ended(client, headers, r.json()["id"])


def ended(client, headers, run_id: int) -> dict:
    """The run's JSON once it says it ended: a background thread works through it; poll until then."""
    for _ in range(2400):
        run = client.get(f"/api/v1/people/imports/{run_id}", headers=headers).json()
        if run["status"] in ("done", "failed"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"import {run_id} never ended: {run}")


def error_rows(client, headers, run: dict) -> list[tuple]:
    """(row, column, reason) of the run's error workbook."""
    r = client.get(run["error_url"], headers=headers)
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content))["错误明细"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    return [(row[1], row[2], row[4]) for row in rows]
