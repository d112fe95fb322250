"""An instance as rows: keys like ODK Central's KEY and PARENT_KEY, values typed or flagged."""

from __future__ import annotations

from forms import compile_form
from forms.xml import parse_xml
from sync import tables
from sync.normalise import normalise
from tests.support.meeting import meeting, meeting_form

PLAN = tables.plan(compile_form(meeting_form()).structure)


def by_path(row: dict) -> dict:
    return {(k.path, k.part) if isinstance(k, tables.ColumnSpec) else k: v for k, v in row.items()}


def test_rows_for_the_form_its_repeats_and_its_choices():
    rows = normalise(PLAN, parse_xml(meeting(issues=(("a", ("2026-12-01",)), ("b", ())))), "K")

    (top,) = rows.tables[""]
    assert by_path(top)[("/attendance/women", None)] == 3
    assert [r["_key"] for r in rows.tables["/issue"]] == ["K/issue[1]", "K/issue[2]"]
    assert [r["_parent_key"] for r in rows.tables["/issue/action"]] == ["K/issue[1]"]
    assert [r["value"] for r in rows.tables["/topics"]] == ["security", "women"]
    assert rows.issues == []


def test_bad_values_and_unknown_fields_are_issues_not_losses():
    rows = normalise(PLAN, parse_xml(meeting(women="many", extra="<surprise>1</surprise>")), "K")

    assert by_path(rows.tables[""][0])[("/attendance/women", None)] is None
    assert {(i.path, i.raw) for i in rows.issues} == {("/attendance/women", "many"),
                                                      ("/surprise", "1")}


def test_an_empty_answer_is_null():
    rows = normalise(PLAN, parse_xml(meeting(women="")), "K")
    assert by_path(rows.tables[""][0])[("/attendance/women", None)] is None
    assert rows.issues == []


def test_standard_metadata_the_form_does_not_declare_is_not_an_issue():
    xml = meeting(deprecated_id="uuid:old")
    assert normalise(PLAN, parse_xml(xml), "K").issues == []


def test_an_encrypted_envelope_gives_only_the_submission_row():
    envelope = parse_xml(
        b'<data id="meeting" version="1" encrypted="yes" '
        b'xmlns="http://opendatakit.org/submissions"><base64EncryptedKey>abc</base64EncryptedKey>'
        b"<meta><instanceID>uuid:e</instanceID></meta>"
        b"<encryptedXmlFile>submission.xml.enc</encryptedXmlFile></data>")
    rows = normalise(PLAN, envelope, "uuid:e")
    assert rows.tables[""] == [{"_key": "uuid:e"}] and rows.issues == []
