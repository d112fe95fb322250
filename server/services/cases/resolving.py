"""A supervisor settles a case's conflict on its page: for each property the competing versions
set differently, they keep the value of one of them (or the current one). The resolution is a
new version of the case by that web user (no submission made it), which clears the conflict and
changes the case's line in the phones' lists, so each phone receives it.

It is made only on the version the supervisor read: when the case changed meanwhile (a phone's
update arrived), nothing is written and they are told. Each resolution is a case event, kept
for good, that `rebuilding` replays after the submission version it followed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from server.database.queries import case_pages as case_page_queries
from server.database.queries import entities as entity_queries
from server.database.queries import field_offices as field_office_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import audit
from server.services.cases import reading, rows
from server.services.cases.applying import write_typed_row

log = logging.getLogger(__name__)
RESOLVE = "resolve"  # the case event's kind


@dataclass(frozen=True)
class Stale:
    """The case changed after its page was drawn: `shown` is the version read, `current` the
    one it has now."""

    shown: int
    current: int


def resolve(session: Session, reader: reading.CaseReader, uuid: str, shown: str,
            chosen: Mapping[str, str], *, now: datetime, address: str | None) -> Stale | None:
    """Resolve the conflict of case `uuid` as seen at version `shown` with the `chosen` value
    (property → value) of each conflicting property; return Stale, having written nothing,
    when the case is no longer at that version."""
    found = reader.find(uuid)  # another place's case is not found, before anything is read
    if not shown.strip().isdigit():
        raise Problem(problems.RESOLUTION_INVALID)
    writer = session.connection()
    row = entity_queries.entity(writer, found.uuid)  # PostgreSQL: locked until the commit
    if row.version != int(shown):
        return Stale(int(shown), row.version)
    if row.conflict is None or row.deleted_at is not None:
        raise Problem(problems.CASE_NOT_IN_CONFLICT)
    conflict = reading.conflict_of(
        reading.history(case_page_queries.case_versions(session, row.id)), row.conflict)
    values = {}
    for choice in conflict.choices if conflict is not None else ():
        value = chosen.get(choice.name)
        if value is None or value not in {option.value for option in choice.options}:
            raise Problem(problems.RESOLUTION_INVALID)
        values[choice.name] = value
    event_id = entity_queries.insert_event(writer, {
        "kind": RESOLVE, "uuid": row.uuid, "submission_def_id": None, "position": None,
        "user_id": reader.user.id,
        # the values in the order chosen: replayed, they make the very same version
        "body": json.dumps({"version": row.version, "values": values}, ensure_ascii=False),
        "after_def_id": entity_queries.last_def_id(writer), "at": now})
    field_office_queries.log_change(writer, "case_event", event_id, None, now)
    _write(writer, row, values, reader.user.id, now)
    audit.record(session, "case.resolved", user=reader.user, address=address, case=row.uuid,
                 version=row.version + 1, values=values)
    return None


def resolve_as_told(writer, uuid: str, body: str, at: datetime, *, peer_id: int) -> None:
    """A resolution made at the other end of a field office's link, made here too (the same
    values, on the case as it stands here), and recorded, so a rebuild makes it again."""
    row = entity_queries.entity(writer, uuid)
    if row is None:
        raise Problem(problems.CASE_NOT_FOUND)
    event_id = entity_queries.insert_event(writer, {
        "kind": RESOLVE, "uuid": row.uuid, "submission_def_id": None, "position": None,
        "user_id": None, "body": body, "after_def_id": entity_queries.last_def_id(writer),
        "at": at})
    field_office_queries.log_change(writer, "case_event", event_id, peer_id, at)
    replay(writer, entity_queries.event(writer, event_id))


def replay(writer, event) -> None:
    """Make a recorded resolution again (a rebuild), on the case as the submissions before it
    left it."""
    row = entity_queries.entity(writer, event.uuid)
    if row is None:
        log.warning("resolution %s: case %s is not there to resolve", event.id, event.uuid)
        return
    body = json.loads(event.body)
    if body.get("version") != row.version:
        log.warning("resolution %s of case %s was made on version %s; it is at %s",
                    event.id, event.uuid, body.get("version"), row.version)
    _write(writer, row, body.get("values", {}), event.user_id, event.at)


def _write(writer, row, values: Mapping[str, str], user_id: int | None, at: datetime) -> None:
    """The case's next version: its data (and label) with `values`, out of conflict, by
    `user_id`."""
    entity_list = entity_queries.list_by_id(writer, row.list_id)
    seq = entity_queries.next_seq(writer, entity_list.id)
    label = values.get(reading.LABEL, row.label)
    data = {**json.loads(row.data), **{k: v for k, v in values.items() if k != reading.LABEL}}
    version = row.version + 1
    encoded = json.dumps(data, ensure_ascii=False)
    entity_queries.update_entity(writer, row.id, {
        "label": label, "version": version, "data": encoded, "conflict": None,
        **rows.filter_columns(data), "seq": seq,
        "csv_row": rows.csv_row(entity_list, row.uuid, label, version, data),
        "updated_at": at})
    entity_queries.insert_version(writer, {
        "entity_id": row.id, "version": version, "label": label, "data": encoded,
        "data_received": json.dumps(dict(values), ensure_ascii=False),
        "base_version": row.version, "branch_id": None, "trunk_version": None,
        "branch_base_version": None, "conflict": None, "conflicting_properties": None,
        "forced": False, "submission_id": None, "submission_def_id": None,
        "app_user_id": None, "user_id": user_id, "created_at": at})
    write_typed_row(writer, entity_list, row.uuid, label, version, data, None,
                    row.created_at, at, row.deleted_at, row.creator_id)
