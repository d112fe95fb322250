"""Input no route can use, refused before any route sees it.

A NUL character (`%00`) in the path, a query value or a form value means nothing to any of our
routes, and PostgreSQL refuses it in a text value: left to reach a query it was a 500 on
PostgreSQL (and a 404 on SQLite). One check here, ahead of every blueprint's own hooks and of
authentication, answers 400.9 in the caller's format on every route and both databases.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from server.kernel import problems
from server.kernel.problems import Problem

NUL = "\x00"
# Bodies read here: small forms of the pages and JSON of the API. A multipart body (a phone's
# submission, a form upload) is left to stream to its route, which never puts a part's name
# or text in the database unchecked.
_FORM = "application/x-www-form-urlencoded"


def init_app(app: Flask) -> None:
    # before_request hooks run in the order they are added: this one is added first
    app.before_request(refuse_nul)


def refuse_nul() -> None:
    if NUL in request.path or _any_nul(request.args) or (
            request.mimetype == _FORM and _any_nul(request.form)) or (
            request.is_json and _has_nul(request.get_json(silent=True))):
        raise Problem(problems.NUL_CHARACTER)


def _any_nul(values) -> bool:
    return any(NUL in key or NUL in value for key, value in values.items(multi=True))


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
