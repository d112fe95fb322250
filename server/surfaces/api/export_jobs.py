"""Exports as background jobs, for scripts: a script asks for one with the filters and options
of `export.<suffix>`, polls its state and progress, and downloads the file once it is done. The
synchronous export holds a connection for as long as the file takes to write; a job does not.
As on the downloads page, a job is its owner's alone."""

from __future__ import annotations

from flask import g, request, send_file, url_for

from server import database
from server.database import per_request
from server.database.models import ExportJob
from server.database.queries import export_jobs as job_queries
from server.database.queries import forms as form_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services.exports import FORMATS, jobs
from server.surfaces.api import allow, bp
from server.surfaces.api.data import MIMETYPES, prepare_from_request, workshop
from server.surfaces.api.data_schemas import EXPORT_SUFFIXES, ExportJobQuerySchema, ExportJobSchema


@bp.post("/forms/<xml_form_id>/export-jobs")
@allow("data.download")
@per_request.reads_first  # a while reading the form and the filters, then one row written
def start_export_job(xml_form_id: str):
    fmt = EXPORT_SUFFIXES.get(request.args.get("format", "csv.zip"))
    # a bad filter or option is refused here, in the request, rather than later in the job
    prepared, _data = prepare_from_request(xml_form_id, ExportJobQuerySchema(), fmt=fmt or "csv")
    session = per_request.session()
    database.write_after_reading(session)
    job = jobs.start(workshop(), session, g.user, prepared.form, prepared.options)
    body = _dump(job, prepared.form.xml_form_id)
    return body, 202, {"Location": body["statusUrl"]}


@bp.get("/export-jobs/<int:job_id>")
@allow("data.download")
def export_job(job_id: int):
    session = per_request.session()
    jobs.sweep(workshop(), session, address=request.remote_addr)  # a job whose worker died
    job = _job(job_id)
    return _dump(job, form_queries.form_by_id(session, job.form_id).xml_form_id)


@bp.get("/export-jobs/<int:job_id>/file")
@allow("data.download")
def export_job_file(job_id: int):
    job = _job(job_id)
    path, name = jobs.hand_over(workshop(), job, g.user, via="api",  # the owner's rights now
                                address=request.remote_addr)
    return send_file(path, mimetype=MIMETYPES[job.format], as_attachment=True, max_age=0,
                     download_name=name)


def _job(job_id: int) -> ExportJob:
    job = job_queries.job_of(per_request.session(), g.user, job_id)
    if job is None:  # someone else's job is as absent as one that never was
        raise Problem(problems.EXPORT_NOT_FOUND, job_id=job_id)
    return job


def _dump(job: ExportJob, xml_form_id: str) -> dict:
    done = job.state == "done"
    return ExportJobSchema().dump({
        "id": job.id, "xmlFormId": xml_form_id, "format": FORMATS[job.format].lstrip("."),
        "state": job.state, "done": job.done or 0, "total": job.total or 0, "error": job.error,
        "createdAt": job.created_at, "finishedAt": job.finished_at,
        "statusUrl": url_for("api.export_job", job_id=job.id, _external=True),
        "fileUrl": url_for("api.export_job_file", job_id=job.id, _external=True)
        if done else None})
