"""The CSV zip as ODK Central lays it out, read back with the csv module."""

from __future__ import annotations

from tests.exports.conftest import FORM_ID


def test_one_file_per_table_joined_by_key_and_parent_key(form, send, analyst):
    key = send(issues=(("Lights", "2"), ("Checkpoint", "4")))

    files = analyst.csv_zip()

    assert set(files) == {f"{FORM_ID}.csv", f"{FORM_ID}-issue.csv", "codebook.csv",
                          "export.csv"}
    (row,) = files[f"{FORM_ID}.csv"]
    assert row["KEY"] == key
    issues = files[f"{FORM_ID}-issue.csv"]
    assert [(i["PARENT_KEY"], i["KEY"], i["description"], i["count"]) for i in issues] == [
        (key, f"{key}/issue[1]", "Lights", "2"), (key, f"{key}/issue[2]", "Checkpoint", "4")]
