"""De-identified exports of incident referrals, as the form classifies their fields: for an
analyst without the personal-data permission, names and phones are pseudonyms, the narrative is
withheld, the exact GPS becomes the district's point; sex, age group and displacement stay
readable, so referrals can be counted by sex. The codebook says which field is which, in Arabic,
Kurdish and English."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from openpyxl import load_workbook

from tests.support.incidents import FORM, incident_referral

ROOT = f"{FORM}.csv"
RAMADI = (33.42, 43.30)  # the point incident_referral.xlsx gives the district of Ramadi


@pytest.fixture
def incidents(programme, phone):
    def _send(**answers) -> None:
        reply = phone.submit(incident_referral(**answers))
        assert reply.status == 201, reply.body
    return _send


def download(reader, suffix: str, **query) -> bytes:
    response = reader.get(f"/api/v1/forms/{FORM}/export.{suffix}", query_string=query)
    try:
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.data
    finally:
        response.close()


def csv_files(reader) -> dict[str, list[dict[str, str]]]:
    archive = zipfile.ZipFile(io.BytesIO(download(reader, "csv.zip")))
    return {name: list(csv.DictReader(io.TextIOWrapper(archive.open(name), "utf-8",
                                                       newline="")))
            for name in archive.namelist() if name.endswith(".csv")}


def test_quasi_identifying_fields_stay_readable_so_referrals_count_by_sex(
        incidents, make_analyst):
    incidents(person_sex="female", age_group="age_18_24", displacement="idp")
    incidents(person_sex="male", age_group="age_40_59", displacement="returnee")
    analyst = make_analyst("analyst")

    rows = csv_files(analyst)[ROOT]
    api = analyst.get(f"/api/v1/forms/{FORM}/submissions").get_json()["value"]

    assert sorted(r["person-person_sex"] for r in rows) == ["female", "male"]
    assert sorted(r["person-person_age_group"] for r in rows) == ["age_18_24", "age_40_59"]
    assert sorted(r["person-displacement_status"] for r in api) == ["idp", "returnee"]
    # quasi fields can be filtered on, as any readable field
    response = analyst.get(f"/api/v1/forms/{FORM}/submissions",
                           query_string={"where": "person_sex=female"})
    assert response.status_code == 200 and response.get_json()["count"] == 1


def test_identifying_fields_are_pseudonymised_withheld_or_coarsened(incidents, make_analyst):
    incidents(person_name="Huda Salim", person_phone="07701234567",
              description="Huda was threatened by her neighbour.",
              location="33.4211 43.3075 50.0 4.0")
    analyst = make_analyst("analyst")
    trusted = make_analyst("caseworker", personal_data=True)

    (row,) = csv_files(analyst)[ROOT]
    (api,) = analyst.get(f"/api/v1/forms/{FORM}/submissions").get_json()["value"]
    (full,) = csv_files(trusted)[ROOT]

    assert row["person-person_name"].startswith("P-")
    assert row["person-person_phone"].startswith("P-")
    assert row["description"] == "" and api["description"] is None
    assert (row["location-Latitude"], row["location-Longitude"]) == ("33.42", "43.3")
    assert (api["location-Latitude"], api["location-Longitude"]) == RAMADI
    assert row["location-Altitude"] == row["location-Accuracy"] == ""
    assert "33.4211" not in json.dumps(api) and "Huda" not in json.dumps(api)
    assert (full["person-person_name"], full["location-Latitude"]) == ("Huda Salim", "33.4211")
    assert full["description"] == "Huda was threatened by her neighbour."


def test_the_excel_export_coarsens_and_withholds_as_the_csv_does(incidents, make_analyst):
    incidents()
    book = load_workbook(io.BytesIO(download(make_analyst("analyst"), "xlsx")))

    sheet = book[FORM]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    (values,) = sheet.iter_rows(min_row=2, values_only=True)
    row = dict(zip(header, values, strict=True))

    assert (row["location-Latitude"], row["location-Longitude"]) == RAMADI
    assert row["description"] is None and row["person-person_sex"] == "female"


def test_the_map_shows_an_incident_at_its_districts_point_without_the_permission(
        incidents, make_analyst):
    incidents(district="ramadi", location="33.4211 43.3075 50.0 4.0")
    incidents(governorate="baghdad", district="karkh", location="33.3152 44.3661 34.0 5.0")
    plain = json.loads(download(make_analyst("analyst"), "geojson"))
    trusted = json.loads(download(make_analyst("caseworker", personal_data=True), "geojson"))

    shown = sorted((f["geometry"]["coordinates"], f["properties"]) for f in plain["features"])
    assert [coordinates for coordinates, _ in shown] == [[43.3, 33.42], [44.37, 33.31]]
    assert all(p["precision"] == "district" and p["accuracy"] is None for _, p in shown)
    assert sorted(f["geometry"]["coordinates"] for f in trusted["features"]) == [
        [43.3075, 33.4211, 50.0], [44.3661, 33.3152, 34.0]]
    assert all("precision" not in f["properties"] for f in trusted["features"])


def test_the_codebook_shows_each_fields_classification_in_three_languages(
        incidents, make_analyst):
    incidents()
    analyst = make_analyst("analyst")

    book = load_workbook(io.BytesIO(download(analyst, "xlsx")))
    rows = list(book["codebook"].iter_rows(values_only=True))
    entries = {r[1]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    from_zip = {r["column"]: r for r in csv_files(analyst)["codebook.csv"]}

    sex, name = entries["person-person_sex"], entries["person-person_name"]
    assert (sex["classification (ar)"], sex["classification (ckb)"]) == (
        "شبه مُعرِّف: يُقرأ، وقد يكشف الهوية إذا اقترن بغيره",
        "نیمچە ناسێنەر: دەخوێندرێتەوە، لەگەڵ زانیاریی تر لەوانەیە کەسەکە بناسێنێت")
    assert sex["classification (en)"].startswith("quasi-identifying")
    assert name["classification (en)"] == "identifying: replaced by a pseudonym"
    assert name["classification (ar)"] == "مُعرِّف: استُبدل باسم مستعار"
    assert entries["description"]["classification (en)"] == "identifying: withheld"
    assert entries["location-Latitude"]["classification (en)"] == (
        "identifying: the district's point instead of the exact location")
    assert entries["category"]["classification (en)"] is None  # not about a person
    assert from_zip["person-person_sex"]["classification (ckb)"] == sex["classification (ckb)"]
    assert from_zip["description"]["classification (en)"] == "identifying: withheld"


def test_a_geopoint_whose_district_gives_no_point_is_withheld(incidents, make_analyst):
    incidents(district="nowhere")  # not in the form's list: no point to stand in for it

    (row,) = csv_files(make_analyst("analyst"))[ROOT]
    collection = json.loads(download(make_analyst("other"), "geojson"))

    assert row["location-Latitude"] == row["location-Longitude"] == ""
    assert collection["features"] == []


def test_the_structure_api_tells_each_columns_classification(incidents, make_analyst):
    incidents()
    structure = make_analyst("analyst").get(f"/api/v1/forms/{FORM}/structure").get_json()

    columns = {c["name"]: c for t in structure["tables"] for c in t["columns"]}
    assert columns["person-person_sex"]["classification"] == "quasi"
    assert not columns["person-person_sex"]["personal"]
    assert columns["person-person_name"]["classification"] == "identifying"
    assert columns["category"]["classification"] is None
