"""The CSV zip as ODK Central lays it out, read back with the csv module."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from server.services.exports.csv_zip import media_name
from tests.exports.conftest import FORM_ID, report, report_form
from tests.support.instances import new_id

ROOT, ISSUES = f"{FORM_ID}.csv", f"{FORM_ID}-issue.csv"
SYSTEM = ["KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected",
          "ReviewState", "DeviceID", "Edits", "FormVersion"]


def test_one_file_per_table_joined_by_key_and_parent_key(form, send, analyst):
    key = send(issues=(("Lights", "2"), ("Checkpoint", "4")))

    files = analyst.csv_zip()

    assert set(files) == {ROOT, ISSUES, "codebook.csv", "export.csv"}
    (row,) = files[ROOT]
    assert row["KEY"] == key
    assert [(i["PARENT_KEY"], i["KEY"], i["description"], i["count"]) for i in files[ISSUES]] == [
        (key, f"{key}/issue[1]", "Lights", "2"), (key, f"{key}/issue[2]", "Checkpoint", "4")]


def test_columns_are_named_as_odk_central_names_them(form, send, analyst):
    send()

    archive = zipfile.ZipFile(io.BytesIO(analyst.export()))
    header = archive.read(ROOT).decode().splitlines()[0].split(",")

    assert header[0] == "SubmissionDate"
    assert header[-len(SYSTEM):] == SYSTEM
    assert header[header.index("location-Latitude"):][:4] == ["location-Latitude", "location-Longitude", "location-Altitude",
            "location-Accuracy"]
    assert {"police-women", "police-men", "meta-instanceID"} <= set(header)
    issue_header = archive.read(ISSUES).decode().splitlines()[0].split(",")
    assert issue_header == ["description", "count", "PARENT_KEY", "KEY"]


def test_values_are_typed_text_and_system_columns_filled(form, send, analyst):
    key = send(reported_at="2026-11-20T10:15:00.000+03:00", score="2.50", women="٣")

    (row,) = analyst.csv_zip()[ROOT]

    assert row["meeting_date"] == "2026-11-20"
    assert row["reported_at"] == "2026-11-20T07:15:00.000Z"  # UTC, as Central writes it
    assert row["score"] == "2.5" and row["police-women"] == "3"
    assert (row["location-Latitude"], row["location-Longitude"]) == ("33.3152", "44.3661")
    assert (row["location-Altitude"], row["location-Accuracy"]) == ("34", "5")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row["SubmissionDate"])
    assert row["meta-instanceID"] == key and row["ReviewState"] == "received"
    assert (row["SubmitterName"], row["DeviceID"]) == ("officer", "collect:muntada-test")
    assert row["SubmitterID"].isdigit() and row["Edits"] == "0" and row["FormVersion"] == "1"
    assert (row["AttachmentsPresent"], row["AttachmentsExpected"]) == ("0", "0")


def test_group_paths_can_be_dropped(form, send, analyst):
    send()

    (row,) = analyst.csv_zip(groupPaths="false")[ROOT]

    assert row["women"] == "3" and "police-women" not in row
    assert row["instanceID"].startswith("uuid:")


def test_select_multiples_split_into_one_column_per_choice(form, send, analyst):
    send(topics="security women")
    send(topics="services")

    first, second = analyst.csv_zip(splitSelectMultiples="true")[ROOT]

    assert first["topics"] == "security women"
    assert (first["topics/security"], first["topics/services"], first["topics/women"]) == \
        ("1", "0", "1")
    assert (second["topics/security"], second["topics/services"]) == ("0", "1")
    assert "topics/security" not in analyst.csv_zip()[ROOT][0]


def test_every_form_version_in_one_set_of_columns(form, load, phone, send, analyst):
    old = send(notes="version one")
    load(report_form(version="2", extra_rows="| | integer | referrals | عدد الإحالات | "
                                             "ژمارەی ڕەوانەکردن | Referrals | |"))
    instance_id, xml = report(version="2", notes="version two", extra="<referrals>4</referrals>")
    assert phone.submit(xml).status == 201

    rows = {r["KEY"]: r for r in analyst.csv_zip()[ROOT]}

    assert rows.keys() == {old, instance_id}
    assert (rows[old]["FormVersion"], rows[old]["referrals"]) == ("1", "")
    assert (rows[instance_id]["FormVersion"], rows[instance_id]["referrals"]) == ("2", "4")


def test_an_edited_submission_has_only_its_latest_version(form, send, phone, analyst):
    key = send(notes="first words")
    _id, edit = report(notes="corrected words", instance_id=new_id())
    edit = edit.replace(b"</instanceID>", f"</instanceID><deprecatedID>{key}</deprecatedID>"
                        .encode())
    assert phone.submit(edit).status == 201

    (row,) = analyst.csv_zip()[ROOT]

    assert (row["KEY"], row["notes"], row["Edits"], row["ReviewState"]) == (
        key, "corrected words", "1", "edited")


def test_rejected_submissions_are_left_out_unless_asked_for(form, send, review, analyst):
    kept, rejected = send(), send()
    review(rejected, "rejected")

    assert [r["KEY"] for r in analyst.csv_zip()[ROOT]] == [kept]
    assert [r["KEY"] for r in analyst.csv_zip()[ISSUES]] == [f"{kept}/issue[1]"]
    both = analyst.csv_zip(includeRejected="true")[ROOT]
    assert {(r["KEY"], r["ReviewState"]) for r in both} == {
        (kept, "received"), (rejected, "rejected")}


def test_attachments_come_with_the_zip_when_asked_for(make_analyst, form, send):
    photo = b"\xff\xd8\xff\xe0 a meeting photo"
    send(photo="meeting.jpg", attachments={"meeting.jpg": photo})
    analyst = make_analyst("reader", personal_data=True)

    plain = zipfile.ZipFile(io.BytesIO(analyst.export()))
    with_media = zipfile.ZipFile(io.BytesIO(analyst.export(attachments="true")))

    assert not [n for n in plain.namelist() if n.startswith("media/")]
    assert with_media.read("media/meeting.jpg") == photo


def test_without_meta_instance_id_the_key_is_the_root_s_instance_id(form, phone, analyst):
    # as onadata's exports and ODK Aggregate write an instance: the ID an attribute of the root,
    # and the device in meta when the URL has none
    meta_id, xml = report()
    xml = xml.replace(b'version="1"', b'version="1" instanceID="uuid:5b2cc313-fc09-437e"', 1)
    xml = xml.replace(f"<instanceID>{meta_id}</instanceID>".encode(),
                      b"<deviceID>enketo.example:abc</deviceID>")

    assert phone.submit(xml, device_id=None).status == 201
    files = analyst.csv_zip()

    assert [(r["KEY"], r["DeviceID"]) for r in files[ROOT]] == [
        ("uuid:5b2cc313-fc09-437e", "enketo.example:abc")]
    assert [r["PARENT_KEY"] for r in files[ISSUES]] == ["uuid:5b2cc313-fc09-437e"]


def test_media_entries_are_safe_to_extract_on_windows(make_analyst, form, send):
    # names a phone may send that Windows cannot create: a device name, a trailing dot
    photos = {"CON.jpg": b"\xff\xd8 con", "com1.png": b"\x89PNG com1",
              "meeting.jpg.": b"\xff\xd8 dot"}
    for name, photo in photos.items():
        send(photo=name, attachments={name: photo})
    analyst = make_analyst("reader", personal_data=True)

    archive = zipfile.ZipFile(io.BytesIO(analyst.export(attachments="true")))

    media = {n: archive.read(n) for n in archive.namelist() if n.startswith("media/")}
    assert media == {"media/_CON.jpg": photos["CON.jpg"], "media/_com1.png": photos["com1.png"],
                     "media/meeting.jpg": photos["meeting.jpg."]}


@pytest.mark.parametrize("stored, entry", [
    ("1764662400000.jpg", "1764662400000.jpg"),
    ("صورة الاجتماع.jpg", "صورة الاجتماع.jpg"),
    # what the server refuses now, should an older database hold it
    ("../../etc/passwd", "passwd"),
    ("/etc/passwd", "passwd"),
    ("C:\\Users\\officer\\photo.jpg", "photo.jpg"),
    ("C:photo.jpg", "C_photo.jpg"),
    ('a<b>c:d"e|f?g*.jpg', "a_b_c_d_e_f_g_.jpg"),
    ("photo\u202egpj.exe", "photo_gpj.exe"),
    ("nul", "_nul"), ("Aux.txt", "_Aux.txt"), ("LPT9.jpg", "_LPT9.jpg"),
    ("CONSOLE.jpg", "CONSOLE.jpg"),
    ("photo.jpg. . ", "photo.jpg"),
    ("..", None), (".", None), ("media/", None),
])
def test_a_media_entry_name_has_no_path_and_nothing_windows_refuses(stored, entry):
    assert media_name(stored) == entry
