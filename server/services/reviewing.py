"""What supervisors do to submissions: find them within their scope, set a review state with a
comment, comment alone. Each change writes the submission, its row in the form's table, the
comment and the audit event in the caller's transaction, so they commit together.

A submission outside the reader's scope is treated exactly as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sqlalchemy as sa
from sqlalchemy.orm import Session

from forms import FormStructure
from server.database import projection
from server.database.models import Form, FormVersion, ReviewComment, Submission, User, utcnow
from server.database.queries import field_offices as field_office_queries
from server.database.queries import form_tables as table_queries
from server.database.queries import forms as form_queries
from server.database.queries import reviews as review_queries
from server.database.queries import submissions as submission_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.kernel.storage import BlobStore
from server.services import access, answers, audit, disclosure
from server.services.normalising import structure_of
from sync import tables as shapes

# What a reviewer may set (received and edited come from phones).
REVIEW_ACTIONS = ("approved", "hasIssues", "rejected")
NEEDS_COMMENT = ("hasIssues", "rejected")
BULK_ACTIONS = ("approved", "rejected")


@dataclass(frozen=True)
class SensitiveField:
    """The form's question whose choices it marks sensitive (an incident's category)."""

    path: str
    column: str  # in the form's table
    sensitive: frozenset[str]  # the choices marked `muntada_sensitive`


@dataclass
class FormView:
    """A form as one reader sees it: its tables, and the rows their scope keeps."""

    session: Session
    form: Form
    user: User

    @cached_property
    def tables(self) -> projection.Projection:
        return projection.load(self.session, self.form)

    @property
    def has_rows(self) -> bool:
        return bool(self.tables.tables)

    @cached_property
    def places(self) -> dict[str, sa.Column]:
        return projection.place_columns(self.tables, access.PLACE_FIELDS) if self.has_rows \
            else {}

    @cached_property
    def scope(self) -> access.Scope:
        return access.scope_of(self.user)

    @cached_property
    def where(self):
        return access.scope_clause(self.scope, self.places)

    @cached_property
    def structure(self) -> FormStructure:
        return structure_of(self.form.current_version)[0]

    @cached_property
    def sensitive(self) -> SensitiveField | None:
        """The first question outside repeats whose choices the form marks sensitive; None
        when the form marks none."""
        for f in self.structure.fields:
            names = frozenset(c.name for c in f.choices if c.sensitive)
            if not names or f.control != "select1" or f.repeats or not self.has_rows:
                continue
            column = next((name for (key, path, _kind, part), name in self.tables.columns.items()
                           if key == shapes.ROOT and path == f.path and not part), None)
            if column is not None:
                return SensitiveField(f.path, column, names)
        return None

    def figures(self, counts: dict[str, int], *, category: str = "") -> disclosure.Counts:
        """Counts as this reader may see them. Small counts are suppressed for a reader without
        the personal-data permission when they may concern sensitive cases: the form marks
        some categories sensitive and the counts are not limited to one it does not."""
        sensitive = self.sensitive
        if access.sees_personal_data(self.user) or sensitive is None \
                or (category and category not in sensitive.sensitive):
            return disclosure.unsuppressed(counts)
        return disclosure.suppress_small_counts(counts)

    def files(self, store: BlobStore, version: FormVersion | None = None
              ) -> dict[str, dict[str, dict[str, str]]]:
        """The choices of select_one_from_file questions, read from the version's media."""
        found = {}
        for name, sha in form_queries.media_blobs(self.session, version or self.form.current_version
                                             ).items():
            if name.lower().endswith(".csv"):
                try:
                    found[name] = answers.file_choices(store.read(sha))
                except (OSError, UnicodeDecodeError, ValueError):
                    continue
        return found

    def find(self, instance_id: str) -> tuple[Submission, dict | None]:
        """A live submission in scope, with its row; 404 otherwise, whichever the reason."""
        submission = submission_queries.by_instance_id(self.session, self.form, instance_id)
        if submission is None or submission.deleted_at is not None \
                or submission.current_def_id is None:
            raise Problem(problems.SUBMISSION_NOT_FOUND)
        row = table_queries.root_row(self.session, self.tables.root, submission.id, self.where) \
            if self.has_rows else None
        # a row whose normalising failed has no row: only a reader who sees everything sees it
        if row is None and not self.scope.everything:
            raise Problem(problems.SUBMISSION_NOT_FOUND)
        return submission, row


def form_view(session: Session, xml_form_id: str, user: User) -> FormView:
    form = form_queries.get_form(session, xml_form_id)
    if form is None or form.current_version is None:
        raise Problem(problems.FORM_NOT_FOUND, form_id=xml_form_id)
    return FormView(session, form, user)


@dataclass(frozen=True)
class Stale:
    """A submission a phone edited after its reviewer read it: `shown` is the version they
    read, `current` the one it has now."""

    submission: Submission
    shown: str
    current: str


def review(view: FormView, chosen: list[tuple[Submission, str]], state: str, comment: str, *,
           address: str | None) -> list[Stale]:
    """Set `state`, with the comment, on each chosen submission still at the version its
    reviewer read (the instanceID beside it); return those edited since, left as they were.
    `address`: where the reviewer is (the audit log's).

    A decision is about what the reviewer read: approving from a page drawn before the phone's
    edit would approve answers nobody has seen.
    """
    if state not in REVIEW_ACTIONS:
        raise Problem(problems.REVIEW_STATE_UNKNOWN, state=state)
    comment = comment.strip()
    if state in NEEDS_COMMENT and not comment:
        raise Problem(problems.COMMENT_REQUIRED)
    shown: dict[int, set[str]] = {}
    submissions: dict[int, Submission] = {}
    for submission, version in chosen:
        shown.setdefault(submission.id, set()).add(version)
        submissions[submission.id] = submission
    # Locked until the commit: an edit arriving now waits for the decision, or the decision
    # sees the edit; never a decision recorded on a version it did not read.
    current = review_queries.lock_current_versions(view.session, list(submissions))
    stale = [Stale(submissions[i], version, current[i]) for i in submissions
             for version in sorted(shown[i]) if version != current[i]]
    fresh = [submissions[i] for i in submissions if shown[i] == {current[i]}]
    if fresh:
        _decide(view, fresh, current, state, comment, address)
    view.session.expire_all()
    return stale


def _decide(view: FormView, submissions: list[Submission], versions: dict[int, str],
            state: str, comment: str, address: str | None) -> None:
    now = utcnow()
    ids = [s.id for s in submissions]
    # Read before the UPDATE: it also sets the state on the submissions loaded in the session.
    before = {s.id: s.review_state for s in submissions}
    review_queries.set_review_state(view.session, ids, state, now)
    if view.has_rows:
        table_queries.update_root_state(view.session, view.tables.root, ids, state)
    for submission in submissions:
        made = ReviewComment(submission_id=submission.id, user_id=view.user.id, body=comment,
                             review_state=state, created_at=now,
                             version_id=versions[submission.id])
        view.session.add(made)
        view.session.flush()
        field_office_queries.log_change(view.session, "review", made.id, at=now)
        audit.record(view.session, "submission.reviewed", user=view.user, address=address,
                     form_id=view.form.id,
                     submission_id=submission.id, instance_id=submission.instance_id,
                     version=versions[submission.id], before=before[submission.id],
                     after=state, bulk=len(submissions) > 1)


def comment(view: FormView, submission: Submission, body: str, shown: str, *,
            address: str | None) -> None:
    """A comment sets no state, so it is taken even on a submission edited since its writer
    read it (a question about what changed is often the point); it keeps the version read."""
    body = body.strip()
    if not body:
        raise Problem(problems.COMMENT_EMPTY)
    made = ReviewComment(submission_id=submission.id, user_id=view.user.id, body=body,
                         version_id=shown, created_at=utcnow())
    view.session.add(made)
    view.session.flush()
    field_office_queries.log_change(view.session, "review", made.id, at=made.created_at)
    audit.record(view.session, "submission.commented", user=view.user, address=address,
                 form_id=view.form.id,
                 submission_id=submission.id, instance_id=submission.instance_id,
                 version=shown)
