"""An administrator deletes a case (opened by mistake, or a test): it leaves every phone at its
next integrity check and every delta as removed; its versions stay, and so does every
submission. A deletion is a case event, so `muntada renormalise` deletes it again at the same
place among the submissions; an update sent afterwards is refused (kept with its submission)."""

from __future__ import annotations

import json
from datetime import datetime

from server.database.queries import entities as entity_queries
from server.database.queries import field_offices as field_office_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services.cases.applying import write_typed_row


def delete(writer, name: str, uuid: str, user_id: int | None, at: datetime, *,
           peer_id: int | None = None) -> datetime:
    """Delete the case (a case already deleted stays as it was); return when it was deleted.
    `peer_id`: the server where it was deleted, when another (field-office sync)."""
    entity_list = entity_queries.list_named(writer, name)
    row = entity_queries.entity(writer, uuid.strip().lower())
    if entity_list is None or row is None or row.list_id != entity_list.id:
        raise Problem(problems.CASE_NOT_FOUND, name=name, uuid=uuid)
    if row.deleted_at is not None:
        return row.deleted_at
    event_id = entity_queries.insert_event(writer, {
        "kind": "delete", "uuid": row.uuid, "submission_def_id": None, "position": None,
        "user_id": user_id, "body": "{}", "after_def_id": entity_queries.last_def_id(writer),
        "at": at})
    field_office_queries.log_change(writer, "case_event", event_id, peer_id, at)
    replay(writer, row.uuid, at)
    return at


def replay(writer, uuid: str, at: datetime) -> None:
    """Mark the case deleted at `at` (a rebuild replaying a deletion event: `uuid` may name a
    case that no longer exists then, which leaves nothing to delete)."""
    row = entity_queries.entity(writer, uuid)
    if row is None or row.deleted_at is not None:
        return
    entity_list = entity_queries.list_by_id(writer, row.list_id)
    entity_queries.mark_deleted(writer, row.id, at, entity_queries.next_seq(writer, row.list_id))
    write_typed_row(writer, entity_list, row.uuid, row.label, row.version, json.loads(row.data),
                    row.conflict, row.created_at, at, at, row.creator_id)
