"""The Excel workbook: a sheet per table (a table longer than a sheet continues on the next),
the cases and their versions of a list the form feeds, typed cells, headers as names or labels,
a codebook sheet and a sheet about the export. Written with openpyxl's write-only mode, row by
row, so memory stays flat at any size."""

from __future__ import annotations

import re

from openpyxl import Workbook
from sqlalchemy.orm import Session

from server.services.exports import Prepared, Progress, codebook
from server.services.exports.cells import headers

MAX_ROWS = 1_048_576  # Excel's rows per sheet, the header included
PROGRESS_EVERY = 5000
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\']")


def write(session: Session, prepared: Prepared, target, progress: Progress,
          *, max_rows: int = MAX_ROWS) -> dict[str, int]:
    workbook = Workbook(write_only=True)
    titles: set[str] = set()
    written: dict[str, int] = {}
    done = 0
    for layout, table, batches in prepared.parts(session, "excel"):
        heading = headers(table, prepared.choices)
        base = layout.form_id if table.root else table.short
        sheet = _sheet(workbook, titles, base, 1, heading)
        in_sheet, count, part = 1, 0, 1
        for row in (row for rows in batches for row in rows):
            if in_sheet == max_rows:
                part += 1
                sheet, in_sheet = _sheet(workbook, titles, base, part, heading), 1
            sheet.append(row)
            in_sheet += 1
            count += 1
            if count % PROGRESS_EVERY == 0:
                progress(done + count)
        done += count
        written[table.name] = count
        progress(done)
    sheet = _sheet(workbook, titles, "codebook", 1, None)
    for values in codebook.rows(prepared):
        sheet.append(values)
    sheet = _sheet(workbook, titles, "export", 1, None)
    for values in codebook.about(prepared, written):
        sheet.append(values)
    workbook.save(target)
    return written


def _sheet(workbook: Workbook, titles: set[str], base: str, part: int, headers):
    """A new sheet named after its table (Excel: 31 characters, some forbidden), `name (2)`
    for a continuation, never the name of another."""
    suffix = f" ({part})" if part > 1 else ""
    name = _SHEET_FORBIDDEN.sub("_", base)[:31 - len(suffix)] + suffix
    number = 1
    while name.lower() in titles:
        number += 1
        tail = f"~{number}{suffix}"
        name = _SHEET_FORBIDDEN.sub("_", base)[:31 - len(tail)] + tail
    titles.add(name.lower())
    sheet = workbook.create_sheet(name)
    if headers is not None:
        sheet.append(headers)
    return sheet
