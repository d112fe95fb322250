"""The incident referral published encrypted, and referrals sent for it as Collect sends them."""

from __future__ import annotations

from server.services.form_encryption import publish_encrypted
from sync.encryption import read_envelope
from sync.keys import load_public_key
from tests.support.collect_encryption import Encrypted, encrypt_instance
from tests.support.incidents import FORM, incident_referral


def publish_referrals(app, session, programme, key, *, decrypted_rows: bool = False):
    """The programme's incident referral published with `key`: its new version, committed."""
    form = programme[FORM].form
    form.decrypted_rows = decrypted_rows
    version = publish_encrypted(session, app.extensions["blobs"], form, key,
                                validate=False).version
    session.commit()
    return version


def send_referral(phone, version, key, **answers) -> tuple[str, Encrypted, bytes]:
    """An encrypted referral sent whole: its instanceID, what was sent, the plain instance."""
    plain = incident_referral(version=version.version, **answers)
    sealed = encrypt_instance(plain, {}, load_public_key(key.public_key))
    reply = phone.submit(sealed.envelope, sealed.files)
    assert reply.status == 201, reply.body
    return read_envelope(sealed.envelope).instance_id, sealed, plain
