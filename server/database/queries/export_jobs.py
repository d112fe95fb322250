"""SQL of export jobs: a user's own jobs, and those the sweep deletes."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import (
    ExportJob,
    User,
)


def job_of(session: Session, user: User, job_id: int) -> ExportJob | None:
    """A user's own export job: nobody else's, whoever asks."""
    return session.scalar(sa.select(ExportJob).where(ExportJob.id == job_id,
                                                     ExportJob.user_id == user.id))


def recent_jobs(session: Session, user: User, limit: int = 10) -> Sequence[ExportJob]:
    return session.scalars(sa.select(ExportJob).where(ExportJob.user_id == user.id)
                           .order_by(ExportJob.id.desc()).limit(limit)).all()


def jobs_to_sweep(session: Session, *, started_before, finished_before) -> Sequence[ExportJob]:
    """Jobs that never finished though asked for long ago, and finished ones whose file is old."""
    return session.scalars(sa.select(ExportJob).where(sa.or_(
        sa.and_(ExportJob.state.in_(("queued", "running")),
                ExportJob.created_at < started_before),
        sa.and_(ExportJob.state == "done", ExportJob.finished_at < finished_before)))).all()


def finished_jobs_with_owners(session: Session) -> Sequence[tuple[ExportJob, User]]:
    """Finished jobs whose file is still kept, each with its owner."""
    return session.execute(sa.select(ExportJob, User).join(User, User.id == ExportJob.user_id)
                           .where(ExportJob.state == "done", ExportJob.file_name.is_not(None))
                           .order_by(ExportJob.id)).all()


def update_job(session: Session, job_id: int, **values) -> None:
    session.execute(sa.update(ExportJob).where(ExportJob.id == job_id).values(**values))
