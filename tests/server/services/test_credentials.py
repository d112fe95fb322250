"""What checking a phone's credentials needs no request for (`server.services.auth`): the signed
nonces that any worker can check, and Basic's password check. Digest itself, through HTTP, is
tested with the phone in tests/integration/openrosa."""

from __future__ import annotations

from types import SimpleNamespace

from server.services import auth
from server.services.accounts import hash_password

KEY = "test-secret"


def test_a_nonce_is_fresh_only_if_we_signed_it_within_its_lifetime():
    nonce = auth.new_nonce(KEY)
    assert auth.nonce_fresh(nonce, KEY, 60)
    assert not auth.nonce_fresh(nonce, KEY, -1)
    assert not auth.nonce_fresh(auth.new_nonce("another key"), KEY, 60)
    assert not auth.nonce_fresh("1-forged", KEY, 60)
    assert not auth.nonce_fresh(None, KEY, 60)


def test_an_opaque_value_matches_only_our_own():
    assert auth.opaque_matches(auth.opaque(KEY), KEY)
    assert not auth.opaque_matches(auth.opaque("another key"), KEY)
    assert not auth.opaque_matches(None, KEY)


def test_a_password_matches_only_an_account_that_has_it():
    phone = SimpleNamespace(password_hash=hash_password("long enough password"), digest_ha1="")
    assert auth.password_matches(phone, "long enough password")
    assert not auth.password_matches(phone, "wrong")
    assert not auth.password_matches(None, "long enough password")
    assert not auth.password_matches(SimpleNamespace(password_hash=None, digest_ha1=""), "")
