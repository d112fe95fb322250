from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import (
    AppUser,
    Form,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
    ValueIssueRecord,
)


def get_def(session: Session, form: Form, instance_id: str) -> SubmissionDef | None:
    return session.scalar(sa.select(SubmissionDef).where(
        SubmissionDef.form_id == form.id, SubmissionDef.instance_id == instance_id))


def get_submission(session: Session, submission_id: int) -> Submission | None:
    return session.get(Submission, submission_id)




def count_defs(session: Session, submission: Submission) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(SubmissionDef).where(
        SubmissionDef.submission_id == submission.id))




def set_current_def(session: Session, submission: Submission, old_def_id: int,
                    new_def_id: int) -> bool:
    """Move the submission to a new version unless another edit got there first."""
    result = session.execute(sa.update(Submission).where(
        Submission.id == submission.id, Submission.current_def_id == old_def_id).values(
        current_def_id=new_def_id, review_state="edited", updated_at=sa.func.now()))
    return result.rowcount == 1


def current_defs(session: Session, form: Form, *, after_id: int = 0, limit: int = 500
                 ) -> Sequence[tuple[Submission, SubmissionDef]]:
    """Live submissions with their current version, in id order, a page at a time."""
    return session.execute(
        sa.select(Submission, SubmissionDef)
        .join(SubmissionDef, SubmissionDef.id == Submission.current_def_id)
        .where(Submission.form_id == form.id, Submission.deleted_at.is_(None),
               Submission.id > after_id)
        .order_by(Submission.id).limit(limit)).all()


def add_attachment(session: Session, definition: SubmissionDef, name: str, position: int,
                   blob_sha256: str | None) -> None:
    session.add(SubmissionAttachment(submission_def_id=definition.id, name=name,
                                     position=position, blob_sha256=blob_sha256))


def replace_value_issues(session: Session, definition: SubmissionDef, issues, *,
                         replace: bool = True) -> None:
    if replace:
        session.execute(sa.delete(ValueIssueRecord).where(
            ValueIssueRecord.submission_def_id == definition.id))
    session.add_all(ValueIssueRecord(submission_def_id=definition.id, row_key=i.key,
                                     path=i.path, raw=i.raw, reason=i.reason) for i in issues)




def failed_normalisations(session: Session, form: Form | None = None
                          ) -> Sequence[SubmissionDef]:
    query = sa.select(SubmissionDef).join(
        Submission, Submission.current_def_id == SubmissionDef.id).where(
        SubmissionDef.normalise_error.is_not(None), Submission.deleted_at.is_(None))
    if form is not None:
        query = query.where(SubmissionDef.form_id == form.id)
    return session.scalars(query.order_by(SubmissionDef.id)).all()


def app_user_name(session: Session, app_user_id: int | None) -> str | None:
    if app_user_id is None:
        return None
    return session.scalar(sa.select(AppUser.name).where(AppUser.id == app_user_id))


def mark_deleted(session: Session, submission: Submission) -> None:
    session.execute(sa.update(Submission).where(Submission.id == submission.id)
                    .values(deleted_at=sa.func.now()))
