"""Headquarters, a form whose `decrypted_rows` setting is on: when its key holder unlocks the key,
every referral encrypted for it is decrypted (its signature checked) and projected into the
form's tables like a plain one; renormalising from the raw records (ciphertext) takes them out
again until the next decryption. A referral that does not decrypt cleanly is kept, flagged, and
nothing else is affected."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.database.models import AuditEvent, DecryptionCheck, SubmissionDef, User
from server.services import decryption, normalising
from sync.encryption import read_envelope
from sync.keys import load_public_key, unseal
from tests.support.collect_encryption import encrypt_instance
from tests.support.encrypted import publish_referrals, send_referral
from tests.support.incidents import FORM, incident_referral
from tests.support.keys import PASSPHRASE, make_key
from tests.support.tables import rows


@pytest.fixture
def key(session, make_user):
    return make_key(session, make_user)


@pytest.fixture
def version(app, session, programme, key):
    return publish_referrals(app, session, programme, key, decrypted_rows=True)


def decrypt_all(app, session, key):
    session.rollback()
    holder = session.get(User, key.created_by)
    done = decryption.decrypt_into_tables(session, app.extensions["blobs"], key,
                                          unseal(key.sealed.encode(), PASSPHRASE), holder)
    session.commit()
    return done


def outcome_of(session, instance_id: str) -> DecryptionCheck:
    session.rollback()
    return session.scalars(sa.select(DecryptionCheck).join_from(
        DecryptionCheck, SubmissionDef,
        SubmissionDef.id == DecryptionCheck.submission_def_id).where(
        SubmissionDef.instance_id == instance_id)).one()


def test_unlocking_projects_encrypted_referrals_like_plain_ones(app, session, phone, key,
                                                                version):
    first, _, _ = send_referral(phone, version, key, person_name="Huda Salim",
                                governorate="anbar", district="ramadi")
    second, _, _ = send_referral(phone, version, key, person_name="Zainab Kareem",
                                 governorate="basra", district="basra_district")
    before = {r["_key"]: r for r in rows(session, FORM)}
    assert before[first].get("/person/person_name") is None  # ciphertext only, until now

    done = decrypt_all(app, session, key)

    assert (done.written, done.flagged) == (2, 0)
    after = {r["_key"]: r for r in rows(session, FORM)}
    assert after[first]["/person/person_name"] == "Huda Salim"
    assert after[second]["/governorate"] == "basra"
    assert outcome_of(session, first).outcome == "valid"
    assert outcome_of(session, first).projected
    event = session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "form.decrypted_rows")).one()
    assert "Huda" not in (event.details or "")
    # a second pass finds nothing new to do
    assert (decrypt_all(app, session, key).written) == 0


def test_renormalising_takes_decrypted_rows_out_until_the_next_decryption(app, session, phone,
                                                                           key, version,
                                                                           programme):
    instance_id, _, _ = send_referral(phone, version, key)
    decrypt_all(app, session, key)
    session.rollback()
    form = programme[FORM].form

    normalising.renormalise(session, form)
    session.commit()

    (row,) = [r for r in rows(session, FORM) if r["_key"] == instance_id]
    assert row.get("/person/person_name") is None
    assert not outcome_of(session, instance_id).projected
    assert decrypt_all(app, session, key).written == 1


def test_a_form_without_the_setting_keeps_ciphertext_only(app, session, phone, key, programme):
    version = publish_referrals(app, session, programme, key, decrypted_rows=False)
    instance_id, _, _ = send_referral(phone, version, key)
    assert decrypt_all(app, session, key).written == 0
    (row,) = [r for r in rows(session, FORM) if r["_key"] == instance_id]
    assert row.get("/person/person_name") is None


def test_damaged_referrals_are_kept_and_flagged_and_the_others_still_decrypt(app, session,
                                                                             phone, key,
                                                                             version):
    public = load_public_key(key.public_key)
    good, _, _ = send_referral(phone, version, key)
    # the XML's ciphertext damaged in transit: it no longer decrypts
    damaged = encrypt_instance(incident_referral(version=version.version), {}, public)
    cut = damaged.files["submission.xml.enc"][:-16]
    assert phone.submit(damaged.envelope, {"submission.xml.enc": cut}).status == 201
    # encrypted for another key: the server cannot open it
    holder = session.get(User, key.created_by)
    other = make_key(session, lambda *_args, **_options: holder, "another")
    stranger = encrypt_instance(incident_referral(version=version.version), {},
                                load_public_key(other.public_key))
    assert phone.submit(stranger.envelope, stranger.files).status == 201
    # the signature does not match: the phone's signature of another submission
    forged = encrypt_instance(incident_referral(version=version.version), {}, public)
    swapped = forged.envelope.replace(
        _signature(forged.envelope), _signature(damaged.envelope))
    assert phone.submit(swapped, forged.files).status == 201

    done = decrypt_all(app, session, key)

    assert (done.written, done.flagged) == (2, 2)  # the forged one reads, but is flagged
    ids = {name: _instance(sealed.envelope) for name, sealed in
           (("damaged", damaged), ("stranger", stranger), ("forged", forged))}
    assert outcome_of(session, good).outcome == "valid"
    assert outcome_of(session, ids["damaged"]).outcome == "corrupted"
    assert outcome_of(session, ids["stranger"]).outcome == "wrong_key"
    assert outcome_of(session, ids["forged"]).outcome == "invalid"
    assert len(rows(session, FORM)) >= 4  # every one kept


def _signature(envelope: bytes) -> bytes:
    start = envelope.index(b"<base64EncryptedElementSignature>")
    end = envelope.index(b"</base64EncryptedElementSignature>")
    return envelope[start:end]


def _instance(envelope: bytes) -> str:
    return read_envelope(envelope).instance_id
