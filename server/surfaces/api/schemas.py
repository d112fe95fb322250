"""What the API reads and writes, declared. Names follow ODK Central where the meaning is the
same (xmlFormId, version, hash)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.database.models import FORM_STATES


class MediaSchema(Schema):
    name = fields.String()
    type = fields.String()
    exists = fields.Function(lambda m: m.blob_sha256 is not None)
    hash = fields.Function(lambda m: f"md5:{m.blob.md5}" if m.blob is not None else None)


class FormVersionSchema(Schema):
    version = fields.String()
    title = fields.String()
    hash = fields.Function(lambda v: f"md5:{v.xform_md5}")
    sourceType = fields.String(attribute="source_type")
    publishedAt = fields.DateTime(attribute="published_at")
    media = fields.List(fields.Nested(MediaSchema))


class FormSchema(Schema):
    xmlFormId = fields.String(attribute="xml_form_id")
    state = fields.String()
    currentVersion = fields.Nested(FormVersionSchema, attribute="current_version")
    createdAt = fields.DateTime(attribute="created_at")


class LoadResultSchema(Schema):
    xmlFormId = fields.Function(lambda r: r.form.xml_form_id)
    version = fields.Function(lambda r: r.version.version)
    created = fields.Boolean()
    warnings = fields.List(fields.String())
    mediaUpdated = fields.List(fields.String(), attribute="media_updated")
    mediaMissing = fields.List(fields.String(), attribute="media_missing")
    form = fields.Function(lambda r: FormSchema().dump(r.form))


class FormPatchSchema(Schema):
    state = fields.String(required=True, validate=validate.OneOf(FORM_STATES))


class AppUserCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    forms = fields.List(fields.String(), load_default=list)
    password = fields.String(load_default=None, validate=validate.Length(min=10))
    governorates = fields.List(fields.String(validate=validate.Length(min=1, max=255)),
                               load_default=list)
    forums = fields.List(fields.String(validate=validate.Length(min=1, max=255)),
                         load_default=list)


class AppUserPlacesSchema(Schema):
    """The places whose cases a phone receives: both lists replace what it had."""

    governorates = fields.List(fields.String(validate=validate.Length(min=1, max=255)),
                               required=True)
    forums = fields.List(fields.String(validate=validate.Length(min=1, max=255)), required=True)


def _places(app_user) -> dict[str, list[str]]:
    return {"governorates": [p.value for p in app_user.places if p.kind == "governorate"],
            "forums": [p.value for p in app_user.places if p.kind == "forum"]}


class AppUserSchema(Schema):
    name = fields.String()
    forms = fields.Function(lambda u: None if u.all_forms else [f.xml_form_id for f in u.forms])
    active = fields.Function(lambda u: u.revoked_at is None)
    hasPassword = fields.Function(lambda u: u.digest_ha1 is not None)
    places = fields.Function(_places)
    createdAt = fields.DateTime(attribute="created_at")
    revokedAt = fields.DateTime(attribute="revoked_at")


class AppUserCreatedSchema(AppUserSchema):
    token = fields.String()
    serverUrl = fields.String(attribute="server_url")
