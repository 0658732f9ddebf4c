"""Lists as Excel: one sheet, Chinese headers, written in streaming mode so a long list does
not sit in memory twice."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

log = logging.getLogger(__name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def table_workbook(title: str, headers: Sequence[str], rows: Iterable[Sequence], tz: str = "Asia/Shanghai") -> bytes:
    zone = ZoneInfo(tz)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    bold = Font(bold=True)
    header_cells = []
    for h in headers:
        cell = WriteOnlyCell(ws, value=h)
        cell.font = bold
        header_cells.append(cell)
    ws.append(header_cells)
    try:
        for row in rows:
            # Excel has no time zones: show local time, as the people reading it live in it.
            ws.append([v.astimezone(zone).replace(tzinfo=None) if isinstance(v, datetime) else v for v in row])
    except BaseException:
        discard_workbook(wb)
        raise
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def discard_workbook(wb: Workbook) -> None:
    """Lets go of a write-only book that will not be saved (its rows failed). openpyxl keeps a
    write-only sheet's rows, personal data among them, in a temporary file until the book is saved
    or the process ends: saving it to nowhere is what removes that file. Never raises: it runs
    on the way out of a failure, and at worst the file goes when the process ends."""
    try:
        wb.save(io.BytesIO())
    except Exception:
        log.exception("could not discard a write-only workbook")


def xlsx_response(data: bytes, filename: str) -> Response:
    from urllib.parse import quote

    return Response(data, media_type=XLSX,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})
