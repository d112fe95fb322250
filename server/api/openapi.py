"""`/api/v1/openapi.json`: the API described in OpenAPI 3, written from the same marshmallow
schemas that read and write it, so the description cannot drift from what the routes do."""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, jsonify

from server.api import bp
from server.api.data_schemas import (
    ExportQuerySchema,
    PageQuerySchema,
    PageSchema,
    StructureSchema,
)
from server.api.schemas import FormSchema

_PROBLEM = {"type": "object", "required": ["code", "message"], "properties": {
    "code": {"type": "string", "example": "404.2"}, "message": {"type": "string"},
    "details": {"type": "object", "additionalProperties": {"type": "string"}}}}
_ERRORS = {status: {"description": text, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Problem"}}}}
    for status, text in (("400", "Bad filter or option"), ("401", "Not authenticated"),
                         ("403", "Not allowed"), ("404", "No such form or table"))}
_FORM_ID = {"name": "xml_form_id", "in": "path", "required": True, "schema": {"type": "string"}}


def build_spec() -> dict:
    spec = APISpec(title="Muntada data API", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()], info={"description": (
                       "Forms, their structure and their submissions for analysts' scripts. "
                       "Authenticate with an API token (`muntada api-tokens create`): "
                       "`Authorization: Bearer <token>`, or over HTTPS Basic with your user name "
                       "and the token as the password. Passwords open nothing here. Errors are "
                       "problems from one numbered catalogue.")})
    spec.components.security_scheme("token", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("basic", {"type": "http", "scheme": "basic",
                                              "description": "the API token as the password"})
    spec.components.schema("Problem", _PROBLEM)
    spec.components.schema("Form", schema=FormSchema)
    spec.components.schema("Page", schema=PageSchema)
    spec.components.schema("Structure", schema=StructureSchema)
    security = [{"token": []}, {"basic": []}]

    def ok(ref: str, many: bool = False) -> dict:
        schema = {"$ref": f"#/components/schemas/{ref}"}
        return {"description": "OK", "content": {"application/json": {
            "schema": {"type": "array", "items": schema} if many else schema}}}

    spec.path("/data/forms", operations={"get": {
        "summary": "Forms", "security": security,
        "responses": {"200": ok("Form", many=True), **_ERRORS}}})
    spec.path("/forms/{xml_form_id}/structure", operations={"get": {
        "summary": "A form's tables and columns, with labels, choices and versions",
        "security": security, "parameters": [_FORM_ID],
        "responses": {"200": ok("Structure"), **_ERRORS}}})
    page = {"security": security, "responses": {"200": ok("Page"), **_ERRORS}}
    spec.path("/forms/{xml_form_id}/submissions", operations={"get": {
        **page, "summary": "Rows of the form's table, a page at a time",
        "parameters": [_FORM_ID, {"in": "query", "schema": PageQuerySchema}]}})
    spec.path("/forms/{xml_form_id}/submissions/{table}", operations={"get": {
        **page, "summary": "Rows of a repeat's table, a page at a time",
        "parameters": [_FORM_ID, {"name": "table", "in": "path", "required": True,
                                  "schema": {"type": "string"}},
                       {"in": "query", "schema": PageQuerySchema}]}})
    spec.path("/forms/{xml_form_id}/export.{suffix}", operations={"get": {
        "summary": "A whole export: CSV zip, Excel workbook or GeoJSON", "security": security,
        "parameters": [_FORM_ID, {"name": "suffix", "in": "path", "required": True,
                                  "schema": {"type": "string",
                                             "enum": ["csv.zip", "xlsx", "geojson"]}},
                       {"in": "query", "schema": ExportQuerySchema}],
        "responses": {"200": {"description": "The file", "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
            **_ERRORS}}})
    document = spec.to_dict()
    document["servers"] = [{"url": "/api/v1"}]
    return document


@bp.get("/openapi.json")
def openapi():
    cached = current_app.extensions.get("openapi")
    if cached is None:
        cached = current_app.extensions["openapi"] = build_spec()
    return jsonify(cached)
