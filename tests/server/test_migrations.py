"""Schema changes go through Alembic; the migrations build exactly what the models declare."""

from __future__ import annotations

from server.database import migrate


def test_the_migrated_database_matches_the_models(app):
    assert migrate.differences(app.extensions["engine"]) == []


def test_upgrading_twice_is_harmless(app):
    migrate.upgrade(app.extensions["engine"])
    assert migrate.differences(app.extensions["engine"]) == []
