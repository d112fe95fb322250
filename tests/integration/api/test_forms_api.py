"""/api/v1/forms: an administrator loads forms with their media and opens or closes them."""

from __future__ import annotations

import io

from tests.support.xlsforms import form_with_media, simple_form, xlsform


def upload(admin, source: bytes, media: dict[str, bytes] | None = None, name="form.xlsx"):
    data = {"form": (io.BytesIO(source), name)}
    if media:
        data["media"] = [(io.BytesIO(body), filename) for filename, body in media.items()]
    return admin.post("/api/v1/forms", data=data, content_type="multipart/form-data")


def test_uploading_a_form_with_its_media_publishes_it(admin, phone):
    response = upload(admin, form_with_media(), {"villages.csv": b"name,label\na,A\n",
                                                 "logo.png": b"png"})

    assert response.status_code == 201
    body = response.get_json()
    assert (body["xmlFormId"], body["version"], body["created"]) == ("places", "1", True)
    assert body["mediaMissing"] == []
    assert [e["formID"] for e in phone.form_list()] == ["places"]


def test_the_file_type_comes_from_the_content_not_the_name(admin):
    # A markdown XLSForm uploaded under a misleading .xlsx name still loads.
    response = upload(admin, simple_form(), name="misleading.xlsx")
    assert response.status_code == 201
    assert response.get_json()["form"]["currentVersion"]["sourceType"] == "md"


def test_loading_the_same_version_again_changes_nothing(admin):
    assert upload(admin, simple_form()).status_code == 201

    again = upload(admin, simple_form())

    assert again.status_code == 200
    assert again.get_json()["created"] is False
    versions = admin.get("/api/v1/forms/household").get_json()["versions"]
    assert [v["version"] for v in versions] == ["1"]


def test_a_new_version_keeps_the_old_ones(admin):
    upload(admin, simple_form(version="1"))
    upload(admin, simple_form(version="2"))

    form = admin.get("/api/v1/forms/household").get_json()
    assert form["currentVersion"]["version"] == "2"
    assert [v["version"] for v in form["versions"]] == ["1", "2"]


def test_same_id_and_version_with_different_content_is_refused_clearly(admin):
    upload(admin, simple_form(version="1"))
    changed = xlsform("""
        | | type | name | label |
        | | text | head | Head of household |
        | | text | village | Village |
    """, form_id="household", version="1")

    response = upload(admin, changed)

    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == "409.1"
    assert "version" in body["message"] and "settings sheet" in body["message"]


def test_a_broken_xlsform_is_refused_naming_the_sheet_and_row(admin):
    broken = xlsform("""
        | | type | name | label |
        | | text | head | Head |
        | | begin_group | grp | Group |
        | | text | inner | Inner |
    """)  # the group is never closed

    response = upload(admin, broken)

    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "400.3"
    assert "sheet 'survey', row 3: " in body["message"]
    assert "/tmp" not in body["message"] and "Traceback" not in body["message"]


def test_a_media_file_the_form_does_not_reference_is_refused(admin):
    response = upload(admin, form_with_media(), {"passwords.txt": b"nothing"})

    assert response.status_code == 400
    assert response.get_json()["code"] == "400.4"
    assert "villages.csv" in response.get_json()["message"]


def test_state_must_be_open_closing_or_closed(admin):
    upload(admin, simple_form())

    bad = admin.patch("/api/v1/forms/household", json={"state": "archived"})
    good = admin.patch("/api/v1/forms/household", json={"state": "closing"})

    assert bad.status_code == 400 and bad.get_json()["code"] == "400.5"
    assert good.status_code == 200 and good.get_json()["state"] == "closing"


def test_an_unknown_form_is_a_json_404(admin):
    response = admin.get("/api/v1/forms/nothing")
    assert response.status_code == 404
    assert response.get_json() == {
        "code": "404.2",
        "message": "The form 'nothing' does not exist or is not available to you.",
        "details": {"form_id": "nothing"},
    }
