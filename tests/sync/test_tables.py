"""A form's relational shape and its SQL-safe names."""

from __future__ import annotations

from forms import compile_form
from sync import tables
from tests.support.meeting import meeting_form


def test_one_table_for_the_form_one_per_repeat_one_per_select_multiple():
    plan = tables.plan(compile_form(meeting_form()).structure)
    assert [(t.key, t.parent, t.kind) for t in plan.tables] == [
        ("", None, "form"), ("/topics", "", "choices"), ("/issue", "", "repeat"),
        ("/issue/action", "/issue", "repeat")]
    kinds = {(c.path, c.part): c.kind for c in plan.columns}
    assert kinds[("/meeting_date", None)] == "date"
    assert kinds[("/attendance/women", None)] == "integer"
    assert kinds[("/duration", None)] == "decimal"
    assert kinds[("/location", "latitude")] == "decimal"
    assert kinds[("/photo", None)] == "text"


def test_identifiers_are_lower_case_ascii_and_fit_postgresql():
    assert tables.sql_identifier("Meeting Date") == "meeting_date"
    assert tables.sql_identifier("2nd-visit") == "x_2nd_visit"
    arabic = tables.sql_identifier("تاريخ_الاجتماع")
    assert arabic.startswith("field_") and arabic.isascii()
    assert tables.sql_identifier("تاريخ") != tables.sql_identifier("مكان")
    assert len(tables.sql_identifier("x" * 200)) <= tables.MAX_IDENTIFIER


def test_names_that_collide_after_shortening_are_told_apart():
    taken: set[str] = set()
    long = "q" * 100
    first = tables.unique(tables.sql_identifier(long + "a"), taken)
    second = tables.unique(tables.sql_identifier(long + "b"), taken)
    assert first != second and len(second) <= tables.MAX_IDENTIFIER


def test_known_names_never_change_and_a_changed_type_gets_its_own_column():
    score_int = tables.ColumnSpec("", "/score", "integer")
    notes = tables.ColumnSpec("", "/g/notes", "text")
    known = tables.new_names([score_int, notes], {}, {})
    assert known == {("", "/score", "integer", ""): "score", ("", "/g/notes", "text", ""): "notes"}

    score_text = tables.ColumnSpec("", "/score", "text")
    other_notes = tables.ColumnSpec("", "/h/notes", "text")
    taken = {"": set(known.values())}
    added = tables.new_names([score_int, score_text, other_notes], known, taken)
    assert added == {("", "/score", "text", ""): "score_text",
                     ("", "/h/notes", "text", ""): "h_notes"}


def test_table_names_carry_the_form_and_the_repeat():
    taken: set[str] = set()
    assert tables.table_name("forum_meeting", "", taken) == "f_forum_meeting"
    assert tables.table_name("forum_meeting", "/issue", taken) == "f_forum_meeting__issue"
    assert tables.table_name("Forum Meeting", "", taken) == "f_forum_meeting_2"
