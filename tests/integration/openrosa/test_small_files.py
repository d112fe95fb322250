"""A small file a phone sends (an encrypted referral's submission.xml.enc) is committed with its
submission, its bytes in its row, instead of being flushed to disk on its own; should a power
cut lose the file, `muntada serve` writes it again from the row before it takes a request.
Large files (photos) are flushed as before and their rows hold no bytes."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from server.database.models import Blob
from server.kernel.storage import SMALL
from server.services.blob_recovery import restore_small_files
from sync.keys import load_public_key
from tests.support.collect_encryption import encrypt_instance
from tests.support.encrypted import publish_referrals
from tests.support.incidents import incident_referral
from tests.support.keys import make_key
from tests.support.meeting import meeting, meeting_form

BIG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * (SMALL // 256 + 10)


@pytest.fixture
def key(session, make_user):
    return make_key(session, make_user)


def blob(session, sha256: str) -> Blob:
    session.rollback()
    return session.scalars(sa.select(Blob).where(Blob.sha256 == sha256)).one()


def test_an_envelope_s_file_is_kept_in_its_row_and_restored_after_a_crash(
        app, session, programme, phone, key):
    version = publish_referrals(app, session, programme, key)
    sealed = encrypt_instance(incident_referral(version=version.version), {},
                              load_public_key(key.public_key))
    assert phone.submit(sealed.envelope, sealed.files).status == 201
    data = sealed.files["submission.xml.enc"]
    sha256 = hashlib.sha256(data).hexdigest()
    assert blob(session, sha256).content == data
    store = app.extensions["blobs"]

    store.path(sha256).unlink()  # a power cut lost the file, never flushed
    assert restore_small_files(session, store) == 1
    assert store.read(sha256) == data
    store.path(sha256).write_bytes(b"")  # or left it empty
    assert restore_small_files(session, store) == 1
    assert store.read(sha256) == data
    assert restore_small_files(session, store) == 0  # whole: nothing written


def test_a_photo_is_flushed_on_its_own_and_its_row_holds_no_bytes(load, session, phone):
    load(meeting_form())
    assert phone.submit(meeting(photos=("a.jpg",)), {"a.jpg": BIG}).status == 201
    assert blob(session, hashlib.sha256(BIG).hexdigest()).content is None


def test_a_small_file_already_held_is_not_replaced(app, load, session, phone):
    """The same bytes again (another submission's copy): the file there stays as it was."""
    load(meeting_form())
    store = app.extensions["blobs"]
    sha256, _md5, _size = store.put(b"tiny photo")
    before = store.path(sha256).stat().st_ino
    assert phone.submit(meeting(photos=("a.jpg",)), {"a.jpg": b"tiny photo"}).status == 201
    assert store.path(sha256).stat().st_ino == before
