"""`HEAD` and `POST submission`: officers' phones sending filled forms."""

from __future__ import annotations

from flask import Response, current_app, g, request

from server.database import per_request
from server.kernel import problems
from server.kernel.problems import Problem
from server.services.receiving import Upload, receive
from server.surfaces import http_auth
from server.surfaces.openrosa import XML_MIMETYPE, bp, xml
from sync.arrival import Outcome

XML_PART = "xml_submission_file"
INCOMPLETE_PART = "*isIncomplete*"
# The instance itself is small; its attachments stream to disk in their own parts.
MAX_XML_BYTES = 20 * 1024 * 1024


@bp.route("/submission", methods=["HEAD"])
def submission_preflight() -> Response:
    response = Response(status=204)
    response.headers["X-OpenRosa-Accept-Content-Length"] = str(
        current_app.config["MAX_SUBMISSION_BYTES"])
    return response


@bp.post("/submission")
def submission() -> Response:
    limit = current_app.config["MAX_SUBMISSION_BYTES"]
    if (request.content_length or 0) > limit:
        raise Problem(problems.TOO_LARGE, limit=limit)
    request.max_content_length = limit  # also bounds chunked bodies while they stream
    request.max_form_memory_size = MAX_XML_BYTES
    if not request.mimetype.startswith("multipart/"):
        raise Problem(problems.NO_XML_PART)
    files = request.files
    part = files.get(XML_PART)
    xml_bytes = part.read(MAX_XML_BYTES + 1) if part is not None else \
        (request.form.get(XML_PART) or "").encode("utf-8")
    if not xml_bytes:
        raise Problem(problems.NO_XML_PART)
    if len(xml_bytes) > MAX_XML_BYTES:
        raise Problem(problems.TOO_LARGE, limit=MAX_XML_BYTES)
    attachments = {name: storage.stream for name, storage in files.items()
                   if name not in (XML_PART, INCOMPLETE_PART)}
    try:
        receipt = receive(per_request.session(), current_app.extensions["blobs"], Upload(
            xml=xml_bytes, files=attachments, app_user=g.app_user,
            device_id=(request.args.get("deviceID") or "")[:255] or None,
            user_agent=request.user_agent.string, token=g.phone_token))
    except Problem as problem:
        if problem.type is problems.TOKEN_INVALID and g.phone_token is not None:
            http_auth.forget_token(g.phone_token)
        raise
    message = "Full submission upload was successful!" if receipt.outcome is not Outcome.RETRY \
        else "This submission was already received; any new files were added."
    response = Response(xml.openrosa_response(message), status=201, content_type=XML_MIMETYPE)
    response.headers["Location"] = request.base_url
    return response
