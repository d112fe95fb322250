"""Which phone is calling: an app user by the token in the URL, or by name and password over
HTTP Digest or Basic.

Collect on plain HTTP (a field-office laptop on a local network) can only do Digest; it offers
Basic only over HTTPS, and so do we: a password never crosses the network in clear. Nonces are
signed timestamps, so any worker process can check any other's without shared state. Web users
never sign in here: they have no Digest HA1, and the API takes API tokens (`server.surfaces.api.tokens`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Protocol

from flask import current_app, request
from flask_httpauth import HTTPDigestAuth

from server import database
from server.database.models import AppUser
from server.database.queries import accounts as account_queries
from server.database.queries import arrivals as arrival_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services.accounts import REALM, check_password, hash_password, normalise_name

_digest = HTTPDigestAuth(realm=REALM, use_ha1_pw=True, qop="auth")
# A real hash to check against when the user does not exist, so timing tells nothing.
DUMMY_HASH = hash_password(secrets.token_hex(16))


class Account(Protocol):
    password_hash: str | None
    digest_ha1: str | None


def phone_by_token(token: str, *, checked_later: bool = False):
    """The app user (id, name, all_forms) whose token this is.

    `checked_later`: the caller checks the token again in its own transaction (a submission
    does, see `server.services.receiving`), so this worker may answer from memory: a token revoked through
    another worker is still refused, only after the body has been read.
    """
    known = current_app.extensions.setdefault("phones", {})
    if checked_later and token in known:
        return known[token]
    app_user = arrival_queries.phone_by_token(database.session().connection(), token)
    if app_user is None:
        known.pop(token, None)
        # 403, not 401: Collect would otherwise ask the officer for a password that cannot help.
        raise Problem(problems.TOKEN_INVALID)
    if len(known) >= 10_000:
        known.clear()
    known[token] = app_user
    return app_user


def forget_token(token: str) -> None:
    """A token found revoked: no longer answered from memory."""
    current_app.extensions.get("phones", {}).pop(token, None)


def phone_by_password() -> AppUser:
    return authenticate(lambda name: account_queries.app_user_by_name(database.session(), name))


def authenticate(lookup: Callable[[str], Account | None]) -> Account:
    """Check the Authorization header against accounts found by `lookup`; 401 otherwise."""
    auth = request.authorization
    if auth is None or not auth.username:
        raise _challenge(problems.AUTHENTICATION_REQUIRED)
    account = lookup(normalise_name(auth.username))
    if auth.type == "digest":
        ha1 = account.digest_ha1 if account is not None else None
        if ha1 and _digest.authenticate(auth, ha1):
            return account
    elif auth.type == "basic" and request.is_secure:
        password_hash = account.password_hash if account is not None else None
        if check_password(password_hash or DUMMY_HASH, auth.password or "") and password_hash:
            return account
    raise _challenge(problems.AUTHENTICATION_FAILED)


def _challenge(problem_type: problems.ProblemType) -> Problem:
    headers = [("WWW-Authenticate", _digest.authenticate_header())]
    if request.is_secure:
        headers.append(("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'))
    return Problem(problem_type, headers=headers)


def _sign(value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


@_digest.generate_nonce
def _new_nonce() -> str:
    stamp = str(int(time.time()))
    return f"{stamp}-{_sign('nonce:' + stamp)}"


@_digest.verify_nonce
def _check_nonce(nonce: str | None) -> bool:
    stamp, _, signature = (nonce or "").partition("-")
    if not stamp.isdigit() or not hmac.compare_digest(signature, _sign("nonce:" + stamp)):
        return False
    return time.time() - int(stamp) <= current_app.config["DIGEST_NONCE_SECONDS"]


@_digest.generate_opaque
def _opaque() -> str:
    return _sign("opaque")


@_digest.verify_opaque
def _check_opaque(opaque: str | None) -> bool:
    return hmac.compare_digest(opaque or "", _sign("opaque"))
