"""The database connection of an app: one engine, one session per request, SQLite tuned for
several worker processes writing at once."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app, g, has_app_context, has_request_context, request
from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

from server.database.sqlite import driver
from server.database.sqlite.group_commit import GroupCommit
from server.database.sqlite.writers import WriterQueue
from server.kernel import private

# each SQLite engine's queue of writers (see server.database.sqlite.writers)
_WRITERS: weakref.WeakKeyDictionary[Engine, WriterQueue] = weakref.WeakKeyDictionary()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        on_disk = bool(path) and path != ":memory:"
        if on_disk:
            private.sqlite_database(path)
        engine = create_engine(url, connect_args={"timeout": 30})
        queue = _WRITERS[engine] = WriterQueue(
            Path(path).with_suffix(".writers") if on_disk else None)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", queue.begin)
        # Released when the connection goes back to the pool, after its COMMIT (or ROLLBACK)
        # has run: the engine's "commit" event comes before it, and a writer let in then would
        # find SQLite still locked by the fsync and sleep in SQLite's busy handler.
        event.listen(engine.pool, "checkin", lambda dbapi, record: queue.release_record(record))
        return engine
    engine = create_engine(url, pool_recycle=3600)
    event.listen(engine.pool, "checkout", _ping_if_idle)
    event.listen(engine.pool, "checkin", _note_idle)
    return engine


IDLE_SECONDS = 30


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """Check a connection that sat idle before lending it, not one that worked a moment ago:
    a ping on every checkout was a round trip per transaction. A connection that died while in
    use (the server restarted) is discarded by SQLAlchemy when its error says so."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < IDLE_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as error:
        raise exc.DisconnectionError() from error  # the pool connects afresh


def _note_idle(_dbapi_connection, record) -> None:
    if record is not None:
        record.info["idle_since"] = time.monotonic()


def _sqlite_pragmas(connection, _record) -> None:
    # SQLAlchemy (or the group commit), not the sqlite3 module, says when a transaction begins
    # (see server.database.sqlite.writers): savepoints and transactional DDL work as on PostgreSQL.
    connection.isolation_level = None
    cursor = connection.cursor()
    # WAL lets readers and one writer work together; FULL sync makes a commit survive power loss.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Temporary data in memory: above all the savepoints' journal of a group commit, which on
    # disk (past 64 KiB, a batch of a few submissions) was a file created, written and deleted
    # by every batch. Sorts need little: exports read their tables in index order.
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["engine"] = engine
    app.extensions["sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    if engine.dialect.name == "sqlite":
        app.extensions["group_commit"] = GroupCommit(engine, _WRITERS[engine])
    # Per request, not per app context: a request may run inside a longer app context (a test,
    # a command) and must not inherit an earlier request's session.
    app.teardown_request(_close_session)
    app.teardown_appcontext(_close_session)


def session() -> Session:
    """The current request's session, opened on first use.

    On SQLite a request that may write takes the write lock when its transaction begins (see
    server.database.sqlite.writers); GET and HEAD only read, and never wait for writers. One that marks
    `g.explicit_write_lock` reads freely and takes the lock itself with `begin_write`, for the
    few statements that need it (the submission path).
    """
    if "db_session" not in g:
        g.db_session = open_session(current_app, writing=request_writes())
    return g.db_session


def request_writes() -> bool:
    """Whether the current request's session (outside a request: any session) takes SQLite's
    write lock when it begins."""
    return not (has_request_context() and (
        request.method in ("GET", "HEAD") or g.get("explicit_write_lock", False)))


def begin_write(db_session: Session) -> None:
    """Start a transaction that holds SQLite's write lock from its first statement (elsewhere,
    go on with the transaction in progress, or begin one)."""
    if _is_sqlite(db_session):
        db_session.connection(execution_options={"sqlite_immediate": True})


def group_commit() -> GroupCommit | None:
    """The app's group committer: on SQLite only, where one writer at a time waits for each
    fsync (PostgreSQL commits in parallel, and needs none)."""
    return current_app.extensions.get("group_commit") if has_app_context() else None


def end_read(db_session: Session) -> None:
    """End the session's transaction if it only read: before files are written, which may take
    a while, and on SQLite, where a reader cannot later become the writer."""
    if db_session.in_transaction():
        db_session.commit()


def write_after_reading(db_session: Session) -> None:
    """A page that read goes on to write a little (an audit event, a purge): end the read and
    take the write lock for what follows, which the caller commits."""
    end_read(db_session)
    begin_write(db_session)


@contextmanager
def autocommit(db_session: Session) -> Iterator[Connection | driver.Reader]:
    """A connection of the session's engine outside any transaction, for a few reads: each
    statement sees what is committed when it runs. On SQLite, straight on the driver (the
    submission path's reads, see server.database.sqlite.driver)."""
    engine = db_session.get_bind()
    if engine.dialect.name == "sqlite":
        reader = driver.Reader(engine)
        try:
            yield reader
        finally:
            reader.close()
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        yield connection


def is_postgresql(db_session: Session) -> bool:
    return db_session.get_bind().dialect.name == "postgresql"


def _is_sqlite(db_session: Session) -> bool:
    return db_session.get_bind().dialect.name == "sqlite"


def open_session(app: Flask, *, writing: bool) -> Session:
    engine = app.extensions["engine"]
    return app.extensions["sessionmaker"](
        bind=engine.execution_options(sqlite_immediate=True) if writing else engine)


def _close_session(_error: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
