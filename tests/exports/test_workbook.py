"""The Excel workbook, read back with openpyxl: sheets, typed cells, labels in the reader's
language, the codebook, and Excel's limits."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook

from server.database import per_request
from server.database.queries import forms as form_queries
from server.services.exports import Options, prepare, workbook
from server.services.exports.cleaning import CUT_MARK
from tests.exports.conftest import FORM_ID


def sheet_rows(sheet) -> list[dict]:
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_a_sheet_per_table_with_typed_cells(form, send, analyst):
    key = send(issues=(("Lights", "2"), ("Checkpoint", "4")))

    book = load_workbook(io.BytesIO(analyst.export("xlsx")))

    assert book.sheetnames == [FORM_ID, "issue", "codebook", "export"]
    (row,) = sheet_rows(book[FORM_ID])
    assert row["KEY"] == key and row["police-women"] == 3 and row["score"] == 1.5
    assert row["meeting_date"] == dt.datetime(2026, 11, 20)  # a date cell (Excel has no pure date)
    assert row["reported_at"] == dt.datetime(2026, 11, 20, 7, 15)  # UTC
    assert isinstance(row["SubmissionDate"], dt.datetime)
    assert row["location-Latitude"] == 33.3152
    assert [(r["PARENT_KEY"], r["count"]) for r in sheet_rows(book["issue"])] == [
        (key, 2), (key, 4)]


def test_headers_and_answers_in_the_readers_language(form, send, analyst):
    send(governorate="erbil", topics="security women")

    arabic = load_workbook(io.BytesIO(analyst.export(
        "xlsx", headers="labels", values="labels", language="ar")))
    kurdish = load_workbook(io.BytesIO(analyst.export(
        "xlsx", headers="labels", values="labels", language="ckb")))

    (row,) = sheet_rows(arabic[FORM_ID])
    assert row["المحافظة"] == "أربيل" and row["المواضيع"] == "الأمن; النساء"
    assert row["الشرطة / النساء"] == 3  # the group's label keeps "Women" apart
    assert row["KEY"].startswith("uuid:")  # system columns keep their names: joins work
    (row,) = sheet_rows(kurdish[FORM_ID])
    assert row["پارێزگا"] == "هەولێر"


def test_the_codebook_lists_every_column_with_labels_types_choices_and_versions(
        form, send, analyst):
    send()

    book = load_workbook(io.BytesIO(analyst.export("xlsx", splitSelectMultiples="true")))
    entries = sheet_rows(book["codebook"])
    by_column = {(e["table"], e["column"]): e for e in entries}

    governorate = by_column[(FORM_ID, "governorate")]
    assert (governorate["label (ar)"], governorate["label (ckb)"], governorate["label (en)"]) \
        == ("المحافظة", "پارێزگا", "Governorate")
    assert governorate["type"] == "select_one" and governorate["form versions"] == "1"
    assert "erbil = أربيل / هەولێر / Erbil" in governorate["choices"]
    assert by_column[(FORM_ID, "police-women")]["type"] == "integer"
    assert by_column[(FORM_ID, "topics/women")]["type"] == "0/1"
    assert by_column[(FORM_ID, "person_phone")]["cleaning"].count("+964") == 1
    assert "pseudonym" in by_column[(FORM_ID, "person_name")]["cleaning"]
    assert by_column[(f"{FORM_ID}-issue", "PARENT_KEY")]["type"] == "text"
    assert len(entries) == sum(len(r) for r in (
        list(book[FORM_ID].iter_rows(max_row=1))[0], list(book["issue"].iter_rows(max_row=1))[0]))
    about = dict(book["export"].iter_rows(min_row=2, values_only=True))
    assert about["rows in report"] == "1" and about["exported by"] == "analyst"


def test_a_table_longer_than_a_sheet_continues_and_long_cells_are_cut(
        app, form, send, make_user, tmp_path):
    keys = [send(notes="x" * 40000) for _ in range(5)]
    user = make_user("long-reader", "analyst")

    with app.app_context():
        session = per_request.session()
        prepared = prepare(session, form_queries.get_form(session, FORM_ID), user,
                           Options(format="xlsx"), secret_key="k",
                           blobs=app.extensions["blobs"])
        workbook.write(session, prepared, tmp_path / "out.xlsx", lambda done: None, max_rows=3)

    book = load_workbook(tmp_path / "out.xlsx")
    assert book.sheetnames[:3] == [FORM_ID, f"{FORM_ID} (2)", f"{FORM_ID} (3)"]
    rows = [r for name in book.sheetnames[:3] for r in sheet_rows(book[name])]
    assert [r["KEY"] for r in rows] == keys
    assert all(len(r["notes"]) == 32767 and r["notes"].endswith(CUT_MARK) for r in rows)
