"""Schema changes go through Alembic; the migrations build exactly what the models declare."""

from __future__ import annotations

from server.database import migrate, per_request


def test_the_migrated_database_matches_the_models(app):
    assert migrate.differences(per_request.of(app).engine) == []


def test_upgrading_twice_is_harmless(app):
    migrate.upgrade(per_request.of(app).engine)
    assert migrate.differences(per_request.of(app).engine) == []


def test_the_head_upgrade_knows_is_the_newest_migration():
    """A database at `HEAD` is not migrated further: a migration added after it must move it."""
    from alembic.script import ScriptDirectory

    assert ScriptDirectory(str(migrate.MIGRATIONS)).get_heads() == [migrate.HEAD]


def test_a_migrated_database_is_at_the_head(app):
    assert migrate.current(per_request.of(app).engine) == {migrate.HEAD}
