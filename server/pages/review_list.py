"""The review workspace's entry: every form with how many submissions wait in each state."""

from __future__ import annotations

from flask import g, render_template

from server import access, db, projection
from server.models import REVIEW_STATES
from server.pages import bp, require
from server.queries import forms as form_queries
from server.queries import review as review_queries


@bp.get("/forms")
@require("submissions.read")
def forms_index():
    db_session = db.session()
    scope = access.scope_of(g.user)
    rows = []
    for form in form_queries.list_forms(db_session):
        if form.current_version is None:
            continue
        tables = projection.load(db_session, form)
        counts = {}
        if tables.tables:
            where = access.scope_clause(scope, projection.place_columns(
                tables, access.PLACE_FIELDS))
            counts = review_queries.state_counts(db_session, tables.root, where)
        rows.append((form, counts))
    return render_template("forms_index.html", rows=rows, states=REVIEW_STATES)
