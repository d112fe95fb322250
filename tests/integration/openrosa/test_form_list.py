"""GET formList: what a phone sees when the officer taps 'Get blank forms'."""

from __future__ import annotations

import hashlib

from tests.support.xlsforms import form_with_media, simple_form


def test_an_officer_sees_every_open_form_with_the_hash_of_what_is_served(load, phone):
    load(simple_form("household", "3", title="Household"))
    load(form_with_media("places"), {"villages.csv": b"name,label\na,A\n"})

    entries = phone.form_list()

    assert [e["formID"] for e in entries] == ["household", "places"]  # sorted by name
    household = entries[0]
    assert household["name"] == "Household"
    assert household["version"] == "3"
    assert "manifestUrl" not in household  # no media, no manifest
    assert household["hash"] == "md5:" + hashlib.md5(phone.download_form(household)).hexdigest()
    assert entries[1]["manifestUrl"].endswith("/forms/places/manifest")


def test_form_id_narrows_the_list_and_device_id_is_ignored(load, phone):
    load(simple_form("household"))
    load(simple_form("market"))

    assert [e["formID"] for e in phone.form_list("market")] == ["market"]
    assert phone.form_list("nothing-like-this") == []


def test_closing_and_closed_forms_are_not_listed(load, phone, admin):
    load(simple_form("household"))
    load(simple_form("market"))
    load(simple_form("survey"))
    admin.patch("/api/v1/forms/market", json={"state": "closing"})
    admin.patch("/api/v1/forms/survey", json={"state": "closed"})

    assert [e["formID"] for e in phone.form_list()] == ["household"]


def test_an_app_user_limited_to_some_forms_sees_only_those(load, make_phone):
    load(simple_form("household"))
    load(simple_form("market"))
    officer = make_phone("kirkuk-officer", forms=("market",))

    assert [e["formID"] for e in officer.form_list()] == ["market"]
    assert officer.get("forms/household.xml").status == 404


def test_the_list_names_the_newest_version(load, phone):
    load(simple_form("household", "1"))
    load(simple_form("household", "2", title="Household v2"))

    (entry,) = phone.form_list()
    assert (entry["version"], entry["name"]) == ("2", "Household v2")


def test_a_request_without_the_openrosa_header_is_refused_in_openrosa_xml(load, phone):
    load(simple_form())

    reply = phone.get("formList", headers={"X-OpenRosa-Version": ""})
    reply = phone.transport("GET", phone.server_url + "/formList", {})

    assert reply.status == 400
    assert reply.headers["Content-Type"].startswith("text/xml")
    assert b"X-OpenRosa-Version" in reply.body
    assert b'nature="error"' in reply.body


def test_standard_headers_are_on_every_answer(phone):
    reply = phone.get("formList")
    assert reply.headers["X-OpenRosa-Version"] == "1.0"
    assert "Date" in reply.headers
    assert reply.headers["Content-Type"] == "text/xml; charset=utf-8"
