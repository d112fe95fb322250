"""SQLite's writers, one at a time, in turn, across every worker process.

A transaction that may write says so up front (BEGIN IMMEDIATE): in WAL mode a reader that
later tries to write fails at once ("database is locked") if another writer went first,
whatever the busy timeout. And writers wait on a lock file first, because SQLite's own busy
handler sleeps up to 100 ms between tries while the lock sits free: with the file lock the
next writer wakes the moment the last one commits, in every worker process.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from server.kernel import private


class WriterQueue:
    def __init__(self, lock_path: Path | None):
        self.lock_path = lock_path  # None for a database in memory: one process, no queue

    def begin(self, connection) -> None:
        """The engine's "begin" listener: a Connection opened with `sqlite_immediate` waits
        for its turn, which lasts until the connection goes back to the pool (`release_record`)
        after its COMMIT or ROLLBACK has run."""
        immediate = connection.get_execution_options().get("sqlite_immediate")
        if immediate:
            record = connection.connection._connection_record
            if "writer_lock" not in record.info:
                record.info["writer_lock"] = self._wait()
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    def release_record(self, record) -> None:
        """The pool's "checkin" listener."""
        self._release(record.info.pop("writer_lock", None) if record is not None else None)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """This process's turn to write, for a transaction run straight on the driver (see
        server.database.sqlite.group_commit), which begins and commits within it."""
        handle = self._wait()
        try:
            yield
        finally:
            self._release(handle)

    def _wait(self) -> BinaryIO | None:
        if self.lock_path is None:
            return None
        # made 0600 whatever the umask (see server.kernel.private), like the database beside it
        handle = os.fdopen(os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_APPEND,
                                   private.FILE_MODE), "a+b")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except BaseException:
            handle.close()
            raise
        return handle

    @staticmethod
    def _release(handle: BinaryIO | None) -> None:
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
