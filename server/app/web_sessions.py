"""People's sessions, app-wide: the signed session cookie (HttpOnly, SameSite, Secure over HTTPS),
the CSRF token every form carries, and Flask-Login's reader behind the cookie.

Phones and scripts send no cookies: a forged cross-site request cannot carry their credentials,
so CSRF tokens protect nothing there, and the factory names their blueprints `cookieless`.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect

from server.app import errors
from server.database import per_request
from server.database.queries import accounts as account_queries
from server.kernel import problems
from server.kernel.problems import Problem

csrf = CSRFProtect()
login_manager = LoginManager()


class _SessionCookies(SecureCookieSessionInterface):
    """Secure when the request came over HTTPS; a field office's plain-HTTP laptop still works.
    A request without the cookie (every phone's, every script's) gets its empty session without
    a signer being built for it."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or super().get_cookie_secure(app)

    def open_session(self, app: Flask, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask, *, cookieless: Iterable[Blueprint]) -> None:
    app.config.update(
        SESSION_COOKIE_NAME="muntada_session", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=12 * 3600,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session it is bound to
        WTF_CSRF_SSL_STRICT=False,  # no Referer check: privacy settings strip it; the token holds
    )
    app.session_interface = _SessionCookies()
    csrf.init_app(app)
    for blueprint in cookieless:
        csrf.exempt(blueprint)
    app.register_error_handler(CSRFError, _csrf_failed)
    login_manager.init_app(app)


@login_manager.user_loader
def _load_user(session_id: str):
    user_id, _, epoch = session_id.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    user = account_queries.user_by_id(per_request.session(), int(user_id))
    # a logout or password change elsewhere bumps the epoch: older cookies stop working
    return user if user is not None and user.session_epoch == int(epoch) else None


def _csrf_failed(_error: CSRFError):
    return errors.render(Problem(problems.CSRF_FAILED))
