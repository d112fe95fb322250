"""Pages for people: supervisors' review workspace, analysts' downloads, administrators' users and
audit log. Signed in with a form and a session cookie (HttpOnly, SameSite, Secure over HTTPS);
every form carries a CSRF token; every route checks permission here, on the server.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from flask import Blueprint, Flask, g, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from server import database
from server.database.queries import accounts as account_queries
from server.kernel import i18n, problems
from server.kernel.problems import Problem
from server.services import access

bp = Blueprint("pages", __name__)
csrf = CSRFProtect()
login_manager = LoginManager()
# Reachable without signing in.
PUBLIC_ENDPOINTS = {"pages.login", "pages.choose_language", "static"}
# Phones and scripts: no reader, no language, no page headers.
_NOT_PAGES = ("collect", "collect_key", "api")


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


def init_app(app: Flask) -> None:
    from server.surfaces import api, openrosa
    from server.surfaces.pages import (  # noqa: F401  (routes)
        app_users,
        audit_log,
        deleted,
        downloads,
        review_list,
        sessions,
        submission,
        users,
    )

    app.config.update(
        SESSION_COOKIE_NAME="muntada_session", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=12 * 3600,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session it is bound to
        WTF_CSRF_SSL_STRICT=False,  # no Referer check: privacy settings strip it; the token holds
    )
    app.session_interface = _SessionCookies()
    csrf.init_app(app)
    # Phones and scripts send no cookies: a forged cross-site request cannot carry their
    # credentials, so CSRF tokens protect nothing there.
    csrf.exempt(openrosa.bp)
    csrf.exempt(api.bp)
    login_manager.init_app(app)
    app.register_error_handler(CSRFError, _csrf_failed)
    i18n.init_app(app)
    app.jinja_env.globals.update(
        can=lambda permission: access.can(g.get("user"), permission),
        has_page=lambda endpoint: endpoint in app.view_functions)
    app.jinja_env.filters["urlencode_without"] = _urlencode_without
    app.register_blueprint(bp)
    app.before_request(_identify)
    app.after_request(_page_headers)


@login_manager.user_loader
def _load_user(session_id: str):
    user_id, _, epoch = session_id.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    user = account_queries.user_by_id(database.session(), int(user_id))
    # a logout or password change elsewhere bumps the epoch: older cookies stop working
    return user if user is not None and user.session_epoch == int(epoch) else None


def _identify() -> None:
    """Before every request of the app: who the reader is and which language they read."""
    if request.blueprint in _NOT_PAGES:
        return
    # the user itself, not the proxy: the proxy would resolve to whatever g holds later
    g.user = current_user._get_current_object() if current_user.is_authenticated else None
    g.language = i18n.choose(g.user.locale if g.user is not None else None)


# Pages load nothing from outside the app (offline-first, and no way for injected markup to call
# home); inline styles are allowed for small per-page rules, inline scripts are not.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'")


def _page_headers(response):
    if request.blueprint in _NOT_PAGES:
        return response
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if g.get("user") is not None:
        response.headers.setdefault("Cache-Control", "no-store")  # personal data: not cached
    return response


@bp.before_request
def _signed_in():
    if g.get("user") is None and request.endpoint not in PUBLIC_ENDPOINTS:
        return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
    return None


def require(permission: str) -> Callable:
    """A route only for users with `permission`; others get 403 (the route exists for them)."""
    access.can(None, permission)  # fail at import on a misspelt permission

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            if not access.can(g.get("user"), permission):
                raise Problem(problems.FORBIDDEN)
            return view(*args, **kwargs)
        return guarded
    return decorate


def _urlencode_without(args, *names: str) -> str:
    return urlencode([(k, v) for k, v in args.items(multi=True) if k not in names])


def _csrf_failed(error: CSRFError):
    from server.app.errors import render

    return render(Problem(problems.CSRF_FAILED))
