"""What an export holds: its tables and their columns, one set of columns for every version of
the form, named as ODK Central and Briefcase name them so that analysts' scripts keep working.

Labels and choices come from the newest version that has the field; its classification
(identifying, quasi-identifying) is the strictest any version gave it. A column lists the versions
it appears in. Each column knows how its values are typed and cleaned, and, for a reader without
the personal-data permission, whether an identifying value is withheld or a place coarsened.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

import sqlalchemy as sa
from sqlalchemy.orm import Session

from forms import Choice, Field, Language
from forms.structure import DEFAULT_LANGUAGE, IDENTIFYING
from server.database import projection
from server.database.models import Form
from server.database.queries import forms as form_queries
from server.kernel.storage import BlobStore
from server.services.exports.cleaning import is_phone_field
from server.services.normalising import structure_of
from sync import tables as shapes

GEOPOINT_HEADERS = {"latitude": "Latitude", "longitude": "Longitude", "altitude": "Altitude",
                    "accuracy": "Accuracy"}
SUBMITTER_ID = "submitter_id"  # from the submissions table, not the projection


@dataclass(frozen=True)
class Column:
    header: str  # its name in the file
    source: str  # the SQL column it is read from
    kind: str  # integer decimal date datetime time text, or "flag" (a choice's 0/1)
    field: Field | None = None  # None for system columns
    choice: Choice | None = None  # a select-multiple's choice, for its 0/1 column
    part: str | None = None  # a geopoint's latitude, longitude, altitude or accuracy
    versions: tuple[str, ...] = ()
    personal: bool = False  # identifying
    privacy: str = ""  # the form's classification: identifying, quasi or ""
    phone: bool = False
    withheld: bool = False  # an identifying value this reader gets no trace of
    # an identifying geopoint's latitude or longitude for this reader: read from the place
    # column `source` (the district), as the point the form gives that place
    coarse: dict[str, tuple[float, float]] | None = None
    note: str = ""  # a system column's meaning, for the codebook
    groups: tuple[Field, ...] = ()  # the groups around the field, outermost first

    @property
    def select_one(self) -> bool:
        return self.field is not None and self.field.control == "select1" and not self.choice

    @property
    def select_multiple(self) -> bool:
        return self.field is not None and self.field.select_multiple and not self.choice

    @property
    def attachment(self) -> bool:
        return self.field is not None and self.field.type == "binary"


@dataclass(frozen=True)
class Table:
    key: str  # "" for the form, else the repeat's path
    name: str  # file name: forum_meeting, forum_meeting-issue (a repeat by its own name)
    short: str  # the repeat's own name (or the form id): what the API calls it
    sql: sa.Table
    columns: tuple[Column, ...]

    @property
    def root(self) -> bool:
        return self.key == shapes.ROOT

    @property
    def sources(self) -> tuple[str, ...]:
        """The SQL columns to select, each once, in a stable order."""
        return tuple(dict.fromkeys(c.source for c in self.columns))


@dataclass(frozen=True)
class Layout:
    form_id: str
    title: str
    tables: tuple[Table, ...]
    languages: tuple[Language, ...]
    versions: tuple[str, ...]  # oldest first
    # field path → choice name → labels by language name, for labels of select answers
    choice_labels: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    projection: projection.Projection | None = None

    @property
    def root(self) -> Table:
        return self.tables[0]

    def table(self, name: str) -> Table | None:
        for table in self.tables:
            if name in (table.name, table.short, table.key):
                return table
        return None

    @property
    def select_multiples(self) -> tuple[str, ...]:
        """Paths of the select-multiples with a column in the export (each has its own table of
        chosen values)."""
        return tuple(dict.fromkeys(c.field.path for t in self.tables for c in t.columns
                                   if c.select_multiple and c.field.path in
                                   self.projection.tables))

    @property
    def language_codes(self) -> tuple[str, ...]:
        """The codes of the form's languages (`ar`, `ckb`, `en`), or ("",) without translations."""
        codes = tuple(dict.fromkeys(lang.code or lang.name for lang in self.languages))
        return codes or ("",)


def label(labels: dict[str, str], code: str | None, fallback: str) -> str:
    """A label in the language `code`, else the form's default text, else `fallback`."""
    if code:
        for key, text in labels.items():
            if text and (key == f"_code:{code}" or key == code
                         or Language.from_name(key).code == code):
                return text
    return labels.get(DEFAULT_LANGUAGE) or next((t for t in labels.values() if t), fallback)


def build(session: Session, form: Form, blobs: BlobStore, *, group_paths: bool = True,
          reveal_personal: bool = False) -> Layout:
    proj = projection.load(session, form)
    versions = form_queries.list_versions(session, form)
    newest: dict[str, Field] = {}
    order: list[str] = []
    seen_in: dict[str, list[str]] = defaultdict(list)
    privacy: dict[str, str] = {}
    free_text: set[str] = set()
    choices: dict[str, dict[str, Choice]] = defaultdict(dict)
    languages: dict[str, Language] = {}
    title = form.xml_form_id
    for version in reversed(versions):  # newest first: its labels and order win
        structure, _plan = structure_of(version)
        if title == form.xml_form_id:
            title = structure.title
        for language in structure.languages:
            languages.setdefault(language.name, language)
        for item in structure.fields:
            if item.path not in newest:
                newest[item.path] = item
                order.append(item.path)
            seen_in[item.path].insert(0, version.version)
            if item.privacy and privacy.get(item.path) != IDENTIFYING:
                privacy[item.path] = item.privacy
            free_text |= {item.path} if item.free_text else set()
            for choice in item.choices:
                choices[item.path].setdefault(choice.name, choice)
        for item in structure.fields:  # choices kept in a media file (the forum list)
            if item.choices_file and item.path not in choices:
                for choice in _file_choices(session, blobs, version, item.choices_file):
                    choices[item.path].setdefault(choice.name, choice)
    by_table: dict[str, dict[str, list[tuple[str, str, str]]]] = defaultdict(
        lambda: defaultdict(list))
    for (key, path, kind, part), column in proj.columns.items():
        by_table[key][path].append((kind, part, column))
    tables = []
    for key, sql in proj.tables.items():
        if key != shapes.ROOT and (key not in newest or newest[key].kind != "repeat"):
            continue  # a select-multiple's own table: its answers are in the parent's columns
        fields = [newest[p] for p in order if p in by_table[key]]
        columns = _field_columns(key, fields, by_table[key], seen_in, privacy, free_text,
                                 choices, newest, group_paths=group_paths,
                                 reveal=reveal_personal)
        if key == shapes.ROOT:
            columns = [_system("SubmissionDate", "_submitted_at", "datetime",
                               "When the server first received the submission (UTC)."),
                       *columns, *ROOT_SYSTEM]
            name = short = form.xml_form_id
        else:
            columns = [*columns,
                       _system("PARENT_KEY", "_parent_key", "text",
                               "KEY of the row this repeat belongs to."),
                       _system("KEY", "_key", "text", "This row's own key.")]
            short = key.rsplit("/", 1)[-1]
            name = short
        tables.append(Table(key, name, short, sql, tuple(columns)))
    tables.sort(key=lambda t: (t.key != shapes.ROOT, order.index(t.key) if t.key in order else 0))
    return Layout(
        form_id=form.xml_form_id, title=title, tables=_file_names(form.xml_form_id, tables),
        languages=tuple(languages.values()), versions=tuple(v.version for v in versions),
        choice_labels={path: {name: c.labels for name, c in found.items()}
                       for path, found in choices.items()},
        projection=proj)


def _file_names(form_id: str, tables: list[Table]) -> tuple[Table, ...]:
    """`<form>-<repeat>` for each repeat, however deep, as Central and Briefcase name the files;
    repeats sharing a name get `~1`, `~2`... in the form's order (Central's rule)."""
    shared = Counter(t.short for t in tables if not t.root)
    seen: Counter = Counter()
    named = []
    for table in tables:
        if table.root:
            named.append(table)
            continue
        name = f"{form_id}-{table.short}"
        if shared[table.short] > 1:
            seen[table.short] += 1
            name += f"~{seen[table.short]}"
        named.append(replace(table, name=name))
    return tuple(named)


def _system(header: str, source: str, kind: str, note: str) -> Column:
    return Column(header=header, source=source, kind=kind, note=note)


ROOT_SYSTEM = (
    _system("KEY", "_key", "text", "The submission's key: its first instanceID; repeats refer "
            "to it as PARENT_KEY."),
    _system("SubmitterID", SUBMITTER_ID, "integer", "Number of the app user (phone) that sent "
            "it."),
    _system("SubmitterName", "_submitter", "text", "Name of the app user (phone) that sent it."),
    _system("AttachmentsPresent", "_attachments_present", "integer",
            "Files received for the current version."),
    _system("AttachmentsExpected", "_attachments_expected", "integer",
            "Files the current version references."),
    _system("ReviewState", "_review_state", "text",
            "received, edited, hasIssues, approved or rejected."),
    _system("DeviceID", "_device_id", "text", "The phone's device identifier."),
    _system("Edits", "_edits", "integer", "How many times it was edited; only the latest "
            "version is exported."),
    _system("FormVersion", "_form_version", "text", "The form version of the latest version."),
)


def _field_columns(key: str, fields: list[Field], stored: dict[str, list[tuple[str, str, str]]],
                   seen_in: dict[str, list[str]], privacy: dict[str, str], free_text: set[str],
                   choices: dict[str, dict[str, Choice]], newest: dict[str, Field], *,
                   group_paths: bool, reveal: bool) -> list[Column]:
    headers = _headers(key, [f.path for f in fields], group_paths)
    place = _coarse_place(fields, stored, privacy, choices)
    columns: list[Column] = []
    for item in fields:
        header = headers[item.path]
        personal = privacy.get(item.path) == IDENTIFYING
        hidden = personal and not reveal
        steps = item.path[len(key):].split("/")[1:-1]
        groups = tuple(newest[g] for g in (key + "/" + "/".join(steps[:n + 1])
                                           for n in range(len(steps))) if g in newest)
        common = {"field": item, "versions": tuple(seen_in[item.path]), "groups": groups,
                  "personal": personal, "privacy": privacy.get(item.path, ""),
                  "phone": is_phone_field(item.name) and item.type == "string",
                  "withheld": hidden and item.path in free_text}
        parts = stored[item.path]
        first_kind = parts[0][0]
        for kind, part, source in parts:
            if part and hidden:
                # no pseudonym can stand in for a place: the district's point, or nothing
                coarse = place is not None and part in ("latitude", "longitude")
                columns.append(Column(header=f"{header}-{GEOPOINT_HEADERS[part]}",
                                      source=place[0] if coarse else source, kind=kind,
                                      part=part, **{**common, "withheld": not coarse},
                                      coarse=place[1] if coarse else None))
            elif part:
                columns.append(Column(header=f"{header}-{GEOPOINT_HEADERS[part]}",
                                      source=source, kind=kind, part=part, **common))
            else:
                # a field whose type changed keeps a column per type: name the later ones
                suffix = "" if kind == first_kind else f"-{kind}"
                columns.append(Column(header=header + suffix, source=source, kind=kind,
                                      **common))
    return columns


def split_multiples(layout: Layout, chosen: dict[str, list[str]], *,
                    reveal_personal: bool) -> Layout:
    """A 0/1 column `<name>/<value>` after each select-multiple for each value chosen in the
    submissions exported (`chosen`: field path → values, sorted), as ODK Central splits them:
    no column that could only hold zeros. None for a personal field the reader may not see."""
    tables = []
    for table in layout.tables:
        columns = []
        for column in table.columns:
            columns.append(column)
            if not column.select_multiple or (column.personal and not reveal_personal):
                continue
            labels = layout.choice_labels.get(column.field.path, {})
            columns.extend(replace(column, header=f"{column.header}/{value}", kind="flag",
                                   choice=Choice(name=value, labels=labels.get(value, {})))
                           for value in chosen.get(column.field.path, ()))
        tables.append(replace(table, columns=tuple(columns)))
    return replace(layout, tables=tuple(tables))


def _coarse_place(fields: list[Field], stored: dict[str, list[tuple[str, str, str]]],
                  privacy: dict[str, str], choices: dict[str, dict[str, Choice]]
                  ) -> tuple[str, dict[str, tuple[float, float]]] | None:
    """The place an identifying geopoint of this table is coarsened to: the last field (in the
    form's order: governorate, then district) whose choices give points, with its column and
    the points by choice; None when the table has no such field."""
    for item in reversed(fields):
        points = {name: c.point for name, c in choices.get(item.path, {}).items()
                  if c.point is not None}
        if points and privacy.get(item.path) != IDENTIFYING and item.control == "select1":
            source = next((s for _kind, part, s in stored[item.path] if not part), None)
            if source is not None:
                return source, points
    return None


def _headers(key: str, paths: list[str], group_paths: bool) -> dict[str, str]:
    """Group paths joined by '-' (ODK Central's names); without group paths, the field's own
    name, unless two fields share it."""
    full = {p: "-".join(s for s in p[len(key):].split("/") if s) for p in paths}
    if group_paths:
        return full
    short = {p: p.rsplit("/", 1)[-1] for p in paths}
    taken = defaultdict(int)
    for name in short.values():
        taken[name] += 1
    return {p: short[p] if taken[short[p]] == 1 else full[p] for p in paths}


def _file_choices(session: Session, blobs: BlobStore, version, name: str) -> list[Choice]:
    """Choices of a select_one_from_file: the media CSV's `name` and label columns
    (`label`, `label::Arabic (ar)` or `label_ar`)."""
    sha256 = form_queries.media_blob(session, version, name)
    if sha256 is None or not name.lower().endswith(".csv"):
        return []
    try:
        text = blobs.read(sha256).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return []
    found = []
    for row in csv.DictReader(io.StringIO(text)):
        value = (row.get("name") or "").strip()
        if not value:
            continue
        labels = {}
        for column, text_value in row.items():
            if not column or not text_value:
                continue
            if column == "label":
                labels[DEFAULT_LANGUAGE] = text_value
            elif column.startswith("label::"):
                labels[column[7:]] = text_value
            elif column.startswith("label_"):
                labels[f"_code:{column[6:]}"] = text_value
        found.append(Choice(name=value, labels=labels))
    return found
