"""Deleting a submission (test data, a duplicate typed in twice), restoring it within 30 days,
and purging it after.

A deleted submission leaves the form's tables at once, so lists and exports drop it; its raw
record stays until the purge. The purge removes every version's XML, attachments, comments and
the files no one else references (form media and other submissions may share a file: files are
kept by content), and keeps a tombstone: the submission's row and each version's instanceID, so
a phone sending it again is still refused.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from server.database import projection
from server.database.models import Form, Submission, User, utcnow
from server.database.queries import blobs as blob_queries
from server.database.queries import form_tables as table_queries
from server.database.queries import submissions as submission_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.kernel.storage import BlobStore
from server.services import audit, normalising

KEEP_DAYS = 30


def aware(moment: datetime) -> datetime:
    """SQLite hands back UTC times without their zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)


def days_left(submission: Submission, now: datetime | None = None) -> int:
    """Whole days still to restore it, counted up: 30 on the day it was deleted, 1 on its last."""
    end = aware(submission.deleted_at) + timedelta(days=KEEP_DAYS)
    return max(0, math.ceil((end - (now or utcnow())) / timedelta(days=1)))


def delete(session: Session, form: Form, submission: Submission, comment: str = "", *,
           user: User, address: str | None) -> None:
    submission_queries.mark_deleted(session, submission)
    table_queries.delete_submission_rows(
        session, projection.load(session, form).tables.values(), submission.id)
    audit.record(session, "submission.deleted", user=user, address=address, form_id=form.id,
                 submission_id=submission.id, instance_id=submission.instance_id,
                 comment=comment.strip())


def restore(session: Session, form: Form, submission: Submission, *, user: User,
            address: str | None) -> None:
    if submission.deleted_at is None or submission.current_def_id is None:
        raise Problem(problems.SUBMISSION_NOT_FOUND)
    if aware(submission.deleted_at) + timedelta(days=KEEP_DAYS) <= utcnow():
        raise Problem(problems.RESTORE_TOO_LATE, days=KEEP_DAYS)
    submission.deleted_at = None
    session.flush()
    definition = submission.current_def
    normalising.normalise_submission(session, form, submission, definition)
    audit.record(session, "submission.restored", user=user, address=address, form_id=form.id,
                 submission_id=submission.id, instance_id=submission.instance_id)


def purge(session: Session, *, days: int = KEEP_DAYS, user: User | None = None,
          address: str | None = None) -> tuple[list[str], list[str]]:
    """Purge submissions deleted more than `days` ago, in the session's transaction; return
    their instanceIDs and the files no longer named by anything. The audit log names `user`
    (whose visit ran it), or the app itself (the command line). Remove the files with
    `remove_files` after the commit: a crash between leaves a file no one names, never a row
    naming a missing file."""
    purged, files = [], []
    for submission in submission_queries.to_purge(session, utcnow() - timedelta(days=days)):
        blobs = submission_queries.attachment_blobs(session, submission)
        submission_queries.strip_to_tombstone(session, submission)
        session.flush()
        removed = [sha for sha in sorted(blobs) if not blob_queries.blob_in_use(session, sha)]
        for sha in removed:
            blob_queries.delete_blob_row(session, sha)
        audit.record(session, "submission.purged", user=user, address=address,
                     username="muntada",
                     form_id=submission.form_id, submission_id=submission.id,
                     instance_id=submission.instance_id, files_removed=len(removed))
        purged.append(submission.instance_id)
        files.extend(removed)
    session.flush()
    return purged, files


def remove_files(store: BlobStore, files: list[str], data_dir: str) -> None:
    from server.services import thumbnails

    for sha in files:
        store.path(sha).unlink(missing_ok=True)
        thumbnails.path(data_dir, sha).unlink(missing_ok=True)
