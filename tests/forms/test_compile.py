"""Compiling XLSForms: clear errors that name the sheet and row, pyxform's warnings kept."""

from __future__ import annotations

import textwrap
from io import BytesIO

import pytest
from pyxform.xls2json_backends import md_table_to_workbook

from forms import FormError, compile_form
from tests.support.xlsforms import simple_form, xlsform


def test_a_markdown_xlsform_compiles_to_an_xform():
    compiled = compile_form(simple_form("household", "7"))

    assert compiled.source_type == "md"
    assert b'id="household"' in compiled.xform and b'version="7"' in compiled.xform


def test_a_ready_xform_is_accepted_byte_for_byte():
    xform = compile_form(simple_form()).xform
    again = compile_form(xform)
    assert again.source_type == "xform" and again.xform == xform


def test_an_error_names_the_sheet_and_row():
    with pytest.raises(FormError) as caught:
        compile_form(xlsform("""
            | | type | name | label |
            | | text | a | A |
            | | text | | Nameless |
        """))
    assert (caught.value.sheet, caught.value.row) == ("survey", 3)
    assert str(caught.value).startswith("sheet 'survey', row 3: ")
    assert "name" in caught.value.message.lower()


def test_an_error_on_the_choices_sheet_names_that_sheet():
    with pytest.raises(FormError) as caught:
        compile_form(xlsform("""
            | | type | name | label |
            | | select_one yn | a | A |
        """, choices="""
            | | list_name | name | label |
            | | yn | yes | Yes |
            | | yn | | No |
        """))
    assert (caught.value.sheet, caught.value.row) == ("choices", 3)
    assert str(caught.value).startswith("sheet 'choices', row 3: ")


def test_an_unknown_question_type_is_located_in_a_workbook_too():
    # pyxform names no row for an unknown type; the designer still needs to know where it is
    sheets = """
        | survey |
        | | type | name | label |
        | | text | a | A |
        | | integer | b | B |
        | | texte | c | C |
        | settings |
        | | form_id | version |
        | | typo | 1 |
    """
    workbook = BytesIO()
    md_table_to_workbook(textwrap.dedent(sheets)).save(workbook)
    for source in (textwrap.dedent(sheets).encode(), workbook.getvalue()):
        with pytest.raises(FormError) as caught:
            compile_form(source)
        assert (caught.value.sheet, caught.value.row) == ("survey", 4)
        assert str(caught.value) == "sheet 'survey', row 4: Unknown question type 'texte'."


def test_an_unknown_question_type_is_explained():
    with pytest.raises(FormError, match="(?i)unknown question type"):
        compile_form(xlsform("""
            | | type | name | label |
            | | texte | a | A |
        """))


def test_a_crash_inside_pyxform_is_still_a_form_error(monkeypatch):
    # Some sheets make pyxform fail with a bare TypeError rather than a PyXFormError; the
    # designer must still get a FormError, and the server a 400, never a 500.
    def crash(**_kwargs):
        raise TypeError("DefinitionData.__init__() got an unexpected keyword argument 'x'")

    monkeypatch.setattr("pyxform.xls2xform.convert", crash)
    with pytest.raises(FormError, match="pyxform could not read this form .TypeError"):
        compile_form(simple_form())


def test_warnings_of_pyxform_are_kept():
    compiled = compile_form(xlsform("""
        | | type | name | label |
        | | begin_repeat | r | |
        | | text | a | A |
        | | end_repeat | | |
    """))
    assert any("Repeat has no label" in w for w in compiled.warnings)


def test_an_xform_with_a_doctype_is_refused():
    evil = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<h:html xmlns:h="http://www.w3.org/1999/xhtml">&e;</h:html>')
    with pytest.raises(FormError, match="DOCTYPE"):
        compile_form(evil)


def test_odk_validate_rejects_what_collect_would_reject():
    # pyxform accepts two calculations that depend on each other; JavaRosa, Collect's engine,
    # refuses the loop, and the designer is told which fields are involved.
    with pytest.raises(FormError) as caught:
        compile_form(xlsform("""
            | | type | name | label | calculation |
            | | calculate | c | | ${d} + 1 |
            | | calculate | d | | ${c} + 1 |
        """), validate=True)
    assert "Cycle detected" in caught.value.message
    assert "tmp" not in caught.value.message


def test_without_a_form_id_the_file_name_gives_it_as_for_a_file_on_disk():
    survey_only = b"| survey |\n| | type | name | label |\n| | text | a | A |\n"
    assert b'id="household_survey"' in compile_form(
        survey_only, filename="uploads/household_survey.xlsx").xform
    assert b'id="data"' in compile_form(survey_only).xform
