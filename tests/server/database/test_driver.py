"""The submission path's statements straight on SQLite's driver (server.database.sqlite.driver) store and
read values exactly as SQLAlchemy does, and fail as SQLAlchemy would."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from server.database import make_engine
from server.database.sqlite.driver import Lane, Reader
from server.database.sqlite.writers import WriterQueue

metadata = sa.MetaData()
answers = sa.Table(
    "answers", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.Text, unique=True, nullable=False),
    sa.Column("count", sa.BigInteger), sa.Column("amount", sa.Numeric),
    sa.Column("day", sa.Date), sa.Column("moment", sa.DateTime(timezone=True)),
    sa.Column("clock", sa.Time), sa.Column("text", sa.Text), sa.Column("flag", sa.Boolean))
INSERT = sa.insert(answers).returning(answers.c.id)
SELECT = sa.select(answers.c.count, answers.c.amount, answers.c.day, answers.c.moment,
                   answers.c.clock, answers.c.text, answers.c.flag).where(
    answers.c.key == sa.bindparam("key"))

BAGHDAD = timezone(timedelta(hours=3))
ROW = {"count": 75, "amount": Decimal("1.5"), "day": date(2026, 11, 20),
       "moment": datetime(2026, 11, 20, 9, 0, 0, 125000, tzinfo=BAGHDAD),
       "clock": time(9, 30), "text": "مرحبا \"quoted\" '; DROP TABLE answers; --",
       "flag": True}


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'driver.sqlite'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def writers(tmp_path):
    return WriterQueue(tmp_path / "driver.writers")


def test_values_written_on_the_driver_read_back_as_sqlalchemy_writes_them(engine, writers):
    with Lane(engine) as lane, writers.turn(), lane.transaction():
        lane.run_item(lambda w: w.execute(INSERT, {"key": "lane", **ROW}))
        lane.run_item(lambda w: w.execute(INSERT, {"key": "lane-empty", "count": None}))
    with engine.begin() as connection:
        connection.execute(INSERT, {"key": "core", **ROW})
        raw = connection.execute(sa.text(
            "SELECT key, count, amount, day, moment, clock, text, flag FROM answers "
            "WHERE key IN ('lane', 'core') ORDER BY key")).all()
        by_core = connection.execute(SELECT, {"key": "lane"}).one()
        empty = connection.execute(SELECT, {"key": "lane-empty"}).one()
    assert raw[0][1:] == raw[1][1:]  # the same text in the file, value for value
    assert tuple(by_core) == (75, Decimal("1.5"), ROW["day"], ROW["moment"].replace(tzinfo=None),
                              ROW["clock"], ROW["text"], True)
    assert tuple(empty) == (None,) * 7

    reader = Reader(engine)
    try:
        assert reader.execute(SELECT, {"key": "lane"}).first() == by_core
        assert reader.execute(SELECT, {"key": "lane"}).first().flag is True
        assert reader.execute(SELECT, {"key": "nobody"}).first() is None
    finally:
        reader.close()


def test_a_refused_item_is_undone_alone_and_raises_sqlalchemys_integrity_error(
        engine, writers):
    def twice(lane):
        lane.execute(INSERT, {"key": "second-half"})
        lane.execute(INSERT, {"key": "first"})  # already there: the whole item goes

    with Lane(engine) as lane, writers.turn(), lane.transaction():
        first = lane.run_item(lambda w: w.execute(INSERT, {"key": "first"}).scalar_one())
        with pytest.raises(sa.exc.IntegrityError):
            lane.run_item(twice)
        lane.run_item(lambda w: w.execute(INSERT, [{"key": "third"}, {"key": "fourth"}]))
    with engine.connect() as connection:
        keys = connection.execute(sa.select(answers.c.key).order_by(answers.c.id)).scalars()
        assert list(keys) == ["first", "third", "fourth"]
    assert first == 1


def test_a_failed_block_rolls_the_whole_transaction_back(engine, writers):
    with pytest.raises(RuntimeError), Lane(engine) as lane, writers.turn(), \
            lane.transaction():
        lane.run_item(lambda w: w.execute(INSERT, {"key": "gone"}))
        raise RuntimeError("the worker stopped")
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(answers)).scalar() == 0
