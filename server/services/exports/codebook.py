"""The codebook: every column of an export with its labels in every language, its type, its
choices, the form versions it appears in, its classification (identifying, quasi-identifying)
in Arabic, Kurdish and English and the cleaning applied; and a page about the export itself (who,
when, which filters). Written as a sheet of the workbook and as a CSV in the zip."""

from __future__ import annotations

import json
from collections.abc import Iterator

from server.services.exports import Prepared
from server.services.exports.cleaning import clean_text, neutralise
from server.services.exports.layout import Column, Layout, label

TEXT_CLEANING = "trimmed; Unicode NFC; invisible direction and control characters removed"
NUMBER_CLEANING = ("Arabic-Indic and Persian digits read as ASCII digits; thousands grouped by , "
                   "or ٬ (1,250) read as one number")
CLASSIFICATION_LANGUAGES = ("ar", "ckb", "en")
# What the form's `bind::muntada:personal` says, and what this export did with it, in the
# programme's three languages (read by analysts and donors, and by the officers' supervisors).
CLASSIFICATION = {
    "identifying": {"ar": "مُعرِّف", "ckb": "ناسێنەر", "en": "identifying"},
    "quasi": {"ar": "شبه مُعرِّف: يُقرأ، وقد يكشف الهوية إذا اقترن بغيره",
              "ckb": "نیمچە ناسێنەر: دەخوێندرێتەوە، لەگەڵ زانیاریی تر لەوانەیە کەسەکە بناسێنێت",
              "en": "quasi-identifying: readable; may identify when combined with others"},
}
TREATMENT = {
    "shown": {"ar": "معروض لمن لديه صلاحية البيانات الشخصية",
              "ckb": "پیشان دراوە بۆ خاوەنی مۆڵەتی زانیاریی کەسی",
              "en": "shown to a reader allowed to see personal data"},
    "pseudonym": {"ar": "استُبدل باسم مستعار", "ckb": "بە ناوێکی خوازراو گۆڕدرا",
                  "en": "replaced by a pseudonym"},
    "withheld": {"ar": "محجوب", "ckb": "شاردراوەتەوە", "en": "withheld"},
    "coarsened": {"ar": "نقطة القضاء بدلاً من الموقع الدقيق",
                  "ckb": "خاڵی قەزاکە لە جیاتی شوێنی ورد",
                  "en": "the district's point instead of the exact location"},
}
FORMULA_NOTE = ("a text starting with = + - @ or a tab is prefixed with ' so that no spreadsheet "
                "runs it as a formula")


def rows(prepared: Prepared) -> Iterator[list[str]]:
    """A row per column of every table, the form's then its case lists' (a case property is
    worded by the form field that saves to it: its `field` is `<form>:<path>`)."""
    choices = prepared.choices
    codes = prepared.layout.language_codes
    yield ["table", "column", "field", "type", *(f"label ({c})" if c else "label"
                                                 for c in codes),
           "choices", "form versions",
           *(f"classification ({c})" for c in CLASSIFICATION_LANGUAGES), "cleaning"]
    for layout in prepared.layouts():
        for table in layout.tables:
            for column in table.columns:
                field = column.field
                labels = ([_label(column, c) for c in codes] if field is not None
                          else [column.note, *[""] * (len(codes) - 1)])
                yield _safe([
                    table.name, column.header, field.path if field else "", _type(column),
                    *labels, _choices(layout, column, codes), ", ".join(column.versions),
                    *_classification(column, choices.reveal_personal),
                    _cleaning(column, prepared)])


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
         else "identifying fields replaced by pseudonyms (stable across exports; not "
              "reversible), free text withheld, exact places replaced by their district's "
              "point; quasi-identifying fields (sex, age group...) shown"],
        *_about_cases(prepared),
        ["spreadsheet safety", FORMULA_NOTE],
        ["dates and times", "date-times in UTC; times with the offset the phone sent"],
        *([[f"rows in {name}", str(count)] for name, count in (written or {}).items()]),
    ])


def _about_cases(prepared: Prepared) -> list[list[str]]:
    return [[f"cases ({case_list.entity_list.name})",
             f"{case_list.layout.tables[0].name}: every case of the list in your places, as it "
             "stands (a deleted case is kept, with __deletedAt); "
             f"{case_list.layout.tables[1].name}: every version of each, from whichever form "
             "made it. Of the filters, only the places apply to cases."]
            for case_list in prepared.cases]


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


def _choices(layout: Layout, column: Column, codes) -> str:
    if column.field is None or column.choice is not None or not (
            column.select_one or column.select_multiple):
        return ""
    found = layout.choice_labels.get(column.field.path, {})
    return "\n".join(f"{name} = " + " / ".join(label(texts, c, name) for c in codes)
                     for name, texts in found.items())


def _classification(column: Column, reveal: bool) -> list[str]:
    if column.privacy not in CLASSIFICATION:
        return [""] * len(CLASSIFICATION_LANGUAGES)
    level = CLASSIFICATION[column.privacy]
    if not column.personal:
        return [level[c] for c in CLASSIFICATION_LANGUAGES]
    treatment = TREATMENT[_treatment(column, reveal)]
    return [f"{level[c]}: {treatment[c]}" for c in CLASSIFICATION_LANGUAGES]


def _treatment(column: Column, reveal: bool) -> str:
    if reveal:
        return "shown"
    if column.coarse is not None:
        return "coarsened"
    return "withheld" if column.withheld else "pseudonym"


# What the cleaning column says of an identifying field, by its treatment for this reader.
HIDDEN_NOTES = {
    "coarsened": "identifying place: the point the form gives the submission's district; empty "
                 "when the district has none",
    "withheld": "identifying: left empty for readers without the personal-data permission",
    "pseudonym": "identifying: replaced by a keyed pseudonym P-…, the same for the same value in "
                 "every export",
}


def _cleaning(column: Column, prepared: Prepared) -> str:
    notes = []
    if column.personal and not prepared.choices.reveal_personal:
        notes.append(HIDDEN_NOTES[_treatment(column, reveal=False)])
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
