"""Answers typed on phones in Iraq, read as the values they mean."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sync.values import ValueProblem, geopoint, parse


@pytest.mark.parametrize("text, value", [
    ("75", 75), ("٧٥", 75), ("۷۵", 75), ("-3", -3), (" 12 ", 12), ("1,250", 1250),
])
def test_integers_in_every_digit_system(text, value):
    assert parse("integer", text) == value


@pytest.mark.parametrize("text, value", [
    ("1.5", Decimal("1.5")), ("١٫٥", Decimal("1.5")), ("2,75", Decimal("2.75")),
    ("-0.001", Decimal("-0.001")),
])
def test_decimals_with_arabic_separators(text, value):
    assert parse("decimal", text) == value


@pytest.mark.parametrize("kind, text", [
    ("integer", "abc"), ("integer", "1.5"), ("integer", "9" * 30), ("decimal", "NaN"),
    ("decimal", "Infinity"), ("date", "2026-13-01"), ("datetime", "yesterday"), ("time", "25:00"),
])
def test_what_does_not_parse_is_a_problem_not_a_guess(kind, text):
    with pytest.raises(ValueProblem):
        parse(kind, text)


def test_dates_times_and_datetimes_as_odk_writes_them():
    assert parse("date", "2026-11-29") == dt.date(2026, 11, 29)
    assert parse("date", "٢٠٢٦-١١-٢٩") == dt.date(2026, 11, 29)
    stamp = parse("datetime", "2026-11-29T10:15:00.000+03:00")
    assert stamp == dt.datetime(2026, 11, 29, 7, 15, tzinfo=dt.UTC)
    assert parse("datetime", "2026-11-29T10:15:00.000+0300") == stamp
    baghdad = dt.timezone(dt.timedelta(hours=3))
    assert parse("time", "10:15:00.000+03:00") == dt.time(10, 15, tzinfo=baghdad)


@pytest.mark.parametrize("text, offset", [
    ("08:56:00.000Z", dt.timedelta(0)), ("08:56:00.000+03:00", dt.timedelta(hours=3)),
    ("08:56:00.000+0330", dt.timedelta(hours=3, minutes=30)),
    ("08:56:00.000-04:30", -dt.timedelta(hours=4, minutes=30)),
    ("٠٨:٥٦:٠٠٫٠٠٠+٠٣:٠٠", dt.timedelta(hours=3)),
    ("08:56:00", dt.timedelta(0)),  # no offset: UTC, as for a date-time
])
def test_a_time_keeps_its_wall_clock_and_the_offset_sent(text, offset):
    value = parse("time", text)
    assert (value.hour, value.minute, value.second) == (8, 56, 0)
    assert value.utcoffset() == offset


@pytest.mark.parametrize("text, value", [
    ("1,250", 1250), ("12,500,000", 12500000), ("-1,250", -1250), ("١٬٢٥٠", 1250),
    ("۱٬۲۵۰", 1250),
])
def test_thousands_are_grouped_the_same_in_integers_and_decimals(text, value):
    assert parse("integer", text) == value
    assert parse("decimal", text) == Decimal(value)


@pytest.mark.parametrize("text", ["1,2", "12,50", "1,2500", "12,50,000", ",250", "1,,250",
                                  "1_000", "1,250,5"])
def test_digits_grouped_otherwise_are_no_integer(text):
    with pytest.raises(ValueProblem):
        parse("integer", text)


@pytest.mark.parametrize("text, value", [
    ("1,250.5", Decimal("1250.5")), ("١٬٢٥٠٫٥", Decimal("1250.5")), ("2,75", Decimal("2.75")),
])
def test_decimals_group_thousands_and_take_a_lone_decimal_comma(text, value):
    assert parse("decimal", text) == value


@pytest.mark.parametrize("text", ["1,250,5", "1.250,5", "12,50,000", "1_000.5"])
def test_a_decimal_grouped_otherwise_is_a_problem(text):
    with pytest.raises(ValueProblem):
        parse("decimal", text)


def test_text_is_kept_exactly():
    assert parse("text", "  مرحبا  ") == "  مرحبا  "


def test_a_geopoint_is_four_numbers_on_the_earth():
    assert geopoint("33.3152 44.3661 34.0 5.0") == (
        Decimal("33.3152"), Decimal("44.3661"), Decimal("34.0"), Decimal("5.0"))
    assert geopoint("36.19 44.01") == (Decimal("36.19"), Decimal("44.01"), None, None)
    for bad in ("91 44", "33", "north east", "1 2 3 4 5"):
        with pytest.raises(ValueProblem):
            geopoint(bad)
