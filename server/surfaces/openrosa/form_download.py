"""`GET forms/<id>.xml`: the current version's XForm, byte for byte what formList hashed."""

from __future__ import annotations

from flask import Response

from server.surfaces.openrosa import XML_MIMETYPE, bp, form_for_phone


@bp.get("/forms/<xml_form_id>.xml")
def form_download(xml_form_id: str) -> Response:
    version = form_for_phone(xml_form_id).current_version
    response = Response(version.xform, content_type=XML_MIMETYPE)
    response.headers["ETag"] = f'"{version.xform_md5}"'
    return response
