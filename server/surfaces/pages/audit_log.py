"""The audit log, for administrators: filter by action, user, submission and dates."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import render_template, request

from server.database import per_request
from server.database.models import utcnow
from server.database.queries import audit as audit_queries
from server.services import audit
from server.surfaces.pages import bp, require

PAGE = 100


@bp.get("/audit")
@require("audit.read")
def audit_log():
    args = request.args
    since, until = _day(args.get("from")), _day(args.get("to"))
    submission = args.get("submission", "")
    events = audit_queries.events(
        per_request.session(), action=args.get("action") or None, username=args.get("user") or None,
        submission_id=int(submission) if submission.isdigit() else None,
        since=since, until=until + timedelta(days=1) if until else None,
        before_id=args.get("before", type=int), limit=PAGE + 1)
    return render_template("audit.html", events=events[:PAGE], more=len(events) > PAGE,
                           actions=audit.ACTIONS, args=args, today=utcnow().date())


def _day(text: str | None) -> datetime | None:
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=utcnow().tzinfo)
