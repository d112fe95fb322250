"""The review workspace's lists: every form with how many submissions wait in each state, and
one form's submissions with filters, counts per state, keyset paging and bulk review. Encrypted
submissions are tagged, and so is a decryption that showed something wrong."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import current_app, g, redirect, render_template, request, url_for

from server.database import per_request
from server.database.models import REVIEW_STATES
from server.database.queries import form_tables as table_queries
from server.database.queries import forms as form_queries
from server.database.queries import keys as key_queries
from server.database.queries import submissions as submission_queries
from server.kernel import i18n, problems
from server.kernel.problems import Problem
from server.services import access, answers, decryption, reviewing
from server.surfaces.pages import bp, require
from server.surfaces.pages.sessions import local_path
from sync import tables as shapes

PAGE = 50
FILTERS = ("state", "from", "to", "governorate", "district", "forum", "category", "submitter",
           "version", "incomplete", "q", "sort")
# System columns that free text searches, besides the form's own text answers.
SEARCHED_SYSTEM_COLUMNS = ("_instance_id", "_submitter", "_device_id")


@bp.get("/forms")
@require("submissions.read")
def forms_index():
    db_session = per_request.session()
    rows = []
    for form in form_queries.list_forms(db_session):
        if form.current_version is None:
            continue
        view = reviewing.FormView(db_session, form, g.user)
        counts = table_queries.state_counts(db_session, view.tables.root, view.where) \
            if view.has_rows else {}
        rows.append((form, view.figures(counts)))
    return render_template("forms_index.html", rows=rows, states=REVIEW_STATES)


@dataclass
class Listing:
    """One reader's list of one form: what the filters keep, within their scope."""

    view: reviewing.FormView
    args: dict

    def column(self, name: str):
        return self.view.places.get(name)

    def where(self, *, with_state: bool = True):
        root, args = self.view.tables.root, self.args
        terms = [self.view.where]
        if with_state and args.get("state"):
            terms.append(root.c._review_state == args["state"])
        since, until = _day(args.get("from")), _day(args.get("to"))
        if since:
            terms.append(root.c._submitted_at >= _local_midnight(since))
        if until:
            terms.append(root.c._submitted_at < _local_midnight(until + timedelta(days=1)))
        for place in access.PLACE_FIELDS:
            if args.get(place) and self.column(place) is not None:
                terms.append(self.column(place) == args[place])
        sensitive = self.view.sensitive
        if args.get("category") and sensitive is not None:
            terms.append(root.c[sensitive.column] == args["category"])
        if args.get("submitter"):
            terms.append(root.c._submitter == args["submitter"])
        if args.get("version"):
            terms.append(root.c._form_version == args["version"])
        if args.get("incomplete") == "1":
            terms.append(root.c._attachments_present < root.c._attachments_expected)
        if args.get("q"):
            terms.append(sa.or_(*(root.c[name].icontains(args["q"], autoescape=True)
                                  for name in self.searched_columns())))
        return sa.and_(*terms)

    def searched_columns(self) -> list[str]:
        """The root table's text columns, without personal ones for a reader who may not see
        them (a search must not reveal what the page masks)."""
        personal_ok = access.sees_personal_data(g.user)
        personal = personal_columns(self.view)
        names = [name for (key, _path, kind, part), name in self.view.tables.columns.items()
                 if key == shapes.ROOT and kind == "text" and not part
                 and (personal_ok or name not in personal)]
        return names + list(SEARCHED_SYSTEM_COLUMNS)


def personal_columns(view: reviewing.FormView) -> set[str]:
    marked = {f.path for f in view.structure.fields if f.personal}
    return {name for (key, path, _kind, _part), name in view.tables.columns.items()
            if key == shapes.ROOT and any(path == p or path.startswith(p + "/") for p in marked)}


@bp.get("/forms/<xml_form_id>/submissions")
@require("submissions.read")
def submissions(xml_form_id: str):
    view = reviewing.form_view(per_request.session(), xml_form_id, g.user)
    args = {name: request.args.get(name, "").strip() for name in FILTERS}
    args["sort"] = "oldest" if args["sort"] == "oldest" else "newest"
    if args["state"] not in REVIEW_STATES:
        args["state"] = ""
    rows, counts, cursor = [], {}, None
    if view.has_rows:
        listing = Listing(view, args)
        counts = table_queries.state_counts(view.session, view.tables.root,
                                             listing.where(with_state=False))
        found = table_queries.review_page(
            view.session, view.tables.root, listing.where(), newest=args["sort"] == "newest",
            after=_cursor(request.args.get("after")), limit=PAGE + 1)
        rows = found[:PAGE]
        if len(found) > PAGE:
            last = rows[-1]
            cursor = _cursor_text(last["_submitted_at"], last["_submission_id"])
    # one query for the page's tags, whatever its length
    encrypted = key_queries.encryption_of_submissions(
        view.session, [row["_submission_id"] for row in rows])
    code = i18n.current().code
    files = view.files(current_app.extensions["blobs"])
    options = {place: answers.choice_options(_field(view, place), code, files)
               for place in access.PLACE_FIELDS}
    category = None
    if view.has_rows and view.sensitive is not None:
        found = view.structure.field(view.sensitive.path)
        category = (found.label(code), answers.choice_options(found, code, files))
    names = {place: dict(choices) for place, choices in options.items()}
    if not view.scope.everything:
        options = _places_in_scope(view, options)
    kept = {k: v for k, v in args.items() if v and not (k == "sort" and v == "newest")}
    return render_template(
        "submissions.html", form=view.form, rows=rows, states=REVIEW_STATES,
        encrypted=encrypted, flagged=decryption.FLAGGED,
        counts=view.figures(counts, category=args["category"]) if view.has_rows
        else view.figures({}), category=category,
        args=args, options=options, names=names, places=view.places,
        versions=[v.version for v in form_queries.list_versions(view.session, view.form,
                                                                newest_first=True)],
        next_url=(f"?{urlencode({**kept, 'after': cursor})}" if cursor else None),
        first_url=f"?{urlencode(kept)}" if request.args.get("after") else None,
        here=request.full_path.rstrip("?"), kept=kept)


@bp.post("/forms/<xml_form_id>/submissions/review")
@require("submissions.review")
def bulk_review(xml_form_id: str):
    view = reviewing.form_view(per_request.session(), xml_form_id, g.user)
    ids = sorted(set(request.form.getlist("ids")))
    state = request.form.get("state", "")
    if state not in reviewing.BULK_ACTIONS:
        raise Problem(problems.REVIEW_STATE_UNKNOWN, state=state)
    if not ids:
        raise Problem(problems.NOTHING_SELECTED)
    # each ticked box carries the version (instanceID) of the row as the list showed it
    found = list(submission_queries.versions_by_instance_ids(view.session, view.form, ids))
    in_scope = table_queries.in_scope_ids(view.session, view.tables.root,
                                           [s.id for s, _v in found], view.where) \
        if view.has_rows else set()
    if len(found) != len(ids) or any(s.id not in in_scope for s, _v in found):
        raise Problem(problems.SUBMISSION_NOT_FOUND)  # all or nothing
    stale = reviewing.review(view, found, state, request.form.get("comment", ""),
                             address=request.remote_addr)
    view.session.commit()
    back = local_path(request.form.get("next")) or url_for(
        "pages.submissions", xml_form_id=xml_form_id)
    if stale:  # the others were reviewed; these were edited since the list was drawn
        return render_template("review_stale.html", form=view.form, stale=stale, back=back,
                               state=state, reviewed=len({s.id for s, _v in found})
                               - len({s.submission.id for s in stale})), 409
    return redirect(back, 303)


def _places_in_scope(view: reviewing.FormView, options: dict[str, list[tuple[str, str]]]
                     ) -> dict[str, list[tuple[str, str]]]:
    """A scoped reader's menus offer only the places they may see: those of the submissions
    they see, and the governorates and forums assigned to them (the others would list nothing,
    and name places that are not theirs)."""
    seen = table_queries.place_values(view.session, view.places, view.where) \
        if view.has_rows else {}
    assigned = {"governorate": view.scope.governorates, "forum": view.scope.forums}
    return {place: [(value, text) for value, text in choices
                    if value in seen.get(place, set()) | assigned.get(place, frozenset())]
            for place, choices in options.items()}


def _field(view: reviewing.FormView, name: str):
    column = view.places.get(name)
    if column is None:
        return None
    for (key, path, _kind, _part), column_name in view.tables.columns.items():
        if key == shapes.ROOT and column_name == column.name:
            try:
                return view.structure.field(path)
            except KeyError:
                return None
    return None


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return None


def _local_midnight(day: date) -> datetime:
    """The start of a day on Baghdad's clocks, in UTC (how times are stored)."""
    return datetime.combine(day, time(), tzinfo=i18n.LOCAL_TIME).astimezone(UTC)


def _cursor_text(moment: datetime, submission_id: int) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}.{submission_id}"


def _cursor(text: str | None) -> tuple[datetime, int] | None:
    """The keyset cursor `<microseconds since 1970>.<submission id>`; None when absent or bad."""
    micros, _, submission_id = (text or "").partition(".")
    if not micros.lstrip("-").isdigit() or not submission_id.isdigit():
        return None
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))
    return moment, int(submission_id)
