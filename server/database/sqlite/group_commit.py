"""Group commit on SQLite: the new submissions of a worker's threads written in one transaction.

SQLite has one writer at a time, and each commit waits for an fsync (`synchronous=FULL`): one
transaction per submission caps a database near 500 a second whatever the CPU. Here a thread
hands its writes (a function of a `Lane`) to the engine's `GroupCommit`; one thread leads,
waits for its process's turn to write, takes every item queued by then, runs each in its own
SAVEPOINT, and commits them all at once.
Nothing is weakened: no thread returns before the COMMIT holding its rows has succeeded, and
if that COMMIT fails every item of the batch gets the error, as it would have alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from server.database.sqlite.driver import Lane
from server.database.sqlite.writers import WriterQueue


class _Ticket:
    def __init__(self, work: Callable[[Lane], Any]):
        self.work = work
        self.done = threading.Event()
        self.lead = False  # woken to lead the next batch, not with a result
        self.value: Any = None
        self.error: BaseException | None = None


class GroupCommit:
    """Writers of one worker process, batched. Threads wait on their own ticket; the leader
    hands over to the oldest waiting thread when its batch is committed, so no thread serves
    batch after batch while its own phone waits."""

    def __init__(self, engine: Engine, writers: WriterQueue):
        self._engine = engine
        self._writers = writers
        self._mutex = threading.Lock()
        self._queue: list[_Ticket] = []
        self._leading = False
        self.batches = 0  # committed transactions, for tests and curiosity

    def run(self, work: Callable[[Lane], Any]) -> Any:
        """`work(lane)` committed durably, or its exception (or the COMMIT's) raised.
        Its writes are undone alone if it raises: the other items of its batch are kept."""
        ticket = _Ticket(work)
        with self._mutex:
            self._queue.append(ticket)
            ticket.lead = not self._leading
            self._leading = True
        if not ticket.lead:
            ticket.done.wait()
        if ticket.lead:  # first in, or handed the lead while waiting
            self._lead()
        if ticket.error is not None:
            raise ticket.error
        return ticket.value

    def _lead(self) -> None:
        batch: list[_Ticket] = []
        try:
            # The turn is let go only once COMMIT has returned, its fsync done: a writer let in
            # earlier would find SQLite still locked and sleep in SQLite's busy handler.
            with Lane(self._engine) as lane, self._writers.turn():
                # The batch is taken once the turn has come, not before: what this process's
                # threads queued while other processes committed joins it. The turn is what
                # every process waits for, so the more each commit carries, the more pass.
                batch = self._take()
                with lane.transaction():
                    for ticket in batch:
                        try:
                            ticket.value = lane.run_item(ticket.work)
                        except Exception as error:  # noqa: BLE001 (given to its own thread)
                            ticket.error = error
            self.batches += 1
        except BaseException as error:
            # The COMMIT, BEGIN or the turn itself failed: nothing was stored. If the batch was
            # not taken yet, whoever waits gets the error, as the leader does.
            batch = batch or self._take()
            for ticket in batch:
                if ticket.error is None:
                    ticket.value, ticket.error = None, error
        finally:
            with self._mutex:
                if self._queue:  # arrived during this batch: the oldest leads the next one
                    self._queue[0].lead = True
                    self._queue[0].done.set()
                else:
                    self._leading = False
            for ticket in batch:
                ticket.lead = False
                ticket.done.set()

    def _take(self) -> list[_Ticket]:
        with self._mutex:
            batch, self._queue = self._queue, []
        return batch
