"""SQL of reviews: review states, comments, and the lock that binds a review to the version the
supervisor saw."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import (
    ReviewComment,
    Submission,
    SubmissionDef,
)


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


def set_review_state(session: Session, submission_ids: Sequence[int], state: str,
                     at: datetime) -> None:
    session.execute(sa.update(Submission).where(Submission.id.in_(submission_ids)).values(
        review_state=state, reviewed_at=at))
