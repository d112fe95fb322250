"""The database: one engine, units of work that read or write (`Database.reading()`,
`writing()`), and SQLite tuned for several worker processes writing at once; callers never need
to know which database it is. What binds it to a Flask request is `database.per_request`."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

from server.database.sqlite import driver
from server.database.sqlite.group_commit import GroupCommit
from server.database.sqlite.writers import WriterQueue
from server.kernel import private

# each SQLite engine's queue of writers (see server.database.sqlite.writers)
_WRITERS: weakref.WeakKeyDictionary[Engine, WriterQueue] = weakref.WeakKeyDictionary()
_Value = TypeVar("_Value")


class Statements(Protocol):
    """What runs the submission path's statements (`queries.arrivals`): a Connection, or on
    SQLite a lane or reader straight on the driver (`database.sqlite.driver`), which callers
    cannot tell from one."""

    dialect: Any

    def execute(self, statement: Any, parameters: Any = ..., /) -> Any: ...


class Batch(Protocol):
    """A writer that commits several callers' work at once (SQLite's group commit): `run` returns
    once the COMMIT holding the work has succeeded, or raises what the work or COMMIT raised."""

    def run(self, work: Callable[[Statements], _Value]) -> _Value: ...


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


class Database:
    """One database, and the units of work callers ask of it: `reading()` or `writing()`.

    The writer policy stays here. On SQLite one transaction writes at a time: a writing unit
    waits for its turn when it begins (see server.database.sqlite.writers), a reading one never
    waits.
    """

    def __init__(self, url: str):
        self.engine = make_engine(url)
        # on SQLite only, where one writer at a time waits for each fsync (PostgreSQL commits
        # in parallel, and needs none)
        self.group_commit = GroupCommit(self.engine, _WRITERS[self.engine]) \
            if self.engine.dialect.name == "sqlite" else None
        # each session knows its engine's group committer (see group_commit_of)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False,
                                      info={_GROUP_COMMIT: self.group_commit})

    def session(self, *, writing: bool) -> Session:
        """A session the caller closes: one that may write takes its turn when it begins."""
        return self._sessions(bind=self.engine.execution_options(sqlite_immediate=True)
                              if writing else self.engine)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A unit of work that only reads: whatever it did is rolled back when it ends."""
        db_session = self.session(writing=False)
        try:
            yield db_session
        finally:
            db_session.close()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A unit of work that writes: committed when the block ends, rolled back if it fails."""
        db_session = self.session(writing=True)
        try:
            yield db_session
            db_session.commit()
        except BaseException:
            db_session.rollback()
            raise
        finally:
            db_session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def begin_write(db_session: Session) -> None:
    """Start a transaction that holds SQLite's write lock from its first statement (elsewhere,
    go on with the transaction in progress, or begin one)."""
    if _is_sqlite(db_session):
        db_session.connection(execution_options={"sqlite_immediate": True})


_GROUP_COMMIT = "group_commit"


def group_commit_of(db_session: Session) -> Batch | None:
    """The group committer of the session's engine: on SQLite only, where one writer at a time
    waits for each fsync (PostgreSQL commits in parallel, and needs none). None for a session
    opened outside an app (then each write commits alone)."""
    return db_session.info.get(_GROUP_COMMIT)


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
def autocommit(db_session: Session) -> Iterator[Statements]:
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


