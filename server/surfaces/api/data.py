"""The data API for analysts' scripts: a form's tables and columns, its rows a page at a time
(keyset paging by KEY), and whole exports; the same filters and scope as the downloads page.
An export is handed over only if its owner still has, once it is written, the rights it was
written with. Every read is written to the audit log."""

from __future__ import annotations

import os
import tempfile
from urllib.parse import urlencode

from flask import current_app, g, request, send_file

from server.database import per_request
from server.database.queries import form_tables as table_queries
from server.database.queries import forms as form_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import audit
from server.services.exports import Options, jobs, prepare, rights, write
from server.services.exports import filters as filtering
from server.services.exports.cells import row_maker
from server.surfaces.api import allow, bp
from server.surfaces.api.data_schemas import (
    EXPORT_SUFFIXES,
    ExportQuerySchema,
    PageQuerySchema,
    PageSchema,
    StructureSchema,
)
from server.surfaces.api.schemas import FormSchema

MIMETYPES = {"csv": "application/zip", "geojson": "application/geo+json",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@bp.get("/data/forms")
@allow("data.download")
def data_forms():
    """The forms there is data of (the form management routes stay for administrators)."""
    return FormSchema(many=True).dump(
        [f for f in form_queries.list_forms(per_request.session())
         if f.current_version is not None])


@bp.get("/forms/<xml_form_id>/structure")
@allow("data.download")
def structure(xml_form_id: str):
    prepared = prepare_from_request(xml_form_id, PageQuerySchema())[0]
    return StructureSchema().dump(prepared.layout)


@bp.get("/forms/<xml_form_id>/submissions", defaults={"table_name": None})
@bp.get("/forms/<xml_form_id>/submissions/<table_name>")
@allow("data.download")
def rows(xml_form_id: str, table_name: str | None):
    prepared, data = prepare_from_request(xml_form_id, PageQuerySchema())
    layout = prepared.layout
    table = layout.root if table_name is None else layout.table(table_name)
    if table is None or table_name == layout.form_id:
        raise Problem(problems.EXPORT_TABLE_UNKNOWN, form_id=xml_form_id, table=table_name,
                      tables=", ".join(t.short for t in layout.tables[1:]) or "none")
    cursor = filtering.next_cursor()
    session = per_request.session()
    limit = data["limit"]
    query = table_queries.select_rows(table.sql, layout.root.sql, table.sources, prepared.where,
                                after=data["after"], limit=limit + 1)
    found = table_queries.rows_page(session, query)
    more = len(found) > limit
    found = found[:limit]
    make = row_maker(layout, table, prepared.choices, prepared.pseudonyms, "json")
    headers = [c.header for c in table.columns]
    value = [dict(zip(headers, make(row), strict=True)) for row in found]
    after = found[-1][table.sources.index("_key")] if more else None
    _audit("api.data_read", prepared, table=table.short, rows=len(value))
    return PageSchema().dump({
        "form": layout.form_id, "table": table.short, "count": len(value), "value": value,
        "next": after, "cursor": cursor,
        "nextUrl": _next_url(after)})


@bp.get("/forms/<xml_form_id>/export.<suffix>")
@allow("data.download")
def export(xml_form_id: str, suffix: str):
    fmt = EXPORT_SUFFIXES.get(suffix)
    if fmt is None:
        raise Problem(problems.NOT_FOUND)
    prepared, _data = prepare_from_request(xml_form_id, ExportQuerySchema(), fmt=fmt)
    handle, path = tempfile.mkstemp(dir=jobs.folder(current_app.config["DATA_DIR"]),
                                    prefix=".api-", suffix=f".{suffix}")
    os.close(handle)
    made_with = jobs.made_with(prepared)
    try:
        written = write(per_request.session(), prepared, path)
        # a large export takes minutes: the owner's rights are asked again once it is written
        owner = jobs.owner_now(per_request.of(current_app), g.user.id)
        lost = rights.lost(made_with.dumps(), owner)
        if lost:
            _audit("export.refused", prepared, lost=lost, via="api")
            raise Problem(problems.EXPORT_RIGHTS_LOST, lost=", ".join(lost))
        # open, then unlink: the file lives as long as the response streams it, never longer
        file = open(path, "rb")  # noqa: SIM115 (closed by the response)
    finally:
        os.unlink(path)
    _audit("export.downloaded", prepared, rows=written, via="api")
    stamp = prepared.started_at.strftime("%Y%m%d-%H%M%S")
    return send_file(file, mimetype=MIMETYPES[fmt], as_attachment=True,
                     download_name=f"{xml_form_id}-{stamp}.{suffix}", max_age=0)


def _next_url(after: str | None) -> str | None:
    if after is None:
        return None
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "after"]
    return f"{request.base_url}?{urlencode([*args, ('after', after)])}"


def prepare_from_request(xml_form_id: str, schema, fmt: str = "csv"):
    """The export or page the request's filters and options describe, in the user's scope."""
    session = per_request.session()
    form = form_queries.get_form(session, xml_form_id)
    if form is None or form.current_version is None:
        raise Problem(problems.FORM_NOT_FOUND, form_id=xml_form_id)
    filters, data = filtering.read(request.args.to_dict(flat=False), schema)
    options = Options(
        format=fmt, language=data["language"], labels=data["values"] == "labels",
        header_labels=data["headers"] == "labels", group_paths=data["groupPaths"],
        split_multiples=data["splitSelectMultiples"],
        attachments=data.get("attachments", False), filters=filters)
    prepared = prepare(session, form, g.user, options,
                       secret_key=current_app.config["SECRET_KEY"],
                       blobs=current_app.extensions["blobs"])
    return prepared, data


def workshop() -> jobs.Workshop:
    return current_app.extensions["export_jobs"]  # made by the app factory


def _audit(action: str, prepared, **details) -> None:
    """In a short write of its own: the request's session only reads (and may stream)."""
    with per_request.of(current_app).writing() as writer:
        audit.record(writer, action, user=prepared.user, address=request.remote_addr,
                     form_id=prepared.form.id, format=prepared.options.format,
                     filters=prepared.options.filters.as_dict(), **details)
