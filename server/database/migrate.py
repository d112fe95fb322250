"""Schema changes through Alembic, run in-process: `muntada db upgrade` and every command that
opens the database call `upgrade`; a test checks that the migrations build exactly the models."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from server.database.models import Base

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.execution_options(sqlite_immediate=True).begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several workers may start at once: one migrates, the others wait for it.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7164420)")
        command.upgrade(_config(connection), revision)


def differences(engine: Engine) -> list:
    """What the models declare that the migrated database lacks (or the other way round)."""
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(
            connection, opts={"compare_type": True}), Base.metadata)


def revision(engine: Engine, message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
