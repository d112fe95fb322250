"""GET forms/<id>.xml: the XForm, byte for byte what the form list hashed."""

from __future__ import annotations

from tests.support.xlsforms import simple_form


def test_the_download_is_the_exact_stored_xform(load, phone):
    result = load(simple_form("household"))

    (entry,) = phone.form_list()
    body = phone.download_form(entry)

    assert body == result.version.xform
    assert b'id="household"' in body


def test_a_closing_form_still_downloads_for_phones_that_hold_it(load, phone, admin):
    load(simple_form("household"))
    admin.patch("/api/v1/forms/household", json={"state": "closing"})

    assert phone.get("forms/household.xml").status == 200


def test_a_closed_or_unknown_form_is_404_in_openrosa_xml(load, phone, admin):
    load(simple_form("household"))
    admin.patch("/api/v1/forms/household", json={"state": "closed"})

    for path in ("forms/household.xml", "forms/unknown.xml"):
        reply = phone.get(path)
        assert reply.status == 404
        assert b"<OpenRosaResponse" in reply.body
