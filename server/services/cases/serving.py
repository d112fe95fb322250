"""The entity lists as phones receive them (ODK Entities' form attachments): each phone only the
cases of its places, neither deleted nor closed; the hash that tells Collect whether to download
again; the integrity answer that tells it which of its cases to drop.

The hash is the MD5 of the very bytes the phone would receive, so it changes exactly when they
do. It is kept per (list, rebuild epoch, last change, places): an unchanged list costs one
small read, not a CSV.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from server.database.queries import accounts as account_queries
from server.database.queries import entities as entity_queries
from server.services.access import Scope
from server.services.cases import rows
from server.services.cases.applying import places_of
from sync.entities import normalise_uuid
from sync.entity_updates import CLOSED_STATUSES

_CACHE_SIZE = 256


@dataclass(frozen=True)
class ListFile:
    body: bytes
    md5: str  # hex


def phone_places(connection, app_user_id: int) -> Scope:
    return places_of(account_queries.app_user_places(connection, app_user_id))


def list_file(connection, name: str, places: Scope) -> ListFile | None:
    """The CSV of list `name` for a phone of `places` (None: no such list)."""
    entity_list = entity_queries.list_named(connection, name)
    if entity_list is None:
        return None
    key = (entity_list.id, entity_list.epoch, entity_list.last_seq, entity_list.properties,
           places.governorates, places.forums)
    cached = _files.get(key)
    if cached is not None:
        _files.move_to_end(key)
        return cached
    lines = entity_queries.visible_csv_rows(connection, entity_list.id, places.governorates,
                                            places.forums, CLOSED_STATUSES)
    body = (rows.header(entity_list) + "".join(lines)).encode("utf-8")
    made = ListFile(body, hashlib.md5(body, usedforsecurity=False).hexdigest())
    _files[key] = made
    if len(_files) > _CACHE_SIZE:
        _files.popitem(last=False)
    return made


def integrity(connection, name: str, places: Scope, ids: Sequence[str]) -> list[tuple[str, bool]]:
    """(id, deleted) for each id asked: deleted when the case is unknown, deleted, closed, or
    of a place the phone does not hold (whether another place's case exists is not said)."""
    entity_list = entity_queries.list_named(connection, name)
    asked = [(raw, normalise_uuid(raw)) for raw in ids]
    found = {} if entity_list is None else {
        row.uuid: row for row in entity_queries.states(
            connection, entity_list.id, [u for _raw, u in asked if u])}
    answer = []
    for raw, uuid in asked:
        row = found.get(uuid)
        kept = row is not None and row.deleted_at is None \
            and row.status not in CLOSED_STATUSES \
            and places.allows({"governorate": row.governorate, "forum": row.forum})
        answer.append((raw, not kept))
    return answer


_files: OrderedDict[tuple, ListFile] = OrderedDict()
