"""The downloads page: an analyst chooses form, format, language and filters; the export is
written in the background while the page shows its progress; the finished file is theirs alone
to download while they keep the rights it was written with, and each download (or refusal) is
written to the audit log."""

from __future__ import annotations

from flask import current_app, g, jsonify, redirect, render_template, request, send_file, url_for

from server.database import per_request
from server.database.models import REVIEW_STATES
from server.database.queries import export_jobs as job_queries
from server.database.queries import forms as form_queries
from server.kernel import i18n, problems
from server.kernel.i18n import gettext as _
from server.kernel.problems import Problem
from server.services import access
from server.services.exports import FORMATS, LANGUAGES, Options, jobs
from server.services.exports import filters as filtering
from server.surfaces.pages import bp, require

MIMETYPES = {"csv": "application/zip", "geojson": "application/geo+json",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@bp.get("/downloads")
@require("data.download")
def downloads():
    session = per_request.session()
    jobs.sweep(workshop(), session, address=request.remote_addr)
    forms = [f for f in form_queries.list_forms(session) if f.current_version is not None]
    return render_template("downloads.html", forms=forms, formats=FORMATS,
                           export_languages=LANGUAGES, all_languages=i18n.LANGUAGES,
                           states=REVIEW_STATES, jobs=job_queries.recent_jobs(session, g.user),
                           personal=access.sees_personal_data(g.user))


@bp.post("/downloads")
@require("data.download")
def start_download():
    session = per_request.session()
    form = form_queries.get_form(session, request.form.get("form", ""))
    if form is None or form.current_version is None:
        raise Problem(problems.FORM_NOT_FOUND, form_id=request.form.get("form", ""))
    filters, _data = filtering.read(request.form.to_dict(flat=False))
    flag = request.form.get
    options = Options(
        format=flag("format", "csv"), language=flag("language") or None,
        labels=flag("values") == "labels", header_labels=flag("headers") == "labels",
        group_paths=flag("group_paths") == "yes", split_multiples=bool(flag("split")),
        attachments=bool(flag("attachments")), filters=filters)
    # a bad filter fails here, in the request, rather than later in the background
    filtering.clause(_layout(session, form), filters, g.user)
    job = jobs.start(workshop(), session, g.user, form, options)
    return redirect(url_for("pages.download_job", job_id=job.id))


@bp.get("/downloads/<int:job_id>")
@require("data.download")
def download_job(job_id: int):
    job = _job(job_id)
    return render_template("download_job.html", job=job,
                           form=form_queries.form_by_id(per_request.session(), job.form_id))


@bp.get("/downloads/<int:job_id>/status")
@require("data.download")
def download_status(job_id: int):
    job = _job(job_id)
    return jsonify(state=job.state, done=job.done, total=job.total,
                   label=_(job.state),
                   file=url_for("pages.download_file", job_id=job.id)
                   if job.state == "done" else None)


@bp.get("/downloads/<int:job_id>/file")
@require("submissions.read")  # any signed-in role: one who has lost downloads is told why
def download_file(job_id: int):
    if not access.can(g.user, "data.download") and \
            job_queries.job_of(per_request.session(), g.user, job_id) is None:
        raise Problem(problems.FORBIDDEN)  # as the other download routes answer them
    job = _job(job_id)
    path, name = jobs.hand_over(workshop(), job, g.user, via="page",
                                address=request.remote_addr, state_label=_)
    return send_file(path, mimetype=MIMETYPES[job.format], as_attachment=True,
                     download_name=name)


def _job(job_id: int):
    job = job_queries.job_of(per_request.session(), g.user, job_id)
    if job is None:  # someone else's job is as absent as one that never was
        raise Problem(problems.EXPORT_NOT_FOUND, job_id=job_id)
    return job


def workshop() -> jobs.Workshop:
    return current_app.extensions["export_jobs"]  # made by the app factory


def _layout(session, form):
    from server.services.exports.layout import build

    return build(session, form, current_app.extensions["blobs"])
