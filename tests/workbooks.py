"""Workbooks built in memory, for the import tests (catalog, people) that feed the app files shaped as
people's real ones are: several sheets, title rows, merged cells."""

from __future__ import annotations

import io

from openpyxl import Workbook


def workbook(*sheets: tuple[str, list[list]], merged: dict[str, list[str]] | None = None) -> bytes:
    """A .xlsx of (title, rows) sheets, cells merged as `merged` says per sheet title."""
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
        for ref in (merged or {}).get(title, []):
            ws.merge_cells(ref)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
