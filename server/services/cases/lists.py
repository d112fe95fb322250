"""Entity lists, registered when a form that feeds one is loaded: its properties, typed as the
fields that save to them, and its typed table."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from forms import FormStructure
from server.database import case_table
from server.database.models import EntityList
from server.database.queries import entities as entity_queries
from server.services.cases import rows
from sync import tables as shapes


def ensure_lists(session: Session, structure: FormStructure) -> list[EntityList]:
    """The lists `structure` creates or updates, made or grown to its properties."""
    touched = []
    for declaration in structure.entities:
        entity_list = entity_queries.list_by_name(session, declaration.dataset)
        if entity_list is None:
            entity_list = EntityList(name=declaration.dataset, properties="[]",
                                     epoch=uuid.uuid4().hex, last_seq=0)
            session.add(entity_list)
            session.flush()
        declared = {name: shapes.column_kind(structure.field(path))
                    for name, path in declaration.properties.items()}
        if case_table.ensure(session, entity_list, declared):
            rows.refresh_csv_rows(session, entity_list)
        touched.append(entity_list)
    return touched


ENTITY_LIST_MEDIA = "entityList"  # the manifest's type of a list the server makes


def mark_list_media(session: Session, structure: FormStructure, media: list) -> None:
    """A form's media file named `<list>.csv`, for a list the form itself feeds, is that list:
    made by the server for each phone (as Central links such an attachment). A file an
    administrator uploads under that name is served instead, as uploaded."""
    names = {declaration.dataset for declaration in structure.entities}
    for media_file in media:
        if media_file.name.endswith(".csv") and media_file.name[:-4] in names:
            media_file.type = ENTITY_LIST_MEDIA
    session.flush()
