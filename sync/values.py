"""Turning an answer's text into a typed value, the way an officer's phone may have written it.

Numbers typed on phones in Iraq often use Arabic-Indic (٠١٢٣) or Persian (۰۱۲۳) digits and the
Arabic decimal separator (٫): they are numbers all the same. A value that does not parse is never
dropped silently: `parse` raises, and the caller keeps the raw text and flags it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹٫٬", "01234567890123456789.,")
_TZ = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
# The widest SQL integer; a larger "integer" is kept as raw text and flagged.
_BIGINT = 2 ** 63 - 1


class ValueProblem(ValueError):
    """The text is not a value of the field's type."""


def ascii_digits(text: str) -> str:
    return text.translate(_DIGITS)


def parse(kind: str, text: str) -> Any:
    """The typed value of `text` for a column kind (see `sync.tables.COLUMN_KINDS`)."""
    if kind != "text":  # text is kept exactly as typed; cleaning belongs to exports
        text = text.strip()
    try:
        return _PARSERS[kind](text)
    except (ValueError, InvalidOperation, OverflowError) as error:
        raise ValueProblem(f"'{text[:80]}' is not a valid {kind}") from error


def _ungrouped(text: str) -> str | None:
    """`1,250` → `1250`: a comma (or the Arabic ٬) groups thousands only as thousands are
    grouped, the same in every kind; anything else with a comma is None (not a number)."""
    if "," not in text:
        return text
    return text.replace(",", "") if _GROUPED.fullmatch(text) else None


def _integer(text: str) -> int:
    cleaned = _ungrouped(ascii_digits(text))
    if cleaned is None or "_" in cleaned:  # Python's int() would read 1_000
        raise ValueError("not digits")
    value = int(cleaned)
    if abs(value) > _BIGINT:
        raise ValueError("out of range")
    return value


def _decimal(text: str) -> Decimal:
    cleaned = ascii_digits(text)
    ungrouped = _ungrouped(cleaned)
    if ungrouped is None and cleaned.count(",") == 1 and "." not in cleaned:
        ungrouped = cleaned.replace(",", ".")  # a decimal comma: 2,75 (never 1,250)
    if ungrouped is None or "_" in ungrouped:
        raise ValueError("not a number")
    value = Decimal(ungrouped)
    if not value.is_finite():
        raise ValueError("not a finite number")
    return value


def _date(text: str) -> date:
    return date.fromisoformat(ascii_digits(text)[:10])


def _datetime(text: str) -> datetime:
    """ODK writes 2026-11-29T10:15:00.000+03:00; stored as UTC."""
    cleaned = ascii_digits(text)
    if _TZ.search(cleaned) and re.search(r"[+-]\d{4}$", cleaned):
        cleaned = cleaned[:-2] + ":" + cleaned[-2:]
    value = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _time(text: str) -> time:
    """ODK writes 08:56:00.000+03:00: the wall clock the officer saw, with its offset, both
    kept (a time has no date to move to UTC with); without an offset, UTC, as for date-times."""
    cleaned = ascii_digits(text)
    match = _TZ.search(cleaned)
    clock = time.fromisoformat(cleaned[:match.start()] if match else cleaned)
    if clock.tzinfo is not None:
        raise ValueError("an offset in the wrong place")
    if not match or match.group(1) == "Z":
        return clock.replace(tzinfo=UTC)
    sign, digits = match.group(1)[0], match.group(1)[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return clock.replace(tzinfo=timezone(-offset if sign == "-" else offset))


def _text(text: str) -> str:
    return text


_PARSERS = {
    "integer": _integer,
    "decimal": _decimal,
    "date": _date,
    "datetime": _datetime,
    "time": _time,
    "text": _text,
}


def geopoint(text: str) -> tuple[Decimal, Decimal, Decimal | None, Decimal | None]:
    """'lat lon [alt [accuracy]]' → four numbers, checked to be on the Earth."""
    parts = ascii_digits(text).split()
    if not 2 <= len(parts) <= 4:
        raise ValueProblem(f"'{text[:80]}' is not a geopoint (latitude longitude altitude "
                           "accuracy)")
    try:
        numbers = [Decimal(p) for p in parts]
    except InvalidOperation as error:
        raise ValueProblem(f"'{text[:80]}' is not a geopoint") from error
    latitude, longitude = numbers[0], numbers[1]
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueProblem(f"'{text[:80]}' is outside the Earth's coordinates")
    numbers += [None] * (4 - len(numbers))
    return numbers[0], numbers[1], numbers[2], numbers[3]
