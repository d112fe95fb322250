"""Small XLSForms for tests, written as markdown tables as pyxform's own tests do."""

from __future__ import annotations

import textwrap


def xlsform(survey: str, *, form_id: str = "household", version: str = "1",
            title: str | None = None, choices: str = "", extra_settings: str = "") -> bytes:
    """Build a markdown XLSForm from the survey rows (and choices rows) given as table text."""
    settings_header = "| | form_id | version | form_title |" + (
        f" {extra_settings.split('=')[0]} |" if extra_settings else "")
    settings_row = f"| | {form_id} | {version} | {title or form_id} |" + (
        f" {extra_settings.split('=', 1)[1]} |" if extra_settings else "")
    parts = ["| survey |", textwrap.dedent(survey).strip("\n")]
    if choices:
        parts += ["| choices |", textwrap.dedent(choices).strip("\n")]
    parts += ["| settings |", settings_header, settings_row]
    return "\n".join(parts).encode("utf-8")


def simple_form(form_id: str = "household", version: str = "1", title: str | None = None
                ) -> bytes:
    return xlsform("""
        | | type | name | label |
        | | text | head | Head of household |
        | | integer | members | Members |
    """, form_id=form_id, version=version, title=title)


def form_with_media(form_id: str = "places", version: str = "1") -> bytes:
    """A form that needs a CSV (select_one_from_file) and an image in a label."""
    return xlsform("""
        | | type | name | label | media::image |
        | | select_one_from_file villages.csv | village | Village | |
        | | note | logo | Welcome | logo.png |
    """, form_id=form_id, version=version)
