"""`/sync/v1`: where a field office's server talks to headquarters (the office always calls:
it is the one behind a link that comes and goes). Authenticated by the office's token
(`Authorization: Bearer`), answered in JSON, problems too.

- `GET hello`: who the office is to headquarters and the cursors headquarters holds.
- `POST key`: the public key that signs the office's bundles.
- `GET changes?after=N`: headquarters' changes for the office after N (asking for them says
  the office has applied up to N).
- `POST changes`: the office's changes, applied in order; the answer says up to where.
- `HEAD/PUT blobs/<sha256>`: a file for the office's changes, sent in pieces that resume;
  `GET blobs/<sha256>` (with `Range`): a file of headquarters' changes.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, g, json, request, send_file
from werkzeug.exceptions import ClientDisconnected

from server import database
from server.database import per_request
from server.database.models import utcnow
from server.database.queries import field_offices as field_office_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services.field_office import applying, feed, registry, transfer
from sync import field_sync

# every view reads (who calls) before it writes a little, or streams a file in
bp = per_request.reads_first(Blueprint("peers", __name__, url_prefix="/sync/v1"))
PROBLEMS_UNDER = "/sync"
MAX_ITEMS = 2000


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def render_problem(problem: Problem) -> Response:
    return Response(json.dumps(problem.as_json()), status=problem.status,
                    mimetype="application/json")


@bp.before_request
def _identify_office() -> None:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    session = per_request.session()
    g.office = registry.office_of(session, token)
    g.office_id = g.office.id
    session.commit()  # nothing held while the request goes on


def _contact(session):
    """The office's row, locked, marked as heard from (and its own last change number, which
    it sends with every call, for the page of field offices)."""
    database.write_after_reading(session)
    office = field_office_queries.lock_peer(session, g.office_id)
    office.last_contact_at = utcnow()
    if (theirs := request.headers.get("X-Muntada-Last-Seq", "")).isdigit():
        office.their_seq = int(theirs)
    return office


@bp.get("/hello")
def hello():
    session = per_request.session()
    last = feed.number(session)
    office = _contact(session)
    session.commit()
    return registry.hello(office, last)


@bp.post("/key")
def key():
    session = per_request.session()
    payload = request.get_json(silent=True) or {}
    office = _contact(session)
    registry.accept_key(session, office, str(payload.get("public_key", "")),
                        address=request.remote_addr)
    session.commit()
    return {"public_key": office.public_key}


@bp.get("/changes")
def changes_down():
    session = per_request.session()
    after = _int_arg("after", 0)
    limit = min(_int_arg("limit", feed.BATCH), MAX_ITEMS)
    office = _contact(session)
    office.down_seq = max(office.down_seq, after)  # it has applied up to there
    session.commit()
    page = feed.page(session, office, after, limit=limit)
    return {"items": [item.as_json() for item in page.items], "last_seq": page.last_seq,
            "next_after": page.next_after, "more": page.more}


@bp.post("/changes")
def changes_up():
    session = per_request.session()
    # a page of items is a few megabytes of XML; a body larger than a submission may be is not
    request.max_content_length = current_app.config["MAX_SUBMISSION_BYTES"]
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("items"), list) \
            or len(payload["items"]) > MAX_ITEMS:
        raise Problem(problems.SYNC_ITEM_INVALID,
                      reason=f"the body is {{'items': [...]}} with at most {MAX_ITEMS} items")
    try:
        items = [field_sync.read_item(raw, field_sync.UP) for raw in payload["items"]]
    except field_sync.ItemInvalid as error:
        raise Problem(problems.SYNC_ITEM_INVALID, reason=str(error)) from error
    _contact(session)
    session.commit()
    through = payload.get("through")
    done = applying.apply(session, current_app.extensions["blobs"], g.office_id, items,
                          through=through if isinstance(through, int) else None)
    return {"cursor": done.cursor, "applied": done.applied, "held": done.held,
            "refused": [{"seq": seq, "reason": reason} for seq, reason in done.refused],
            "conflicts": done.conflicts, "missing": done.missing}


@bp.route("/blobs/<sha256>", methods=["HEAD"])
def blob_state(sha256: str):
    if not field_sync.is_sha256(sha256):
        raise Problem(problems.NOT_FOUND)
    store = current_app.extensions["blobs"]
    if store.path(sha256).is_file():
        return Response(status=200, headers={"X-Partial-Offset": "complete"})
    held = _partials().held(sha256)
    return Response(status=404, headers={"X-Partial-Offset": str(held)})


@bp.put("/blobs/<sha256>")
def blob_upload(sha256: str):
    if not field_sync.is_sha256(sha256):
        raise Problem(problems.NOT_FOUND)
    store = current_app.extensions["blobs"]
    if store.path(sha256).is_file():
        return {"held": "complete"}, 200
    offset, size = _int_arg("offset", 0), _int_header("X-Blob-Size")
    limit = current_app.config["MAX_SUBMISSION_BYTES"]
    if size > limit:
        raise Problem(problems.TOO_LARGE, limit=limit)
    per_request.session().commit()  # nothing held while the file streams in
    partials = _partials()
    held = partials.append(sha256, offset, size,
                           _chunks_of(request.stream, max(0, size - offset)))
    if held < size:
        return {"held": held}, 200
    partials.take(store, sha256)
    return {"held": "complete"}, 201


@bp.get("/blobs/<sha256>")
def blob_download(sha256: str):
    session = per_request.session()
    store = current_app.extensions["blobs"]
    if not field_sync.is_sha256(sha256) or not store.path(sha256).is_file() \
            or not field_office_queries.blob_offered_down(session, sha256):
        raise Problem(problems.SYNC_BLOB_NOT_OFFERED)
    session.commit()
    return send_file(store.path(sha256), mimetype="application/octet-stream",
                     conditional=True, etag=sha256)


def _partials() -> transfer.Partials:
    return transfer.Partials(current_app.config["DATA_DIR"], g.office.name)


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name, "")
    if not value:
        return default
    if not value.isdigit():
        raise Problem(problems.BAD_REQUEST, reason=f"'{name}' is a whole number")
    return int(value)


def _int_header(name: str) -> int:
    value = request.headers.get(name, "")
    if not value.isdigit():
        raise Problem(problems.BAD_REQUEST, reason=f"the header {name} gives the file's size")
    return int(value)


def _chunks_of(stream, limit: int):
    """The body's chunks, at most `limit` bytes; a connection cut mid-body ends them early,
    and what came is kept (the office sends the rest next time)."""
    seen = 0
    while seen < limit:
        try:
            chunk = stream.read(min(transfer.CHUNK, limit - seen))
        except (OSError, ClientDisconnected):
            return
        if not chunk:
            return
        seen += len(chunk)
        yield chunk
