"""The units of work callers ask of the database: one that reads, one that writes (committed at
the end, rolled back on an error), whichever database it is."""

from __future__ import annotations

import pytest

from server.database import per_request
from server.database.queries import accounts as account_queries
from server.services.accounts import create_user


def test_a_writing_unit_commits_when_it_ends(app):
    units = per_request.of(app)
    with units.writing() as session:
        create_user(session, "kept", "long enough password", "analyst")
    with units.reading() as session:
        assert account_queries.user_by_username(session, "kept") is not None


def test_a_writing_unit_that_fails_leaves_nothing(app):
    units = per_request.of(app)
    with pytest.raises(RuntimeError), units.writing() as session:
        create_user(session, "gone", "long enough password", "analyst")
        session.flush()
        raise RuntimeError("the work failed")
    with units.reading() as session:
        assert account_queries.user_by_username(session, "gone") is None


def test_a_reading_unit_keeps_nothing_it_did(app):
    units = per_request.of(app)
    with units.reading() as session:
        create_user(session, "never", "long enough password", "analyst")
        session.flush()
    with units.reading() as session:
        assert account_queries.user_by_username(session, "never") is None
