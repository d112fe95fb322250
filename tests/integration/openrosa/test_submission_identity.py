"""POST submission: who a submission is when it says so in other ways than Collect's usual ones:
a version declared as `orx:version`, no version at all, an instanceID outside `meta`, a device
ID in the instance rather than in the URL. The rules are ODK Central's."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.database.models import Submission, SubmissionDef
from tests.support.instances import instance, new_id
from tests.support.meeting import FORM_ID, meeting, meeting_form
from tests.support.tables import count, rows
from tests.support.xlsforms import xlsform

NOT_THIS_VERSION = b"has no version"  # the message of 404.5


def one_question(version_attribute: str = 'orx:version="1"') -> bytes:
    """A form as ODK Collect's own test forms write it: the version in the OpenRosa namespace."""
    return f"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
        xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms">
  <h:head>
    <h:title>One Question</h:title>
    <model>
      <instance>
        <data id="one_question" {version_attribute}>
          <age/>
          <orx:meta><orx:instanceID/></orx:meta>
        </data>
      </instance>
      <bind nodeset="/data/age" type="int"/>
      <bind nodeset="/data/meta/instanceID" type="string" readonly="true()"
            jr:preload="uid"/>
    </model>
  </h:head>
  <h:body><input ref="/data/age"><label>What is your age?</label></input></h:body>
</h:html>""".encode()


def one_answer(version_attribute: str = 'orx:version="1"', instance_id: str | None = None
               ) -> bytes:
    """An instance of it as Collect sends it: the root carries the form's own attributes."""
    instance_id = instance_id or new_id()
    return (f'<?xml version="1.0" ?><data id="one_question" {version_attribute} '
            f'xmlns:orx="http://openrosa.org/xforms"><age>31</age><orx:meta><orx:instanceID>'
            f"{instance_id}</orx:instanceID></orx:meta></data>").encode()


@pytest.fixture
def form(load):
    return load(meeting_form())


# -- the version ----------------------------------------------------------------------------------

def test_a_form_versioned_as_orx_version_is_listed_with_its_version(load, phone):
    load(one_question())
    (entry,) = phone.form_list()
    assert (entry["formID"], entry["version"]) == ("one_question", "1")


@pytest.mark.parametrize("stated", ['orx:version="1"', 'version="1"'])
def test_a_submission_stating_an_orx_version_form_s_version_is_accepted(
        load, phone, session, stated):
    load(one_question())

    reply = phone.submit(one_answer(stated))

    assert reply.status == 201, reply.body
    assert [r["_form_version"] for r in rows(session, "one_question")] == ["1"]


def test_a_submission_stating_another_version_of_an_orx_version_form_is_404(
        load, phone, session):
    load(one_question())
    reply = phone.submit(one_answer('orx:version="2"'))
    assert reply.status == 404 and NOT_THIS_VERSION in reply.body
    assert count(session, Submission) == 0


@pytest.mark.parametrize("form, xml", [
    (one_question(), one_answer(version_attribute="")),  # versioned as orx:version
    (meeting_form("1"), meeting().replace(b' version="1"', b"")),  # as pyxform writes it
], ids=["orx:version form", "version form"])
def test_no_version_to_a_versioned_form_is_404_whatever_the_form(load, phone, session, form, xml):
    # ODK Central looks the form up by the version the instance states, '' when it states none
    # (central-backend lib/model/query/forms.js, versionJoinCondition): no published version
    # without a version, no such form version.
    load(form)

    reply = phone.submit(xml)

    assert reply.status == 404 and NOT_THIS_VERSION in reply.body, reply.body
    assert count(session, Submission) == 0


def test_no_version_to_a_form_loaded_without_one_is_accepted(load, phone, session):
    load(one_question(version_attribute=""))
    load(xlsform("""
        | | type | name | label |
        | | text | name | Name |
    """, form_id="unversioned", version=""))

    assert phone.submit(one_answer(version_attribute="")).status == 201
    assert phone.submit(instance("unversioned", "", "<name>Amina</name>")
                        .replace(b' version=""', b"")).status == 201
    assert count(session, Submission) == 2


# -- the instanceID -------------------------------------------------------------------------------

def without_meta(body: str, root_attributes: str) -> bytes:
    return (f'<?xml version="1.0"?><data id="{FORM_ID}" version="1" {root_attributes}>'
            f"{body}</data>").encode()


def test_without_meta_instance_id_the_root_s_instance_id_attribute_is_the_identity(
        form, phone, session):
    xml = without_meta("<attendance><women>3</women><men>5</men></attendance>",
                       'instanceID="uuid:5b2cc313-fc09-437e-8149-fcd32f695d41"')

    assert phone.submit(xml).status == 201
    assert phone.submit(xml).status == 201  # a retry, recognised
    other = phone.submit(xml.replace(b"<women>3", b"<women>4"))

    assert other.status == 409  # the same instance with other content
    session.rollback()
    assert session.scalars(sa.select(Submission.instance_id)).all() == [
        "uuid:5b2cc313-fc09-437e-8149-fcd32f695d41"]
    assert [r["_key"] for r in rows(session, FORM_ID)] == [
        "uuid:5b2cc313-fc09-437e-8149-fcd32f695d41"]


def test_an_instance_id_element_under_the_root_is_the_identity_as_in_odk_central(
        form, phone, session):
    xml = without_meta("<instanceID>uuid:top-level</instanceID><duration>1.5</duration>", "")
    assert phone.submit(xml).status == 201
    session.rollback()
    assert session.scalar(sa.select(Submission.instance_id)) == "uuid:top-level"


def test_meta_instance_id_comes_before_the_root_s(form, phone, session):
    xml = meeting(instance_id="uuid:from-meta").replace(
        b' version="1"', b' version="1" instanceID="uuid:from-root"')
    assert phone.submit(xml).status == 201
    session.rollback()
    assert session.scalar(sa.select(Submission.instance_id)) == "uuid:from-meta"


# -- the device ID --------------------------------------------------------------------------------

def device_ids(session, form_id: str = FORM_ID) -> list[tuple]:
    session.rollback()
    return [(s.device_id, d.device_id) for s, d in session.execute(
        sa.select(Submission, SubmissionDef).join(
            SubmissionDef, SubmissionDef.id == Submission.current_def_id)
        .order_by(Submission.id)).all()] + [("row", r["_device_id"])
                                             for r in rows(session, form_id)]


def with_device_meta(xml: bytes, device: str) -> bytes:
    return xml.replace(b"</meta>", f"<deviceID>{device}</deviceID></meta>".encode())


def test_without_device_id_in_the_url_the_instance_s_meta_device_id_is_kept(
        form, phone, session):
    reply = phone.submit(with_device_meta(meeting(), "enketo.example:abc"), device_id=None)

    assert reply.status == 201, reply.body
    assert device_ids(session) == [("enketo.example:abc", "enketo.example:abc"),
                                   ("row", "enketo.example:abc")]


def test_without_device_id_in_the_url_or_meta_the_form_s_deviceid_field_is_kept(
        load, phone, session):
    load(xlsform("""
        | | type | name | label |
        | | deviceid | deviceid | |
        | | text | name | Name |
    """, form_id="visit"))
    xml = instance("visit", "1", "<deviceid>collect:Xy12</deviceid><name>Amina</name>")

    reply = phone.submit(xml, device_id=None)

    assert reply.status == 201, reply.body
    assert device_ids(session, "visit") == [("collect:Xy12", "collect:Xy12"),
                                            ("row", "collect:Xy12")]


def test_the_url_s_device_id_comes_first(form, phone, session):
    reply = phone.submit(with_device_meta(meeting(), "enketo.example:abc"),
                         device_id="collect:from-url")
    assert reply.status == 201
    assert device_ids(session) == [("collect:from-url", "collect:from-url"),
                                   ("row", "collect:from-url")]
