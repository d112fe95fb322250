"""Pages for people. Until the review workspace brings sign-in with sessions, the few pages here
ask the browser for an administrator's name and password (HTTP Digest, or Basic over HTTPS)."""

from __future__ import annotations

from flask import Blueprint, Flask, g

from server import auth

bp = Blueprint("pages", __name__)


def init_app(app: Flask) -> None:
    from server.pages import app_users  # noqa: F401  (routes)

    app.register_blueprint(bp)


@bp.before_request
def _administrators_only() -> None:
    g.user = auth.administrator()
