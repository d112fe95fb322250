"""The relational shape of a form: one table for the form, one per repeat (nested repeats nest),
one per select-multiple; typed columns; SQL-safe names that never change once given.

Names are kept in a mapping (stored by the server) from a column's identity, (path, kind, part),
to its name. A form's later version only adds entries: a new field adds a column, a removed field's
column stays, and a field whose type changes gets a second column, so every value ever received
stays readable.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from forms import Field, FormStructure

COLUMN_KINDS = ("integer", "decimal", "date", "datetime", "time", "text")
GEOPOINT_PARTS = ("latitude", "longitude", "altitude", "accuracy")
MAX_IDENTIFIER = 60  # PostgreSQL cuts at 63 bytes; room for a suffix
ROOT = ""

_KIND_OF_TYPE = {"int": "integer", "integer": "integer", "long": "integer",
                 "decimal": "decimal", "date": "date", "dateTime": "datetime",
                 "datetime": "datetime", "time": "time"}


@dataclass(frozen=True)
class ColumnSpec:
    table: str  # key of the table: ROOT, a repeat's path, or a select-multiple's path
    path: str
    kind: str
    part: str | None = None  # a geopoint's latitude, longitude, altitude or accuracy

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.path, self.kind, self.part or "")


@dataclass(frozen=True)
class TableSpec:
    key: str
    parent: str | None
    kind: str  # "form", "repeat" or "choices"


@dataclass(frozen=True)
class Plan:
    """What one form version needs; the server maps it onto named tables and columns."""

    tables: tuple[TableSpec, ...]
    columns: tuple[ColumnSpec, ...]
    value_columns: dict[str, tuple[ColumnSpec, ...]]  # field path → its columns
    choice_tables: frozenset[str]  # paths of select-multiples
    repeats: frozenset[str]


def plan(structure: FormStructure) -> Plan:
    tables = [TableSpec(ROOT, None, "form")]
    columns: list[ColumnSpec] = []
    by_path: dict[str, tuple[ColumnSpec, ...]] = {}
    choices = set()
    for field in structure.fields:
        table = field.repeat or ROOT
        if field.kind == "repeat":
            tables.append(TableSpec(field.path, table, "repeat"))
            continue
        if field.kind != "value":
            continue
        specs = _columns(field, table)
        by_path[field.path] = specs
        columns.extend(specs)
        if field.select_multiple:
            tables.append(TableSpec(field.path, table, "choices"))
            choices.add(field.path)
    return Plan(tuple(tables), tuple(columns), by_path, frozenset(choices),
                frozenset(f.path for f in structure.repeats))


def column_kind(field: Field) -> str:
    """The column kind of a single value of `field` (a geopoint's whole text: an entity
    property keeps the answer as one value)."""
    return _KIND_OF_TYPE.get(field.type, "text")


def _columns(field: Field, table: str) -> tuple[ColumnSpec, ...]:
    if field.type == "geopoint":
        return tuple(ColumnSpec(table, field.path, "decimal", part) for part in GEOPOINT_PARTS)
    return (ColumnSpec(table, field.path, column_kind(field)),)


# -- names -----------------------------------------------------------------------------------------

def sql_identifier(text: str, *, fallback: str = "field") -> str:
    """Lower-case ASCII letters, digits and underscores, starting with a letter."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    if not name:
        # Arabic or Kurdish field names: keep them apart by a short hash of the original
        name = f"{fallback}_{hashlib.sha1(text.encode()).hexdigest()[:8]}"
    if not name[0].isalpha():
        name = f"x_{name}"
    return name[:MAX_IDENTIFIER]


def unique(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3`... shortened so that the suffix fits the length limit."""
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        suffix = f"_{number}"
        candidate = name[:MAX_IDENTIFIER - len(suffix)] + suffix
    taken.add(candidate)
    return candidate


def table_name(form_id: str, key: str, taken: set[str]) -> str:
    base = "f_" + sql_identifier(form_id, fallback="form")
    if key != ROOT:
        base = base[:30] + "__" + sql_identifier(key.rsplit("/", 1)[-1])
    return unique(base[:MAX_IDENTIFIER], taken)


def column_name(spec: ColumnSpec, taken: set[str], *, changed_kind: bool) -> str:
    """The field's own name where free, its group path otherwise; a changed type is suffixed."""
    steps = [s for s in spec.path[len(spec.table):].split("/") if s]
    base = sql_identifier(steps[-1])
    if spec.part:
        base = f"{base}_{spec.part}"
    if changed_kind:
        base = f"{base}_{spec.kind}"
    if base in taken and len(steps) > 1:
        base = sql_identifier("_".join(steps))
        base = f"{base}_{spec.part}" if spec.part else base
    return unique(base[:MAX_IDENTIFIER], taken)


def new_names(specs: Iterable[ColumnSpec], known: dict[tuple[str, str, str, str], str],
              taken_by_table: dict[str, set[str]]) -> dict[tuple[str, str, str, str], str]:
    """Names for the column specs not in `known` ((table, path, kind, part) → name)."""
    paths_known = {(table, path) for (table, path, _kind, _part) in known}
    added = {}
    for spec in specs:
        key = (spec.table, *spec.identity)
        if key in known or key in added:
            continue
        taken = taken_by_table.setdefault(spec.table, set())
        changed = (spec.table, spec.path) in paths_known and spec.part is None
        added[key] = column_name(spec, taken, changed_kind=changed)
        paths_known.add((spec.table, spec.path))
    return added
