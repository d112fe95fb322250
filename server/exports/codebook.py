"""The codebook: every column of an export with its labels in every language, its type, its
choices, the form versions it appears in and the cleaning applied; and a page about the export
itself (who, when, which filters). Written as a sheet of the workbook and as a CSV in the zip."""

from __future__ import annotations

import json
from collections.abc import Iterator

from server.exports import Prepared
from server.exports.cleaning import clean_text, neutralise
from server.exports.layout import Column, label

TEXT_CLEANING = "trimmed; Unicode NFC; invisible direction and control characters removed"
NUMBER_CLEANING = ("Arabic-Indic and Persian digits read as ASCII digits; thousands grouped by , "
                   "or ٬ (1,250) read as one number")
FORMULA_NOTE = ("a text starting with = + - @ or a tab is prefixed with ' so that no spreadsheet "
                "runs it as a formula")


def rows(prepared: Prepared) -> Iterator[list[str]]:
    layout, choices = prepared.layout, prepared.choices
    codes = layout.language_codes
    yield ["table", "column", "field", "type", *(f"label ({c})" if c else "label"
                                                 for c in codes),
           "choices", "form versions", "personal", "cleaning"]
    for table in layout.tables:
        for column in table.columns:
            field = column.field
            labels = ([_label(column, c) for c in codes] if field is not None
                      else [column.note, *[""] * (len(codes) - 1)])
            yield _safe([
                table.name, column.header, field.path if field else "", _type(column), *labels,
                _choices(prepared, column, codes), ", ".join(column.versions),
                _personal(column, choices.reveal_personal), _cleaning(column, prepared)])


def about(prepared: Prepared, written: dict[str, int] | None = None) -> Iterator[list[str]]:
    options = prepared.options
    yield ["item", "value"]  # a header, as the other files have (not an empty row)
    yield from (_safe(pair) for pair in [
        ["form", prepared.layout.form_id],
        ["title", prepared.layout.title],
        ["form versions", ", ".join(prepared.layout.versions)],
        ["exported at (UTC)", prepared.started_at.isoformat(timespec="seconds")],
        ["exported by", prepared.user.username],
        ["format", options.format],
        ["language of labels", options.language or "as stored"],
        ["answers", "choice labels" if options.labels else "stored values"],
        ["filters", json.dumps(options.filters.as_dict(), ensure_ascii=False) or "none"],
        ["edited submissions", "only their latest version"],
        ["rejected submissions", "included, with their ReviewState"
         if options.filters.include_rejected or "rejected" in options.filters.review_states
         else "left out"],
        ["personal data", "shown" if prepared.choices.reveal_personal
         else "replaced by pseudonyms (stable across exports; not reversible)"],
        ["spreadsheet safety", FORMULA_NOTE],
        ["dates and times", "date-times in UTC; times with the offset the phone sent"],
        *([[f"rows in {name}", str(count)] for name, count in (written or {}).items()]),
    ])


def _label(column: Column, code: str) -> str:
    text = " / ".join(label(f.labels, code, "") for f in (*column.groups, column.field)
                      if label(f.labels, code, ""))
    if column.part:
        text += f" ({column.part})"
    if column.choice is not None:
        text += f": {label(column.choice.labels, code, column.choice.name)}"
    return text


def _type(column: Column) -> str:
    if column.choice is not None:
        return "0/1"
    if column.field is None:
        return column.kind
    if column.part:
        return f"decimal (geopoint {column.part})"
    if column.select_one:
        return "select_one"
    if column.select_multiple:
        return "select_multiple (values separated by spaces)"
    if column.attachment:
        return "file name"
    return {"datetime": "datetime (UTC)"}.get(column.kind, column.kind)


def _choices(prepared: Prepared, column: Column, codes) -> str:
    if column.field is None or column.choice is not None or not (
            column.select_one or column.select_multiple):
        return ""
    found = prepared.layout.choice_labels.get(column.field.path, {})
    return "\n".join(f"{name} = " + " / ".join(label(texts, c, name) for c in codes)
                     for name, texts in found.items())


def _personal(column: Column, reveal: bool) -> str:
    if not column.personal:
        return ""
    return "yes" if reveal else "yes: replaced by a pseudonym"


def _cleaning(column: Column, prepared: Prepared) -> str:
    notes = []
    if column.personal and not prepared.choices.reveal_personal:
        notes.append("personal: replaced by a keyed pseudonym P-…, the same for the same value "
                     "in every export")
    elif column.choice is not None:
        notes.append("1 when chosen, 0 when not, empty when unanswered; a column for each value "
                     "chosen in the exported submissions")
    elif column.kind == "text":
        notes.append(TEXT_CLEANING)
        if column.phone:
            notes.append("phone number in international form (+964…), digits made ASCII")
        if prepared.choices.labels and (column.select_one or column.select_multiple):
            notes.append(f"answers as labels ({prepared.options.language or 'default'})")
    elif column.kind in ("integer", "decimal"):
        notes.append(NUMBER_CLEANING)
    return "; ".join(notes)


def _safe(values: list[str]) -> list[str]:
    return [neutralise(clean_text(v)) if isinstance(v, str) else v for v in values]
