"""`GET formList`: the forms this phone may fill, each with the hash of the exact bytes served."""

from __future__ import annotations

from flask import Response, g, request, url_for

from server.database import per_request
from server.database.queries import forms as form_queries
from server.services.cases.lists import ENTITY_LIST_MEDIA
from server.surfaces.openrosa import XML_MIMETYPE, bp, xml


@bp.get("/formList")
def form_list() -> Response:
    # Collect adds ?deviceID=...; only formID narrows the list.
    forms = form_queries.forms_for_phone(per_request.session(), g.app_user,
                                         xml_form_id=request.args.get("formID"))
    entries = []
    for form in forms:
        version = form.current_version
        has_media = any(m.blob_sha256 or m.type == ENTITY_LIST_MEDIA for m in version.media)
        entries.append({
            "formID": form.xml_form_id,
            "name": version.title,
            "version": version.version,
            "hash": f"md5:{version.xform_md5}",
            "downloadUrl": url_for(".form_download", xml_form_id=form.xml_form_id,
                                   _external=True),
            "manifestUrl": url_for(".manifest", xml_form_id=form.xml_form_id, _external=True)
            if has_media else None,
        })
    return Response(xml.form_list(entries), content_type=XML_MIMETYPE)
