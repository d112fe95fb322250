"""The Cases pages of the review workspace: the cases of the reader's places, filtered by place,
status, overdue follow-up and conflict, the last changed first; one case's history (who changed
what, from which submission) with the updates held or refused; and the resolution of a conflict,
property by property."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from flask import g, redirect, render_template, request, url_for

from server.database import per_request
from server.database.models import utcnow
from server.kernel import i18n
from server.services.cases import reading, resolving
from server.surfaces.pages import bp, require

PAGE = 50
FILTERS = ("governorate", "forum", "status", "overdue", "conflict", "q")
CHOICE = "choice:"  # the resolution form's field of each conflicting property


def _today() -> date:
    """The day on Baghdad's clocks: a follow-up is overdue from the morning after its date."""
    return datetime.now(i18n.LOCAL_TIME).date()


@bp.get("/cases")
@require("submissions.review")
def cases():
    reader = reading.CaseReader(per_request.session(), g.user)
    args = {name: (request.args.get(name) or "").strip() for name in FILTERS}
    today = _today()
    found = reader.page(reading.filters(args, today), after=_cursor(request.args.get("after")),
                        limit=PAGE + 1)
    rows, cursor = found[:PAGE], None
    if len(found) > PAGE:
        cursor = _cursor_text(rows[-1].updated_at, rows[-1].id)
    kept = {k: v for k, v in args.items() if v}
    return render_template(
        "cases.html", rows=rows, args=args, menus=reader.menus(), today=today,
        overdue=reading.overdue,
        next_url=f"?{urlencode({**kept, 'after': cursor})}" if cursor else None,
        first_url=f"?{urlencode(kept)}" if request.args.get("after") else None)


@bp.get("/cases/<case_id>")
@require("submissions.review")
def case(case_id: str):
    reader = reading.CaseReader(per_request.session(), g.user)
    return _render(reader.case(case_id))


def _render(page: reading.CasePage, *, stale: resolving.Stale | None = None):
    return render_template("case.html", page=page, case=page.case, today=_today(),
                           overdue=reading.overdue(page.case, _today()), stale=stale,
                           field_prefix=CHOICE)


@bp.post("/cases/<case_id>/resolve")
@require("submissions.review")
def resolve_case(case_id: str):
    session = per_request.session()
    reader = reading.CaseReader(session, g.user)
    chosen = {key[len(CHOICE):]: value for key, value in request.form.items()
              if key.startswith(CHOICE)}
    stale = resolving.resolve(session, reader, case_id, request.form.get("version", ""),
                              chosen, now=utcnow(), address=request.remote_addr)
    if stale is not None:  # nothing was written: show the case as it is now, and why
        session.rollback()
        return _render(reader.case(case_id), stale=stale), 409
    session.commit()
    return redirect(url_for("pages.case", case_id=case_id) + "#history", 303)


def _cursor_text(moment: datetime, entity_id: int) -> str:
    if moment.tzinfo is None:  # UTC, read back without its zone
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}.{entity_id}"


def _cursor(text: str | None) -> tuple[datetime, int] | None:
    """The keyset cursor `<microseconds since 1970>.<case id>`; None when absent or bad."""
    micros, _, entity_id = (text or "").partition(".")
    if not micros.lstrip("-").isdigit() or not entity_id.isdigit():
        return None
    return _EPOCH + timedelta(microseconds=int(micros)), int(entity_id)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
