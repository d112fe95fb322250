"""On SQLite the new submissions of one worker's threads share a COMMIT (see server.database.sqlite.group_commit),
and none is acknowledged before that COMMIT, nor lost when another of its batch fails."""

from __future__ import annotations

import fcntl
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.database import per_request
from server.database.models import Submission
from tests.support.meeting import meeting, meeting_form
from tests.support.phone import Phone, flask_transport

PHONES = 6
DATABASES = ["sqlite"]  # the group commit is SQLite's: PostgreSQL commits in parallel


@pytest.fixture
def form(app, load):
    assert per_request.of(app).group_commit is not None
    return load(meeting_form())


@contextmanager
def writers_held(app):
    """Hold the write lock, as another worker process writing would, while threads queue up."""
    path = Path(app.config["DATABASE_URL"].split("///", 1)[-1]).with_suffix(".writers")
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def submit_together(app, phone: Phone, xmls: list[bytes], check=None) -> list[int]:
    """Each XML posted from its own thread while the write lock is held; let go once all wait
    on the group commit (the first leads, and takes everyone queued when its turn comes)."""
    committer = per_request.of(app).group_commit

    def post(xml: bytes) -> int:
        reply = Phone(flask_transport(app.test_client()), phone.server_url).submit(xml)
        if check is not None:
            check(reply, xml)
        return reply.status

    with ThreadPoolExecutor(len(xmls)) as pool:
        with writers_held(app):
            futures = [pool.submit(post, xml) for xml in xmls]
            deadline = time.monotonic() + 10
            while len(committer._queue) < len(xmls):
                assert time.monotonic() < deadline, "the threads never all reached the committer"
                time.sleep(0.01)
        return [future.result(timeout=30) for future in futures]


def test_threads_waiting_for_another_process_share_a_commit_and_are_stored_before_the_201(
        form, app, phone, session):
    assert phone.submit(meeting()).status == 201  # the token and the form's tables now known
    commits = []
    engine = per_request.of(app).engine

    def count_commits(dbapi_connection, _record, _proxy) -> None:
        # as SQLite itself is told: the group commit speaks to the driver, not through
        # SQLAlchemy's transactions
        dbapi_connection.set_trace_callback(
            lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None)

    sa.event.listen(engine.pool, "checkout", count_commits)
    path = app.config["DATABASE_URL"].split("///", 1)[-1]
    lock = threading.Lock()
    seen = []

    def visible_already(reply, xml: bytes) -> None:
        instance_id = xml.split(b"<instanceID>")[1].split(b"</instanceID>")[0].decode()
        with lock, sqlite3.connect(path) as fresh:  # not through the app's pool
            seen.append((reply.status, fresh.execute(
                "SELECT count(*) FROM submission_defs WHERE instance_id = ?",
                (instance_id,)).fetchone()[0]))

    try:
        statuses = submit_together(app, phone, [meeting() for _ in range(PHONES)],
                                   visible_already)
    finally:
        sa.event.remove(engine.pool, "checkout", count_commits)
        engine.dispose()  # no connection keeps the trace
    assert statuses == [201] * PHONES
    assert seen == [(201, 1)] * PHONES
    assert len(commits) == 1  # all queued while another process wrote: one commit
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == PHONES + 1


def test_an_item_refused_by_a_constraint_does_not_lose_the_rest_of_its_batch(
        form, app, phone, session):
    assert phone.submit(meeting()).status == 201
    twice = meeting()  # the same instance from two threads: one is refused, then retries
    xmls = [twice, twice] + [meeting() for _ in range(PHONES - 2)]
    committer = per_request.of(app).group_commit
    before = committer.batches

    assert submit_together(app, phone, xmls) == [201] * PHONES
    assert committer.batches - before == 1  # the refused item retried on its own
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == PHONES
    ids = {x.split(b"<instanceID>")[1].split(b"</instanceID>")[0].decode() for x in xmls}
    stored = set(session.scalars(sa.select(Submission.instance_id)))
    assert ids <= stored


def test_when_the_turn_cannot_be_had_every_queued_phone_gets_an_error_and_none_waits_forever(
        form, app, phone, session, monkeypatch):
    assert phone.submit(meeting()).status == 201
    committer = per_request.of(app).group_commit

    @contextmanager
    def broken_turn():
        deadline = time.monotonic() + 10
        while len(committer._queue) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)  # the others queue behind the leader meanwhile
        raise OSError("the lock file's disk is gone")
        yield

    monkeypatch.setattr(committer._writers, "turn", broken_turn)
    statuses: list[int] = []

    def post() -> None:
        statuses.append(Phone(flask_transport(app.test_client()), phone.server_url)
                        .submit(meeting()).status)

    # daemon threads: one left waiting for an answer fails the test instead of hanging it
    threads = [threading.Thread(target=post, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a phone was never answered"
    assert statuses == [500] * 3
    monkeypatch.undo()
    assert phone.submit(meeting()).status == 201  # the committer is not stuck
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 2
