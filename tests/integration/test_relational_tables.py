"""Submissions become typed relational rows that analysts query with plain SQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.database.models import SubmissionDef, ValueIssueRecord
from server.surfaces.cli import main
from tests.support.instances import instance, new_id
from tests.support.meeting import FORM_ID, meeting, meeting_form
from tests.support.tables import rows, sql_names
from tests.support.xlsforms import xlsform


@pytest.fixture
def form(load):
    return load(meeting_form())


def test_one_row_per_submission_with_typed_values_and_system_columns(form, phone, session):
    instance_id = new_id()
    phone.submit(meeting(instance_id=instance_id))

    (row,) = rows(session, FORM_ID)
    assert row["_key"] == instance_id and row["_instance_id"] == instance_id
    assert row["/meeting_date"] == dt.date(2026, 11, 20)
    assert row["/attendance/women"] == 3 and row["/attendance/men"] == 5
    assert Decimal(str(row["/duration"])) == Decimal("1.5")
    assert float(row["/location#latitude"]) == pytest.approx(33.3152)
    assert float(row["/location#longitude"]) == pytest.approx(44.3661)
    assert float(row["/location#altitude"]) == 34.0
    assert float(row["/location#accuracy"]) == 5.0
    assert row["/topics"] == "security women"
    assert row["_submitter"] == "officer" and row["_device_id"] == "collect:muntada-test"
    assert row["_form_version"] == "1" and row["_review_state"] == "received"
    assert (row["_attachments_present"], row["_attachments_expected"]) == (0, 0)


def test_repeats_nest_with_keys_and_positions(form, phone, session):
    instance_id = new_id()
    phone.submit(meeting(instance_id=instance_id, issues=(
        ("Street lights", ("2026-12-01", "2026-12-15")), ("Checkpoint delays", ()))))

    issues = rows(session, FORM_ID, "/issue")
    actions = rows(session, FORM_ID, "/issue/action")
    assert [(r["_key"], r["_parent_key"], r["_position"], r["/issue/description"])
            for r in issues] == [
        (f"{instance_id}/issue[1]", instance_id, 1, "Street lights"),
        (f"{instance_id}/issue[2]", instance_id, 2, "Checkpoint delays")]
    assert [(r["_parent_key"], r["_position"], r["/issue/action/due"]) for r in actions] == [
        (f"{instance_id}/issue[1]", 1, dt.date(2026, 12, 1)),
        (f"{instance_id}/issue[1]", 2, dt.date(2026, 12, 15))]


def test_a_select_multiple_has_a_row_per_chosen_value(form, phone, session):
    instance_id = new_id()
    phone.submit(meeting(instance_id=instance_id, topics="security services women"))

    chosen = rows(session, FORM_ID, "/topics")
    assert [(r["_parent_key"], r["_position"], r["value"]) for r in chosen] == [
        (instance_id, 1, "security"), (instance_id, 2, "services"), (instance_id, 3, "women")]


def test_arabic_indic_and_persian_digits_are_numbers(form, phone, session):
    phone.submit(meeting(women="٧٥", men="۱۲"))
    (row,) = rows(session, FORM_ID)
    assert (row["/attendance/women"], row["/attendance/men"]) == (75, 12)


def test_a_value_that_does_not_parse_is_kept_raw_and_flagged(form, phone, session):
    reply = phone.submit(meeting(women="abc"))

    assert reply.status == 201
    (row,) = rows(session, FORM_ID)
    assert row["/attendance/women"] is None and row["/attendance/men"] == 5
    (issue,) = session.scalars(sa.select(ValueIssueRecord)).all()
    assert (issue.path, issue.raw) == ("/attendance/women", "abc")
    assert b"<women>abc</women>" in session.scalar(sa.select(SubmissionDef.xml))


def test_an_edit_replaces_the_rows_and_keeps_the_key(form, phone, session):
    first = new_id()
    phone.submit(meeting(instance_id=first, women="3"))
    second = new_id()
    phone.submit(meeting(instance_id=second, deprecated_id=first, women="4",
                         issues=(("Only one", ()),)))

    (row,) = rows(session, FORM_ID)
    assert (row["_key"], row["_instance_id"], row["/attendance/women"]) == (first, second, 4)
    assert row["_review_state"] == "edited" and row["_edits"] == 1
    assert [r["/issue/description"] for r in rows(session, FORM_ID, "/issue")] == ["Only one"]


def test_attachments_present_follow_a_split_upload(form, phone, session):
    xml = meeting(photos=("a.jpg", "b.jpg"))
    phone.submit(xml, {"a.jpg": b"1"}, incomplete=True)
    assert rows(session, FORM_ID)[0]["_attachments_present"] == 1
    phone.submit(xml, {"b.jpg": b"2"})
    (row,) = rows(session, FORM_ID)
    assert (row["_attachments_present"], row["_attachments_expected"]) == (2, 2)
    assert row["/photo"] == "a.jpg" and row["/photo_2"] == "b.jpg"


def test_form_versions_never_drop_a_submission(load, phone, session):
    load(meeting_form("1", extra_rows="| | integer | score | Score |"))
    phone.submit(meeting(version="1", extra="<score>7</score>"))
    # version 2 adds a field, drops none, and turns score into text
    load(meeting_form("2", extra_rows="| | text | score | Score |\n| | text | notes | Notes |"))
    phone.submit(meeting(version="2", extra="<score>high</score><notes>ok</notes>"))

    by_version = {r["_form_version"]: r for r in rows(session, FORM_ID)}
    assert by_version["1"]["/score:integer"] == 7 and by_version["1"]["/score:text"] is None
    assert by_version["2"]["/score:text"] == "high" and by_version["2"]["/notes"] == "ok"
    assert by_version["1"]["/notes"] is None


def test_identifiers_are_safe_for_sql_whatever_the_field_names(load, phone, session):
    long_name = "a_very_long_question_name_" * 4
    load(xlsform(f"""
        | | type | name | label |
        | | begin_group | grp | Group |
        | | text | {long_name}one | One |
        | | text | {long_name}two | Two |
        | | end_group | | |
        | | text | select | Reserved word |
        | | text | grp2_x | Other |
    """, form_id="odd-names.2026"))
    phone.submit(instance("odd-names.2026", "1", (
        f"<grp><{long_name}one>1</{long_name}one><{long_name}two>2</{long_name}two></grp>"
        "<select>s</select><grp2_x>x</grp2_x>")))

    names = sql_names(session, "odd-names.2026")
    assert names[""] == "f_odd_names_2026"
    (row,) = rows(session, "odd-names.2026")
    assert (row[f"/grp/{long_name}one"], row[f"/grp/{long_name}two"]) == ("1", "2")
    assert row["/select"] == "s"


def test_renormalise_rebuilds_identical_rows(form, phone, session, app, monkeypatch):
    for women in ("1", "2", "٣"):
        phone.submit(meeting(women=women))
    before = {key: rows(session, FORM_ID, key) for key in ("", "/issue", "/topics")}

    monkeypatch.setenv("MUNTADA_DATA_DIR", app.config["DATA_DIR"])
    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(main, ["renormalise", FORM_ID], catch_exceptions=False)

    assert result.exit_code == 0 and "3 rebuilt\t0 failed" in result.stdout
    assert {key: rows(session, FORM_ID, key) for key in ("", "/issue", "/topics")} == before


def test_a_normalising_failure_keeps_the_record_and_renormalise_recovers(
        form, phone, session, app, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full while writing rows")

    monkeypatch.setattr("server.database.projection.write", broken)
    assert phone.submit(meeting()).status == 201
    session.rollback()
    definition = session.scalar(sa.select(SubmissionDef))
    assert "disk full" in definition.normalise_error
    assert rows(session, FORM_ID) == []

    monkeypatch.undo()
    monkeypatch.setenv("MUNTADA_DATA_DIR", app.config["DATA_DIR"])
    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    listed = CliRunner().invoke(main, ["failures"], catch_exceptions=False)
    assert "disk full" in listed.stdout
    CliRunner().invoke(main, ["renormalise"], catch_exceptions=False)
    assert len(rows(session, FORM_ID)) == 1
    session.rollback()
    assert session.scalar(sa.select(SubmissionDef.normalise_error)) is None
