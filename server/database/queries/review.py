"""SQL of the review workspace: submissions as a supervisor sees them, within their scope.

Lists read the form's root table (live submissions only) and page by keyset on
(`_submitted_at`, `_submission_id`), never by OFFSET, so the hundredth page costs what the first
does.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from server.database.models import (
    AppUser,
    Blob,
    Form,
    FormMedia,
    FormVersion,
    ReviewComment,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
    ValueIssueRecord,
)

log = logging.getLogger(__name__)


def state_counts(session: Session, root: sa.Table, where) -> dict[str, int]:
    """How many live submissions of a form are in each review state, among those `where` keeps."""
    rows = session.execute(sa.select(root.c._review_state, sa.func.count())
                           .where(where).group_by(root.c._review_state))
    return {state: count for state, count in rows}


def place_values(session: Session, columns: Mapping[str, sa.Column], where
                 ) -> dict[str, set[str]]:
    """The values each place column takes among the rows `where` keeps."""
    return {name: set(session.scalars(sa.select(column).where(where, column.is_not(None))
                                      .distinct()))
            for name, column in columns.items()}


def page(session: Session, root: sa.Table, where, *, newest: bool,
         after: tuple[datetime, int] | None, limit: int) -> list[dict]:
    """One page of root rows in submission order, after the keyset cursor `after`."""
    order = (root.c._submitted_at, root.c._submission_id)
    query = sa.select(root).where(where)
    if after is not None:
        cursor = sa.tuple_(*order)
        query = query.where(cursor < sa.tuple_(*after) if newest else cursor > sa.tuple_(*after))
    query = query.order_by(*(c.desc() for c in order) if newest else order).limit(limit)
    return [dict(row._mapping) for row in session.execute(query)]


def root_row(session: Session, root: sa.Table, submission_id: int, where) -> dict | None:
    row = session.execute(sa.select(root).where(root.c._submission_id == submission_id, where)
                          ).first()
    return dict(row._mapping) if row is not None else None


def in_scope_ids(session: Session, root: sa.Table, submission_ids: Sequence[int], where
                 ) -> set[int]:
    if not submission_ids:
        return set()
    return set(session.scalars(sa.select(root.c._submission_id).where(
        root.c._submission_id.in_(submission_ids), where)))


# Indexes the list needs on each root table; created once, idempotently, by the first list of
# a form (CREATE INDEX IF NOT EXISTS is the same statement on SQLite and PostgreSQL).
LIST_INDEXES = {
    "order": ("_submitted_at", "_submission_id"),
    "state": ("_review_state", "_submitted_at", "_submission_id"),
}


def ensure_list_indexes(engine: sa.Engine, table_name: str, places: Sequence[str] = ()) -> None:
    """The list's indexes; `places`: the place columns (scope, filters), each with the state so
    counts within a scope read the index alone."""
    writing = engine.execution_options(sqlite_immediate=True)
    wanted = dict(LIST_INDEXES)
    for column in places:
        wanted[f"place_{column}"] = (column, "_review_state")
    for suffix, columns in wanted.items():
        name = f"ix_{table_name}_review_{suffix}"
        if len(name) > 63:  # PostgreSQL's limit; cut names must stay apart (place_* share a stem)
            name = f"{name[:56]}_{hashlib.sha1(name.encode()).hexdigest()[:6]}"
        statement = sa.text(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table_name}" '
                            f'({", ".join(columns)})')
        try:
            with writing.begin() as connection:
                connection.execute(statement)
        except DBAPIError:  # another worker created it at the same moment: it exists
            log.info("index %s: created elsewhere meanwhile", name)


def versions_of(session: Session, form: Form) -> Sequence[FormVersion]:
    return session.scalars(sa.select(FormVersion).where(FormVersion.form_id == form.id)
                           .order_by(FormVersion.published_at.desc(), FormVersion.id.desc())
                           ).all()


def media_blobs(session: Session, version: FormVersion) -> dict[str, str]:
    return {name: sha for name, sha in session.execute(
        sa.select(FormMedia.name, FormMedia.blob_sha256).where(
            FormMedia.form_version_id == version.id, FormMedia.blob_sha256.is_not(None)))}


def submission(session: Session, form: Form, instance_id: str) -> Submission | None:
    return session.scalar(sa.select(Submission).where(
        Submission.form_id == form.id, Submission.instance_id == instance_id))


def definitions(session: Session, submission_: Submission) -> Sequence[SubmissionDef]:
    return session.scalars(sa.select(SubmissionDef).where(
        SubmissionDef.submission_id == submission_.id).order_by(SubmissionDef.id)).all()


def app_user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {i: name for i, name in session.execute(
        sa.select(AppUser.id, AppUser.name).where(AppUser.id.in_(ids)))}


def comments(session: Session, submission_: Submission) -> Sequence[ReviewComment]:
    return session.scalars(sa.select(ReviewComment).where(
        ReviewComment.submission_id == submission_.id).order_by(ReviewComment.id)).all()


def lock_current_versions(session: Session, submission_ids: Sequence[int]) -> dict[int, str]:
    """Each submission's current version (its instanceID), the submissions' rows locked until
    the transaction ends (PostgreSQL; on SQLite the writing request holds the database)."""
    if not submission_ids:
        return {}
    # Lock first, then read the versions in a statement of their own: under READ COMMITTED a
    # locked row that changed meanwhile is read anew, but a join would keep the old version's.
    current = dict(session.execute(
        sa.select(Submission.id, Submission.current_def_id)
        .where(Submission.id.in_(submission_ids)).with_for_update()).all())
    names = dict(session.execute(sa.select(SubmissionDef.id, SubmissionDef.instance_id).where(
        SubmissionDef.id.in_([d for d in current.values() if d is not None]))).all())
    return {submission_id: names.get(def_id, "") for submission_id, def_id in current.items()}


def versions_by_instance_ids(session: Session, form: Form, instance_ids: Sequence[str]
                             ) -> Sequence[sa.Row[tuple[Submission, str]]]:
    """The live submissions whose versions (current or older) have these instanceIDs, each
    with the instanceID asked for."""
    if not instance_ids:
        return []
    return session.execute(
        sa.select(Submission, SubmissionDef.instance_id)
        .join(SubmissionDef, SubmissionDef.submission_id == Submission.id)
        .where(Submission.form_id == form.id, SubmissionDef.form_id == form.id,
               SubmissionDef.instance_id.in_(instance_ids), Submission.deleted_at.is_(None),
               Submission.current_def_id.is_not(None))).all()


def set_review_state(session: Session, submission_ids: Sequence[int], state: str,
                     at: datetime) -> None:
    session.execute(sa.update(Submission).where(Submission.id.in_(submission_ids)).values(
        review_state=state, reviewed_at=at))


def update_root_state(session: Session, root: sa.Table, submission_ids: Sequence[int],
                      state: str) -> None:
    session.execute(sa.update(root).where(root.c._submission_id.in_(submission_ids))
                    .values(_review_state=state))


# -- deletion -------------------------------------------------------------------------------------

def deleted(session: Session, form: Form) -> Sequence[Submission]:
    """Deleted submissions still restorable (a purged one keeps no current version)."""
    return session.scalars(sa.select(Submission).where(
        Submission.form_id == form.id, Submission.deleted_at.is_not(None),
        Submission.current_def_id.is_not(None)).order_by(Submission.deleted_at.desc())).all()


def to_purge(session: Session, before: datetime) -> Sequence[Submission]:
    return session.scalars(sa.select(Submission).where(
        Submission.deleted_at.is_not(None), Submission.deleted_at < before,
        Submission.current_def_id.is_not(None)).order_by(Submission.id)).all()


def attachment_blobs(session: Session, submission_: Submission) -> set[str]:
    return set(session.scalars(
        sa.select(SubmissionAttachment.blob_sha256).join(
            SubmissionDef, SubmissionDef.id == SubmissionAttachment.submission_def_id)
        .where(SubmissionDef.submission_id == submission_.id,
               SubmissionAttachment.blob_sha256.is_not(None))))


def strip_to_tombstone(session: Session, submission_: Submission) -> None:
    """Keep only what refuses a resend: the submission row and each version's instanceID."""
    def_ids = sa.select(SubmissionDef.id).where(SubmissionDef.submission_id == submission_.id)
    session.execute(sa.delete(SubmissionAttachment).where(
        SubmissionAttachment.submission_def_id.in_(def_ids)))
    session.execute(sa.delete(ValueIssueRecord).where(
        ValueIssueRecord.submission_def_id.in_(def_ids)))
    session.execute(sa.delete(ReviewComment).where(
        ReviewComment.submission_id == submission_.id))
    session.execute(sa.update(Submission).where(Submission.id == submission_.id).values(
        current_def_id=None, device_id=None))
    session.execute(sa.update(SubmissionDef).where(
        SubmissionDef.submission_id == submission_.id).values(
        xml=b"", xml_sha256="", device_id=None, user_agent=None, normalise_error=None,
        attachments_present=0, attachments_expected=0))


def blob_in_use(session: Session, sha256: str) -> bool:
    """Whether any attachment, form media or form source still names this file."""
    for column in (SubmissionAttachment.blob_sha256, FormMedia.blob_sha256,
                   FormVersion.source_sha256):
        if session.scalar(sa.select(sa.literal(1)).where(column == sha256).limit(1)):
            return True
    return False


def delete_blob_row(session: Session, sha256: str) -> None:
    session.execute(sa.delete(Blob).where(Blob.sha256 == sha256))
