"""Numbers as an analyst's plain SQL computes with them: a decimal field divides as a decimal,
whole numbers included, for rows received now and for rows stored before decimal columns were
floating point (migration 0004_decimals_as_reals); times with their offsets, for rows stored
before too (0005_times_with_offsets, then renormalising); thousands grouped one way in every kind;
renormalising rebuilds the same rows."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from click.testing import CliRunner

from server.database.models import ValueIssueRecord
from server.surfaces.cli import main
from tests.support.instances import instance, new_id
from tests.support.tables import rows, sql_names
from tests.support.xlsforms import xlsform

FORM_ID = "scores"
MIGRATION = importlib.import_module("server.database.migrations.versions.0004_decimals_as_reals")
TIMES_MIGRATION = importlib.import_module("server.database.migrations.versions.0005_times_with_offsets")


@pytest.fixture
def form(load):
    return load(xlsform("""
        | | type | name | label |
        | | decimal | score | Score |
        | | integer | people | People |
        | | time | met_at | Met at |
        | | geopoint | place | Place |
        | | begin_repeat | visit | Visit |
        | | decimal | hours | Hours |
        | | end_repeat | | |
    """, form_id=FORM_ID))


def send(phone, score: str, hours: str, people: str = "3") -> str:
    key = new_id()
    body = (f"<score>{score}</score><people>{people}</people><met_at>08:56:00.000+03:00</met_at>"
            "<place>33.3 44.4 82 5</place>"
            f"<visit><hours>{hours}</hours></visit>")
    reply = phone.submit(instance(FORM_ID, "1", body, instance_id=key))
    assert reply.status == 201, reply.body
    return key


def per_cent(session) -> list:
    """What an analyst's SQL computes, in the order the values were sent."""
    session.rollback()
    table, visits = sql_names(session, FORM_ID)[""], sql_names(session, FORM_ID)["/visit"]
    return [tuple(row) for row in session.execute(sa.text(
        f'SELECT f.score / 100, f.place_altitude / 100, v.hours / 100 FROM "{table}" f '
        f'JOIN "{visits}" v ON v._parent_key = f._key ORDER BY f._submission_id'))]


def test_a_whole_number_in_a_decimal_field_divides_as_a_decimal(form, phone, session):
    send(phone, "82", "3")
    send(phone, "90.25", "1.5")

    assert per_cent(session) == [pytest.approx((0.82, 0.82, 0.03)),
                                 pytest.approx((0.9025, 0.82, 0.015))]
    assert sorted(r["/score"] for r in rows(session, FORM_ID)) == [82.0, 90.25]
    assert all(type(r["/score"]) is float for r in rows(session, FORM_ID))


def run_migration(session, step) -> None:
    session.rollback()
    with session.get_bind().begin() as connection, Operations.context(
            MigrationContext.configure(connection, opts={
                "render_as_batch": connection.dialect.name == "sqlite"})):
        step()


def keys_and_indexes(session) -> dict:
    inspector = sa.inspect(session.get_bind())
    return {name: (inspector.get_pk_constraint(name)["constrained_columns"],
                   sorted((i["column_names"], bool(i["unique"]))
                          for i in inspector.get_indexes(name)),
                   sorted(u["column_names"] for u in inspector.get_unique_constraints(name)))
            for name in sql_names(session, FORM_ID).values()}


def test_the_migration_turns_rows_stored_before_into_decimals(form, phone, session):
    send(phone, "82", "3")
    send(phone, "90.25", "1.5")
    before = rows(session, FORM_ID)
    shape = keys_and_indexes(session)
    run_migration(session, MIGRATION.downgrade)  # as tables were: NUMERIC decimal columns
    if session.get_bind().dialect.name == "sqlite":
        assert per_cent(session)[0] == (0, 0, 0)  # 82 / 100 in integers: what analysts got
        table = sql_names(session, FORM_ID)[""]
        assert session.scalar(sa.text(f'SELECT typeof(score) FROM "{table}" '
                                      "ORDER BY _submission_id")) == "integer"

    run_migration(session, MIGRATION.upgrade)

    assert per_cent(session) == [pytest.approx((0.82, 0.82, 0.03)),
                                 pytest.approx((0.9025, 0.82, 0.015))]
    assert rows(session, FORM_ID) == before
    assert keys_and_indexes(session) == shape  # SQLite's rebuilt tables keep them
    columns = sa.inspect(session.get_bind()).get_columns(sql_names(session, FORM_ID)[""])
    assert {c["name"]: type(c["type"]).__name__ for c in columns}["score"] in (
        "DOUBLE", "DOUBLE_PRECISION")
    send(phone, "70", "2")  # the tables still take submissions
    assert per_cent(session)[2] == pytest.approx((0.7, 0.82, 0.02))


def test_thousands_are_grouped_one_way_and_a_stray_comma_is_a_value_issue(form, phone, session):
    send(phone, "1,250", "١٬٢٥٠", people="1,250")
    send(phone, "2,75", "3", people="1,2")

    first, second = sorted(rows(session, FORM_ID), key=lambda r: r["_submission_id"])
    (visit, _) = sorted(rows(session, FORM_ID, "/visit"), key=lambda r: r["_submission_id"])
    assert (first["/score"], first["/people"], visit["/visit/hours"]) == (1250.0, 1250, 1250.0)
    assert (second["/score"], second["/people"]) == (2.75, None)  # 1,2 is not 12
    session.rollback()
    assert [(i.path, i.raw) for i in session.scalars(sa.select(ValueIssueRecord))] == [
        ("/people", "1,2")]


def test_renormalise_rebuilds_the_same_numbers_and_times(form, phone, session, app,
                                                          monkeypatch):
    send(phone, "82", "3")
    send(phone, "71.80000305175781", "1.5")
    before = {key: rows(session, FORM_ID, key) for key in ("", "/visit")}
    assert {r["/met_at"].utcoffset().total_seconds() for r in before[""]} == {3 * 3600}

    monkeypatch.setenv("MUNTADA_DATA_DIR", app.config["DATA_DIR"])
    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(main, ["renormalise", FORM_ID], catch_exceptions=False)

    assert result.exit_code == 0 and "2 rebuilt\t0 failed" in result.stdout
    assert {key: rows(session, FORM_ID, key) for key in ("", "/visit")} == before
    assert per_cent(session) == [pytest.approx((0.82, 0.82, 0.03)),
                                 pytest.approx((0.7180000305175781, 0.82, 0.015))]


def renormalise(app, monkeypatch) -> str:
    monkeypatch.setenv("MUNTADA_DATA_DIR", app.config["DATA_DIR"])
    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(main, ["renormalise", FORM_ID], catch_exceptions=False)
    assert result.exit_code == 0, result.stdout
    return result.stdout


def test_times_stored_without_their_offset_get_it_back_from_the_raw_record(
        form, phone, session, app, monkeypatch):
    send(phone, "82", "3")
    table = sql_names(session, FORM_ID)[""]
    session.rollback()
    if session.get_bind().dialect.name == "postgresql":
        run_migration(session, TIMES_MIGRATION.downgrade)  # the column as it was: no offset
        run_migration(session, TIMES_MIGRATION.upgrade)
        (kind,) = session.execute(sa.text(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = :table AND column_name = 'met_at'"), {"table": table}).one()
        assert kind == "time with time zone"
    else:  # SQLite kept the clock alone, as text
        with session.get_bind().begin() as connection:
            connection.execute(sa.text(f'UPDATE "{table}" SET met_at = \'08:56:00.000000\''))
    session.rollback()
    (old,) = rows(session, FORM_ID)
    assert old["/met_at"].utcoffset() in (None, dt.timedelta(0))  # the offset sent is lost

    assert "1 rebuilt\t0 failed" in renormalise(app, monkeypatch)

    (rebuilt,) = rows(session, FORM_ID)
    assert rebuilt["/met_at"] == dt.time(8, 56, tzinfo=dt.timezone(dt.timedelta(hours=3)))
