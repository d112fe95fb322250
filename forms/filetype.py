"""Tell what kind of form a file is from its bytes, never from its name.

Form designers rename files (one real `.xlsx` in the wild is an old `.xls`), and an upload's name is
whatever the browser sent, so the extension is only a hint we ignore.
"""

from __future__ import annotations

import io
import zipfile

from forms.errors import FormError

XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2 compound document (Excel 97-2003)
ZIP_MAGIC = b"PK\x03\x04"

FILE_TYPES = ("xlsx", "xls", "md", "csv", "xform")


def detect_file_type(data: bytes) -> str:
    """Return one of FILE_TYPES for a form's bytes, or raise FormError."""
    if not data.strip():
        raise FormError("The file is empty.")
    if data.startswith(XLS_MAGIC):
        return "xls"
    if data.startswith(ZIP_MAGIC):
        return _zip_type(data)
    text = _decode_text(data)
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("<"):
        return "xform"
    first_line = head.split("\n", 1)[0].strip()
    if first_line.startswith("|"):
        return "md"
    if _csv_has_survey_sheet(head):
        return "csv"
    raise FormError("The file is neither an XLSForm (.xlsx, .xls, .csv, .md) nor an XForm (.xml).")


def _csv_has_survey_sheet(text: str) -> bool:
    # pyxform's CSV layout names each sheet in the first cell of a row; a data CSV never does.
    for line in text.splitlines():
        first_cell = line.split(",", 1)[0].strip().strip('"').strip().lower()
        if first_cell == "survey":
            return True
    return False


def _zip_type(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as error:
        raise FormError("The file looks like an Excel workbook but is damaged.") from error
    if "xl/workbook.xml" in names:
        return "xlsx"
    raise FormError("The file is a ZIP archive but not an Excel workbook (.xlsx).")


def _decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FormError(
            "The file is not an Excel workbook and not UTF-8 text; save it as .xlsx or UTF-8 CSV."
        ) from error
