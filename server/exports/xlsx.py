"""A streaming writer of .xlsx files: each sheet's XML is written row by row straight into its
zip entry, a string per row, with no object per cell.

openpyxl's write-only mode builds a Cell and an lxml element for every cell, three quarters of
an export's time; here a cell is one formatted string. Strings are inline (no shared-strings
table to hold in memory), numbers are numbers, dates and times are Excel serial numbers with a
date or time format, as openpyxl writes them and reads them back. Only what exports need: no
formulas, no column widths, one sheet open at a time.
"""

from __future__ import annotations

import math
import zipfile
from datetime import date, datetime, time
from decimal import Decimal
from xml.sax.saxutils import quoteattr

# Deflate level 6 (zlib's default): a quarter smaller than level 1 for about 1 s more CPU
# per 100 MB of the sheets' XML (measured in bench/export.py): downloads go over poor networks.
COMPRESSION = {"compression": zipfile.ZIP_DEFLATED, "compresslevel": 6}
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# Styles by index (cellXfs): 0 general, 1 datetime, 2 date, 3 time; the formats openpyxl uses.
_STYLES = _HEAD + f"""<styleSheet xmlns="{_MAIN}"><numFmts count="3">\
<numFmt numFmtId="164" formatCode="yyyy-mm-dd h:mm:ss"/>\
<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/>\
<numFmt numFmtId="166" formatCode="h:mm:ss"/></numFmts>\
<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>\
<fills count="2"><fill><patternFill patternType="none"/></fill>\
<fill><patternFill patternType="gray125"/></fill></fills>\
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>\
<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>\
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>\
</styleSheet>"""
_SHEET_START = _HEAD + f'<worksheet xmlns="{_MAIN}"><sheetData>'
_SHEET_END = "</sheetData></worksheet>"
_ROWS_PER_WRITE = 500
_EPOCH = datetime(1899, 12, 30)
_EPOCH_DAY = _EPOCH.toordinal()


class Workbook:
    """Sheets written one after the other: `sheet(name)` closes the one before."""

    def __init__(self, target, compression: dict | None = None):
        self._zip = zipfile.ZipFile(target, "w", **(compression or COMPRESSION))
        self._names: list[str] = []
        self._sheet: Sheet | None = None

    def sheet(self, name: str) -> Sheet:
        self._close_sheet()
        self._names.append(name)
        entry = self._zip.open(f"xl/worksheets/sheet{len(self._names)}.xml", "w",
                               force_zip64=True)
        self._sheet = Sheet(entry)
        return self._sheet

    def close(self) -> None:
        self._close_sheet()
        count = len(self._names)
        sheets = "".join(f'<sheet name={quoteattr(name)} sheetId="{n}" r:id="rId{n}"/>'
                         for n, name in enumerate(self._names, 1))
        self._zip.writestr("xl/workbook.xml", _HEAD + (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>{sheets}</sheets></workbook>'))
        links = "".join(f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" '
                        f'Target="worksheets/sheet{n}.xml"/>' for n in range(1, count + 1))
        self._zip.writestr("xl/_rels/workbook.xml.rels", _HEAD + (
            f'<Relationships xmlns="{_PACKAGE_REL}">{links}<Relationship Id="rId{count + 1}" '
            f'Type="{_REL}/styles" Target="styles.xml"/></Relationships>'))
        self._zip.writestr("xl/styles.xml", _STYLES)
        self._zip.writestr("_rels/.rels", _HEAD + (
            f'<Relationships xmlns="{_PACKAGE_REL}"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'))
        parts = "".join(f'<Override PartName="/xl/worksheets/sheet{n}.xml" '
                        f'ContentType="{_TYPE}.worksheet+xml"/>' for n in range(1, count + 1))
        self._zip.writestr("[Content_Types].xml", _HEAD + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_TYPE}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_TYPE}.styles+xml"/>'
            f'{parts}</Types>'))
        self._zip.close()

    def _close_sheet(self) -> None:
        if self._sheet is not None:
            self._sheet.close()
            self._sheet = None

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


class Sheet:
    def __init__(self, entry):
        self._entry = entry
        self._entry.write(_SHEET_START.encode())
        self.rows = 0
        self._columns: list[str] = []

    def append(self, values) -> None:
        self.extend((values,))

    def extend(self, rows) -> None:
        """Rows of values (str, int, float, Decimal, bool, datetime, date, time or None), written
        a few hundred at a time: one encode and one write each, little held in memory."""
        parts = []
        number = self.rows
        columns = self._columns
        for values in rows:
            number += 1
            if len(values) > len(columns):
                columns.extend(column_letter(n) for n in range(len(columns), len(values)))
            # letters of the widest row so far: a shorter row uses the first few
            cells = [_CELLS.get(value.__class__, _other)(f"{column}{number}", value)
                     for column, value in zip(columns, values, strict=False)
                     if value is not None]
            parts.append(f'<row r="{number}">{"".join(cells)}</row>')
            if len(parts) == _ROWS_PER_WRITE:
                self._entry.write("".join(parts).encode())
                parts.clear()
        self.rows = number
        self._entry.write("".join(parts).encode())

    def close(self) -> None:
        self._entry.write(_SHEET_END.encode())
        self._entry.close()


def column_letter(index: int) -> str:
    """A, B, ..., Z, AA, ... for the column at `index` (from 0)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _text(ref: str, text: str) -> str:
    if text == "":
        return ""
    # Only these three need escaping in element text; a carriage return would be read back as
    # a new line unless written as a reference.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    if text != text.strip():  # spaces at either end are dropped unless kept explicitly
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _integer(ref: str, value: int) -> str:
    return f'<c r="{ref}"><v>{value}</v></c>'


def _float(ref: str, value: float) -> str:
    if not math.isfinite(value):  # no cell holds NaN or infinity: say it in words
        return _text(ref, str(value))
    return f'<c r="{ref}"><v>{value!r}</v></c>'


def _decimal(ref: str, value: Decimal) -> str:
    return _float(ref, float(value))


def _boolean(ref: str, value: bool) -> str:
    return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'


def _datetime(ref: str, value: datetime) -> str:
    return f'<c r="{ref}" s="1"><v>{_days(value.toordinal()) + _fraction(value)!r}</v></c>'


def _date(ref: str, value: date) -> str:
    return f'<c r="{ref}" s="2"><v>{_days(value.toordinal())}</v></c>'


def _time(ref: str, value: time) -> str:
    return f'<c r="{ref}" s="3"><v>{_fraction(value)!r}</v></c>'


def _days(ordinal: int) -> int:
    days = ordinal - _EPOCH_DAY
    # Excel counts a 29 February 1900 that never was: serials from 1 March 1900 skip it
    return days - 1 if 0 < days <= 60 else days


def _fraction(moment: datetime | time) -> float:
    return (moment.hour * 3600 + moment.minute * 60 + moment.second
            + moment.microsecond / 1e6) / 86400


def _other(ref: str, value) -> str:
    for kind, write in _CELLS.items():  # a subclass, such as a zone-aware datetime's type
        if isinstance(value, kind):
            return write(ref, value)
    return _text(ref, str(value))


_CELLS = {str: _text, int: _integer, float: _float, Decimal: _decimal, bool: _boolean,
          datetime: _datetime, date: _date, time: _time}
