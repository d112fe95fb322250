"""The database of a Flask app, per request: the app's `Database`, and each request's unit of work
(writing unless the request is a GET or HEAD, or its view is declared `reads_first`), closed when
the request ends. The surfaces use this module; services are handed sessions and never do."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import Blueprint, Flask, current_app, g, has_request_context, request
from sqlalchemy.orm import Session

from server.database import Database, end_read

# the mark `reads_first` leaves on a view or a blueprint
_READS_FIRST = "db_reads_first"


_Declared = TypeVar("_Declared", Callable, Blueprint)


def init_app(app: Flask) -> None:
    app.extensions["database"] = Database(app.config["DATABASE_URL"])
    # Per request, not per app context: a request may run inside a longer app context (a test,
    # a command) and must not inherit an earlier request's session.
    app.teardown_request(_close_session)
    app.teardown_appcontext(_close_session)


def of(app: Flask) -> Database:
    """The app's database."""
    return app.extensions["database"]


def session() -> Session:
    """The current request's unit of work, opened on first use.

    A request that may write (not GET or HEAD) writes in it, and commits it; GET and HEAD only
    read, and never wait for writers. A view declared `reads_first` reads freely and asks to
    write with `write_after_reading` (or `begin_write`), for the few statements that need it.
    """
    if "db_session" not in g:
        g.db_session = of(current_app).session(writing=_request_writes())
    return g.db_session


def end_request_read() -> None:
    """End what the current request has read so far, if it opened its unit of work."""
    if "db_session" in g:
        end_read(g.db_session)


def reads_first(target: _Declared) -> _Declared:
    """Declare a view (or every view of a blueprint) whose request reads before it writes,
    and says when it starts writing (`write_after_reading`, `begin_write`): a POST that reads
    a while, or streams a body in, before a short write."""
    setattr(target, _READS_FIRST, True)
    return target


def _reads_first() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, _READS_FIRST, False) or any(
        getattr(current_app.blueprints.get(name), _READS_FIRST, False)
        for name in request.blueprints)


def _request_writes() -> bool:
    """Whether the current request's unit of work (outside a request: any) writes from the
    start."""
    return not (has_request_context() and (
        request.method in ("GET", "HEAD") or _reads_first()))


@contextmanager
def write_aside() -> Iterator[Session]:
    """A small write a request makes besides its own work (a token's last use): in the
    request's unit of work when that one writes (it commits with it; on SQLite a second writer
    would wait for the turn this very request holds), else in a short writing unit of its own,
    committed at once."""
    if _request_writes():
        yield session()
        return
    with of(current_app).writing() as writer:
        yield writer


def _close_session(_error: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
