"""The cleaning an analyst would otherwise do by hand, and what keeps a spreadsheet safe to open.

Pure functions, applied to every exported value and described in the codebook: text normalised
and trimmed, phone numbers in one international form, personal values replaced by a keyed
pseudonym, and anything a spreadsheet could read as a formula neutralised.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from sync.values import ascii_digits

# Direction marks and embeddings typed or pasted on phones: invisible, they break equality and
# can disguise a value in a spreadsheet. The zero-width non-joiner stays: Kurdish spells with it.
_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                                        "\u2066\u2067\u2068\u2069\ufeff"))
# Control characters no spreadsheet cell may hold (tab, new line and carriage return stay).
_INVISIBLE.update(dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32), 127]))
# str.translate looks every character up: searching first is many times faster on the usual
# text that holds none of them.
_HAS_INVISIBLE = re.compile("[" + "".join(re.escape(chr(c)) for c in _INVISIBLE) + "]")
_PHONE_NAME = re.compile(r"(^|_)(phone|mobile|telephone|tel)(_|$)", re.IGNORECASE)
_PHONE_NOISE = re.compile(r"[\s\-().\u00a0/]")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
# What Excel, LibreOffice and Google Sheets take as the start of a formula or command.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
MAX_CELL = 32767  # Excel's limit of characters in one cell
CUT_MARK = " …[cut]"
IRAQ = "964"


def clean_text(text: str) -> str:
    """Unicode NFC, without direction marks, without surrounding white space."""
    if not text.isascii():  # ASCII is NFC already
        text = unicodedata.normalize("NFC", text)
    if not text.isprintable() and _HAS_INVISIBLE.search(text):  # printable: none to remove
        text = text.translate(_INVISIBLE)
    return text.strip()


def is_phone_field(name: str) -> bool:
    return bool(_PHONE_NAME.search(name))


def phone_number(text: str) -> str:
    """An Iraqi number as +964…, any number with its country code as +…; what cannot be read as
    a phone number is kept as typed (digits made ASCII), never guessed at."""
    digits = _PHONE_NOISE.sub("", ascii_digits(clean_text(text)))
    if digits.startswith("+"):
        rest = digits[1:]
    elif digits.startswith("00"):
        rest = digits[2:]
    elif digits.startswith("07") and len(digits) == 11:
        rest = IRAQ + digits[1:]
    elif digits.startswith("7") and len(digits) == 10:
        rest = IRAQ + digits
    elif digits.startswith(IRAQ + "7") and len(digits) == 13:
        rest = digits
    else:
        return ascii_digits(clean_text(text))
    if rest.startswith(IRAQ + "0"):  # +964 07… : the trunk 0 written after the country code
        rest = IRAQ + rest[4:]
    if not rest.isdigit() or not 8 <= len(rest) <= 15:
        return ascii_digits(clean_text(text))
    return "+" + rest


class Pseudonyms:
    """Stable, keyed, one-way names for personal values: the same value gives the same pseudonym
    in every export and every form (records stay linkable), and without the key it cannot be
    computed from a guess. The key is derived from the app's secret key, never stored apart."""

    def __init__(self, secret_key: str):
        self._key = hmac.new(secret_key.encode(), b"muntada export pseudonyms v1",
                             hashlib.sha256).digest()
        self._seen: dict[str, str] = {}

    def __call__(self, value: object) -> str | None:
        if value is None or value == "":
            return None
        text = clean_text(str(value)).casefold()
        found = self._seen.get(text)
        if found is None:
            digest = hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()
            found = f"P-{digest[:16]}"
            if len(self._seen) < 100_000:  # names repeat across rows; the cache stays bounded
                self._seen[text] = found
        return found


def neutralise(text: str) -> str:
    """A text a spreadsheet would run as a formula, made plain by a leading apostrophe; a real
    number such as -1.5 or +9647701234567 is left as it is."""
    if text.startswith(FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def cut(text: str, limit: int = MAX_CELL) -> str:
    """A text longer than a cell holds, cut with a mark a reader sees."""
    if len(text) <= limit:
        return text
    return text[:limit - len(CUT_MARK)] + CUT_MARK
