"""`GET forms/<id>/manifest` and the media files it lists, the entity lists among them (each
phone's own, with the integrity answer for its cases or its feedback)."""

from __future__ import annotations

import mimetypes

from flask import Response, current_app, g, request, send_file, url_for

from server.database import per_request
from server.database.queries import forms as form_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import feedback
from server.services.cases import serving as case_serving
from server.services.cases.lists import ENTITY_LIST_MEDIA
from server.surfaces.openrosa import XML_MIMETYPE, bp, form_for_phone, xml


@bp.get("/forms/<xml_form_id>/manifest")
def manifest(xml_form_id: str) -> Response:
    form = form_for_phone(xml_form_id)
    files = []
    for media in form.current_version.media:
        url = url_for(".media_file", xml_form_id=form.xml_form_id, name=media.name,
                      _external=True)
        if media.type == ENTITY_LIST_MEDIA and media.blob is None:
            made = _list_file(media.name)
            if made is not None:
                files.append({"filename": media.name, "hash": f"md5:{made.md5}",
                              "downloadUrl": url, "type": ENTITY_LIST_MEDIA,
                              "integrityUrl": url_for(".list_integrity",
                                                      name=media.name[:-4], _external=True)})
        elif media.blob is not None:
            # always prefixed: Collect strips four characters
            files.append({"filename": media.name, "hash": f"md5:{media.blob.md5}",
                          "downloadUrl": url})
    return Response(xml.manifest(files), content_type=XML_MIMETYPE)


def _list_file(name: str) -> case_serving.ListFile | feedback.ListFile | None:
    if name == feedback.MEDIA_NAME:  # the phone's own returned submissions
        return feedback.list_file(per_request.session(), g.app_user.id)
    connection = per_request.session().connection()
    return case_serving.list_file(connection, name.removesuffix(".csv"),
                                  case_serving.phone_places(connection, g.app_user.id))


@bp.get("/lists/<name>/integrity")
def list_integrity(name: str) -> Response:
    """Which of the cases (or feedback entries) the phone asks about are gone from it
    (Central's `datasets/<name>/integrity?id=a,b`); no `id`: none asked, none answered."""
    ids = [i.strip() for i in request.args.get("id", "").split(",") if i.strip()]
    if len(ids) > 10_000:
        raise Problem(problems.BAD_REQUEST, reason="at most 10,000 ids at once")
    if name == feedback.LIST_NAME:
        states = feedback.integrity(per_request.session(), g.app_user.id, ids)
    else:
        connection = per_request.session().connection()
        states = case_serving.integrity(connection, name,
                                        case_serving.phone_places(connection, g.app_user.id),
                                        ids)
    return Response(xml.entity_states(states), content_type=XML_MIMETYPE,
                    headers={"Cache-Control": "private, no-cache"})


@bp.get("/forms/<xml_form_id>/attachments/<path:name>")
def media_file(xml_form_id: str, name: str) -> Response:
    form = form_for_phone(xml_form_id)
    media = form_queries.get_media(per_request.session(), form.current_version, name)
    if media is not None and media.type == ENTITY_LIST_MEDIA and media.blob is None:
        made = _list_file(name)
        if made is not None:
            response = Response(made.body, content_type="text/csv; charset=utf-8",
                                headers={"Cache-Control": "private, no-cache"})
            response.set_etag(made.md5)  # the manifest's hash: If-None-Match answers 304
            return response.make_conditional(request)
    if media is None or media.blob is None:
        raise Problem(problems.MEDIA_NOT_FOUND, form_id=xml_form_id, name=name)
    # The stored file is found by its hash; the name only chooses the content type.
    path = current_app.extensions["blobs"].path(media.blob.sha256)
    mimetype = mimetypes.guess_type(media.name)[0] or "application/octet-stream"
    response = send_file(path, mimetype=mimetype, etag=media.blob.md5, conditional=True,
                         download_name=media.name.rsplit("/", 1)[-1])
    return response
