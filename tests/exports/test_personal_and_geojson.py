"""Personal data: pseudonyms for analysts without the permission, stable across exports; and the
GeoJSON of every geopoint."""

from __future__ import annotations

import json

from tests.exports.conftest import FORM_ID

ROOT = f"{FORM_ID}.csv"


def test_personal_fields_become_stable_pseudonyms_without_the_permission(
        form, send, make_analyst):
    send(person_name="Ali Hassan")
    send(person_name="  ali hassan ")  # the same person, typed differently
    send(person_name="Sara Ahmed")
    analyst = make_analyst("analyst")
    trusted = make_analyst("caseworker", personal_data=True)

    first = [r["person_name"] for r in analyst.csv_zip()[ROOT]]
    again = [r["person_name"] for r in analyst.csv_zip()[ROOT]]
    from_api = [r["person_name"] for r in analyst.page()["value"]]

    assert first == again and sorted(first) == sorted(from_api)  # the API pages by KEY
    assert first[0] == first[1] != first[2] and first[0].startswith("P-")
    assert "Ali" not in json.dumps(first)
    assert [r["person_name"] for r in trusted.csv_zip()[ROOT]] == [
        "Ali Hassan", "ali hassan", "Sara Ahmed"]


def test_no_filtering_on_what_a_pseudonym_hides(form, send, analyst):
    send(person_name="Ali Hassan")

    response = analyst.get(f"/api/v1/forms/{FORM_ID}/submissions",
                           query_string={"where": "person_name=Ali Hassan"})

    assert response.status_code == 400 and response.get_json()["code"] == "400.22"


def test_geojson_has_every_geopoint_with_its_submissions_key_fields(form, send, analyst):
    key = send(location="33.3152 44.3661 34.0 5.0", governorate="baghdad")
    send(location="")  # not recorded: no feature

    collection = json.loads(analyst.export("geojson"))

    assert collection["type"] == "FeatureCollection"
    (feature,) = collection["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [44.3661, 33.3152, 34.0]}
    properties = feature["properties"]
    assert (properties["KEY"], properties["field"], properties["governorate"]) == (
        key, "location", "baghdad")
    assert properties["accuracy"] == 5.0 and properties["ReviewState"] == "received"
    labelled = json.loads(analyst.export("geojson", values="labels", language="en"))
    assert labelled["features"][0]["properties"]["governorate"] == "Baghdad"


def test_a_personal_geopoint_stays_off_the_map_for_readers_without_the_permission(
        load, phone, make_analyst):
    from tests.exports.conftest import report, report_form

    load(report_form(extra_rows="| | geopoint | home | المنزل | ماڵ | Home | yes |"))
    _key, xml = report(extra="<home>36.19 44.01</home>")
    assert phone.submit(xml).status == 201

    plain = json.loads(make_analyst("analyst").export("geojson"))
    trusted = json.loads(make_analyst("caseworker", personal_data=True).export("geojson"))

    assert {f["properties"]["field"] for f in plain["features"]} == {"location"}
    assert {f["properties"]["field"] for f in trusted["features"]} == {"location", "home"}
