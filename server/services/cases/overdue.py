"""Held updates whose predecessor never came: after their time (the setting CASE_HOLD_HOURS,
five days by default as in Central) they are applied anyway, on the case's latest version (or as
its create), flagged `forced`. Each forcing is a case event, so a rebuild forces the same ones."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from server.database.queries import entities as entity_queries
from server.services.cases.applying import decide_held, release


def release_overdue(writer, now: datetime, hold_hours: float) -> int:
    """Force every update held longer than `hold_hours`; return how many."""
    forced = 0
    for held in entity_queries.held_before(writer, now - timedelta(hours=hold_hours)):
        if entity_queries.action_at(writer, held.submission_def_id, held.position).outcome \
                != "held":
            continue  # released meanwhile by one forced before it
        entity_queries.insert_event(writer, {
            "kind": "force", "uuid": held.uuid, "submission_def_id": held.submission_def_id,
            "position": held.position, "user_id": None, "body": "{}",
            "after_def_id": entity_queries.last_def_id(writer), "at": now})
        force(writer, held, now)
        forced += 1
    return forced


def force(writer, held, at: datetime) -> None:
    """Apply a held update by force, then what it releases."""
    entity_list = entity_queries.list_named(writer, _dataset(held))
    decision = decide_held(writer, entity_list, held, at, force=True)
    if decision.applied:
        release(writer, entity_list, decision, at)


def _dataset(held) -> str:
    return json.loads(held.action)["dataset"]
