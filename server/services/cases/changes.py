"""Cases as JSON for our own clients (a field office's server, an analyst's script): the whole
list, or only what changed since a token, with what left; beyond Central, as CommCare's restore.

A token is `<epoch>.<change>`: the list's rebuild epoch and its last change number when the
answer was made. A delta answers the cases changed after that change; a token of another epoch
(the cases were rebuilt), or ahead of the list, or unreadable, is unknown: the client must load
the whole list again (412). The list's change numbers are taken under a lock held to the commit
(`entity_queries.next_seq`), so every change up to the number read is committed and seen.

What a caller receives is limited to its places, as on the phones; a case that left them (its
place was corrected) is told as removed only to a caller whose places held it once, so nobody
learns another place's cases from a delta.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from server.database.queries import case_pages as case_page_queries
from server.database.queries import entities as entity_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services.access import Scope
from server.services.cases.rows import property_names


@dataclass(frozen=True)
class Feed:
    token: str
    etag: str
    # None: nothing built yet (the caller's ETag matched); else the JSON text of each case
    entities: list[str] | None
    removed: list[str] | None
    delta: bool
    properties: list[str]  # the list's, in its order


def feed(connection, name: str, scope: Scope, since: str | None,
         if_none_match: str | None = None) -> Feed:
    entity_list = entity_queries.list_named(connection, name)
    if entity_list is None:
        raise Problem(problems.LIST_NOT_FOUND, name=name)
    upto = entity_list.last_seq
    after = None if since is None else _change_of(since, entity_list)
    token = f"{entity_list.epoch}.{upto}"
    etag = _etag(entity_list, scope, after)
    properties = property_names(entity_list)
    if if_none_match is not None and etag in _etags(if_none_match):
        return Feed(token, etag, None, None, after is not None, properties)
    governorates, forums = (None, None) if scope.everything else (scope.governorates,
                                                                    scope.forums)
    if after is None:
        rows = entity_queries.feed_rows(connection, entity_list.id, upto=upto, after=None,
                                        governorates=governorates, forums=forums)
        return Feed(token, etag, [_json(row) for row in rows], [], False, properties)
    changed = entity_queries.feed_rows(connection, entity_list.id, upto=upto, after=after,
                                       governorates=None, forums=None)
    kept, removed, outside = [], [], []
    for row in changed:
        if not scope.allows({"governorate": row.governorate, "forum": row.forum}):
            outside.append(row)
        elif row.deleted_at is not None:
            removed.append(row.uuid)
        else:
            kept.append(_json(row))
    removed.extend(_once_in(connection, outside, scope))
    return Feed(token, etag, kept, removed, True, properties)


def body(feed_: Feed, name: str) -> Iterator[str]:
    """The answer's JSON, in pieces (100,000 cases are tens of megabytes)."""
    yield (f'{{"list":{json.dumps(name)},"token":{json.dumps(feed_.token)},'
           f'"delta":{json.dumps(feed_.delta)},"properties":{json.dumps(feed_.properties)},'
           f'"removed":{json.dumps(feed_.removed)},"count":{len(feed_.entities)},'
           '"entities":[')
    for start in range(0, len(feed_.entities), 1000):
        yield ("," if start else "") + ",".join(feed_.entities[start:start + 1000])
    yield "]}"


def _change_of(since: str, entity_list) -> int:
    epoch, _, number = since.partition(".")
    if epoch != entity_list.epoch or not number.isdigit() or int(number) > entity_list.last_seq:
        raise Problem(problems.LIST_TOKEN_UNKNOWN, name=entity_list.name)
    return int(number)


def _etag(entity_list, scope: Scope, after: int | None) -> str:
    # What is answered depends on nothing else: every change of a case takes a change number.
    key = json.dumps([entity_list.id, entity_list.epoch, entity_list.last_seq,
                      entity_list.properties, scope.everything, sorted(scope.governorates),
                      sorted(scope.forums), after])
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:40] + '"'


def _etags(header: str) -> set[str]:
    return {part.strip().removeprefix("W/") for part in header.split(",")}


def _once_in(connection, outside, scope: Scope) -> list[str]:
    """The uuids of the cases outside `scope` now that some version of placed inside it."""
    if not outside:
        return []
    held = set()
    for version in entity_queries.version_data(connection, [row.id for row in outside]):
        data = json.loads(version.data)
        if scope.allows({"governorate": data.get("governorate"), "forum": data.get("forum")}):
            held.add(version.entity_id)
    return [row.uuid for row in outside if row.id in held]


def _json(row) -> str:
    # The stored data is JSON already: written into the answer as it is, not parsed again.
    return (f'{{"uuid":"{row.uuid}","label":{json.dumps(row.label, ensure_ascii=False)},'
            f'"version":{row.version},"conflict":{json.dumps(row.conflict)},'
            f'"createdAt":"{time_text(row.created_at)}","updatedAt":"{time_text(row.updated_at)}",'
            f'"properties":{row.data}}}')


def history(connection, name: str, uuid: str, scope: Scope) -> dict:
    """One case and every version of it: what it held, who made it and from which submission."""
    entity_list = entity_queries.list_named(connection, name)
    if entity_list is None:
        raise Problem(problems.LIST_NOT_FOUND, name=name)
    case = entity_queries.entity(connection, uuid.strip().lower(), lock=False)
    if case is None or case.list_id != entity_list.id \
            or not scope.allows({"governorate": case.governorate, "forum": case.forum}):
        raise Problem(problems.CASE_NOT_FOUND, name=name, uuid=uuid)
    versions = case_page_queries.case_versions(connection, case.id)
    return {
        "uuid": case.uuid, "label": case.label, "version": case.version,
        "conflict": case.conflict, "createdAt": time_text(case.created_at),
        "updatedAt": time_text(case.updated_at),
        "deletedAt": time_text(case.deleted_at) if case.deleted_at else None,
        "properties": json.loads(case.data),
        "versions": [{
            "version": v.version, "label": v.label, "properties": json.loads(v.data),
            "received": json.loads(v.data_received), "conflict": v.conflict,
            "conflictingProperties": json.loads(v.conflicting_properties)
            if v.conflicting_properties else [],
            "forced": bool(v.forced), "createdAt": time_text(v.created_at),
            "appUser": v.app_user, "user": v.web_user, "instanceId": v.key,
        } for v in versions]}


def time_text(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite gives back what it was given, in UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
