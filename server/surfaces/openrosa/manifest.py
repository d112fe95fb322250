"""`GET forms/<id>/manifest` and the media files it lists."""

from __future__ import annotations

import mimetypes

from flask import Response, current_app, send_file, url_for

from server.database import per_request
from server.database.queries import forms as form_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.surfaces.openrosa import XML_MIMETYPE, bp, form_for_phone, xml


@bp.get("/forms/<xml_form_id>/manifest")
def manifest(xml_form_id: str) -> Response:
    form = form_for_phone(xml_form_id)
    files = [{
        "filename": media.name,
        "hash": f"md5:{media.blob.md5}",  # always prefixed: Collect strips four characters
        "downloadUrl": url_for(".media_file", xml_form_id=form.xml_form_id, name=media.name,
                               _external=True),
    } for media in form.current_version.media if media.blob is not None]
    return Response(xml.manifest(files), content_type=XML_MIMETYPE)


@bp.get("/forms/<xml_form_id>/attachments/<path:name>")
def media_file(xml_form_id: str, name: str) -> Response:
    form = form_for_phone(xml_form_id)
    media = form_queries.get_media(per_request.session(), form.current_version, name)
    if media is None or media.blob is None:
        raise Problem(problems.MEDIA_NOT_FOUND, form_id=xml_form_id, name=name)
    # The stored file is found by its hash; the name only chooses the content type.
    path = current_app.extensions["blobs"].path(media.blob.sha256)
    mimetype = mimetypes.guess_type(media.name)[0] or "application/octet-stream"
    response = send_file(path, mimetype=mimetype, etag=media.blob.md5, conditional=True,
                         download_name=media.name.rsplit("/", 1)[-1])
    return response
