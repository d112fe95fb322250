"""Which phone is calling: an app user by the token in the URL, or by name and password over
HTTP Digest or Basic. This module checks what the request carries; reading it from the request
and answering with a challenge is the surfaces' (`server.surfaces.http_auth`).

Collect on plain HTTP (a field-office laptop on a local network) can only do Digest; it offers
Basic only over HTTPS, and so do we: a password never crosses the network in clear. Nonces are
signed timestamps, so any worker process can check any other's without shared state. Web users
never sign in here: they have no Digest HA1, and the API takes API tokens (`server.services.api_tokens`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

from server.kernel import problems
from server.kernel.problems import Problem
from server.services.accounts import check_password, hash_password, normalise_name

# A real hash to check against when the user does not exist, so timing tells nothing.
DUMMY_HASH = hash_password(secrets.token_hex(16))
QOP = "auth"  # the only quality of protection offered (not auth-int)


class Account(Protocol):
    password_hash: str | None
    digest_ha1: str | None


class Credentials(Protocol):
    """An Authorization header, parsed: its scheme (`type`) and its parameters; a parameter
    the header lacks is None."""

    type: str
    username: str | None
    password: str | None

    def __getattr__(self, name: str) -> Any: ...


class PhoneTokens:
    """The app users this worker has found by their tokens, kept in memory for a submission,
    which checks its token again in its own transaction anyway (see `server.services.receiving`)."""

    def __init__(self) -> None:
        self._known: dict[str, Any] = {}

    def phone(self, token: str, lookup: Callable[[str], Any], *, checked_later: bool = False):
        """The app user (id, name, all_forms) `lookup` finds for this token; 403 otherwise.

        `checked_later`: the caller checks the token again in its own transaction, so this
        worker may answer from memory: a token revoked through another worker is still refused,
        only after the body has been read.
        """
        if checked_later and token in self._known:
            return self._known[token]
        app_user = lookup(token)
        if app_user is None:
            self._known.pop(token, None)
            # 403, not 401: Collect would otherwise ask the officer for a password that cannot
            # help.
            raise Problem(problems.TOKEN_INVALID)
        if len(self._known) >= 10_000:
            self._known.clear()
        self._known[token] = app_user
        return app_user

    def forget(self, token: str) -> None:
        """A token found revoked: no longer answered from memory."""
        self._known.pop(token, None)


def account_for(credentials: Credentials, lookup: Callable[[str], Account | None], *,
                method: str, over_https: bool, secret_key: str, nonce_seconds: int
                ) -> Account | None:
    """The account `lookup` finds by the credentials' user name, if they prove it: Digest, or
    Basic over HTTPS only. `method` is the request's (Digest signs it)."""
    account = lookup(normalise_name(credentials.username or ""))
    if credentials.type == "digest":
        ha1 = account.digest_ha1 if account is not None else None
        if ha1 and digest_matches(credentials, ha1, method=method, secret_key=secret_key,
                                  nonce_seconds=nonce_seconds):
            return account
    elif credentials.type == "basic" and over_https:
        password_hash = account.password_hash if account is not None else None
        if check_password(password_hash or DUMMY_HASH, credentials.password or "") \
                and password_hash:
            return account
    return None


def digest_matches(credentials: Credentials, ha1: str, *, method: str, secret_key: str,
                   nonce_seconds: int) -> bool:
    """RFC 2617 Digest with MD5, against the account's HA1, on a nonce and an opaque value
    we signed (the nonce no older than `nonce_seconds`)."""
    c = credentials
    if not (c.username and c.realm and c.uri and c.nonce and c.response):
        return False
    if not nonce_fresh(c.nonce, secret_key, nonce_seconds) \
            or not hmac.compare_digest(c.opaque or "", opaque(secret_key)):
        return False
    if c.qop and c.qop != QOP:
        return False
    ha2 = _md5(f"{method}:{c.uri}")
    if c.qop == QOP:
        expected = _md5(f"{ha1}:{c.nonce}:{c.nc}:{c.cnonce}:{QOP}:{ha2}")
    else:
        expected = _md5(f"{ha1}:{c.nonce}:{ha2}")
    return hmac.compare_digest(expected, c.response)


def new_nonce(secret_key: str) -> str:
    stamp = str(int(time.time()))
    return f"{stamp}-{_sign(secret_key, 'nonce:' + stamp)}"


def nonce_fresh(nonce: str | None, secret_key: str, lifetime: int) -> bool:
    stamp, _, signature = (nonce or "").partition("-")
    if not stamp.isdigit() or not hmac.compare_digest(signature,
                                                      _sign(secret_key, "nonce:" + stamp)):
        return False
    return time.time() - int(stamp) <= lifetime


def opaque(secret_key: str) -> str:
    return _sign(secret_key, "opaque")


def _sign(secret_key: str, value: str) -> str:
    return hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()  # noqa: S324 (what Digest is)
