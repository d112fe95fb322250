"""The cases in the exports of a form that feeds a case list (the referral opens cases, the
follow-up updates them): `<list>.csv`, one row per case as it stands, and
`<list>-versions.csv`, every version of each, who made it and from which submission. Their
columns are those of the list's typed table (`e_cases`), typed, cleaned and worded as the form's
columns are, and described in the codebook with the labels and choices of the fields that save
to each property.

An export holds the cases of the reader's places only (the same Scope as its submissions, on
the case's place as the phones' lists match it) and of the place filters asked for; the other
filters choose submissions, not cases. A case deleted from its list is kept, marked by
`__deletedAt`, and not left out as a deleted submission is: a submission in the trash is a
mistaken record its sender or an administrator took back, while a deleted case was opened and
followed by submissions that stay in the export (its versions name them by KEY), and an analyst
counting referrals needs to tell it apart rather than lose it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.orm import Session

from forms import Field
from forms.structure import IDENTIFYING
from server.database import case_table
from server.database.models import EntityList, Form, User
from server.database.queries import case_exports as case_export_queries
from server.database.queries import form_tables as table_queries
from server.database.queries import forms as form_queries
from server.services import access
from server.services.cases.rows import typed_properties
from server.services.exports import filters as filtering
from server.services.exports.cleaning import is_phone_field
from server.services.exports.layout import Column, Layout, Table
from server.services.normalising import structure_of

CASES, VERSIONS = "cases", "versions"  # the two tables of a list, by their key


@dataclass(frozen=True)
class CaseList:
    """One list's part of an export: its two tables (a Layout of its own: the choices of its
    properties come from other forms too) and the WHERE clause on its cases."""

    entity_list: EntityList
    typed: sa.Table
    layout: Layout
    where: object

    def count(self, session: Session) -> int:
        list_id = self.entity_list.id
        return (case_export_queries.count_cases(session, self.typed, list_id, self.where)
                + case_export_queries.count_versions(session, self.typed, list_id, self.where))

    def batches(self, session: Session, table: Table, make: Callable[[Sequence], list], *,
                size: int = table_queries.STREAM_BATCH) -> Iterator[list[list]]:
        """The table's rows as cells (`make`: cells.row_maker's), `size` at a time from a
        server-side cursor: 100,000 cases never stand in memory at once."""
        list_id = self.entity_list.id
        if table.key == CASES:
            query = case_export_queries.select_cases(self.typed, list_id, table.sources,
                                                     self.where)
            for rows in table_queries.batches(session, query, size):
                yield list(map(make, rows))
            return
        properties = case_table.properties_of(self.entity_list)
        query = case_export_queries.select_versions(self.typed, list_id, self.where)
        for rows in table_queries.batches(session, query, size):
            yield [make(_version_row(row, properties)) for row in rows]


def lists_of(session: Session, form: Form, taken: set[str], user: User,
             filters: filtering.Filters, languages) -> tuple[CaseList, ...]:
    """The case lists `form` feeds in any of its versions, each as the export holds it;
    `taken`: the names of the form's own files, which a list's never take."""
    names = [d.dataset for version in form_queries.list_versions(session, form)
             for d in _structure(version).entities]
    found = []
    for entity_list in case_export_queries.lists_named(session, names):
        if entity_list.table_name is None:
            continue
        typed = case_table.table_of(entity_list)
        layout = _layout(session, form, entity_list, taken, languages,
                         reveal=access.sees_personal_data(user))
        found.append(CaseList(entity_list, typed, layout,
                              _clause(entity_list, typed, filters, user)))
        taken |= {t.name for t in layout.tables}
    return tuple(found)


def _clause(entity_list: EntityList, typed: sa.Table, filters: filtering.Filters, user: User):
    """The reader's scope, then the place filters, on the case's place."""
    place = dict(case_export_queries.PLACE_COLUMNS)
    district = next((p["column"] for p in case_table.properties_of(entity_list)
                     if p["name"] == "district"), None)
    if district is not None:
        place["district"] = typed.c[district]
    terms = [access.scope_clause(access.scope_of(user), place)]
    for name, values in (("governorate", filters.governorates),
                         ("district", filters.districts), ("forum", filters.forums)):
        if values:
            terms.append(place[name].in_(values) if name in place else sa.false())
    return sa.and_(*terms)


def _system(header: str, source: str, kind: str, note: str) -> Column:
    return Column(header=header, source=source, kind=kind, note=note)


CASE_START = (
    _system("__id", "_uuid", "text", "The case's id (a UUID): its name in the phones' list; "
            "__id in the versions."),
    _system("label", "_label", "text", "The case's label as the phones show it."),
    _system("__version", "_version", "integer", "Its current version (1 when opened)."),
)
CASE_END = (
    _system("__conflict", "_conflict", "text", "soft or hard while two updates made from the "
            "same version await a supervisor; empty otherwise."),
    _system("__createdAt", "_created_at", "datetime", "When the server opened it (UTC)."),
    _system("__updatedAt", "_updated_at", "datetime", "When its current version was made (UTC)."),
    _system("__deletedAt", "_deleted_at", "datetime", "When it was deleted from the list (UTC); "
            "empty for a case in the list. Deleted cases are kept in exports, marked here."),
    _system("__creatorName", "_creator", "text", "The app user (phone) that opened it."),
)
VERSION_START = (
    _system("__id", "_uuid", "text", "The case's id: __id in the cases' file."),
    _system("__version", "_version", "integer", "The version's number, 1 for the opening."),
    _system("__author", "_author", "text", "Who made it: the app user (phone) that sent the "
            "submission, or the web user who resolved a conflict."),
    _system("__authorType", "_author_type", "text", "app user or web user."),
    _system("__submissionKey", "_submission_key", "text", "KEY of the submission that made it, "
            "as in the form's file."),
    _system("__instanceID", "_instance_id", "text", "instanceID of the version of that "
            "submission (an edit has its own)."),
    _system("__createdAt", "_created_at", "datetime", "When it was made (UTC)."),
    _system("__forced", "_forced", "integer", "1 for an offline update applied after waiting "
            "too long for its predecessor, 0 otherwise."),
    _system("__conflict", "_conflict", "text", "soft or hard when made from a version another "
            "update had already changed; empty otherwise."),
    _system("__conflictingProperties", "_conflicting", "text", "The properties both updates "
            "changed, separated by spaces."),
    _system("label", "_label", "text", "The case's label after this version."),
)


def _version_row(row, properties: list[dict]) -> tuple:
    """A version's values in its table's `sources` order: the system columns of VERSION_START,
    then each property parsed as its kind (as the typed table holds the current ones)."""
    typed = typed_properties(properties, json.loads(row.data or "{}"))
    author_type = "app user" if row.app_user else "web user" if row.web_user else None
    conflicting = " ".join(json.loads(row.conflicting_properties)) \
        if row.conflicting_properties else None
    return (row.uuid, row.version, row.app_user or row.web_user, author_type,
            row.submission_key, row.instance_id, row.created_at, int(bool(row.forced)),
            row.conflict, conflicting, row.label, *(typed[p["column"]] for p in properties))


def _layout(session: Session, form: Form, entity_list: EntityList, taken: set[str],
            languages, *, reveal: bool) -> Layout:
    saved = _saving_fields(session, form, entity_list.name)
    choice_labels: dict[str, dict[str, dict[str, str]]] = {}
    properties = []
    for prop in case_table.properties_of(entity_list):
        column, labels = _property_column(prop, saved.get(prop["name"], []), reveal=reveal)
        properties.append(column)
        if labels:
            choice_labels[column.field.path] = labels
    name = _free_name(entity_list.name, taken)
    versions = _free_name(f"{entity_list.name}-versions", taken | {name})
    tables = (
        Table(CASES, name, name, case_table.table_of(entity_list),
              (*CASE_START, *properties, *CASE_END)),
        Table(VERSIONS, versions, versions, case_table.table_of(entity_list),
              (*VERSION_START, *properties)))
    return Layout(form_id=entity_list.name, title=entity_list.name, tables=tables,
                  languages=languages, versions=(), choice_labels=choice_labels)


def _property_column(prop: dict, saving: list[tuple[str, str, Field]], *, reveal: bool
                     ) -> tuple[Column, dict[str, dict[str, str]]]:
    """A property's column: worded by the field that saves to it (the exported form's newest
    first, a select before a calculation), with the choices of all of them, as identifying as
    the strictest of them."""
    if not saving:
        return Column(header=prop["name"], source=prop["column"], kind=prop["kind"],
                      note="A property of the list that no form saves to now."), {}
    form_id, _version, chosen = next(
        ((f, v, item) for f, v, item in saving if item.control in ("select1", "select")),
        saving[0])
    labels: dict[str, dict[str, str]] = {}
    for _form, _v, item in saving:
        for choice in item.choices:
            labels.setdefault(choice.name, choice.labels)
    personal = any(item.privacy == IDENTIFYING for _f, _v, item in saving)
    privacy = IDENTIFYING if personal else next((i.privacy for _f, _v, i in saving
                                                 if i.privacy), "")
    # the path names the form too: two forms' fields of one path are not the same field
    field = replace(chosen, path=f"{form_id}:{chosen.path}")
    return Column(
        header=prop["name"], source=prop["column"], kind=prop["kind"], field=field,
        versions=tuple(dict.fromkeys(f"{f} {v}" for f, v, _item in saving)),
        personal=personal, privacy=privacy or "",
        phone=is_phone_field(prop["name"]) and chosen.type == "string",
        withheld=personal and not reveal and any(i.free_text for _f, _v, i in saving)), labels


def _saving_fields(session: Session, form: Form, list_name: str
                   ) -> dict[str, list[tuple[str, str, Field]]]:
    """property → (form, version, field) of every form version that saves to it: the exported
    form's first, newest first, then the other forms'."""
    forms = sorted(form_queries.list_forms(session), key=lambda f: f.id != form.id)
    saving: dict[str, list[tuple[str, str, Field]]] = defaultdict(list)
    for other in forms:
        for version in reversed(form_queries.list_versions(session, other)):
            structure = _structure(version)
            for declaration in structure.entities:
                if declaration.dataset != list_name:
                    continue
                for prop, path in declaration.properties.items():
                    saving[prop].append((other.xml_form_id, version.version,
                                         structure.field(path)))
    return saving


def _free_name(name: str, taken: set[str]) -> str:
    """A list's file name, never one of the form's files (a form may be named as a list)."""
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}~{number}"
    return candidate


def _structure(version):
    return structure_of(version)[0]
