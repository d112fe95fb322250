"""The JSON API: administrators load forms and manage app users; analysts' data API comes later.

Every route authenticates a web user (Digest, or Basic over HTTPS) and checks the role here, on
the server; errors are JSON problems from the catalogue (`server.errors`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, g, request
from marshmallow import Schema, ValidationError

from server import auth, problems
from server.problems import Problem

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    from server.api import app_users, forms  # noqa: F401  (routes)

    app.register_blueprint(bp)


@bp.before_request
def _identify_user() -> None:
    g.user = auth.administrator()


def load_json(schema: Schema) -> Any:
    """The request's JSON body read through `schema`; 400.5 names the first bad field."""
    payload = request.get_json(silent=True)
    if payload is None:
        raise Problem(problems.BAD_REQUEST, reason="the body must be a JSON object")
    return load(schema, payload)


def load(schema: Schema, payload: Any) -> Any:
    try:
        return schema.load(payload)
    except ValidationError as error:
        field, reasons = next(iter(_flatten(error.messages)))
        raise Problem(problems.INVALID_FIELD, field=field, reason=reasons) from error


def _flatten(messages: Any, prefix: str = ""):
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix or "body", " ".join(map(str, messages if isinstance(messages, list)
                                              else [messages]))
