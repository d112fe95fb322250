"""Reading who a submission is, as real phones and old clients send them."""

from __future__ import annotations

import pytest

from sync.instance import InstanceError, read_identity


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
