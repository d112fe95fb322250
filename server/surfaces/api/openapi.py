"""`/api/v1/openapi.json`: the API described in OpenAPI 3, written from the same marshmallow
schemas that read and write it, so the description cannot drift from what the routes do; a test
fails when a route of the blueprint is not described here."""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, jsonify

from server.surfaces.api import bp
from server.surfaces.api.data_schemas import (
    ExportJobQuerySchema,
    ExportJobSchema,
    ExportQuerySchema,
    PageQuerySchema,
    PageSchema,
    StructureSchema,
)
from server.surfaces.api.schemas import (
    AppUserCreatedSchema,
    AppUserCreateSchema,
    AppUserPlacesSchema,
    AppUserSchema,
    FormPatchSchema,
    FormSchema,
    FormVersionSchema,
    LoadResultSchema,
)

_PROBLEM = {"type": "object", "required": ["code", "message"], "properties": {
    "code": {"type": "string", "example": "404.2"}, "message": {"type": "string"},
    "details": {"type": "object", "additionalProperties": {"type": "string"}}}}
_ERROR_TEXTS = {"400": "Bad request, field, filter or option", "401": "Not authenticated",
                "403": "Not allowed",
                "404": "No such form, table, app user, export, list or case",
                "409": "Conflicts with what is there",
                "412": "Unknown token: load the whole list again", "413": "Too large"}
_BINARY = {"type": "string", "format": "binary"}
_SECURITY = [{"token": []}, {"basic": []}]
_DESCRIPTION = (
    "Forms, app users, the data of submissions, and the cases. Authenticate with an API token "
    "(`muntada api-tokens create USER NAME`): `Authorization: Bearer <token>`, or over HTTPS "
    "Basic with the user name and the token as the password; passwords open nothing here. A "
    "token acts as its user, an "
    "administrator for the form and app-user routes, an analyst or administrator for the data "
    "routes. Errors are problems from one numbered catalogue. Large exports are background "
    "jobs: start one, poll it, download its file.")


def _errors(*statuses: str) -> dict:
    return {status: {"description": _ERROR_TEXTS[status], "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}}
        for status in ("401", "403", *statuses)}


def _json(ref: str, many: bool = False, description: str = "OK") -> dict:
    schema = {"$ref": f"#/components/schemas/{ref}"}
    return {"description": description, "content": {"application/json": {
        "schema": {"type": "array", "items": schema} if many else schema}}}


def _in_path(name: str, **schema) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def _file(media_type: str = "application/octet-stream") -> dict:
    return {"description": "The file", "content": {media_type: {"schema": _BINARY}}}


_FORM_ID = _in_path("xml_form_id")
_APP_USER = _in_path("name")
_JOB_ID = _in_path("job_id", type="integer")


def _operations(spec: APISpec) -> None:
    """Every route of the blueprint, by the path Flask routes it under /api/v1."""
    def path(route: str, **operations: dict) -> None:
        spec.path(route, operations={method: {"security": _SECURITY, **operation}
                                     for method, operation in operations.items()})

    path("/forms",
         get={"summary": "Every form, with its current version and media",
              "responses": {"200": _json("Form", many=True), **_errors()}},
         post={"summary": "Load an XLSForm or XForm with its media (a new version, or the same "
                          "one recognised)",
               "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                   "type": "object", "required": ["form"], "properties": {
                       "form": {**_BINARY, "description": "The XLSForm (.xlsx, .xls, .csv, "
                                                          ".md) or XForm"},
                       "media": {"type": "array", "items": _BINARY, "description":
                                 "Media files the form references, under their names"}}}}}},
               "responses": {"201": _json("LoadResult", description="A new version"),
                             "200": _json("LoadResult", description="Already loaded"),
                             **_errors("400", "409", "413")}})
    path("/forms/{xml_form_id}",
         get={"summary": "A form and every version loaded", "parameters": [_FORM_ID],
              "responses": {"200": {"description": "OK", "content": {"application/json": {
                  "schema": {"allOf": [{"$ref": "#/components/schemas/Form"}, {
                      "type": "object", "properties": {"versions": {
                          "type": "array",
                          "items": {"$ref": "#/components/schemas/FormVersion"}}}}]}}}},
                  **_errors("404")}},
         patch={"summary": "Open, close or set closing a form", "parameters": [_FORM_ID],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": FormPatchSchema}}},
                "responses": {"200": _json("Form"), **_errors("400", "404")}})
    path("/forms/{xml_form_id}/attachments/{name}",
         put={"summary": "Replace a media file of the form's current version",
              "parameters": [_FORM_ID, _in_path("name")],
              "requestBody": {"required": True, "content": {
                  "application/octet-stream": {"schema": _BINARY}}},
              "responses": {"200": _json("Form"), **_errors("400", "404", "409")}})
    path("/app-users",
         get={"summary": "The officers' phones", "responses": {
             "200": _json("AppUser", many=True), **_errors()}},
         post={"summary": "Create an app user: its token (shown once) and Collect address",
               "requestBody": {"required": True, "content": {"application/json": {
                   "schema": AppUserCreateSchema}}},
               "responses": {"201": _json("AppUserCreated"), **_errors("400", "409")}})
    path("/app-users/{name}",
         delete={"summary": "Revoke an app user: its phone can no longer connect",
                 "parameters": [_APP_USER],
                 "responses": {"200": _json("AppUser"), **_errors("404")}})
    path("/app-users/{name}/places",
         put={"summary": "Set the governorates and forums whose cases the phone receives and "
                         "may update (replacing its places)",
              "parameters": [_APP_USER],
              "requestBody": {"required": True, "content": {"application/json": {
                  "schema": AppUserPlacesSchema}}},
              "responses": {"200": _json("AppUser"), **_errors("400", "404")}})
    path("/app-users/{name}/qr.png",
         get={"summary": "The QR code that sets up the app user's phone in Collect",
              "parameters": [_APP_USER],
              "responses": {"200": _file("image/png"), **_errors("404")}})

    data = {"responses": {"200": _json("Page"), **_errors("400", "404")}}
    path("/data/forms", get={"summary": "The forms there is data of", "responses": {
        "200": _json("Form", many=True), **_errors()}})
    path("/forms/{xml_form_id}/structure", get={
        "summary": "A form's tables and columns, with labels, choices and versions",
        "parameters": [_FORM_ID], "responses": {"200": _json("Structure"), **_errors("404")}})
    path("/forms/{xml_form_id}/submissions", get={
        **data, "summary": "Rows of the form's table, a page at a time",
        "parameters": [_FORM_ID, {"in": "query", "schema": PageQuerySchema}]})
    path("/forms/{xml_form_id}/submissions/{table_name}", get={
        **data, "summary": "Rows of a repeat's table, a page at a time",
        "parameters": [_FORM_ID, _in_path("table_name"),
                       {"in": "query", "schema": PageQuerySchema}]})
    path("/forms/{xml_form_id}/export.{suffix}", get={
        "summary": "A whole export at once: CSV zip, Excel workbook or GeoJSON (for a large "
                   "one, start an export job instead)",
        "parameters": [_FORM_ID, _in_path("suffix", type="string",
                                          enum=["csv.zip", "xlsx", "geojson"]),
                       {"in": "query", "schema": ExportQuerySchema}],
        "responses": {"200": _file(), **_errors("400", "404")}})
    path("/forms/{xml_form_id}/export-jobs", post={
        "summary": "Start an export in the background, with the filters and options of an "
                   "export; poll its statusUrl",
        "parameters": [_FORM_ID, {"in": "query", "schema": ExportJobQuerySchema}],
        "responses": {"202": {**_json("ExportJob", description="Started"), "headers": {
            "Location": {"description": "The job's statusUrl", "schema": {"type": "string"}}}},
            **_errors("400", "404")}})
    path("/export-jobs/{job_id}", get={
        "summary": "An export job of yours: its state and rows done out of the total",
        "parameters": [_JOB_ID], "responses": {"200": _json("ExportJob"), **_errors("404")}})
    path("/export-jobs/{job_id}/file", get={
        "summary": "The file of a finished export job of yours",
        "parameters": [_JOB_ID], "responses": {"200": _file(), **_errors("404", "409")}})
    path("/lists", get={
        "summary": "The entity lists (the cases): their properties and current tokens",
        "responses": {"200": _json("EntityList", many=True), **_errors()}})
    path("/lists/{name}/entities", get={
        "summary": "The cases of your places: the whole list, or with `since` only those "
                   "changed after that token and those that left; 304 while your ETag holds",
        "parameters": [_in_path("name"), {
            "name": "since", "in": "query", "required": False, "schema": {"type": "string"},
            "description": "A token of an earlier answer; unknown (412): load the whole list"}],
        "responses": {"200": _json("CaseFeed"), "304": {"description": "Not modified"},
                      **_errors("404", "412")}})
    path("/lists/{name}/entities/{uuid}", get={
        "summary": "One case and every version of it: who made it, from which submission",
        "parameters": [_in_path("name"), _in_path("uuid")],
        "responses": {"200": _json("CaseHistory"), **_errors("404")}},
         delete={"summary": "Delete a case (administrators): it leaves the phones and the "
                            "lists; its history and submissions stay",
                 "parameters": [_in_path("name"), _in_path("uuid")],
                 "responses": {"200": {"description": "Deleted", "content": {
                     "application/json": {"schema": {"type": "object", "properties": {
                         "uuid": _TEXT, "deletedAt": _TIME}}}}}, **_errors("404")}})
    spec.path("/openapi.json", operations={"get": {
        "summary": "This description", "security": [],
        "responses": {"200": {"description": "OpenAPI 3", "content": {"application/json": {
            "schema": {"type": "object"}}}}}}})


_TEXT, _INT = {"type": "string"}, {"type": "integer"}
_TIME = {"type": "string", "format": "date-time"}
_PROPERTIES = {"type": "object", "additionalProperties": _TEXT}
_CASE = {"type": "object", "properties": {
    "uuid": _TEXT, "label": _TEXT, "version": _INT,
    "conflict": {"type": "string", "nullable": True, "enum": ["soft", "hard"]},
    "createdAt": _TIME, "updatedAt": _TIME, "properties": _PROPERTIES}}
_CASE_SCHEMAS = {
    "EntityList": {"type": "object", "properties": {
        "name": _TEXT, "properties": {"type": "array", "items": _TEXT}, "token": _TEXT}},
    "Case": _CASE,
    "CaseFeed": {"type": "object", "properties": {
        "list": _TEXT, "token": _TEXT, "delta": {"type": "boolean"},
        "properties": {"type": "array", "items": _TEXT},
        "removed": {"type": "array", "items": _TEXT,
                    "description": "Cases deleted, or gone from your places, since the token"},
        "count": _INT,
        "entities": {"type": "array", "items": {"$ref": "#/components/schemas/Case"}}}},
    "CaseHistory": {"allOf": [{"$ref": "#/components/schemas/Case"}, {
        "type": "object", "properties": {
            "deletedAt": {**_TIME, "nullable": True},
            "versions": {"type": "array", "items": {"type": "object", "properties": {
                "version": _INT, "label": _TEXT, "properties": _PROPERTIES,
                "received": _PROPERTIES, "conflict": {"type": "string", "nullable": True},
                "conflictingProperties": {"type": "array", "items": _TEXT},
                "forced": {"type": "boolean"}, "createdAt": _TIME,
                "appUser": {"type": "string", "nullable": True},
                "user": {"type": "string", "nullable": True},
                "instanceId": {"type": "string", "nullable": True}}}}}}]},
}


def build_spec() -> dict:
    spec = APISpec(title="Muntada API", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()], info={"description": _DESCRIPTION})
    spec.components.security_scheme("token", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("basic", {"type": "http", "scheme": "basic",
                                              "description": "the API token as the password"})
    spec.components.schema("Problem", _PROBLEM)
    # a schema before those that nest it: apispec names a nested schema when it first meets it
    for name, schema in (("FormVersion", FormVersionSchema), ("Form", FormSchema),
                         ("LoadResult", LoadResultSchema), ("AppUser", AppUserSchema),
                         ("AppUserCreated", AppUserCreatedSchema), ("Page", PageSchema),
                         ("Structure", StructureSchema), ("ExportJob", ExportJobSchema)):
        spec.components.schema(name, schema=schema)
    for name, schema in _CASE_SCHEMAS.items():
        spec.components.schema(name, schema)
    _operations(spec)
    document = spec.to_dict()
    document["servers"] = [{"url": "/api/v1"}]
    return document


@bp.get("/openapi.json")
def openapi():
    cached = current_app.extensions.get("openapi")
    if cached is None:
        cached = current_app.extensions["openapi"] = build_spec()
    return jsonify(cached)
