"""Turning an answer's text into a typed value, the way an officer's phone may have written it.

Numbers typed on phones in Iraq often use Arabic-Indic (٠١٢٣) or Persian (۰۱۲۳) digits and the
Arabic decimal separator (٫): they are numbers all the same. A value that does not parse is never
dropped silently: `parse` raises, and the caller keeps the raw text and flags it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹٫٬", "01234567890123456789.,")
_TZ = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
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


def _integer(text: str) -> int:
    cleaned = ascii_digits(text).replace(",", "")
    value = int(cleaned)
    if abs(value) > _BIGINT:
        raise ValueError("out of range")
    return value


def _decimal(text: str) -> Decimal:
    cleaned = ascii_digits(text)
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")  # a decimal comma
    value = Decimal(cleaned.replace(",", ""))
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
    cleaned = ascii_digits(text)
    match = _TZ.search(cleaned)
    clock = time.fromisoformat(cleaned[:match.start()] if match else cleaned)
    if match and match.group(1) != "Z":
        # keep the wall-clock time the officer saw, without its offset (a time has no date)
        return clock
    return clock.replace(tzinfo=None)


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
