"""Pages for people: supervisors' review workspace, analysts' downloads, administrators' users and
audit log. Signed in with a form and a session cookie (`server.app.web_sessions`); every form
carries a CSRF token; every route checks permission here, on the server. Problems everywhere but
under the phones' and scripts' addresses are pages too: inside the pages' frame, or bare when the
frame cannot be drawn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    has_app_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from markupsafe import escape

from server.kernel import i18n, problems
from server.kernel.problems import Problem
from server.services import access

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)
# Reachable without signing in.
PUBLIC_ENDPOINTS = {"pages.login", "pages.choose_language", "static"}


def init_app(app: Flask) -> None:
    from server.surfaces.pages import (  # noqa: F401  (routes)
        app_users,
        audit_log,
        cases,
        deleted,
        downloads,
        field_offices,
        indicators,
        keys,
        review_list,
        sessions,
        submission,
        users,
    )

    app.jinja_env.globals.update(_=i18n.gettext, languages=i18n.LANGUAGES,
                                 current_language=i18n.current)
    app.jinja_env.filters.update(datetime=i18n.datetime_text, number=i18n.number_text,
                                 count=i18n.count_text, ago=i18n.ago_text)
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    i18n.read_language_with(lambda: g.get("language") if has_app_context() else None)
    app.register_blueprint(bp)
    # A request no blueprint claimed (the app's static files, an unknown address, a wrong
    # method) is the pages' too: its problem page needs the reader and their language.
    app.before_request(_identify_unclaimed)
    app.after_request(_page_headers_unclaimed)


def _identify_unclaimed() -> None:
    if request.blueprint is None:
        _identify()


def _page_headers_unclaimed(response: Response) -> Response:
    return _page_headers(response) if request.blueprint is None else response


@bp.app_template_global()
def can(permission: str) -> bool:
    return access.can(g.get("user"), permission)


@bp.app_template_global()
def has_page(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


@bp.before_request
def _identify() -> None:
    """Before every page: who the reader is and which language they read."""
    # the user itself, not the proxy: the proxy would resolve to whatever g holds later
    g.user = current_user._get_current_object() if current_user.is_authenticated else None
    g.language = _choose_language(g.user.locale if g.user is not None else None)


def _choose_language(user_locale: str | None) -> str:
    """The reader's language: `?lang=`, their account's, the cookie's, their browser's."""
    for candidate in (request.args.get("lang"), user_locale, request.cookies.get(i18n.COOKIE)):
        if candidate in i18n.LANGUAGES:
            return candidate
    return request.accept_languages.best_match(list(i18n.LANGUAGES)) or i18n.DEFAULT


# Pages load nothing from outside the app (offline-first, and no way for injected markup to call
# home); inline styles are allowed for small per-page rules, inline scripts are not.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'")


@bp.after_request
def _page_headers(response: Response) -> Response:
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


@bp.app_template_filter("urlencode_without")
def _urlencode_without(args, *names: str) -> str:
    return urlencode([(k, v) for k, v in args.items(multi=True) if k not in names])


def render_problem(problem: Problem) -> Response:
    return Response(_html(problem), status=problem.status, mimetype="text/html")


def _same_site(url: str | None) -> str | None:
    """The page the reader came from, to go back and try again; only one of this site."""
    if not url or not url.startswith(request.host_url):
        return None
    return "/" + url[len(request.host_url):]


def _html(problem: Problem) -> str:
    """The problem in the reader's language, inside the pages' frame (header, language choice, a
    way back); a bare page when the frame itself cannot be drawn."""
    try:
        message = i18n.gettext(problem.type.message, **problem.details)
        return render_template("problem.html", problem=problem, message=message,
                               back=_same_site(request.referrer))
    except Exception:  # the error came before the reader was known, or the frame failed
        log.debug("problem page without its frame", exc_info=True)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # without an icon of its own the browser asks for /favicon.ico and gets a 404
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
        f"<title>{problem.status} · Muntada</title></head><body>"
        f'<h1>{problem.status}</h1><p class="problem">{escape(problem.message)}</p>'
        f"<p><small>{escape(problem.code)}</small></p></body></html>"
    )
