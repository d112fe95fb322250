"""API tokens: a script's key to the data API, tied to a web user and limited to what that user
may read. The token is shown once; only its SHA-256 is kept, so a copy of the database opens
nothing. Its last use is noted at most once a minute."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy.orm import Session

from server import db, problems
from server.models import ApiToken, User, utcnow
from server.problems import Problem
from server.queries import exports as queries

PREFIX = "mnt_"
_TOUCH_EVERY = timedelta(minutes=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; the secret is returned once and never stored."""
    if queries.token_named(session, user, name) is not None:
        raise Problem(problems.API_TOKEN_EXISTS, username=user.username, name=name)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_sha256=digest(secret))
    session.add(token)
    session.flush()
    return token, secret


def revoke(session: Session, user: User, name: str) -> ApiToken | None:
    token = queries.token_named(session, user, name)
    if token is not None:
        token.revoked_at = utcnow()
    return token


def user_for(secret: str) -> User:
    """The active user a bearer token belongs to; 401.20 for an unknown or revoked one."""
    found = queries.token_by_hash(db.session(), digest(secret.strip()))
    if found is None or found[1].disabled_at is not None:
        raise Problem(problems.API_TOKEN_INVALID,
                      headers=[("WWW-Authenticate", 'Bearer realm="Muntada"')])
    token, user = found
    now = utcnow()
    last = token.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    if last is None or now - last > _TOUCH_EVERY:
        # its own short write: the request's session may be a read-only one
        writer = db.open_session(current_app, writing=True)
        try:
            queries.mark_token_used(writer, token.id, now)
            writer.commit()
        finally:
            writer.close()
    return user
