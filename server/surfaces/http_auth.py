"""Who is calling, as HTTP carries it: credentials read from the request's Authorization header,
and the challenges (WWW-Authenticate) that ask for them. Checking them is `server.services.auth`'s."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request

from server import database
from server.database.models import AppUser
from server.database.queries import accounts as account_queries
from server.database.queries import arrivals as arrival_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import auth
from server.services.accounts import REALM


def phone_by_token(token: str, *, checked_later: bool = False):
    """The app user (id, name, all_forms) whose token this is; see `auth.PhoneTokens`."""
    return _phones().phone(
        token, lambda t: arrival_queries.phone_by_token(database.session().connection(), t),
        checked_later=checked_later)


def forget_token(token: str) -> None:
    """A token found revoked: no longer answered from memory."""
    _phones().forget(token)


def _phones() -> auth.PhoneTokens:
    return current_app.extensions.setdefault("phones", auth.PhoneTokens())


def phone_by_password() -> AppUser:
    return authenticate(lambda name: account_queries.app_user_by_name(database.session(), name))


def authenticate(lookup: Callable[[str], auth.Account | None]) -> auth.Account:
    """The account the Authorization header proves, among those `lookup` finds; 401 with a
    challenge otherwise."""
    credentials = request.authorization
    if credentials is None or not credentials.username:
        raise _challenge(problems.AUTHENTICATION_REQUIRED)
    account = auth.account_for(
        credentials, lookup, method=request.method, over_https=request.is_secure,
        secret_key=current_app.config["SECRET_KEY"],
        nonce_seconds=current_app.config["DIGEST_NONCE_SECONDS"])
    if account is None:
        raise _challenge(problems.AUTHENTICATION_FAILED)
    return account


def _challenge(problem_type: problems.ProblemType) -> Problem:
    key = current_app.config["SECRET_KEY"]
    headers = [("WWW-Authenticate",
                f'Digest realm="{REALM}",nonce="{auth.new_nonce(key)}",'
                f'opaque="{auth.opaque(key)}",algorithm="MD5",qop="{auth.QOP}"')]
    if request.is_secure:
        headers.append(("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'))
    return Problem(problem_type, headers=headers)
