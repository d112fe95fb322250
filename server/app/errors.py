"""Every problem of the app becomes a `Problem` here, and the surface that owns the request's
address renders it: OpenRosa XML for phones, JSON for scripts, HTML for people. Each surface
registers its renderer when it is set up; this module knows none of them. Unexpected exceptions
are logged whole and answered with 500.1, never with a stack trace, SQL or a file path."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, current_app, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from server.kernel import problems
from server.kernel.problems import Problem

log = logging.getLogger(__name__)

Renderer = Callable[[Problem], Response]

_HTTP_PROBLEMS = {
    404: problems.NOT_FOUND,
    405: problems.METHOD_NOT_ALLOWED,
}
_RENDERERS = "problem_renderers"


RETRY_AFTER_SECONDS = "5"


def init_app(app: Flask) -> None:
    app.extensions[_RENDERERS] = {}
    app.register_error_handler(Problem, render)
    app.register_error_handler(HTTPException, _from_http_exception)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(Exception, _unexpected)


def register_renderer(app: Flask, url_prefix: str | None, renderer: Renderer) -> None:
    """`renderer` answers the problems of every request under `url_prefix` (whole path segments:
    "/api" is /api and /api/..., also where no route matched); None makes it the default, for
    every other path."""
    app.extensions[_RENDERERS][url_prefix] = renderer


def renderer_for(path: str) -> Renderer:
    renderers = current_app.extensions[_RENDERERS]
    for prefix in sorted((p for p in renderers if p is not None), key=len, reverse=True):
        if path == prefix or path.startswith(prefix + "/"):
            return renderers[prefix]
    return renderers[None]


def render(problem: Problem) -> Response:
    response = renderer_for(request.path)(problem)
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
