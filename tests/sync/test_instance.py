"""Reading who a submission is, as real phones and old clients send them."""

from __future__ import annotations

import pytest

from forms import compile_form, read_structure
from sync.instance import InstanceError, read_identity, stated_device_id
from tests.support.xlsforms import xlsform


def test_the_form_is_named_by_id_and_version_not_by_the_root_tag():
    identity, _root = read_identity(
        b'<meeting xmlns="http://opendatakit.org/submissions" id="forum_meeting" '
        b'version="2026112901"><orx:meta xmlns:orx="http://openrosa.org/xforms">'
        b"<orx:instanceID>uuid:1b0e</orx:instanceID></orx:meta></meeting>")

    assert (identity.form_id, identity.version, identity.root_name) == (
        "forum_meeting", "2026112901", "meeting")
    assert identity.instance_id == "uuid:1b0e" and identity.has_instance_id
    assert not identity.is_edit


def test_an_edit_names_the_version_it_replaces():
    identity, _ = read_identity(
        b'<data id="f"><meta><instanceID>uuid:2</instanceID>'
        b"<deprecatedID>uuid:1</deprecatedID></meta></data>")
    assert identity.is_edit and identity.deprecated_id == "uuid:1"


def test_without_an_instance_id_the_identity_comes_from_the_content():
    xml = b'<data id="tutorial"><name>Amina</name></data>'
    first, _ = read_identity(xml)
    retry, _ = read_identity(xml)
    other, _ = read_identity(xml.replace(b"Amina", b"Zainab"))

    assert not first.has_instance_id
    assert first.instance_id == retry.instance_id != other.instance_id
    assert first.instance_id.startswith("sha256:")


@pytest.mark.parametrize("xml, says", [
    (b"<data><x/></data>", "which form"),
    (b"<data id='f'><x></data>", "well-formed"),
    (b'<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><data id="f">&e;</data>', "DOCTYPE"),
])
def test_what_cannot_be_a_submission_is_refused_with_a_reason(xml, says):
    with pytest.raises(InstanceError, match=says):
        read_identity(xml)


@pytest.mark.parametrize("root, version", [
    # ODK Collect's own test form and instance declare the version in the OpenRosa namespace
    (b'<data id="one_question" orx:version="1" xmlns:orx="http://openrosa.org/xforms">', "1"),
    (b'<data id="f" version="2" orx:version="1" xmlns:orx="http://openrosa.org/xforms">', "2"),
    (b'<data id="f">', ""),
])
def test_the_version_is_read_with_or_without_a_namespace(root, version):
    identity, _ = read_identity(root + b"<age/></data>")
    assert identity.version == version


@pytest.mark.parametrize("xml, instance_id", [
    # onadata's exports (as ODK Aggregate and Briefcase write them): an attribute of the root
    (b'<transportation id="t" instanceID="uuid:5b2c"><a>1</a></transportation>', "uuid:5b2c"),
    # ODK Central's other place: an element directly under the root
    (b'<data id="t"><instanceID>uuid:top</instanceID><a>1</a></data>', "uuid:top"),
    (b'<data id="t" instanceID="uuid:attr"><instanceID>uuid:top</instanceID></data>', "uuid:top"),
    # meta/instanceID first, as onadata's tutorial_2 instances carry both, and differing
    (b'<data id="t" instanceID="uuid:attr"><instanceID>uuid:top</instanceID>'
     b"<meta><instanceID>uuid:meta</instanceID></meta></data>", "uuid:meta"),
    (b'<data id="t" instanceID=" "><meta><instanceID/></meta></data>', None),
])
def test_without_meta_instance_id_the_root_names_the_instance(xml, instance_id):
    identity, _ = read_identity(xml)
    if instance_id is None:
        assert identity.instance_id.startswith("sha256:") and not identity.has_instance_id
    else:
        assert identity.instance_id == instance_id and identity.has_instance_id


def test_a_root_instance_id_longer_than_the_columns_is_refused():
    with pytest.raises(InstanceError, match="instanceID is longer"):
        read_identity(b'<data id="t" instanceID="' + b"u" * 300 + b'"/>')


def test_the_device_id_comes_from_meta_or_else_from_the_form_s_deviceid_field():
    structure = read_structure(compile_form(xlsform("""
        | | type | name | label |
        | | deviceid | phone_id | |
        | | text | name | Name |
    """, form_id="f")).xform)
    plain = read_structure(compile_form(xlsform("""
        | | type | name | label |
        | | text | name | Name |
    """, form_id="f")).xform)
    both = (b'<data id="f"><phone_id>collect:field</phone_id><name>A</name>'
            b"<meta><instanceID>uuid:1</instanceID><deviceID>collect:meta</deviceID></meta></data>")
    field_only = b'<data id="f"><phone_id> collect:field </phone_id><name>A</name></data>'
    neither = b'<data id="f"><phone_id/><name>A</name></data>'

    assert stated_device_id(*read_identity(both), structure) == "collect:meta"
    assert stated_device_id(*read_identity(field_only), structure) == "collect:field"
    assert stated_device_id(*read_identity(field_only), plain) is None
    assert stated_device_id(*read_identity(neither), structure) is None
