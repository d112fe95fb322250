"""A form's type comes from its bytes: designers rename files, uploads lie about names."""

from __future__ import annotations

import io
import zipfile

import pytest

from forms import FormError, detect_file_type
from tests.support.xlsforms import simple_form


def test_markdown_csv_and_xforms_are_told_apart_by_content():
    assert detect_file_type(simple_form()) == "md"
    assert detect_file_type(b"survey,type,name,label\n,text,a,A\n") == "csv"
    assert detect_file_type(b'\xef\xbb\xbf<?xml version="1.0"?><h:html/>') == "xform"


def test_excel_workbooks_old_and_new():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    assert detect_file_type(buffer.getvalue()) == "xlsx"
    assert detect_file_type(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100) == "xls"


@pytest.mark.parametrize("data, says", [
    (b"", "empty"),
    (b"name,label\nramadi,Ramadi\n", "neither"),  # a data CSV is not a form
    (b"PK\x03\x04 broken zip", "damaged"),
    (b"\xff\xfe\x00garbage\x80", "UTF-8"),
])
def test_what_is_not_a_form_is_refused_with_a_reason(data, says):
    with pytest.raises(FormError, match=says):
        detect_file_type(data)
