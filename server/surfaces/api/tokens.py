"""API tokens: the only key to the API, tied to a web user and limited to what that user may do.
The token is shown once; only its SHA-256 is kept, so a copy of the database opens nothing. Its
last use is noted at most once a minute.

A web user's password opens no API route, by Digest or Basic: Digest would need an MD5 of it
on the server (see `server.services.accounts.REALM`), and a script holding a password holds the account.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, request
from sqlalchemy.orm import Session

from server import database
from server.database.models import ApiToken, User, utcnow
from server.database.queries import accounts as account_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services.accounts import REALM, normalise_name

PREFIX = "mnt_"
_TOUCH_EVERY = timedelta(minutes=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; the secret is returned once and never stored."""
    if account_queries.token_named(session, user, name) is not None:
        raise Problem(problems.API_TOKEN_EXISTS, username=user.username, name=name)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_sha256=digest(secret))
    session.add(token)
    session.flush()
    return token, secret


def revoke(session: Session, user: User, name: str) -> ApiToken | None:
    token = account_queries.token_named(session, user, name)
    if token is not None:
        token.revoked_at = utcnow()
    return token


def caller() -> User:
    """The user whose token the request carries: `Authorization: Bearer <token>`, or over HTTPS
    Basic with the user's name and the token as the password (what Excel and Power BI send)."""
    credentials = request.authorization
    if credentials is not None and credentials.type == "bearer":
        return user_for(credentials.token or "")
    if credentials is not None and credentials.type == "basic" and request.is_secure:
        return user_for(credentials.password or "", username=credentials.username or "")
    raise Problem(problems.API_TOKEN_REQUIRED, headers=challenge())


def challenge() -> list[tuple[str, str]]:
    headers = [("WWW-Authenticate", f'Bearer realm="{REALM}"')]
    if request.is_secure:
        headers.append(("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'))
    return headers


def user_for(secret: str, *, username: str | None = None) -> User:
    """The active user a token belongs to (and who is named `username`, when given); 401.20 for
    an unknown or revoked token, or one of somebody else."""
    found = account_queries.token_by_hash(database.session(), digest(secret.strip()))
    if found is None or found[1].disabled_at is not None or (
            username is not None and normalise_name(username) != found[1].username):
        raise Problem(problems.API_TOKEN_INVALID, headers=challenge())
    token, user = found
    now = utcnow()
    last = token.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    if last is None or now - last > _TOUCH_EVERY:
        if database.request_writes():
            # with the request's own writes: on SQLite a second writer would wait for the
            # write lock this very request holds
            account_queries.mark_token_used(database.session(), token.id, now)
            return user
        # its own short write: the request's session is a read-only one
        writer = database.open_session(current_app, writing=True)
        try:
            account_queries.mark_token_used(writer, token.id, now)
            writer.commit()
        finally:
            writer.close()
    return user
