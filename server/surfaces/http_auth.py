"""Who is calling, as HTTP carries it: credentials read from the request's Authorization header,
Digest checked by Flask-HTTPAuth against the account's HA1, and the challenges
(WWW-Authenticate) that ask for them; what needs no request is `server.services.auth`'s."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request
from flask_httpauth import HTTPDigestAuth

from server.database import per_request
from server.database.models import AppUser
from server.database.queries import accounts as account_queries
from server.database.queries import arrivals as arrival_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import auth
from server.services.accounts import REALM, normalise_name

_digest = HTTPDigestAuth(realm=REALM, use_ha1_pw=True, qop="auth")


def phone_by_token(token: str, *, checked_later: bool = False):
    """The app user (id, name, all_forms) whose token this is; see `auth.PhoneTokens`."""
    return _phones().phone(
        token, lambda t: arrival_queries.phone_by_token(per_request.session().connection(), t),
        checked_later=checked_later)


def forget_token(token: str) -> None:
    """A token found revoked: no longer answered from memory."""
    _phones().forget(token)


def _phones() -> auth.PhoneTokens:
    phones = current_app.extensions.get("phones")  # every phone request: made once per app
    if phones is None:
        phones = current_app.extensions.setdefault("phones", auth.PhoneTokens())
    return phones


def phone_by_password() -> AppUser:
    return authenticate(lambda name: account_queries.app_user_by_name(per_request.session(), name))


def authenticate(lookup: Callable[[str], auth.Account | None]) -> auth.Account:
    """The account the Authorization header proves, among those `lookup` finds; 401 with a
    challenge otherwise."""
    credentials = request.authorization
    if credentials is None or not credentials.username:
        raise _challenge(problems.AUTHENTICATION_REQUIRED)
    account = lookup(normalise_name(credentials.username))
    if credentials.type == "digest":
        ha1 = account.digest_ha1 if account is not None else None
        if ha1 and _digest.authenticate(credentials, ha1):
            return account
    elif credentials.type == "basic" and request.is_secure \
            and auth.password_matches(account, credentials.password or ""):
        return account
    raise _challenge(problems.AUTHENTICATION_FAILED)


def _challenge(problem_type: problems.ProblemType) -> Problem:
    headers = [("WWW-Authenticate", _digest.authenticate_header())]
    if request.is_secure:
        headers.append(("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'))
    return Problem(problem_type, headers=headers)


# Nonces are signed timestamps (`server.services.auth`): any worker checks any other's.
@_digest.generate_nonce
def _new_nonce() -> str:
    return auth.new_nonce(current_app.config["SECRET_KEY"])


@_digest.verify_nonce
def _check_nonce(nonce: str | None) -> bool:
    return auth.nonce_fresh(nonce, current_app.config["SECRET_KEY"],
                            current_app.config["DIGEST_NONCE_SECONDS"])


@_digest.generate_opaque
def _opaque() -> str:
    return auth.opaque(current_app.config["SECRET_KEY"])


@_digest.verify_opaque
def _check_opaque(opaque: str | None) -> bool:
    return auth.opaque_matches(opaque, current_app.config["SECRET_KEY"])
