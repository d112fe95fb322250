"""An entity list's typed table (`e_cases`): one row per case as it stands, a column per property
typed as the form fields that save to it, for analysts' plain SQL as the form tables are.

The list's properties, with their kinds, are kept on the list (`entity_lists.properties`); the
table is created or grown when a form is loaded (DDL stays off the submission path) and its rows
are written with the case, in the same transaction.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import EntityList
from server.database.projection import SQL_TYPES
from server.database.queries import entities as entity_queries
from server.database.queries import form_tables as table_queries
from sync import tables as shapes

SYSTEM = ("_uuid", "_label", "_version", "_conflict", "_created_at", "_updated_at",
          "_deleted_at", "_creator")


def properties_of(entity_list) -> list[dict]:
    """[{"name", "kind", "column"}] in the order the forms declared them."""
    return json.loads(entity_list.properties or "[]")


def ensure(session: Session, entity_list: EntityList, declared: dict[str, str]) -> bool:
    """Give the list the properties `declared` (name → column kind) it lacks, and its table
    the columns; True when anything was added."""
    known = properties_of(entity_list)
    names = {p["name"] for p in known}
    taken = set(SYSTEM) | {p["column"] for p in known}
    added = []
    for name, kind in declared.items():
        if name not in names:
            column = shapes.unique(shapes.sql_identifier(name, fallback="property")
                                   [:shapes.MAX_IDENTIFIER], taken)
            added.append({"name": name, "kind": kind, "column": column})
    fresh = entity_list.table_name is None
    if not added and not fresh:
        return False
    if fresh:
        taken_tables = table_queries.all_table_names(session) | {
            lst.table_name for lst in entity_queries.all_lists(session) if lst.table_name}
        entity_list.table_name = shapes.unique(
            ("e_" + shapes.sql_identifier(entity_list.name, fallback="list"))
            [:shapes.MAX_IDENTIFIER], taken_tables)
    entity_list.properties = json.dumps(known + added, ensure_ascii=False)
    session.flush()
    if fresh:
        entity_queries.create_typed_table(session, table_of(entity_list))
    else:
        for prop in added:
            entity_queries.add_typed_column(session, entity_list.table_name,
                                            sa.Column(prop["column"], SQL_TYPES[prop["kind"]]()))
    _tables.pop(entity_list.name, None)
    return True


def table_of(entity_list) -> sa.Table:
    """The list's table as SQLAlchemy sees it, built once per shape."""
    key = (entity_list.table_name, entity_list.properties)
    cached = _tables.get(entity_list.name)
    if cached is not None and cached[0] == key:
        return cached[1]
    table = sa.Table(
        entity_list.table_name, sa.MetaData(),
        sa.Column("_uuid", sa.Text, primary_key=True),
        sa.Column("_label", sa.Text),
        sa.Column("_version", sa.Integer),
        sa.Column("_conflict", sa.Text),
        sa.Column("_created_at", sa.DateTime(timezone=True)),
        sa.Column("_updated_at", sa.DateTime(timezone=True)),
        sa.Column("_deleted_at", sa.DateTime(timezone=True)),
        sa.Column("_creator", sa.Text),
        *(sa.Column(p["column"], SQL_TYPES[p["kind"]]()) for p in properties_of(entity_list)))
    _tables[entity_list.name] = (key, table)
    return table


_tables: dict[str, tuple[tuple, sa.Table]] = {}
