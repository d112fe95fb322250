"""Checking a phone's credentials needs no request: the Authorization data, the secret key and
the nonce's lifetime are all it takes (`server.services.auth`)."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

from server.services import auth
from server.services.accounts import REALM, hash_password

KEY = "test-secret"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324


def digest(ha1: str, *, method: str = "POST", uri: str = "/collect/submission",
           nonce: str | None = None, opaque: str | None = None, **changes):
    nonce = nonce or auth.new_nonce(KEY)
    ha2 = md5(f"{method}:{uri}")
    values = dict(type="digest", username="officer", realm=REALM, uri=uri, nonce=nonce,
                  opaque=opaque or auth.opaque(KEY), qop="auth", nc="00000001", cnonce="abc",
                  password=None,
                  response=md5(f"{ha1}:{nonce}:00000001:abc:auth:{ha2}"))
    return SimpleNamespace(**{**values, **changes})


def account(ha1: str = "", password: str | None = None):
    return SimpleNamespace(digest_ha1=ha1, password_hash=hash_password(password)
                           if password else None)


def check(credentials, found, *, method="POST", over_https=False, nonce_seconds=60):
    return auth.account_for(credentials, lambda name: found if name == "officer" else None,
                            method=method, over_https=over_https, secret_key=KEY,
                            nonce_seconds=nonce_seconds)


def test_digest_proves_the_account_for_the_method_it_signed():
    ha1 = md5(f"officer:{REALM}:secret")
    phone = account(ha1)
    assert check(digest(ha1), phone) is phone
    assert check(digest(ha1), phone, method="GET") is None
    assert check(digest(ha1, response="0" * 32), phone) is None


def test_a_nonce_or_opaque_value_we_did_not_sign_or_too_old_is_refused():
    ha1 = md5(f"officer:{REALM}:secret")
    phone = account(ha1)
    assert check(digest(ha1, nonce="1-forged"), phone) is None
    assert check(digest(ha1, opaque="forged"), phone) is None
    assert check(digest(ha1, nonce=auth.new_nonce("another key")), phone) is None
    assert check(digest(ha1), phone, nonce_seconds=-1) is None


def test_basic_only_over_https():
    phone = account(password="long enough password")
    basic = SimpleNamespace(type="basic", username="officer", password="long enough password")
    assert check(basic, phone) is None
    assert check(basic, phone, over_https=True) is phone
    wrong = SimpleNamespace(type="basic", username="officer", password="wrong")
    assert check(wrong, phone, over_https=True) is None
