"""Every case made again from what it was made from: the submission versions of the forms that
feed cases, in the order they arrived, and the case events (a forcing of a held update after its
time, a supervisor's resolution of a conflict, a deletion by an administrator; a refusal for a
place is looked up by the submission's update itself) where they happened between them.
`muntada renormalise` runs it."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from forms.xml import parse_xml
from server.database import case_table
from server.database.queries import entities as entity_queries
from server.database.queries import forms as form_queries
from server.services.cases import applying, deleting, overdue, resolving
from server.services.normalising import structure_of
from sync.entities import EntityDataError, read_entities


def rebuild(session: Session, *, batch: int = 500) -> int:
    """Rebuild every list's cases; return how many submission versions were read."""
    lists = entity_queries.all_lists(session)
    if not lists:
        return 0
    entity_queries.delete_projection(
        session, [case_table.table_of(lst) for lst in lists if lst.table_name])
    for entity_list in lists:  # delta tokens given before the rebuild are unknown after it
        entity_list.epoch, entity_list.last_seq = uuid.uuid4().hex, 0
    session.flush()
    structures, form_ids = {}, set()
    for form in form_queries.list_forms(session):
        for version in form_queries.list_versions(session, form):
            structure = structure_of(version)[0]
            if structure.entities:
                structures[version.id] = structure
                form_ids.add(form.id)
    events = [e for e in entity_queries.events(session) if e.kind in _REPLAYS]
    writer = session.connection()
    read, after = 0, 0
    while page := entity_queries.defs_with_entities(session, sorted(form_ids), after_id=after,
                                                    limit=batch):
        for definition in page:
            while events and events[0].after_def_id < definition.id:
                _replay(writer, events.pop(0))
            _apply(writer, structures.get(definition.form_version_id), definition)
            after = definition.id
            read += 1
    for event in events:
        _replay(writer, event)
    session.flush()
    return read


def _apply(writer, structure, definition) -> None:
    if structure is None:
        return
    source = applying.Source(definition.submission_id, definition.id, definition.submitter_id,
                             definition.created_at, None)
    try:
        actions = read_entities(structure, parse_xml(definition.xml))
    except EntityDataError as error:
        applying.apply(writer, (), source, error)
        return
    applying.apply(writer, actions, source)


def _replay(writer, event) -> None:
    _REPLAYS[event.kind](writer, event)


def _delete(writer, event) -> None:
    deleting.replay(writer, event.uuid, event.at)


def _force(writer, event) -> None:
    held = next((h for h in entity_queries.held_of(writer, event.uuid)
                 if h.submission_def_id == event.submission_def_id
                 and h.position == event.position), None)
    if held is not None:
        overdue.force(writer, held, event.at)


# The case events a rebuild replays where they happened, by kind.
_REPLAYS = {"force": _force, resolving.RESOLVE: resolving.replay, "delete": _delete}
