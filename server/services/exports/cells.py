"""From a row of the relational tables to the cells of an export: typed, cleaned, labelled in the
reader's language, personal values pseudonymised. One function per column is made once per
export (none where values go out as they come), so a row costs a list comprehension.

Targets: "excel" gets typed cells (numbers, dates and times as such; datetimes in UTC and times
as their wall clock, without the zone Excel cannot store; over-long texts cut); "csv" gets text
(ISO 8601: date-times in UTC with a Z, times with the offset sent, decimals with every digit);
"json" gets numbers as numbers and moments as ISO 8601 text. Spreadsheet targets have formulas
neutralised; JSON keeps every text as it is (after cleaning).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from server.services.exports.cleaning import (
    FORMULA_START,
    MAX_CELL,
    Pseudonyms,
    clean_text,
    cut,
    neutralise,
    phone_number,
)
from server.services.exports.layout import Column, Layout, Table, label

Cell = Callable[[Any], Any]


@dataclass(frozen=True)
class Choices:
    """How the reader wants their export worded."""

    language: str | None = None  # a language code: ar, ckb, en
    labels: bool = False  # choice labels instead of stored values
    header_labels: bool = False  # columns headed by their labels instead of their names
    reveal_personal: bool = False


TARGETS = ("csv", "excel", "json")


def row_maker(layout: Layout, table: Table, options: Choices, pseudonyms: Pseudonyms,
              target: str) -> Callable[[Sequence], list]:
    """A function from a row (the table's `sources`, in order) to its cells for `target`."""
    if target not in TARGETS:
        raise ValueError(target)
    index = {name: position for position, name in enumerate(table.sources)}
    plan = [(index[c.source], _cell(layout, c, options, pseudonyms, target))
            for c in table.columns]

    # A column whose values go out as they come (None) costs no call: this runs per cell.
    def make(row: Sequence) -> list:
        return [row[position] if convert is None else convert(row[position])
                for position, convert in plan]
    return make


def _cell(layout: Layout, column: Column, options: Choices, pseudonyms: Pseudonyms,
          target: str) -> Cell | None:
    if column.choice is not None:
        name = column.choice.name
        return lambda value: None if value is None else int(name in value.split())
    hide = column.personal and not options.reveal_personal
    if hide and column.withheld:
        return _withheld
    if hide and column.coarse is not None:
        return _coarse_cell(column, target)
    if column.kind == "text" or hide:
        return _text_cell(layout, column, options, pseudonyms if hide else None, target)
    if column.kind == "datetime":
        return _datetime_value if target == "excel" else datetime_text
    if column.kind == "decimal":
        return _decimal_text if target == "csv" else _decimal_value
    if column.kind == "time":
        return _clock if target == "excel" else time_text
    if column.kind == "date":
        return None if target == "excel" else _iso
    return None  # integers


def _withheld(_value) -> None:
    return None


def _coarse_cell(column: Column, target: str) -> Cell:
    """A latitude or longitude for a reader who may not see the exact point: the point the form
    gives the submission's place (its district), read from the place's column."""
    index = 0 if column.part == "latitude" else 1
    points = {name: point[index] for name, point in column.coarse.items()}
    if target == "csv":
        return lambda place: None if place not in points else _decimal_text(points[place])
    return points.get


def _text_cell(layout: Layout, column: Column, options: Choices, pseudonym: Pseudonyms | None,
               target: str) -> Cell:
    labels = None
    if options.labels and pseudonym is None and (column.select_one or column.select_multiple):
        found = layout.choice_labels.get(column.field.path, {})
        labels = {name: label(texts, options.language, name) for name, texts in found.items()}
    phone, multiple = column.phone, column.select_multiple
    excel, spreadsheet = target == "excel", target != "json"
    if not phone and pseudonym is None and labels is None:
        return _plain_text_cell(excel, spreadsheet)

    def convert(value):
        if value is None:
            return None
        text = clean_text(value if value.__class__ is str else _as_text(value))
        if text == "":
            return None
        if phone:
            text = phone_number(text)
        if pseudonym is not None:
            return pseudonym(text)
        if labels is not None:
            text = "; ".join(labels.get(v, v) for v in text.split()) if multiple \
                else labels.get(text, text)
        if excel:
            text = cut(text)
        return neutralise(text) if spreadsheet else text
    return convert


def _plain_text_cell(excel: bool, spreadsheet: bool) -> Cell:
    """Most text columns: cleaned, cut and neutralised only where a value needs it, with no
    call for what most values (short, starting with a letter) do not need."""
    def convert(value):
        if value is None:
            return None
        text = clean_text(value if value.__class__ is str else _as_text(value))
        if text == "":
            return None
        if excel and len(text) > MAX_CELL:
            text = cut(text)
        if spreadsheet and text.startswith(FORMULA_START):
            text = neutralise(text)
        return text
    return convert


def _as_text(value) -> str:
    """A personal number: the same text on every database."""
    return _decimal_text(value) if isinstance(value, Decimal | float) else str(value)


def _iso(value: date | None):
    return None if value is None else value.isoformat()


def time_text(value: time | None):
    """08:56:00.000+03:00, with the offset the phone sent (Z for UTC), as Central writes it."""
    if value is None:
        return None
    text = value.replace(tzinfo=None).isoformat(timespec="milliseconds")
    offset = value.utcoffset()
    if offset is None:
        return text  # a PostgreSQL table made before times kept their offset
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    return f"{text}{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _clock(value: time | None):
    """Excel stores no offsets: the wall clock the officer saw."""
    return None if value is None else value.replace(tzinfo=None)


# SQLite hands moments back in UTC without a zone; PostgreSQL in the session's zone.
def datetime_text(value: datetime | None):
    if value is None:
        return None
    if value.tzinfo is None:
        return value.isoformat(timespec="milliseconds") + "Z"
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _datetime_value(value: datetime | None):
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _decimal_text(value):
    """The shortest text that reads back as the same number (71.80000305175781: every digit
    the double holds, none invented), without an exponent or a trailing `.0`."""
    if value is None:
        return None
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    return str(value)


def _decimal_value(value):
    if value is None or isinstance(value, int):
        return value
    return float(value)


def headers(table: Table, options: Choices) -> list[str]:
    """The table's headings, never two alike: labels often repeat ("Please specify" after each
    "Other"), so a repeated one is told apart by its column's name."""
    texts = [header(c, options) for c in table.columns]
    repeated = {t for t, n in Counter(texts).items() if n > 1}
    texts = [f"{t} ({neutralise(c.header)})" if t in repeated else t
             for t, c in zip(texts, table.columns, strict=True)]
    taken: set[str] = set()
    unique = []
    for text in texts:
        candidate, number = text, 1
        while candidate in taken:
            number += 1
            candidate = f"{text} ~{number}"
        taken.add(candidate)
        unique.append(candidate)
    return unique


def header(column: Column, options: Choices) -> str:
    """A column's heading: its name, or its label in the reader's language."""
    if not options.header_labels or column.field is None:
        return neutralise(column.header)
    # "Police / Women": the same label often appears in several groups
    text = " / ".join(label(f.labels, options.language, f.name)
                      for f in (*column.groups, column.field))
    if column.part:
        text = f"{text} ({column.part})"
    elif column.choice is not None:
        text = f"{text}: {label(column.choice.labels, options.language, column.choice.name)}"
    return neutralise(cut(clean_text(text)))
