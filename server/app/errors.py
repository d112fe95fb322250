"""One handler renders every problem in its caller's format: OpenRosa XML for phones, JSON for the
API, HTML for people. Unexpected exceptions are logged whole and answered with 500.1, never with
a stack trace, SQL or a file path."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, json, request
from markupsafe import escape
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from server.kernel import problems
from server.kernel.problems import Problem
from server.surfaces.openrosa import XML_MIMETYPE, add_openrosa_headers
from server.surfaces.openrosa import xml as openrosa_xml

log = logging.getLogger(__name__)

_HTTP_PROBLEMS = {
    404: problems.NOT_FOUND,
    405: problems.METHOD_NOT_ALLOWED,
}


RETRY_AFTER_SECONDS = "5"


def init_app(app: Flask) -> None:
    app.register_error_handler(Problem, render)
    app.register_error_handler(HTTPException, _from_http_exception)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(Exception, _unexpected)


def surface() -> str:
    path = request.path
    if path == "/collect" or path.startswith("/collect/"):
        return "openrosa"
    if path == "/api" or path.startswith("/api/"):
        return "api"
    return "html"


def render(problem: Problem) -> Response:
    kind = surface()
    if kind == "openrosa":
        response = Response(openrosa_xml.openrosa_response(problem.message, nature="error"),
                            status=problem.status, content_type=XML_MIMETYPE)
        add_openrosa_headers(response)
    elif kind == "api":
        body = {"code": problem.code, "message": problem.message}
        if problem.details:
            body["details"] = {k: str(v) for k, v in problem.details.items()}
        response = Response(json.dumps(body), status=problem.status,
                            mimetype="application/json")
    else:
        response = Response(_html(problem), status=problem.status,
                            mimetype="text/html")
    for name, value in problem.headers:
        response.headers.add(name, value)
    return response


def _from_http_exception(error: HTTPException) -> Response:
    if error.code == 413:
        limit = request.max_content_length or current_app.config["MAX_SUBMISSION_BYTES"]
        return render(Problem(problems.TOO_LARGE, limit=limit))
    problem_type = _HTTP_PROBLEMS.get(error.code or 500)
    if problem_type is None:
        problem_type = problems.BAD_REQUEST if (error.code or 500) < 500 else problems.INTERNAL
    details = {"method": request.method} if problem_type is problems.METHOD_NOT_ALLOWED else {}
    if problem_type is problems.BAD_REQUEST:
        details = {"reason": error.name}
    problem = Problem(problem_type, **details)
    if problem_type is problems.METHOD_NOT_ALLOWED and error.valid_methods:
        problem.headers.append(("Allow", ", ".join(error.valid_methods)))
    return render(problem)


def _database_error(error: DBAPIError) -> Response:
    if not error.connection_invalidated:
        return _unexpected(error)
    # The database ended the connection (it restarted): SQLAlchemy has let go of the pool's
    # connections with it, and the next request connects afresh.
    log.warning("database connection lost on %s %s: %s", request.method, request.path,
                str(error.orig).splitlines()[0] if str(error.orig) else type(error.orig))
    return render(Problem(problems.DATABASE_UNAVAILABLE,
                          headers=[("Retry-After", RETRY_AFTER_SECONDS)]))


def _unexpected(error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return render(Problem(problems.INTERNAL))


def _same_site(url: str | None) -> str | None:
    """The page the reader came from, to go back and try again; only one of this site."""
    if not url or not url.startswith(request.host_url):
        return None
    return "/" + url[len(request.host_url):]


def _html(problem: Problem) -> str:
    """The problem in the reader's language, inside the pages' frame (header, language choice, a
    way back); a bare page when the frame itself cannot be drawn."""
    from flask import render_template

    from server.kernel import i18n

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
