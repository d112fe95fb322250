"""A copied database holds no fast hash of a web user's password: no MD5 Digest HA1 beside the
Argon2id hash, neither for users made now nor, after migration 0007, for users made before.
App users who sign in by Digest (Collect on plain HTTP) keep theirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import make_url, text

from server.database import make_engine, migrate, per_request
from server.services.accounts import create_app_user, create_user, digest_ha1, set_password

WEB_PASSWORD = "a web user's password"
PHONE_PASSWORD = "an officer's password"


def every_value(connection) -> str:
    """Every row of every table as text, as a copy of the database would show them."""
    found = []
    for table in sa.inspect(connection).get_table_names():
        for row in connection.execute(text(f'SELECT * FROM "{table}"')):
            found.append(" ".join(map(str, row)))
    return "\n".join(found)


def file_bytes(url: str) -> bytes:
    """The SQLite database's files as a copy would take them: the file, its -wal and -shm."""
    path = Path(make_url(url).database)
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
                    if p.exists())


def users_columns(connection) -> set[str]:
    return {c["name"] for c in sa.inspect(connection).get_columns("users")}


def test_a_copied_database_holds_no_digest_hash_of_a_web_user(app, session, database):
    user = create_user(session, "layla", WEB_PASSWORD, "analyst")
    session.commit()
    set_password(user, WEB_PASSWORD + " changed")
    create_app_user(session, "officer", password=PHONE_PASSWORD)
    session.commit()

    web = {digest_ha1("layla", p) for p in (WEB_PASSWORD, WEB_PASSWORD + " changed")}
    phone = digest_ha1("officer", PHONE_PASSWORD)
    with per_request.of(app).engine.connect() as connection:
        assert "digest_ha1" not in users_columns(connection)
        values = every_value(connection)
    assert phone in values  # the check sees an HA1 where there is one
    assert not any(ha1 in values for ha1 in web)
    if database.startswith("sqlite"):
        copied = file_bytes(database)
        assert phone.encode() in copied
        assert not any(ha1.encode() in copied for ha1 in web)


@pytest.fixture
def empty_database(database, tmp_path):
    """A database of the test's kind with no tables at all, to migrate step by step."""
    if database.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'old.sqlite'}"
        return
    server_url = make_url(database)
    name = f"muntada_migrate_{os.getpid()}"
    admin = make_engine(server_url.render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    yield server_url.set(database=name).render_as_string(hide_password=False)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_migrating_forgets_the_web_users_digest_hashes(empty_database):
    engine = make_engine(empty_database)
    try:
        migrate.upgrade(engine, "0003")
        web = digest_ha1("layla", WEB_PASSWORD)
        phone = digest_ha1("officer", PHONE_PASSWORD)
        with engine.begin() as connection:  # what version 0003 wrote
            connection.execute(text(
                "INSERT INTO users (username, role, password_hash, digest_ha1, personal_data, "
                "session_epoch, created_at) VALUES ('layla', 'analyst', 'argon2', :ha1, false, 0, "
                "CURRENT_TIMESTAMP)"), {"ha1": web})
            connection.execute(text(
                "INSERT INTO app_users (name, token, password_hash, digest_ha1, all_forms, "
                "created_at) VALUES ('officer', 't', 'argon2', :ha1, true, CURRENT_TIMESTAMP)"),
                {"ha1": phone})

        migrate.upgrade(engine)

        with engine.connect() as connection:
            assert "digest_ha1" not in users_columns(connection)
            values = every_value(connection)
            assert "layla" in values and web not in values
            assert connection.scalar(text("SELECT digest_ha1 FROM app_users")) == phone
        if engine.dialect.name == "sqlite":
            engine.dispose()  # its last connection closes: SQLite folds the -wal in
            copied = file_bytes(empty_database)
            assert b"layla" in copied and phone.encode() in copied
            assert web.encode() not in copied
    finally:
        engine.dispose()


def test_downgrading_gives_web_users_an_empty_digest_column(empty_database):
    engine = make_engine(empty_database)
    try:
        migrate.upgrade(engine)
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO users (username, role, password_hash, personal_data, "
                "session_epoch, created_at) VALUES ('layla', 'analyst', 'argon2', false, 0, "
                "CURRENT_TIMESTAMP)"))
        with engine.begin() as connection:
            command.downgrade(migrate._config(connection), "0003")
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT digest_ha1 FROM users")) == ""
        migrate.upgrade(engine)
        assert migrate.differences(engine) == []
    finally:
        engine.dispose()
