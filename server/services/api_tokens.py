"""API tokens: the only key to the API, tied to a web user and limited to what that user may do.
The token is shown once; only its SHA-256 is kept, so a copy of the database opens nothing. Its
last use is noted at most once a minute.

A web user's password opens no API route, by Digest or Basic: Digest would need an MD5 of it
on the server (see `server.services.accounts.REALM`), and a script holding a password holds the
account.
How a request carries its token is the API's business (`server.surfaces.api.tokens`).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from server.database.models import ApiToken, User, utcnow
from server.database.queries import accounts as account_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services.accounts import normalise_name

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


def owner(session: Session, secret: str, *, username: str | None = None
          ) -> tuple[ApiToken, User] | None:
    """The token and the active user it belongs to (and who is named `username`, when given);
    None for an unknown or revoked token, or one of somebody else."""
    found = account_queries.token_by_hash(session, digest(secret.strip()))
    if found is None or found[1].disabled_at is not None or (
            username is not None and normalise_name(username) != found[1].username):
        return None
    return found


def use_to_note(token: ApiToken, now: datetime) -> bool:
    """Whether this use is to be written down: the last one noted is a minute old, or none."""
    last = token.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    return last is None or now - last > _TOUCH_EVERY


def note_use(session: Session, token: ApiToken, now: datetime) -> None:
    account_queries.mark_token_used(session, token.id, now)
