"""SQL of exports and of the data API: rows of a form's tables chosen by filters and scope,
streamed from server-side cursors, a page at a time by key, or counted; and API tokens."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import (
    ApiToken,
    ExportJob,
    Form,
    FormMedia,
    FormVersion,
    Submission,
    SubmissionAttachment,
    User,
)

# Rows fetched at a time: 5,000 measured no faster and held 20 MiB more.
STREAM_BATCH = 2000
# What a comparison in a field filter means in SQL.
OPERATORS = {
    "=": lambda column, value: column == value,
    "!=": lambda column, value: sa.or_(column != value, column.is_(None)),
    ">": lambda column, value: column > value,
    ">=": lambda column, value: column >= value,
    "<": lambda column, value: column < value,
    "<=": lambda column, value: column <= value,
    "~": lambda column, value: column.icontains(value, autoescape=True),
}
SUBMITTER_ID = Submission.submitter_id.label("submitter_id")


def any_row(root: sa.Table, repeat: sa.Table, condition):
    """The form's rows with at least one row of `repeat` for which `condition` holds."""
    return root.c._submission_id.in_(
        sa.select(repeat.c._submission_id).where(condition).scalar_subquery())


def media_blob(session: Session, version: FormVersion, name: str) -> str | None:
    return session.scalar(sa.select(FormMedia.blob_sha256).where(
        FormMedia.form_version_id == version.id, FormMedia.name == name))


def root_from(root: sa.Table):
    """The form's table with each row's submission (submitter number, review time)."""
    return root.join(Submission, Submission.id == root.c._submission_id)


def columns_of(table: sa.Table, sources: Sequence[str]) -> list:
    return [SUBMITTER_ID if name == "submitter_id" else table.c[name] for name in sources]


def changed_since(root: sa.Table, moment: datetime):
    """Added, edited or reviewed after `moment`: what an incremental pull must fetch again."""
    return sa.or_(root.c._updated_at > moment, root.c._submitted_at > moment,
                  Submission.reviewed_at > moment)


def chosen_values(session: Session, choices: sa.Table, root: sa.Table, where) -> list[str]:
    """The values of a select-multiple (its table of chosen values) that the submissions
    passing `where` hold, each once, sorted."""
    chosen = sa.select(root.c._submission_id).select_from(root_from(root)).where(where)
    return sorted(session.scalars(sa.select(choices.c.value).distinct().where(
        choices.c._submission_id.in_(chosen), choices.c.value.is_not(None))))


def select_rows(table: sa.Table, root: sa.Table, sources: Sequence[str], where,
                *, after: str | None = None, limit: int | None = None) -> sa.Select:
    """A table's rows whose submission passes `where` (a clause on the form's table joined to
    submissions). The whole export goes in arrival order; an API page by key."""
    if table is root:
        query = sa.select(*columns_of(table, sources)).select_from(root_from(root)).where(where)
    else:
        chosen = sa.select(root.c._submission_id).select_from(root_from(root)).where(where)
        query = sa.select(*columns_of(table, sources)).where(
            table.c._submission_id.in_(chosen))
    if limit is not None:
        if after is not None:
            query = query.where(table.c._key > after)
        return query.order_by(table.c._key).limit(limit)
    if table is root:
        return query.order_by(root.c._submission_id)
    return query.order_by(table.c._submission_id, table.c._parent_key, table.c._position)


def batches(session: Session, query: sa.Select, size: int = STREAM_BATCH
            ) -> Iterator[Sequence[Sequence]]:
    """Rows from a server-side cursor, a list at a time: memory stays flat at any size. Through
    the session's connection, not the ORM: plain rows, without the ORM's work per row."""
    result = session.connection().execute(
        query.execution_options(stream_results=True, yield_per=size))
    yield from result.partitions()


def stream(session: Session, query: sa.Select) -> Iterator[Sequence]:
    for batch in batches(session, query):
        yield from batch


def page(session: Session, query: sa.Select) -> Sequence[Sequence]:
    return session.connection().execute(query).all()  # plain rows, as in `batches`


def count_rows(session: Session, table: sa.Table, root: sa.Table, where) -> int:
    query = select_rows(table, root, ["_submission_id"], where)
    return session.scalar(sa.select(sa.func.count()).select_from(
        query.order_by(None).subquery())) or 0


def attachments(session: Session, table: sa.Table, root: sa.Table, column: str, where
                ) -> Iterator[tuple[str, str]]:
    """(file name, blob) of the files a column names, for the chosen submissions' current
    versions, each once."""
    chosen = sa.select(root.c._submission_id).select_from(root_from(root)).where(where)
    query = (sa.select(SubmissionAttachment.name, SubmissionAttachment.blob_sha256)
             .join(Submission, Submission.current_def_id == SubmissionAttachment.submission_def_id)
             .join(table, sa.and_(table.c._submission_id == Submission.id,
                                  table.c[column] == SubmissionAttachment.name))
             .where(Submission.id.in_(chosen), SubmissionAttachment.blob_sha256.is_not(None))
             .distinct().order_by(SubmissionAttachment.name))
    yield from stream(session, query)


# -- API tokens -----------------------------------------------------------------------------------

def token_by_hash(session: Session, token_sha256: str) -> tuple[ApiToken, User] | None:
    row = session.execute(sa.select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(
        ApiToken.token_sha256 == token_sha256, ApiToken.revoked_at.is_(None))).first()
    return (row[0], row[1]) if row else None


def tokens_of(session: Session, user: User | None = None) -> Sequence[tuple[ApiToken, str]]:
    query = sa.select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return session.execute(query.order_by(User.username, ApiToken.name)).all()


def token_named(session: Session, user: User, name: str) -> ApiToken | None:
    return session.scalar(sa.select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.name == name, ApiToken.revoked_at.is_(None)))


def mark_token_used(session: Session, token_id: int, moment: datetime) -> None:
    session.execute(sa.update(ApiToken).where(ApiToken.id == token_id)
                    .values(last_used_at=moment))


def select_points(table: sa.Table, root: sa.Table, own: Sequence[str],
                  from_root: Sequence[str], where) -> sa.Select:
    """A table's geopoint columns (`own`) beside its submission's key fields (`from_root`)."""
    joined = root_from(root)
    if table is not root:
        joined = joined.join(table, table.c._submission_id == root.c._submission_id)
    return (sa.select(*(table.c[name] for name in own), *(root.c[name] for name in from_root))
            .select_from(joined).where(where)
            .order_by(root.c._submission_id, *([] if table is root else [table.c._key])))


# -- export jobs ----------------------------------------------------------------------------------

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


def form_by_id(session: Session, form_id: int) -> Form | None:
    return session.get(Form, form_id)
