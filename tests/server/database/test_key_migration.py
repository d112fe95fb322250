"""Migration 0011: keys of encrypted forms. What a database held before keeps its meaning: no
user becomes a key holder, no form version becomes encrypted; going back drops only the keys."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy import text

from server.database import make_engine, migrate
from tests.server.database.test_no_digest_for_web_users import empty_database  # noqa: F401


def columns(connection, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(connection).get_columns(table)}


def test_users_and_form_versions_from_before_keys_hold_none(empty_database):  # noqa: F811
    engine = make_engine(empty_database)
    try:
        migrate.upgrade(engine, "0010_field_offices")
        with engine.begin() as connection:  # what version 0010 wrote
            connection.execute(text(
                "INSERT INTO users (username, role, password_hash, personal_data, "
                "session_epoch, created_at) VALUES ('nadia', 'supervisor', 'argon2', true, 0, "
                "CURRENT_TIMESTAMP)"))
            connection.execute(text(
                "INSERT INTO forms (xml_form_id, state, created_at, projection_revision) "
                "VALUES ('incident_referral', 'open', CURRENT_TIMESTAMP, '')"))
            connection.execute(text(
                "INSERT INTO form_versions (form_id, version, title, xform, xform_md5, "
                "xform_sha256, source_type, published_at) SELECT id, '1', 'Referral', :xform, "
                "'md5', 'sha', 'xform', CURRENT_TIMESTAMP FROM forms"), {"xform": b"<h:html/>"})

        migrate.upgrade(engine)

        with engine.connect() as connection:
            assert connection.execute(text(
                "SELECT username, key_holder, personal_data FROM users")).one() == \
                ("nadia", False, True)
            assert connection.scalar(text("SELECT encryption_key_id FROM form_versions")) is None
            assert connection.scalar(text("SELECT count(*) FROM encryption_keys")) == 0
        assert migrate.differences(engine) == []

        with engine.begin() as connection:
            command.downgrade(migrate._config(connection), "0010_field_offices")
        with engine.connect() as connection:
            assert "encryption_keys" not in sa.inspect(connection).get_table_names()
            assert "key_holder" not in columns(connection, "users")
            assert "encryption_key_id" not in columns(connection, "form_versions")
            assert connection.scalar(text("SELECT username FROM users")) == "nadia"
        migrate.upgrade(engine)
        assert migrate.differences(engine) == []
    finally:
        engine.dispose()
