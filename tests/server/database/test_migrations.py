"""Schema changes go through Alembic; the migrations build exactly what the models declare."""

from __future__ import annotations

from server.database import migrate, per_request


def test_the_migrated_database_matches_the_models(app):
    assert migrate.differences(per_request.of(app).engine) == []


def test_upgrading_twice_is_harmless(app):
    migrate.upgrade(per_request.of(app).engine)
    assert migrate.differences(per_request.of(app).engine) == []
