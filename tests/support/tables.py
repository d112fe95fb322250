"""Reading a form's relational tables the way an analyst's SQL would see them."""

from __future__ import annotations

import sqlalchemy as sa

from server.database import projection
from server.database.queries import form_tables as table_queries
from server.database.queries import forms as form_queries


def rows(session, form_id: str, key: str = "") -> list[dict]:
    """Rows of the form's table (key "") or of a repeat's / select-multiple's table (its path),
    with field columns named by path (`/location#latitude` for a part) rather than by SQL name;
    a field that changed type between versions has a column per type (`/score:integer`)."""
    session.rollback()  # see what requests committed
    form = form_queries.get_form(session, form_id)
    tables = projection.load(session, form)
    mine = [(path, kind, part, name) for (table, path, kind, part), name
            in tables.columns.items() if table == key]
    kinds: dict[str, set[str]] = {}
    for path, kind, _part, _name in mine:
        kinds.setdefault(path, set()).add(kind)
    names = {name: path + (f"#{part}" if part else "") + (f":{kind}" if len(kinds[path]) > 1
                                                          else "")
             for path, kind, part, name in mine}
    out = []
    for row in table_queries.read_rows(session, tables.tables[key]):
        readable = {}
        for column, value in row.items():
            if column in names:
                readable[names[column]] = value
            else:
                readable[column] = value
        out.append(readable)
    return out


def sql_names(session, form_id: str) -> dict[str, str]:
    """Table key → SQL table name."""
    form = form_queries.get_form(session, form_id)
    return {key: table.name for key, table in projection.load(session, form).tables.items()}


def count(session, model) -> int:
    """How many rows of `model` the database holds now (what the last request committed)."""
    session.rollback()
    return session.scalar(sa.select(sa.func.count()).select_from(model))
