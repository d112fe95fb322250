"""The JSON API: administrators load forms and manage app users; analysts (and administrators)
read data through the data API.

Every route authenticates here, on the server, by an API token (`server.surfaces.api.tokens`):
never by a web user's password. A route says which permissions open it with `@allow(...)`; a
route that says nothing is for administrators. Every problem under /api is answered as JSON from
the catalogue (`render_problem`, which the factory registers for every address under
`PROBLEMS_UNDER`; its shape is locked by a test).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, json, request
from marshmallow import Schema

from server.kernel import problems
from server.kernel.problems import Problem
from server.services import access
from server.services.validation import load
from server.surfaces.api import tokens

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PROBLEMS_UNDER = "/api"  # an unknown address under it is answered in JSON too
# Read without signing in: the description of the API itself.
PUBLIC = {"api.openapi"}


def init_app(app: Flask) -> None:
    from server.surfaces.api import (
        app_users,  # noqa: F401
        data,  # noqa: F401
        export_jobs,  # noqa: F401
        forms,  # noqa: F401
        lists,  # noqa: F401
        openapi,  # noqa: F401
    )

    app.register_blueprint(bp)


def render_problem(problem: Problem) -> Response:
    return Response(json.dumps(problem.as_json()), status=problem.status,
                    mimetype="application/json")


def allow(*permissions: str) -> Callable:
    """Open a route to users with any of `permissions` (and to their API tokens)."""
    for permission in permissions:
        access.can(None, permission)  # fail at import on a misspelt permission

    def mark(view: Callable) -> Callable:
        view.permissions = permissions
        return view
    return mark


@bp.before_request
def _identify_user() -> None:
    if request.endpoint in PUBLIC:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    permissions = getattr(view, "permissions", None)
    user = g.user = tokens.caller()
    if permissions is None:
        allowed = user.role == "administrator" and user.disabled_at is None
    else:
        allowed = any(access.can(user, p) for p in permissions)
    if not allowed:
        raise Problem(problems.FORBIDDEN)


def load_json(schema: Schema) -> Any:
    """The request's JSON body read through `schema`; 400.5 names the first bad field."""
    payload = request.get_json(silent=True)
    if payload is None:
        raise Problem(problems.BAD_REQUEST, reason="the body must be a JSON object")
    return load(schema, payload)
