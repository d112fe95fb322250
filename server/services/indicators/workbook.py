"""The indicators' tables as an Excel workbook (openpyxl, streamed): a sheet per indicator with
the same lines, columns and withheld figures as the page, numbers as numbers, every text cell
kept from being read as a formula."""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

from openpyxl import Workbook

from server.services.exports.cleaning import clean_text, neutralise
from server.services.indicators.presenting import Table


def write(tables: Sequence[Table], target: str | BinaryIO, *, about: Sequence[tuple[str, str]],
          rtl: bool) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("about")
    sheet.sheet_view.rightToLeft = rtl
    for name, value in about:
        sheet.append([spreadsheet_text(name), spreadsheet_text(value)])
    for table in tables:
        sheet = book.create_sheet(table.indicator.id[:31])
        sheet.sheet_view.rightToLeft = rtl
        sheet.append([spreadsheet_text(table.title)])
        if table.unavailable:
            sheet.append([spreadsheet_text(table.unavailable)])
            continue
        sheet.append(["", *(spreadsheet_text(c.title) for c in table.columns)])
        for line in [*table.lines, table.total]:
            sheet.append([spreadsheet_text(line.label),
                          *(c.value if c.value is not None else spreadsheet_text(c.text)
                            for c in line.cells)])
    book.save(target)


def spreadsheet_text(value: str) -> str:
    """A label from the data (a forum's name...) that no spreadsheet runs as a formula."""
    return neutralise(clean_text(str(value)))
