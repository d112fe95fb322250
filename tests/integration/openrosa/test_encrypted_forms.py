"""The incident referral published encrypted: phones see a new version carrying the key's
public half, and what they send for it is stored exactly as received, ciphertext only."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from lxml import etree

from server.database.models import FormVersion, SubmissionAttachment, SubmissionDef
from server.services.form_encryption import publish_encrypted
from sync.encryption import Signature, decrypt_submission, read_envelope
from sync.keys import load_public_key, unseal
from tests.support.collect_encryption import encrypt_instance
from tests.support.incidents import FORM, VERSION, incident_referral
from tests.support.keys import PASSPHRASE, make_key
from tests.support.meeting import meeting, meeting_form

PHOTO = b"\xff\xd8\xff\xe0" + b"photo-bytes" * 100
XF = {"xf": "http://www.w3.org/2002/xforms", "h": "http://www.w3.org/1999/xhtml"}


@pytest.fixture
def key(session, make_user):
    return make_key(session, make_user)


@pytest.fixture
def published(programme, app, session, key):
    """The programme's incident referral published with `key`: its new version."""
    form = programme[FORM].form
    result = publish_encrypted(session, app.extensions["blobs"], form, key, validate=False)
    session.commit()
    return result.version


def stored(session, instance_id: str) -> SubmissionDef:
    session.rollback()
    return session.scalar(sa.select(SubmissionDef).where(SubmissionDef.instance_id == instance_id))


def test_the_form_list_names_the_encrypted_version_with_a_new_hash(programme, app, phone,
                                                                   session, key):
    (before,) = phone.form_list(FORM)
    publish_encrypted(session, app.extensions["blobs"], programme[FORM].form, key,
                      validate=False)
    session.commit()

    (after,) = phone.form_list(FORM)
    assert before["version"] == VERSION
    assert after["version"] == f"{VERSION}[encrypted:referrals-2026]"
    assert after["hash"] != before["hash"]
    xform = phone.download_form(after)  # checks the hash against what is served
    (submission,) = etree.fromstring(xform).findall("h:head/xf:model/xf:submission", XF)
    assert submission.get("base64RsaPublicKey") == key.public_key
    # the media files came with it: the manifest still lists forums.csv, with its content
    names = [m["filename"] for m in phone.manifest(after)]
    assert "forums.csv" in names
    session.rollback()
    version = session.scalar(sa.select(FormVersion).where(
        FormVersion.version == after["version"]))
    assert version.encryption_key_id == key.id


def test_an_envelope_and_its_file_are_stored_as_received(published, app, phone, session, key):
    referral = incident_referral(version=published.version)
    sealed = encrypt_instance(referral, {}, load_public_key(key.public_key))

    reply = phone.submit(sealed.envelope, sealed.files)

    assert reply.status == 201, reply.body
    definition = stored(session, read_envelope(sealed.envelope).instance_id)
    assert definition.xml == sealed.envelope
    assert definition.form_version_id == published.id
    assert (definition.attachments_present, definition.attachments_expected) == (1, 1)
    (attachment,) = definition.attachments
    assert attachment.name == "submission.xml.enc"
    assert attachment.blob_sha256 == hashlib.sha256(sealed.files["submission.xml.enc"]).hexdigest()
    # nothing of the referral's plain text is in the database
    assert b"Huda Salim" not in definition.xml
    # what was stored decrypts with the key the form was published with
    private = unseal(key.sealed.encode(), PASSPHRASE)
    files = {attachment.name: app.extensions["blobs"].read(attachment.blob_sha256)}
    decrypted = decrypt_submission(read_envelope(definition.xml), private, files)
    assert decrypted.xml == referral and decrypted.signature is Signature.VALID


def test_an_envelope_without_its_file_is_incomplete_until_the_file_comes(published, phone,
                                                                          session, key):
    sealed = encrypt_instance(incident_referral(version=published.version), {},
                              load_public_key(key.public_key))
    instance_id = read_envelope(sealed.envelope).instance_id

    assert phone.submit(sealed.envelope).status == 201
    definition = stored(session, instance_id)
    assert (definition.attachments_present, definition.attachments_expected) == (0, 1)

    assert phone.submit(sealed.envelope, sealed.files).status == 201
    definition = stored(session, instance_id)
    assert (definition.attachments_present, definition.attachments_expected) == (1, 1)


def test_a_form_with_photos_keeps_every_enc_file(load, app, phone, session, key):
    form = load(meeting_form()).form
    version = publish_encrypted(session, app.extensions["blobs"], form, key,
                                validate=False).version
    session.commit()
    sealed = encrypt_instance(meeting(version=version.version, photos=("a.jpg",)),
                              {"a.jpg": PHOTO}, load_public_key(key.public_key))

    assert phone.submit(sealed.envelope, sealed.files).status == 201

    definition = stored(session, read_envelope(sealed.envelope).instance_id)
    names = session.scalars(sa.select(SubmissionAttachment.name).where(
        SubmissionAttachment.submission_def_id == definition.id)
        .order_by(SubmissionAttachment.position)).all()
    assert names == ["a.jpg.enc", "submission.xml.enc"]
    assert (definition.attachments_present, definition.attachments_expected) == (2, 2)
