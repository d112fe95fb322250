"""`/api/v1/forms`: load forms with their media, change their state, replace media files."""

from __future__ import annotations

from flask import current_app, request

from server.database import per_request
from server.database.queries import forms as form_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services.form_loading import load_form, set_media, set_state
from server.surfaces.api import bp, load_json
from server.surfaces.api.schemas import (
    FormPatchSchema,
    FormSchema,
    FormVersionSchema,
    LoadResultSchema,
)


@bp.get("/forms")
def list_forms():
    return FormSchema(many=True).dump(form_queries.list_forms(per_request.session()))


@bp.post("/forms")
def upload_form():
    """multipart/form-data: `form` is the XLSForm or XForm, every `media` part a media file."""
    upload = request.files.get("form")
    if upload is None:
        raise Problem(problems.BAD_REQUEST, reason="send the form file in a part named 'form'")
    media = {}
    for part in request.files.getlist("media"):
        name = (part.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
        if not name:
            raise Problem(problems.BAD_REQUEST, reason="every media part needs a file name")
        media[name] = part.read()
    session = per_request.session()
    result = load_form(session, current_app.extensions["blobs"], upload.read(), media,
                       validate=current_app.config["VALIDATE_FORMS"],
                       filename=upload.filename)
    session.commit()
    return LoadResultSchema().dump(result), 201 if result.created else 200


@bp.get("/forms/<xml_form_id>")
def get_form(xml_form_id: str):
    session = per_request.session()
    form = _form(xml_form_id)
    body = FormSchema().dump(form)
    body["versions"] = FormVersionSchema(many=True, exclude=("media",)).dump(
        form_queries.list_versions(session, form))
    return body


@bp.patch("/forms/<xml_form_id>")
def patch_form(xml_form_id: str):
    form = _form(xml_form_id)
    set_state(form, load_json(FormPatchSchema())["state"])
    per_request.session().commit()
    return FormSchema().dump(form)


@bp.put("/forms/<xml_form_id>/attachments/<name>")
def put_media(xml_form_id: str, name: str):
    form = _form(xml_form_id)
    session = per_request.session()
    set_media(session, current_app.extensions["blobs"], form.current_version,
              {name: request.get_data()})
    session.commit()
    return FormSchema().dump(form)


def _form(xml_form_id: str):
    form = form_queries.get_form(per_request.session(), xml_form_id)
    if form is None:
        raise Problem(problems.FORM_NOT_FOUND, form_id=xml_form_id)
    return form


