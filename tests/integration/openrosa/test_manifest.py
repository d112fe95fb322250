"""GET forms/<id>/manifest and the media files it lists."""

from __future__ import annotations

import hashlib

from tests.support.xlsforms import form_with_media

VILLAGES = "name,label\nqayyarah,القيارة\nkhalis,الخالص\n".encode()
LOGO = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_the_manifest_lists_each_media_file_with_its_md5(load, phone):
    load(form_with_media(), {"villages.csv": VILLAGES, "logo.png": LOGO})

    (entry,) = phone.form_list()
    media = {m["filename"]: m for m in phone.manifest(entry)}

    assert set(media) == {"villages.csv", "logo.png"}
    assert media["villages.csv"]["hash"] == "md5:" + hashlib.md5(VILLAGES).hexdigest()
    assert phone.download_media(media["villages.csv"]) == VILLAGES
    assert phone.download_media(media["logo.png"]) == LOGO


def test_media_not_uploaded_yet_is_left_out_of_the_manifest(load, phone):
    load(form_with_media(), {"villages.csv": VILLAGES})

    (entry,) = phone.form_list()
    assert [m["filename"] for m in phone.manifest(entry)] == ["villages.csv"]
    assert phone.get("forms/places/attachments/logo.png").status == 404


def test_replacing_a_csv_changes_its_hash_without_a_new_form_version(load, phone, admin):
    load(form_with_media(), {"villages.csv": VILLAGES})
    (before,) = phone.form_list()
    old = phone.manifest(before)[0]["hash"]

    new_villages = VILLAGES + "ramadi,الرمادي\n".encode()
    assert admin.put("/api/v1/forms/places/attachments/villages.csv",
                     data=new_villages).status_code == 200

    (after,) = phone.form_list()
    assert after["hash"] == before["hash"] and after["version"] == before["version"]
    (media,) = phone.manifest(after)
    assert media["hash"] != old
    assert phone.download_media(media) == new_villages


def test_a_new_version_carries_media_forward_by_name(load, phone):
    load(form_with_media(version="1"), {"villages.csv": VILLAGES, "logo.png": LOGO})
    load(form_with_media(version="2"))

    (entry,) = phone.form_list()
    assert entry["version"] == "2"
    assert {m["filename"] for m in phone.manifest(entry)} == {"villages.csv", "logo.png"}


def test_a_media_name_is_never_used_as_a_path(load, phone):
    load(form_with_media(), {"villages.csv": VILLAGES})

    for name in ("../../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "/etc/passwd",
                 "..%2F..%2Fsecret_key"):
        reply = phone.get(f"forms/places/attachments/{name}")
        # 308: the router merges the double slash of an absolute name, and finds nothing there
        assert reply.status in (404, 308)
        assert b"root:" not in reply.body
