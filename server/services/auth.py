"""Which phone is calling: an app user by the token in the URL, or by name and password over
HTTP Digest or Basic. What needs no request is here (tokens remembered, passwords checked, the
signed nonces); reading the header, Digest's own check (Flask-HTTPAuth) and the challenges are
the surfaces' (`server.surfaces.http_auth`).

Collect on plain HTTP (a field-office laptop on a local network) can only do Digest; it offers
Basic only over HTTPS, and so do we: a password never crosses the network in clear. Nonces are
signed timestamps, so any worker process can check any other's without shared state. Web users
never sign in here: they have no Digest HA1, and the API takes API tokens
(`server.services.api_tokens`).
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
from server.services.accounts import check_password, hash_password

# A real hash to check against when the user does not exist, so timing tells nothing.
DUMMY_HASH = hash_password(secrets.token_hex(16))


class Account(Protocol):
    password_hash: str | None
    digest_ha1: str | None


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


def password_matches(account: Account | None, password: str) -> bool:
    """Basic's check (the surface offers Basic over HTTPS only), as slow for an unknown name as
    for a known one."""
    password_hash = account.password_hash if account is not None else None
    return check_password(password_hash or DUMMY_HASH, password) and password_hash is not None


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


def opaque_matches(value: str | None, secret_key: str) -> bool:
    return hmac.compare_digest(value or "", opaque(secret_key))


def _sign(secret_key: str, value: str) -> str:
    return hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]
