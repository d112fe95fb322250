"""Schema changes go through Alembic; the migrations build exactly what the models declare."""

from __future__ import annotations

from server import database as server_database
from server.database import migrate


def test_the_migrated_database_matches_the_models(app):
    assert migrate.differences(server_database.of(app).engine) == []


def test_upgrading_twice_is_harmless(app):
    migrate.upgrade(server_database.of(app).engine)
    assert migrate.differences(server_database.of(app).engine) == []
