"""What the data API reads and writes, declared: a page of rows, a form's tables and columns,
and the options of a page or an export. The OpenAPI description is written from these."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.services.exports import FORMATS, LANGUAGES
from server.services.exports.filters import FilterSchema

MAX_PAGE = 1000
DEFAULT_PAGE = 100
EXPORT_SUFFIXES = {suffix.lstrip("."): fmt for fmt, suffix in FORMATS.items()}
JOB_STATES = ("queued", "running", "done", "failed", "expired")


class WordingSchema(Schema):
    language = fields.String(load_default=None, validate=validate.OneOf(LANGUAGES), metadata={
        "description": "Language of labels: ar (Arabic), ckb (Kurdish Sorani) or en."})
    values = fields.String(load_default="stored", validate=validate.OneOf(("stored", "labels")),
                           metadata={"description": "Answers as stored values or as choice "
                                                    "labels in `language`."})
    headers = fields.String(load_default="names", validate=validate.OneOf(("names", "labels")),
                            metadata={"description": "Columns headed by field names or labels "
                                                     "(exports only; the API keys by name)."})
    groupPaths = fields.Boolean(load_default=True, metadata={
        "description": "Column names carry their group path (attendance-women), as in ODK "
                       "Central; false: the field's own name where it is unique."})
    splitSelectMultiples = fields.Boolean(load_default=False, metadata={
        "description": "Add a 0/1 column per choice of each select-multiple."})


class PageQuerySchema(FilterSchema, WordingSchema):
    limit = fields.Integer(load_default=DEFAULT_PAGE,
                           validate=validate.Range(min=1, max=MAX_PAGE),
                           metadata={"description": f"Rows per page (at most {MAX_PAGE})."})
    after = fields.String(load_default=None, metadata={
        "description": "The `next` of the previous page: rows after this KEY."})


class ExportQuerySchema(FilterSchema, WordingSchema):
    attachments = fields.Boolean(load_default=False, metadata={
        "description": "CSV zip only: add the attachments under media/."})


class ExportJobQuerySchema(ExportQuerySchema):
    format = fields.String(load_default="csv.zip", validate=validate.OneOf(EXPORT_SUFFIXES),
                           metadata={"description": "csv.zip, xlsx or geojson."})


class ExportJobSchema(Schema):
    id = fields.Integer()
    xmlFormId = fields.String()
    format = fields.String(metadata={"description": "csv.zip, xlsx or geojson."})
    state = fields.String(validate=validate.OneOf(JOB_STATES), metadata={
        "description": "queued, running, done (the file can be downloaded), failed, or "
                       "expired (the file was deleted after a week)."})
    done = fields.Integer(metadata={"description": "Rows written so far."})
    total = fields.Integer(metadata={"description": "Rows to write (known once running)."})
    error = fields.String(allow_none=True)
    createdAt = fields.DateTime()
    finishedAt = fields.DateTime(allow_none=True)
    statusUrl = fields.String(metadata={"description": "Poll this address for the state."})
    fileUrl = fields.String(allow_none=True, metadata={
        "description": "The file's address once the state is done; null before."})


class PageSchema(Schema):
    form = fields.String(metadata={"description": "xmlFormId"})
    table = fields.String(metadata={"description": "The form's id, or a repeat's name."})
    count = fields.Integer(metadata={"description": "Rows in this page."})
    value = fields.List(fields.Dict(), metadata={
        "description": "Rows keyed by column name (as in the CSV export): typed, cleaned, "
                       "identifying values pseudonymised (free text withheld, places coarsened "
                       "to the district) for readers without that permission."})
    next = fields.String(allow_none=True, metadata={
        "description": "Pass as `after` for the next page; null on the last page."})
    nextUrl = fields.String(allow_none=True, metadata={"description": "The next page's address."})
    cursor = fields.String(metadata={
        "description": "Pass as `since` in a later pull to get only what was added or changed "
                       "after this one (rows may come again: match them by KEY)."})


class ColumnSchema(Schema):
    name = fields.String(attribute="header")
    path = fields.Function(lambda c: c.field.path if c.field else None, allow_none=True)
    type = fields.Function(lambda c: c.kind)
    labels = fields.Function(lambda c: dict(c.field.labels) if c.field else {})
    choice = fields.Function(lambda c: c.choice.name if c.choice else None, allow_none=True)
    part = fields.String(allow_none=True)
    personal = fields.Boolean(metadata={"description": "Identifying: pseudonymised, withheld or "
                                        "coarsened for readers without the permission."})
    classification = fields.Function(lambda c: c.privacy or None, allow_none=True, metadata={
        "description": "The form's `muntada:personal`: identifying, quasi (readable) or null."})
    versions = fields.List(fields.String())


class TableSchema(Schema):
    name = fields.String(attribute="short")
    file = fields.Function(lambda t: f"{t.name}.csv")
    path = fields.String(attribute="key")
    columns = fields.List(fields.Nested(ColumnSchema))


class StructureSchema(Schema):
    xmlFormId = fields.String(attribute="form_id")
    title = fields.String()
    versions = fields.List(fields.String())
    languages = fields.Function(lambda layout: [lang.name for lang in layout.languages])
    tables = fields.List(fields.Nested(TableSchema))
    choices = fields.Dict(attribute="choice_labels", metadata={
        "description": "Field path → choice name → label per language."})


