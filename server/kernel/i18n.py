"""The interface in Arabic (the default), Kurdish (Sorani) and English.

Messages are written in English in templates and code (`_("Approve")`) and translated in
`server/kernel/translations/<code>/LC_MESSAGES/messages.po`, read with Babel at start (no compile
step; translators use their usual tools). Dates and numbers are formatted with Babel's locale data.
The reader's choice is kept in their account and in a cookie for the login page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_timedelta
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from markupsafe import Markup

TRANSLATIONS = Path(__file__).parent / "translations"
COOKIE = "muntada_lang"
# Supervisors read times as the clock on their wall shows them; stored times are UTC.
LOCAL_TIME = ZoneInfo("Asia/Baghdad")


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in its own script, as a reader looks for it
    direction: str
    babel_locale: str


LANGUAGES = {
    "ar": Language("ar", "العربية", "rtl", "ar_IQ"),
    "ckb": Language("ckb", "کوردی", "rtl", "ckb_IQ"),
    "en": Language("en", "English", "ltr", "en_GB"),
}
DEFAULT = "ar"


# Words that reach `_` through a variable (a role, a review state), so extraction cannot see them.
DYNAMIC_MESSAGES = (
    "administrator", "supervisor", "analyst", "governorate", "forum", "district", "month",
    "received", "edited", "hasIssues", "approved", "rejected",
    "queued", "running", "done", "failed", "expired", "withdrawn",  # export jobs
)
# The same words as an English reader reads them: the codes themselves are not English text.
ENGLISH = {
    "administrator": "Administrator", "supervisor": "Supervisor", "analyst": "Analyst",
    "governorate": "Governorate", "forum": "Forum", "district": "District", "month": "Month",
    "received": "Received", "edited": "Edited",
    "hasIssues": "Has issues", "approved": "Approved", "rejected": "Rejected",
    "queued": "Waiting", "running": "Being written", "done": "Ready", "failed": "Failed",
    "expired": "Deleted after 7 days",
    "withdrawn": "Deleted: your rights changed",
}


@cache
def catalogue(code: str) -> dict[str, str]:
    """Every .po file of a language merged (one per part of the interface)."""
    if code == "en":
        return ENGLISH
    messages: dict[str, str] = {}
    for path in sorted((TRANSLATIONS / code / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as file:
            messages.update({m.id: m.string for m in read_po(file) if m.id and m.string})
    return messages


# Who is reading is the pages' to know (their request); they tell the kernel how to ask.
def _nobody() -> str | None:
    return None


_reader_language: Callable[[], str | None] = _nobody


def read_language_with(lookup: Callable[[], str | None]) -> None:
    """How `current()` learns the reader's language code (None: the default)."""
    global _reader_language
    _reader_language = lookup


def current() -> Language:
    return LANGUAGES.get(_reader_language() or DEFAULT, LANGUAGES[DEFAULT])


def gettext(message: str, **values) -> str:
    text = catalogue(current().code).get(message, message)
    return text.format(**values) if values else text


_ = gettext


def datetime_text(moment: datetime | date | None, width: str = "medium") -> str:
    if moment is None:
        return ""
    locale = current().babel_locale
    if isinstance(moment, datetime):
        if moment.tzinfo is None:  # SQLite returns UTC without its zone
            moment = moment.replace(tzinfo=ZoneInfo("UTC"))
        return format_datetime(moment, width, tzinfo=LOCAL_TIME, locale=locale)
    return format_date(moment, width, locale=locale)


# Time units, with their Sorani words: Babel's Sorani has only the units' symbols ("3 h");
# a Sorani noun stays singular after a number.
_UNITS = (("year", 365 * 86400, "ساڵ"), ("month", 30 * 86400, "مانگ"),
                 ("week", 7 * 86400, "هەفتە"), ("day", 86400, "ڕۆژ"),
                 ("hour", 3600, "کاتژمێر"), ("minute", 60, "خولەک"), ("second", 1, "چرکە"))


def ago_text(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago `moment` was, in the reader's words ("3 hours ago"); "" for None."""
    if moment is None:
        return ""
    if moment.tzinfo is None:  # SQLite returns UTC without its zone
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    seconds = max(0.0, ((now or datetime.now(ZoneInfo("UTC"))) - moment).total_seconds())
    if seconds < 60:
        return gettext("less than a minute ago")
    # the largest unit that fits, counted down (Babel would round 59 minutes up to an hour)
    _unit, size, word = next(u for u in _UNITS if seconds >= u[1])
    count = int(seconds // size)
    language = current()
    if language.code == "ckb":
        return f"{number_text(count)} {word} لەمەوبەر"
    return format_timedelta(-count * size, threshold=1, add_direction=True,
                            locale=language.babel_locale)


def number_text(value) -> str:
    return "" if value is None else format_decimal(value, locale=current().babel_locale)


def count_text(value) -> str:
    """A count as a page shows it: a number, or a suppressed one ("<5", "12+") kept left to
    right with the reader's digits."""
    if not isinstance(value, str):
        return number_text(value)
    text = re.sub(r"\d+", lambda m: number_text(int(m.group())), value)
    return Markup('<bdi dir="ltr" class="suppressed" title="{}">{}</bdi>').format(
        gettext("Counts under 5 are not shown, to protect the people of sensitive cases."), text)


def bidi(text: str) -> Markup:
    """Text of unknown direction (a name, an answer) isolated from the page's own."""
    return Markup('<bdi>{}</bdi>').format(text)
