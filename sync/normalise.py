"""An instance's XML as typed rows: one for the form, one per repeat instance, one per chosen
value of a select-multiple. Pure: the server names the tables and writes the rows.

Row keys follow ODK Central's KEY / PARENT_KEY, so analysts' scripts keep working:
`uuid:…` for the submission, `uuid:…/issue[2]` for its second issue, and so on down.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from forms.xml import local_name
from sync.encryption import is_envelope
from sync.tables import ROOT, Plan
from sync.values import ValueProblem, geopoint, parse

# OpenRosa metadata a client may add without the form declaring it (deprecatedID on edits...)
_META = "/meta/"


@dataclass(frozen=True)
class ValueIssue:
    """A value kept only in the raw record: it did not parse, or the form has no such field."""

    key: str  # the row's key
    path: str
    raw: str
    reason: str


@dataclass
class Rows:
    tables: dict[str, list[dict[Any, Any]]] = field(default_factory=lambda: defaultdict(list))
    issues: list[ValueIssue] = field(default_factory=list)


def normalise(plan: Plan, root: etree._Element, key: str) -> Rows:
    rows = Rows()
    top: dict[Any, Any] = {"_key": key}
    rows.tables[ROOT].append(top)
    if not is_envelope(root):  # an encrypted envelope has no answers to read until decrypted
        _walk(plan, rows, root, "", ROOT, top, key)
    return rows


def _walk(plan: Plan, rows: Rows, element: etree._Element, prefix: str, table: str,
          row: dict, row_key: str) -> None:
    positions: dict[str, int] = defaultdict(int)
    for child in element:
        if not isinstance(child.tag, str):
            continue
        path = f"{prefix}/{local_name(child)}"
        if path in plan.repeats:
            positions[path] += 1
            child_key = f"{row_key}{path[len(table):]}[{positions[path]}]"
            child_row = {"_key": child_key, "_parent_key": row_key, "_position": positions[path]}
            rows.tables[path].append(child_row)
            _walk(plan, rows, child, path, path, child_row, child_key)
        elif path in plan.value_columns:
            _value(plan, rows, path, child.text or "", row, row_key)
        elif len(child):
            _walk(plan, rows, child, path, table, row, row_key)  # a group: same row
        elif (child.text or "").strip() and not path.startswith(_META):
            rows.issues.append(ValueIssue(row_key, path, child.text or "",
                                          "the form has no such field"))


def _value(plan: Plan, rows: Rows, path: str, text: str, row: dict, row_key: str) -> None:
    specs = plan.value_columns[path]
    if not text.strip():
        for spec in specs:
            row[spec] = None
        return
    try:
        if specs[0].part is not None:  # a geopoint, four columns
            for spec, number in zip(specs, geopoint(text), strict=True):
                row[spec] = number
        else:
            row[specs[0]] = parse(specs[0].kind, text)
    except ValueProblem as problem:
        for spec in specs:
            row[spec] = None
        rows.issues.append(ValueIssue(row_key, path, text, str(problem)))
    if path in plan.choice_tables:
        rows.tables[path].extend(
            {"_parent_key": row_key, "_position": position, "value": value}
            for position, value in enumerate(text.split(), start=1))
