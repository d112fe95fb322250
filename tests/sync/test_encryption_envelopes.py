"""Envelopes read by their elements' local names, whoever wrote them: Collect, the spec's
example, onadata's fixtures (whose keys we do not have); and the rest of sync/ (rows, expected
attachments, phone folders) seeing the same envelope."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from forms.rendering import XLSFORMS_DIR
from forms.xml import parse_xml
from sync import tables
from sync.attachments import expected_attachments
from sync.encryption import (
    EnvelopeInvalid,
    FileMissing,
    WrongKey,
    decrypt_submission,
    envelope_files,
    is_envelope,
    read_envelope,
    unwrap_key,
)
from sync.instance_folders import read_folder
from sync.normalise import normalise
from tests.conftest import SHARED
from tests.support.collect_encryption import encrypt_instance
from tests.support.compiled import compile_once
from tests.support.phone_folders import Filled, collect_instance
from tests.support.programme_meetings import forum_meeting, jpeg

CORPUS = SHARED / "corpus" / "onadata" / "apps"
ONADATA = {  # envelope -> (instanceID, media) as the fixture gives them
    "api/tests/fixtures/encrypted-submission.xml": (
        "uuid:dfc02f1f-3c5d-422d-8430-5694dfd07973", ("6-seater-7-15_15_11-15_45_15.jpg.enc",)),
    "main/tests/fixtures/transportation/instances_encrypted/submission.xml": (
        "uuid:c15252fe-b6f3-4853-8f04-bf89dc73985a", ()),
    "logger/fixtures/tutorial_encrypted/instances/tutorial_encrypted.xml": (
        "uuid:f8971231-f3b8-4b2b-8c35-d95fa207d937",
        ("1483528430996.jpg.enc", "1483528445767.jpg.enc")),
}


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def meeting_structure():
    workbook = XLSFORMS_DIR / "forum_meeting.xlsx"
    return compile_once(workbook.read_bytes(), filename=workbook.name).structure


def collect_envelope(private_key, *photos: str):
    xml = forum_meeting(photos=photos)
    return xml, encrypt_instance(xml, {name: jpeg() for name in photos},
                                 private_key.public_key())


# ------------------------------------------------------------------------------- namespaces

SPELLINGS = {
    "Collect": ('<data xmlns="http://www.opendatakit.org/xforms/encrypted" {attrs}>',
                '<orx:meta xmlns:orx="http://openrosa.org/xforms"><orx:instanceID>{id}'
                "</orx:instanceID></orx:meta>", "</data>", ""),
    "the spec": ('<data xmlns="http://opendatakit.org/submissions" {attrs}>',
                 '<meta xmlns="http://openrosa.org/xforms"><instanceID>{id}</instanceID></meta>',
                 "</data>", ""),
    "no namespace": ("<data {attrs}>", "<meta><instanceID>{id}</instanceID></meta>", "</data>",
                     ""),
    "a prefix": ('<e:submission xmlns:e="http://www.opendatakit.org/xforms/encrypted" {attrs}>',
                 "<e:meta><e:instanceID>{id}</e:instanceID></e:meta>", "</e:submission>", "e:"),
}


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_an_envelope_reads_the_same_in_any_namespace_or_prefix(spelling):
    start, meta, end, p = SPELLINGS[spelling]
    xml = (start.format(attrs='id="f" version="3" encrypted="yes"')
           + f"<{p}base64EncryptedKey>a2V5</{p}base64EncryptedKey>" + meta.format(id="uuid:x")
           + f"<{p}media><{p}file>a.jpg.enc</{p}file></{p}media>"
           + f"<{p}media><{p}file>b.m4a.enc</{p}file></{p}media>"
           + f"<{p}encryptedXmlFile>submission.xml.enc</{p}encryptedXmlFile>"
           + f"<{p}base64EncryptedElementSignature>c2ln</{p}base64EncryptedElementSignature>"
           + end)

    envelope = read_envelope(xml.encode())

    assert (envelope.form_id, envelope.version, envelope.instance_id) == ("f", "3", "uuid:x")
    assert envelope.files == ("a.jpg.enc", "b.m4a.enc", "submission.xml.enc")
    assert (envelope.base64_key, envelope.base64_signature) == ("a2V5", "c2ln")


GOOD = ('<data id="f" encrypted="yes"><base64EncryptedKey>a2V5</base64EncryptedKey>'
        "<meta><instanceID>uuid:x</instanceID></meta><media><file>a.jpg.enc</file></media>"
        "<encryptedXmlFile>submission.xml.enc</encryptedXmlFile></data>")


@pytest.mark.parametrize("change, reason", [
    (("<meta><instanceID>uuid:x</instanceID></meta>", ""), "no meta/instanceID"),
    (("<base64EncryptedKey>a2V5</base64EncryptedKey>", ""), "no base64EncryptedKey"),
    (("a2V5", "not base64!"), "base64EncryptedKey is not base64"),
    (("<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>", ""), "exactly one"),
    (("</data>", "<encryptedXmlFile>x.xml.enc</encryptedXmlFile></data>"), "exactly one"),
    (("a.jpg.enc", "a.jpg"), "not an .enc name"),
    (("a.jpg.enc", "submission.xml.enc"), "names a file twice"),
    (('encrypted="yes"><base64EncryptedKey>a2V5</base64EncryptedKey>', ">"),
     "not an encrypted submission"),
    ((' id="f"', ""), "which form"),
    (("</data>", ""), "not well-formed"),
])
def test_a_malformed_envelope_is_refused_with_the_reason(change, reason):
    assert read_envelope(GOOD.encode()).media == ("a.jpg.enc",)
    with pytest.raises(EnvelopeInvalid, match=reason):
        read_envelope(GOOD.replace(*change).encode())


# --------------------------------------------------------------------- onadata's, without keys

@pytest.mark.parametrize("path", ONADATA)
def test_onadata_envelopes_are_read_but_do_not_open_without_their_key(path, private_key):
    xml = (CORPUS / path).read_bytes()
    instance_id, media = ONADATA[path]

    envelope = read_envelope(xml)

    assert is_envelope(parse_xml(xml))
    assert (envelope.instance_id, envelope.media) == (instance_id, media)
    assert envelope.xml_file == "submission.xml.enc" and envelope.base64_signature
    with pytest.raises(FileMissing):  # the fixtures come without their .enc files
        decrypt_submission(envelope, private_key, {})
    with pytest.raises(WrongKey):
        unwrap_key(envelope, private_key)
    with pytest.raises(WrongKey):
        decrypt_submission(envelope, private_key, dict.fromkeys(envelope.files, b"\0" * 32))


# --------------------------------------------------------------- the rest of sync/ agrees

def envelopes(private_key) -> list[bytes]:
    made = [collect_envelope(private_key, *photos)[1].envelope
            for photos in ((), ("1.jpg",), ("1.jpg", "2.jpg", "3.jpg"))]
    return made + [(CORPUS / path).read_bytes() for path in ONADATA]


def test_rows_and_expected_attachments_see_the_envelope_the_reader_sees(private_key,
                                                                         meeting_structure):
    plan = tables.plan(meeting_structure)
    for xml in envelopes(private_key):
        root, envelope = parse_xml(xml), read_envelope(xml)

        rows = normalise(plan, root, envelope.instance_id)

        assert rows.tables[""] == [{"_key": envelope.instance_id}] and rows.issues == []
        assert expected_attachments(meeting_structure, root) == list(envelope.files)
        assert envelope_files(root) == list(envelope.files)


def test_a_phone_folder_sends_the_envelope_and_exactly_the_files_it_names(tmp_path,
                                                                          private_key):
    xml, sent = collect_envelope(private_key, "1.jpg", "2.jpg")
    collect_instance(tmp_path / "instances", "forum_meeting_1", Filled(
        xml, {**sent.files, "submission.xml": sent.envelope}))

    (found,) = read_folder(tmp_path / "instances").instances

    assert found.encrypted and found.xml_path.name == "submission.xml"
    assert [m.name for m in found.media] == list(read_envelope(sent.envelope).files)


def test_a_plain_instance_is_no_envelope_even_with_a_media_group():
    xml = forum_meeting(photos=("1.jpg",)).replace(
        b"<notes>", b"<media><file>x.jpg</file></media><notes>")
    root = parse_xml(xml)

    assert not is_envelope(root)
    with pytest.raises(EnvelopeInvalid, match="not an encrypted submission"):
        read_envelope(xml)
