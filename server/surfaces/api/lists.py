"""`/api/v1/lists`: the entity lists (the cases) for our own clients and analysts' scripts, as
JSON: the whole list or what changed since a token (`?since=`), answered 304 when the caller's
ETag still holds and 412 when its token is unknown. Limited to the caller's places."""

from __future__ import annotations

from flask import Response, current_app, g, request

from server.database import per_request
from server.database.models import utcnow
from server.database.queries import entities as entity_queries
from server.services import audit
from server.services.access import scope_of
from server.services.cases import changes, deleting
from server.services.cases.rows import property_names
from server.surfaces.api import allow, bp


@bp.get("/lists")
@allow("data.download")
def lists():
    session = per_request.session()
    return [{"name": entity_list.name, "properties": property_names(entity_list),
             "token": f"{entity_list.epoch}.{entity_list.last_seq}"}
            for entity_list in entity_queries.all_lists(session)]


@bp.get("/lists/<name>/entities")
@allow("data.download")
def entities(name: str):
    session = per_request.session()
    since = request.args.get("since")
    fed = changes.feed(session.connection(), name, scope_of(g.user), since,
                       request.headers.get("If-None-Match"))
    headers = {"ETag": fed.etag, "Cache-Control": "private, no-cache"}
    if fed.entities is None:
        return Response(status=304, headers=headers)
    _audit(name, since, len(fed.entities))
    return Response(changes.body(fed, name),
                    mimetype="application/json", headers=headers)


@bp.get("/lists/<name>/entities/<uuid>")
@allow("data.download")
def entity_history(name: str, uuid: str):
    session = per_request.session()
    case = changes.history(session.connection(), name, uuid, scope_of(g.user))
    _audit(name, None, 1, uuid=case["uuid"])
    return case


@bp.delete("/lists/<name>/entities/<uuid>")
def delete_entity(name: str, uuid: str):
    """An administrator deletes a case: it leaves the phones and the lists, its history stays."""
    session = per_request.session()  # a DELETE's unit of work writes
    deleted_at = deleting.delete(session.connection(), name, uuid, g.user.id, utcnow())
    audit.record(session, "case.deleted", user=g.user, address=request.remote_addr, list=name,
                 uuid=uuid)
    session.commit()
    return {"uuid": uuid.strip().lower(), "deletedAt": changes.time_text(deleted_at)}


def _audit(name: str, since: str | None, count: int, **details) -> None:
    # in a short write of its own, as the data API's reads (the request's session only reads)
    with per_request.of(current_app).writing() as writer:
        audit.record(writer, "api.cases_read", user=g.user, address=request.remote_addr,
                     list=name, since=since, cases=count, **details)
