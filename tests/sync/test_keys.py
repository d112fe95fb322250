"""Key pairs for encrypted forms: the public key as Collect reads it, the private key sealed with
a passphrase that nothing ever shows."""

from __future__ import annotations

import base64
import json
import logging
import traceback
import unicodedata

import pytest
from cryptography.hazmat.primitives import serialization

from sync.encryption import Signature, decrypt_submission, read_envelope
from sync.keys import (
    DEFAULT_COST,
    Argon2idCost,
    KeyProblem,
    PassphraseTooShort,
    SealedKeyInvalid,
    WrongPassphrase,
    create_key_pair,
    load_public_key,
    seal,
    sealed_public_key,
    unseal,
)
from tests.support.collect_encryption import encrypt_instance
from tests.support.incidents import incident_referral

PASSPHRASE = "olive grove at the river bend 1987"
CHEAP = Argon2idCost(time_cost=1, memory_kib=8 * 1024, parallelism=1)  # tests only


@pytest.fixture(scope="module")
def pair():
    return create_key_pair(PASSPHRASE, cost=CHEAP)


def test_the_public_key_is_one_line_of_base64_der_as_the_xlsform_setting_wants(pair):
    der = base64.b64decode(pair.public_key, validate=True)

    assert "\n" not in pair.public_key and "-----" not in pair.public_key
    key = serialization.load_der_public_key(der)  # SubjectPublicKeyInfo, as X509EncodedKeySpec
    assert key.key_size == 2048
    assert sealed_public_key(pair.sealed) == pair.public_key
    pem = key.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert load_public_key(pem).public_numbers() == key.public_numbers()


def test_a_referral_encrypted_with_the_form_s_key_opens_with_the_unsealed_key(pair):
    xml = incident_referral()
    sent = encrypt_instance(xml, {}, load_public_key(pair.public_key))

    private_key = unseal(pair.sealed, PASSPHRASE)
    decrypted = decrypt_submission(read_envelope(sent.envelope), private_key, sent.files)

    assert decrypted.xml == xml and decrypted.signature is Signature.VALID


def test_the_sealed_key_says_how_it_was_sealed(pair):
    document = json.loads(pair.sealed)

    assert (document["format"], document["version"]) == ("muntada-sealed-key", 1)
    assert document["kdf"] == {"name": "argon2id", "time_cost": 1, "memory_kib": 8192,
                               "parallelism": 1, "salt": document["kdf"]["salt"]}
    assert len(base64.b64decode(document["kdf"]["salt"])) == 16
    assert document["cipher"]["name"] == "aes-256-gcm"
    assert b"PRIVATE" not in pair.sealed and PASSPHRASE.encode() not in pair.sealed


def test_the_default_cost_is_rfc_9106_s_low_memory_argon2id_and_it_round_trips(pair):
    assert Argon2idCost(time_cost=3, memory_kib=64 * 1024, parallelism=4) == DEFAULT_COST
    private_key = unseal(pair.sealed, PASSPHRASE)

    sealed = seal(private_key, PASSPHRASE)

    assert json.loads(sealed)["kdf"]["memory_kib"] == 65536
    assert unseal(sealed, PASSPHRASE).private_numbers() == private_key.private_numbers()


def test_each_sealing_has_its_own_salt_and_nonce(pair):
    private_key = unseal(pair.sealed, PASSPHRASE)
    one, two = (json.loads(seal(private_key, PASSPHRASE, cost=CHEAP)) for _ in range(2))
    assert one["kdf"]["salt"] != two["kdf"]["salt"]
    assert one["cipher"]["nonce"] != two["cipher"]["nonce"]


def test_the_same_words_typed_in_another_unicode_form_open_the_key(pair):
    private_key = unseal(pair.sealed, PASSPHRASE)
    typed = unicodedata.normalize("NFC", "مفتاح مؤتمر الرمادي للمنتدى")  # ؤ: waw with hamza
    sealed = seal(private_key, typed, cost=CHEAP)
    other_keyboard = unicodedata.normalize("NFD", typed)

    assert other_keyboard != typed
    assert unseal(sealed, other_keyboard).private_numbers() == private_key.private_numbers()


def rewritten(sealed: bytes, change) -> bytes:
    document = json.loads(sealed)
    change(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize("change", [
    lambda d: d["kdf"].update(time_cost=2),  # weaker parameters slipped in
    lambda d: d["kdf"].update(salt=base64.b64encode(b"\0" * 16).decode()),
    lambda d: d.update(public_key=d["public_key"][:-8] + "AAAAAAA="),  # another public key
    lambda d: d.update(ciphertext=base64.b64encode(
        b"\1" + base64.b64decode(d["ciphertext"])[1:]).decode()),
])
def test_a_sealed_key_changed_anywhere_does_not_open(pair, change):
    with pytest.raises(WrongPassphrase):
        unseal(rewritten(pair.sealed, change), PASSPHRASE)


@pytest.mark.parametrize("sealed", [
    b"", b"not json", b"[]", b'{"format": "muntada-sealed-key"}',
    b'{"format": "muntada-sealed-key", "version": 1, "kdf": 3, "cipher": {}, '
    b'"public_key": "", "ciphertext": ""}',
])
def test_what_is_not_a_sealed_key_is_said_so(sealed):
    with pytest.raises(SealedKeyInvalid, match="not a sealed key"):
        unseal(sealed, PASSPHRASE)


@pytest.mark.parametrize("change, reason", [
    (lambda d: d.update(version=2), "version 2"),
    (lambda d: d["kdf"].update(name="pbkdf2"), "does not know"),
    (lambda d: d["kdf"].update(memory_kib=1 << 30), "out of range"),  # no terabyte allocated
    (lambda d: d["kdf"].update(parallelism=0), "out of range"),
    (lambda d: d["kdf"].update(time_cost=10 ** 6), "out of range"),  # nor a day of hashing
])
def test_a_sealed_key_this_version_cannot_read_is_refused_before_any_work(pair, change, reason):
    with pytest.raises(SealedKeyInvalid, match=reason):
        unseal(rewritten(pair.sealed, change), PASSPHRASE)


def test_a_short_passphrase_is_refused_at_sealing(pair):
    private_key = unseal(pair.sealed, PASSPHRASE)
    with pytest.raises(PassphraseTooShort, match="at least 12 characters") as raised:
        seal(private_key, "olive grove", cost=CHEAP)
    assert "olive" not in str(raised.value)
    for blank in (" " * 20, ""):
        with pytest.raises(PassphraseTooShort):
            seal(private_key, blank, cost=CHEAP)


def test_no_passphrase_ever_reaches_a_message_a_traceback_or_the_log(pair, caplog):
    caplog.set_level(logging.DEBUG)
    wrong, short = "a guess that is wrong but long", "too short"
    raised = []
    for attempt in (lambda: unseal(pair.sealed, wrong),
                    lambda: unseal(b"{}", wrong),
                    lambda: unseal(rewritten(pair.sealed, lambda d: d.update(version=9)), wrong),
                    lambda: seal(unseal(pair.sealed, PASSPHRASE), short, cost=CHEAP)):
        with pytest.raises(KeyProblem) as error:
            attempt()
        raised.append(error.value)
    unseal(pair.sealed, PASSPHRASE)

    shown = caplog.text + "".join(
        "".join(traceback.format_exception(e)) + repr(e) + repr(e.args) for e in raised)
    for secret in (wrong, PASSPHRASE, short):
        assert secret not in shown
    assert isinstance(raised[0], WrongPassphrase) and raised[0].__cause__ is None
