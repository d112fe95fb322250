"""/api/v1/app-users: phones for officers, limited to forms, revocable, set up by QR code."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image

from server.services import collect_settings
from tests.support.phone import Phone, flask_transport
from tests.support.xlsforms import simple_form


def test_creating_an_app_user_gives_a_token_url_that_collect_can_use(admin, client, load):
    load(simple_form("household"))

    response = admin.post("/api/v1/app-users", json={"name": "Officer Ramadi 1"})

    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "officer ramadi 1"
    assert len(body["token"]) == 64
    assert body["serverUrl"] == f"https://localhost/collect/key/{body['token']}"
    phone = Phone(flask_transport(client), body["serverUrl"])
    assert [e["formID"] for e in phone.form_list()] == ["household"]


def test_an_app_user_can_be_limited_to_chosen_forms(admin, load):
    load(simple_form("household"))
    load(simple_form("market"))

    body = admin.post("/api/v1/app-users", json={"name": "o2", "forms": ["market"]}).get_json()

    assert body["forms"] == ["market"]
    listed = admin.get("/api/v1/app-users").get_json()
    assert [(u["name"], u["forms"], u["active"]) for u in listed] == [("o2", ["market"], True)]


def test_unknown_forms_and_duplicate_names_are_refused(admin):
    assert admin.post("/api/v1/app-users", json={"name": "o3", "forms": ["nope"]}
                      ).get_json()["code"] == "404.2"
    assert admin.post("/api/v1/app-users", json={"name": "o3"}).status_code == 201
    duplicate = admin.post("/api/v1/app-users", json={"name": "O3"})
    assert duplicate.status_code == 409 and duplicate.get_json()["code"] == "409.2"


def test_a_bad_body_names_the_field(admin):
    response = admin.post("/api/v1/app-users", json={"forms": "not-a-list"})
    assert response.status_code == 400
    assert response.get_json()["code"] == "400.5"
    assert response.get_json()["details"]["field"] in ("name", "forms")


def test_the_qr_code_carries_collect_settings_for_this_phone(admin):
    token = admin.post("/api/v1/app-users", json={"name": "o4"}).get_json()["token"]

    response = admin.get("/api/v1/app-users/o4/qr.png")

    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "no-store"
    (barcode,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))
    settings = collect_settings.decode(barcode.text)
    assert settings["general"]["server_url"] == f"https://localhost/collect/key/{token}"
    assert settings["general"]["form_update_mode"] == "match_exactly"
    assert settings["project"]["name"] == "Muntada"


def test_revoking_ends_the_phone_access_and_the_qr_code(admin, client):
    url = admin.post("/api/v1/app-users", json={"name": "o5"}).get_json()["serverUrl"]
    phone = Phone(flask_transport(client), url)
    assert phone.get("formList").status == 200

    assert admin.delete("/api/v1/app-users/o5").get_json()["active"] is False

    assert phone.get("formList").status == 403
    assert admin.get("/api/v1/app-users/o5/qr.png").status_code == 404
    assert admin.delete("/api/v1/app-users/o5").status_code == 404


def test_an_administrator_sets_the_places_whose_cases_a_phone_receives(admin):
    created = admin.post("/api/v1/app-users", json={"name": "o5", "forums": ["Basra Central"]})
    assert created.get_json()["places"] == {"governorates": [], "forums": ["Basra Central"]}

    changed = admin.put("/api/v1/app-users/o5/places",
                        json={"governorates": ["Basra"], "forums": []})

    assert changed.status_code == 200
    assert changed.get_json()["places"] == {"governorates": ["Basra"], "forums": []}
    listed = {u["name"]: u["places"] for u in admin.get("/api/v1/app-users").get_json()}
    assert listed["o5"] == {"governorates": ["Basra"], "forums": []}


def test_places_are_refused_when_the_body_or_the_phone_is_wrong(admin):
    admin.post("/api/v1/app-users", json={"name": "o6"})
    missing = admin.put("/api/v1/app-users/o6/places", json={"forums": ["Zubair"]})
    assert missing.status_code == 400 and missing.get_json()["details"]["field"] == "governorates"
    empty = admin.put("/api/v1/app-users/o6/places", json={"governorates": [""], "forums": []})
    assert empty.status_code == 400
    assert admin.put("/api/v1/app-users/nobody/places",
                     json={"governorates": [], "forums": []}).status_code == 404
