"""How a request to the API carries its token (`server.services.api_tokens`): `Authorization: Bearer
<token>`, or over HTTPS Basic with the user's name and the token as the password (what Excel
and Power BI send); and the challenge that asks for one."""

from __future__ import annotations

from flask import request

from server.database import per_request
from server.database.models import User, utcnow
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import api_tokens
from server.services.accounts import REALM


def caller() -> User:
    """The user whose token the request carries; 401 otherwise."""
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
    found = api_tokens.owner(per_request.session(), secret, username=username)
    if found is None:
        raise Problem(problems.API_TOKEN_INVALID, headers=challenge())
    token, user = found
    now = utcnow()
    if api_tokens.use_to_note(token, now):
        with per_request.write_aside() as writer:
            api_tokens.note_use(writer, token, now)
    return user
