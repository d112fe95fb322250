"""The streaming .xlsx writer, read back with openpyxl: every kind of value typed as Excel types
it, text that XML would otherwise mangle, gaps, wide rows, sheet names."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from openpyxl import load_workbook

from server.exports.xlsx import Workbook, column_letter


def test_values_come_back_with_their_types(tmp_path):
    row = ["نص", 3, -1.5, Decimal("33.3152"), True, dt.datetime(2026, 11, 20, 7, 15, 30),
           dt.date(2026, 11, 20), dt.time(9, 30), None, "last"]
    with Workbook(tmp_path / "out.xlsx") as book:
        book.sheet("values").append(row)

    sheet = load_workbook(tmp_path / "out.xlsx")["values"]

    (back,) = sheet.iter_rows(values_only=True)
    assert back == ("نص", 3, -1.5, 33.3152, True, dt.datetime(2026, 11, 20, 7, 15, 30),
                    dt.datetime(2026, 11, 20), dt.time(9, 30), None, "last")
    assert sheet["F1"].number_format == "yyyy-mm-dd h:mm:ss" and sheet["F1"].is_date
    assert sheet["G1"].number_format == "yyyy-mm-dd"


def test_text_keeps_markup_spaces_new_lines_and_carriage_returns(tmp_path):
    texts = ["a & b < c > d", "  spaced  ", "one\ntwo", "one\r\ntwo", "'=1+1", "]]>"]
    with Workbook(tmp_path / "out.xlsx") as book:
        book.sheet("texts").append(texts)

    (back,) = load_workbook(tmp_path / "out.xlsx")["texts"].iter_rows(values_only=True)

    assert list(back) == texts


def test_rows_of_any_width_and_sheets_in_order(tmp_path):
    wide = [f"c{n}" for n in range(60)]
    with Workbook(tmp_path / "out.xlsx") as book:
        book.sheet("short").extend([["a"], ["b", None, "c"]])
        book.sheet("wide & عربي").extend([wide, ["x"]])
        book.sheet("empty")

    workbook = load_workbook(tmp_path / "out.xlsx")

    assert workbook.sheetnames == ["short", "wide & عربي", "empty"]
    assert list(workbook["short"].iter_rows(values_only=True)) == [
        ("a", None, None), ("b", None, "c")]
    rows = list(workbook["wide & عربي"].iter_rows(values_only=True))
    assert list(rows[0]) == wide and rows[1][:2] == ("x", None)
    assert workbook["wide & عربي"]["BH1"].value == "c59"


def test_column_letters():
    assert [column_letter(n) for n in (0, 25, 26, 51, 52, 701, 702, 16383)] == [
        "A", "Z", "AA", "AZ", "BA", "ZZ", "AAA", "XFD"]
