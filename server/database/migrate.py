"""Schema changes through Alembic, run in-process: `muntada db upgrade` and every command that
opens the database call `upgrade`; a test checks that the migrations build exactly the models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect

from server.database.models import Base

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration (a test holds it to the migrations' head): a database already there is
# left alone without importing Alembic, which was a third of a short command's start.
HEAD = "0013_small_blobs_inline"


def _config(connection=None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    if revision == "head" and current(engine) == {HEAD}:
        return
    from alembic import command

    with engine.execution_options(sqlite_immediate=True).begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several workers may start at once: one migrates, the others wait for it.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7164420)")
        command.upgrade(_config(connection), revision)


def current(engine: Engine) -> set[str]:
    """The revisions the database is at (none before its first migration)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return set()
        return set(connection.exec_driver_sql(
            "SELECT version_num FROM alembic_version").scalars())


def differences(engine: Engine) -> list:
    """What the models declare that the migrated database lacks (or the other way round)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(
            connection, opts={"compare_type": True}), Base.metadata)


def revision(engine: Engine, message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    from alembic import command

    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
