"""SQL of submissions, their versions, attachments and value issues (the submission path's
own statements are in `arrivals`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import (
    Form,
    ReviewComment,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
    ValueIssueRecord,
)


def by_instance_id(session: Session, form: Form, instance_id: str) -> Submission | None:
    return session.scalar(sa.select(Submission).where(
        Submission.form_id == form.id, Submission.instance_id == instance_id))


def by_id(session: Session, submission_id: int) -> Submission | None:
    return session.get(Submission, submission_id)


def definitions(session: Session, submission_: Submission) -> Sequence[SubmissionDef]:
    return session.scalars(sa.select(SubmissionDef).where(
        SubmissionDef.submission_id == submission_.id).order_by(SubmissionDef.id)).all()


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


def deleted_of_form(session: Session, form: Form) -> Sequence[Submission]:
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
    # its comments, and the officer's answer it carried to another submission's thread
    session.execute(sa.delete(ReviewComment).where(sa.or_(
        ReviewComment.submission_id == submission_.id,
        ReviewComment.answer_submission_id == submission_.id)))
    session.execute(sa.update(Submission).where(Submission.id == submission_.id).values(
        current_def_id=None, device_id=None))
    session.execute(sa.update(SubmissionDef).where(
        SubmissionDef.submission_id == submission_.id).values(
        xml=b"", xml_sha256="", device_id=None, user_agent=None, normalise_error=None,
        attachments_present=0, attachments_expected=0))


def count_defs(session: Session, submission: Submission) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(SubmissionDef).where(
        SubmissionDef.submission_id == submission.id))


def current_defs(session: Session, form: Form, *, after_id: int = 0, limit: int = 500
                 ) -> Sequence[tuple[Submission, SubmissionDef]]:
    """Live submissions with their current version, in id order, a page at a time."""
    return session.execute(
        sa.select(Submission, SubmissionDef)
        .join(SubmissionDef, SubmissionDef.id == Submission.current_def_id)
        .where(Submission.form_id == form.id, Submission.deleted_at.is_(None),
               Submission.id > after_id)
        .order_by(Submission.id).limit(limit)).all()


def failed_normalisations(session: Session, form: Form | None = None
                          ) -> Sequence[SubmissionDef]:
    query = sa.select(SubmissionDef).join(
        Submission, Submission.current_def_id == SubmissionDef.id).where(
        SubmissionDef.normalise_error.is_not(None), Submission.deleted_at.is_(None))
    if form is not None:
        query = query.where(SubmissionDef.form_id == form.id)
    return session.scalars(query.order_by(SubmissionDef.id)).all()


def mark_deleted(session: Session, submission: Submission) -> None:
    session.execute(sa.update(Submission).where(Submission.id == submission.id)
                    .values(deleted_at=sa.func.now()))
