"""A submission version's entity actions applied to the cases, in the submission's transaction.

Each action is decided by `sync.entity_updates.decide` on everything held of its case, then
stored: a new case or version (linked to the submission version that made it), a held update
(the backlog, waiting for its predecessor from the same phone), or a refusal with its reason.
An applied version releases the held update that follows it, which may release the next.
Whatever happens to the cases, the submission itself is kept: a refusal is recorded on it, never
raised. The statements run on the submission path's writers (a Connection, or SQLite's lane).

Beyond Central: a phone updates only the cases of its places (a refusal is a case event, so a
rebuild refuses it again whatever the places are then); an edit of the submission that opened a
case corrects the case (Central ignores the edit's create).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.database import case_table
from server.database.queries import entities as entity_queries
from server.services.access import Scope
from server.services.cases import rows
from sync.entities import EntityAction, EntityDataError
from sync.entity_updates import (
    Decision,
    EntityVersion,
    HoldKey,
    Outcome,
    ServerEntity,
    decide,
    next_held,
)

log = logging.getLogger(__name__)
APPLIED, HELD, REFUSED = "applied", "held", "refused"
PLACE_REFUSAL = "place"  # the phone does not hold the case's place
LIST_REFUSAL = "list"  # the id belongs to a case of another list, or the list is unknown
INVALID_REFUSAL = "invalid"  # the instance's entity data could not be read


@dataclass(frozen=True)
class Source:
    """The submission version whose actions are applied."""

    submission_id: int
    def_id: int
    app_user_id: int | None
    at: datetime  # when it arrived: the time of the versions it makes
    # the phone's places when it arrived; None when rebuilding (the recorded refusals decide)
    places: Scope | None


def places_of(pairs: Sequence[tuple[str, str]]) -> Scope:
    """A phone's places as a Scope (`accounts.app_user_places`' pairs)."""
    return Scope(everything=False,
                 governorates=frozenset(v for k, v in pairs if k == "governorate"),
                 forums=frozenset(v for k, v in pairs if k == "forum"))


def apply(writer, actions: Sequence[EntityAction], source: Source,
          error: EntityDataError | None = None) -> list[str]:
    """Apply the version's actions; return what each came to (APPLIED, HELD, REFUSED)."""
    if error is not None:
        log.info("submission %s: entity data refused: %s", source.submission_id, error)
        entity_queries.insert_action(writer, _record(
            source, 1, "", "", REFUSED, INVALID_REFUSAL, str(error)[:2000], None, None, None))
        return [REFUSED]
    return [_apply_one(writer, action, source, position)
            for position, action in enumerate(actions, start=1)]


def _apply_one(writer, action: EntityAction, source: Source, position: int) -> str:
    entity_list = entity_queries.list_named(writer, action.dataset)
    row = entity_queries.entity(writer, action.uuid)
    if entity_list is None or (row is not None and row.list_id != entity_list.id):
        return _refused(writer, action, source, position, LIST_REFUSAL,
                        f"case {action.uuid} is not one of the list '{action.dataset}'")
    if _outside_places(writer, action, row, source, position):
        return _refused(writer, action, source, position, PLACE_REFUSAL,
                        f"the phone does not hold the place of case {action.uuid}")
    server = _server_entity(writer, row)
    action = _as_correction(action, server, source)
    decision = decide(action, server)
    outcome = _settle(writer, entity_list, row, action, decision, source, position, None)
    if decision.applied:
        release(writer, entity_list, decision, source.at)
    return outcome


def release(writer, entity_list, applied: Decision, at: datetime) -> None:
    """Apply the held updates that `applied` releases, one after another."""
    while True:
        held = entity_queries.held_of(writer, applied.uuid)
        following = next_held(applied, held, key=lambda r: HoldKey(r.uuid, r.branch_id,
                                                                     r.base_version))
        if following is None:
            return
        applied = decide_held(writer, entity_list, following, at, force=False)
        if not applied.applied:
            return


def decide_held(writer, entity_list, held, at: datetime, *, force: bool) -> Decision:
    """Decide a held update again (its predecessor arrived, or its time ran out: `force`) and
    store what it comes to on its record."""
    stored = json.loads(held.action)
    action = EntityAction(**{k: stored[k] for k in _ACTION_FIELDS})
    source = Source(held.submission_id, held.submission_def_id, stored.get("app_user_id"), at,
                    None)
    row = entity_queries.entity(writer, action.uuid)
    decision = decide(action, _server_entity(writer, row), force=force)
    _settle(writer, entity_list, row, action, decision, source, held.position, held.id)
    return decision


def _outside_places(writer, action: EntityAction, row, source: Source, position: int) -> bool:
    if source.places is None:  # rebuilding: refused again where it was refused
        return entity_queries.refused_by_event(writer, source.def_id, position)
    places = source.places
    if row is None:
        if not action.create:
            return False  # an update of a case the server lacks: decide() says what it is
        if not (places.governorates or places.forums):
            return False  # a phone tied to no place may open cases (it receives none)
        place = {name: action.properties.get(name) for name in rows.PLACES}
    else:
        place = {"governorate": row.governorate, "forum": row.forum}
    if places.allows(place):
        return False
    entity_queries.insert_event(writer, {
        "kind": "refuse", "uuid": action.uuid, "submission_def_id": source.def_id,
        "position": position, "user_id": None, "body": "{}", "after_def_id": source.def_id,
        "at": source.at})
    return True


def _server_entity(writer, row) -> ServerEntity | None:
    if row is None:
        return None
    versions = tuple(
        EntityVersion(number=v.version, data=json.loads(v.data), label=v.label,
                      branch_id=v.branch_id, trunk_version=v.trunk_version,
                      branch_base_version=v.branch_base_version,
                      source=str(v.submission_id) if v.submission_id else None,
                      forced=bool(v.forced))
        for v in entity_queries.versions(writer, row.id))
    return ServerEntity(uuid=row.uuid, versions=versions, deleted=row.deleted_at is not None,
                        conflict=row.conflict)


def _as_correction(action: EntityAction, server: ServerEntity | None,
                   source: Source) -> EntityAction:
    """An edit of the submission that opened the case sends its create again: it corrects the
    case, as an update made on its current version."""
    if server is None or not action.create or action.update:
        return action
    first = server.version(1)
    if first is None or first.source != str(source.submission_id):
        return action
    return dataclasses.replace(action, create=False, update=True,
                               base_version=server.current.number, trunk_version=None,
                               branch_id=None)


def _settle(writer, entity_list, row, action: EntityAction, decision: Decision,
            source: Source, position: int, record_id: int | None) -> str:
    """Store the decision; `record_id`: the held record it settles (else a new record)."""
    def_id = None
    if decision.applied:
        def_id = _write_version(writer, entity_list, row, decision, source)
        outcome, refusal = APPLIED, None
    elif decision.outcome is Outcome.HOLD:
        outcome, refusal = HELD, None
    else:
        outcome, refusal = REFUSED, decision.refusal.value if decision.refusal else None
    if record_id is not None:
        entity_queries.settle_action(writer, record_id, outcome=outcome, refusal=refusal,
                                     message=decision.message, def_id=def_id, now=source.at)
    else:
        entity_queries.insert_action(writer, _record(
            source, position, action.dataset, action.uuid, outcome, refusal, decision.message,
            def_id, action, decision.hold))
    if outcome == REFUSED:
        log.info("submission %s: %s", source.submission_id, decision.message)
    return outcome


def _write_version(writer, entity_list, row, decision: Decision, source: Source) -> int:
    seq = entity_queries.next_seq(writer, entity_list.id)
    data = decision.data
    state = {"label": decision.label, "version": decision.version,
             "data": json.dumps(data, ensure_ascii=False), "conflict": decision.conflict,
             **rows.filter_columns(data), "seq": seq,
             "csv_row": rows.csv_row(entity_list, decision.uuid, decision.label,
                                     decision.version, data),
             "updated_at": source.at}
    if row is None:
        entity_id = entity_queries.insert_entity(writer, {
            **state, "list_id": entity_list.id, "uuid": decision.uuid,
            "creator_id": source.app_user_id, "created_at": source.at, "deleted_at": None})
        created_at, creator_id = source.at, source.app_user_id
    else:
        entity_id, created_at, creator_id = row.id, row.created_at, row.creator_id
        entity_queries.update_entity(writer, entity_id, state)
    def_id = entity_queries.insert_version(writer, {
        "entity_id": entity_id, "version": decision.version, "label": decision.label,
        "data": state["data"],
        "data_received": json.dumps(decision.data_received, ensure_ascii=False),
        "base_version": decision.base_version, "branch_id": decision.branch_id,
        "trunk_version": decision.trunk_version,
        "branch_base_version": decision.branch_base_version, "conflict": decision.conflict,
        "conflicting_properties": json.dumps(list(decision.conflicting_properties))
        if decision.conflicting_properties else None,
        "forced": decision.forced, "submission_id": source.submission_id,
        "submission_def_id": source.def_id, "app_user_id": source.app_user_id,
        "user_id": None, "created_at": source.at})
    write_typed_row(writer, entity_list, decision.uuid, decision.label, decision.version, data,
                    decision.conflict, created_at, source.at, None, creator_id)
    return def_id


def write_typed_row(writer, entity_list, uuid: str, label: str, version: int,
                    data: dict[str, str], conflict: str | None, created_at: datetime,
                    updated_at: datetime, deleted_at: datetime | None,
                    creator_id: int | None) -> None:
    creator = entity_queries.app_user_name(writer, creator_id) if creator_id else None
    entity_queries.replace_typed_row(writer, case_table.table_of(entity_list), uuid, rows.typed_row(
        entity_list, uuid, label, version, data, conflict, created_at, updated_at, deleted_at,
        creator))


_ACTION_FIELDS = ("dataset", "uuid", "create", "update", "label", "base_version",
                  "trunk_version", "branch_id", "properties", "path")


def _record(source: Source, position: int, list_name: str, uuid: str, outcome: str,
            refusal: str | None, message: str, def_id: int | None,
            action: EntityAction | None, hold: HoldKey | None) -> dict:
    stored = {**dataclasses.asdict(action), "app_user_id": source.app_user_id} \
        if action is not None else {}
    return {"submission_def_id": source.def_id, "position": position,
            "submission_id": source.submission_id, "list_name": list_name, "uuid": uuid,
            "outcome": outcome, "refusal": refusal, "message": message,
            "branch_id": hold.branch_id if hold else None,
            "base_version": hold.base_version if hold else None,
            "action": json.dumps(stored, ensure_ascii=False), "entity_def_id": def_id,
            "created_at": source.at, "updated_at": source.at}


def _refused(writer, action: EntityAction, source: Source, position: int, refusal: str,
             message: str) -> str:
    log.info("submission %s: %s", source.submission_id, message)
    entity_queries.insert_action(writer, _record(
        source, position, action.dataset, action.uuid, REFUSED, refusal, message, None, action,
        None))
    return REFUSED
