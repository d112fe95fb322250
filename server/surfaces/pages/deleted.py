"""Administrators delete submissions (test data, a duplicate typed in twice), see what was
deleted with the days left to restore it, and restore it. Opening the list also purges what was
deleted more than 30 days ago."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, g, redirect, render_template, request, url_for

from server import database
from server.database import per_request
from server.database.models import utcnow
from server.database.queries import submissions as submission_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import deletion, reviewing
from server.surfaces.pages import bp, require
from server.surfaces.pages.submission import ROUTE


@bp.post(ROUTE + "/delete")
@require("submissions.delete")
def delete_submission(xml_form_id: str, instance_id: str):
    view = reviewing.form_view(per_request.session(), xml_form_id, g.user)
    found, _row = view.find(instance_id)
    deletion.delete(view.session, view.form, found, request.form.get("comment", ""),
                    user=g.user, address=request.remote_addr)
    view.session.commit()
    return redirect(url_for("pages.submissions", xml_form_id=xml_form_id), 303)


@bp.post(ROUTE + "/restore")
@require("submissions.delete")
def restore_submission(xml_form_id: str, instance_id: str):
    view = reviewing.form_view(per_request.session(), xml_form_id, g.user)
    found = submission_queries.by_instance_id(view.session, view.form, instance_id)
    if found is None:
        raise Problem(problems.SUBMISSION_NOT_FOUND)
    deletion.restore(view.session, view.form, found, user=g.user, address=request.remote_addr)
    view.session.commit()
    return redirect(url_for("pages.submission", xml_form_id=xml_form_id,
                            instance_id=instance_id), 303)


@bp.get("/forms/<xml_form_id>/deleted")
@require("submissions.delete")
def deleted_submissions(xml_form_id: str):
    view = reviewing.form_view(per_request.session(), xml_form_id, g.user)
    session = view.session
    cutoff = utcnow() - timedelta(days=deletion.KEEP_DAYS)
    if submission_queries.to_purge(session, cutoff):
        database.write_after_reading(session)  # the purge in a write of its own
        _purged, files = deletion.purge(session, user=g.user, address=request.remote_addr)
        session.commit()
        deletion.remove_files(current_app.extensions["blobs"], files,
                              current_app.config["DATA_DIR"])
    rows = [(s, deletion.days_left(s))
            for s in submission_queries.deleted_of_form(session, view.form)]
    return render_template("deleted.html", form=view.form, rows=rows,
                           keep_days=deletion.KEEP_DAYS)
