"""Every word of the interface in Arabic, Kurdish and English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from server.kernel import i18n

SERVER = Path(i18n.__file__).parents[1]  # server/, the pages and everything they call
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
# Words that are the same in every language (names of formats); nothing else may be left English.
SAME_IN_EVERY_LANGUAGE = frozenset({"GeoJSON", "CSV"})
ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF]")


def interface_messages() -> set[str]:
    found = {message for _file, _line, message, _comments, _context
             in extract_from_dir(SERVER, METHODS, keywords={"_": None, "gettext": None})
             if isinstance(message, str)}
    return found | set(i18n.DYNAMIC_MESSAGES)


def test_the_interface_has_words_to_translate():
    messages = interface_messages()
    assert {"Sign in", "Audit log", "approved"} <= messages


@pytest.mark.parametrize("code", ["ar", "ckb"])
def test_every_word_is_translated(code):
    catalogue = i18n.catalogue(code)
    missing = sorted(interface_messages() - set(catalogue))
    assert not missing, f"{len(missing)} messages lack a {code} translation: {missing[:20]}"


@pytest.mark.parametrize("code", ["ar", "ckb"])
def test_no_translation_is_the_english_text_copied(code):
    # a copy passes the test above and leaves the page in English; both languages are written
    # in Arabic script, so a translation without one letter of it is no translation
    copied = sorted(message for message, translation in i18n.catalogue(code).items()
                    if message not in SAME_IN_EVERY_LANGUAGE and (
                        translation.strip().casefold() == message.strip().casefold()
                        or not ARABIC_SCRIPT.search(translation)))
    assert not copied, f"{len(copied)} {code} translations are the English text: {copied[:20]}"


@pytest.mark.parametrize("code", ["ar", "ckb"])
def test_translations_keep_their_placeholders(code):
    for message, translation in i18n.catalogue(code).items():
        assert _placeholders(translation) == _placeholders(message), (message, translation)


def _placeholders(text: str) -> set[str]:
    import string

    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_codes_shown_as_words_have_english_words_too():
    # a review state or role reaches `_` as its code ("hasIssues"), which is no English word
    assert set(i18n.ENGLISH) == set(i18n.DYNAMIC_MESSAGES)
    assert all(word != code for code, word in i18n.ENGLISH.items())
