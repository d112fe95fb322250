"""Compile any form source into an ODK XForm with pyxform.

`compile_form` takes bytes (it does no file I/O of its own, like pyxform's `convert`) so the
command line, the upload endpoint and the tests all go through the same door.

pyxform is imported where a form is compiled, not with this module: it takes most of a second,
and every command of the command line (a field office's sync run from cron, say) imports the
server, which imports this module, without compiling anything.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings as python_warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import PurePath

from forms.errors import FormError
from forms.filetype import detect_file_type
from forms.structure import FormStructure, read_structure

_ROW = re.compile(r"\[row\s*:\s*(\d+)\]", re.IGNORECASE)
_SHEET = re.compile(r"(?:on|in) the '([A-Za-z_ ]+)' sheet", re.IGNORECASE)
_UNKNOWN_TYPE = re.compile(r"Unknown question type '([^']*)'")


@dataclass(frozen=True)
class CompiledForm:
    """The XForm exactly as it will be served to phones, and how it was made."""

    xform: bytes
    structure: FormStructure  # reading it is the check that the rest of the system can use it
    source_type: str
    warnings: tuple[str, ...]
    # select_one_external choices: pyxform moves them into a CSV the phone downloads as media
    itemsets_csv: bytes | None = None


def compile_form(data: bytes, *, validate: bool = False,
                 filename: str | None = None) -> CompiledForm:
    """Compile an XLSForm (.xlsx, .xls, .csv, .md) or accept a ready XForm.

    With `validate`, the XForm is also checked by ODK Validate (JavaRosa, shipped in pyxform), the
    engine Collect itself runs, so a form that passes will open on the phone. `filename` gives the
    form id when the settings sheet has none, as pyxform does for a file on disk (the name only:
    the type is still read from the content).
    """
    file_type = detect_file_type(data)
    if file_type == "xform":
        return _accept_xform(data, validate=validate)
    from pyxform.validators import odk_validate
    from pyxform.xls2json_backends import Definition, SupportedFileTypes
    from pyxform.xls2xform import convert

    warnings: list[str] = []
    try:
        # openpyxl and xlrd warn about workbook oddities; those belong to the form's warnings.
        with python_warnings.catch_warnings(record=True) as caught:
            python_warnings.simplefilter("always")
            source = Definition(data=BytesIO(data), file_type=SupportedFileTypes(f".{file_type}"),
                                file_path_stem=PurePath(filename).stem if filename else None)
            result = convert(xlsform=source, warnings=warnings, validate=validate,
                             file_type=f".{file_type}")
        warnings.extend(str(w.message) for w in caught)
    except odk_validate.ODKValidateError as error:
        raise FormError(_clean(str(error)), warnings=tuple(warnings)) from error
    except Exception as error:  # pyxform fails with plain TypeError/KeyError on some sheets too
        raise _form_error(error, tuple(warnings), data, file_type) from error
    xform = result.xform.encode("utf-8")
    itemsets = result.itemsets.encode("utf-8") if result.itemsets else None
    return CompiledForm(xform=xform, structure=read_structure(xform), source_type=file_type,
                        warnings=tuple(warnings), itemsets_csv=itemsets)


def validate_xform(xform: bytes) -> tuple[str, ...]:
    """Run ODK Validate on an XForm; return its warnings or raise FormError."""
    from pyxform.validators import odk_validate

    handle, path = tempfile.mkstemp(suffix=".xml")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(xform)
        return tuple(odk_validate.check_xform(path))
    except odk_validate.ODKValidateError as error:
        raise FormError(_clean(str(error))) from error
    except OSError as error:
        raise FormError(f"ODK Validate could not run: {error}") from error
    finally:
        os.unlink(path)


def _accept_xform(data: bytes, *, validate: bool) -> CompiledForm:
    structure = read_structure(data)
    warnings = validate_xform(data) if validate else ()
    return CompiledForm(xform=data, structure=structure, source_type="xform", warnings=warnings)


def _form_error(error: Exception, warnings: tuple[str, ...], data: bytes,
                file_type: str) -> FormError:
    from pyxform.errors import PyXFormError

    message = _clean(str(error)) or type(error).__name__
    if not isinstance(error, PyXFormError):
        # pyxform fails on some sheets with a bare TypeError or KeyError: still the form's fault.
        message = f"pyxform could not read this form ({type(error).__name__}: {message})."
    found_row, found_sheet = _ROW.search(message), _SHEET.search(message)
    row = int(found_row.group(1)) if found_row else None
    sheet = found_sheet.group(1).strip().lower() if found_sheet else None
    unknown = _UNKNOWN_TYPE.search(message)
    if row is None and unknown:
        # pyxform finds an unknown type after it has left the rows behind; find it again
        row = _survey_row_of_type(data, file_type, unknown.group(1))
    if row is not None and sheet is None:
        # pyxform numbers rows without naming the sheet only while it reads the survey sheet
        sheet = "survey"
    return FormError(_ROW.sub("", message).strip(), sheet=sheet, row=row, warnings=warnings)


def _survey_row_of_type(data: bytes, file_type: str, question_type: str) -> int | None:
    from pyxform.xls2json_backends import Definition, SupportedFileTypes, definition_to_dict

    try:
        book = definition_to_dict(
            Definition(data=BytesIO(data), file_type=SupportedFileTypes(f".{file_type}"),
                       file_path_stem=None), file_type=f".{file_type}")
    except Exception:  # the row is a courtesy; the error itself is already known
        return None
    for number, row in enumerate(book.survey or (), start=2):  # numbered as pyxform does
        if any(key.strip().lower() == "type" and (value or "").strip() == question_type
               for key, value in row.items()):
            return number
    return None


def _clean(message: str) -> str:
    # pyxform's messages may embed temporary file paths; those mean nothing to a form designer.
    message = re.sub(r"The following files failed validation:.*", "", message, flags=re.DOTALL)
    message = re.sub(r"(/[^\s:'\"]+)+\.(xml|xlsx?|csv|md)", "<form>", message)
    return message.strip()
