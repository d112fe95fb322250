"""PostgreSQL restarted under a running server (maintenance, a crash): the pooled connections
are dead. A phone's next submission must not be lost to it, nor answered with a stack trace."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.database import make_engine, per_request
from server.database.models import Submission
from tests.support.meeting import meeting, meeting_form

DATABASES = ["postgresql"]  # SQLite has no server to restart


@pytest.fixture
def form(load):
    return load(meeting_form())


def end_every_connection_of_the_app(app, session) -> int:
    """What a restart does to the app's pool: every server process behind it ends (the test's
    own session too: it is one of the app's connections)."""
    session.close()
    url = per_request.of(app).engine.url
    outside = make_engine(url.render_as_string(hide_password=False))
    try:
        with outside.connect() as connection:
            return connection.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :database AND pid <> pg_backend_pid()"),
                {"database": url.database}).scalar()
    finally:
        outside.dispose()


def test_a_submission_after_the_database_restarted_is_stored(form, phone, app, session):
    assert phone.submit(meeting()).status == 201  # the pool now holds live connections
    assert end_every_connection_of_the_app(app, session) >= 1

    # its first read finds the connection dead, and reads again on a new one
    replies = [phone.submit(meeting()) for _ in range(2)]

    assert [reply.status for reply in replies] == [201, 201]
    assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 3


def test_a_request_after_the_database_restarted_is_told_so_and_the_next_one_works(
        form, admin, app, session):
    assert admin.get("/api/v1/forms").status_code == 200
    assert end_every_connection_of_the_app(app, session) >= 1

    lost = admin.get("/api/v1/forms")
    assert lost.status_code == 503 and lost.headers["Retry-After"] == "5"
    assert lost.get_json()["code"] == "503.1"
    assert "psycopg" not in lost.get_data(as_text=True)
    assert admin.get("/api/v1/forms").status_code == 200
