"""SQL of a form's own typed tables (the projection): the mapping tables, the DDL that grows
them, their rows as written, listed for review (keyset pages, never OFFSET), chosen by filters
and scope for exports and the data API, streamed from server-side cursors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.orm import Session

from server.database.models import (
    ProjectionColumn,
    ProjectionTable,
    Submission,
    SubmissionAttachment,
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


def rows_page(session: Session, query: sa.Select) -> Sequence[Sequence]:
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


def select_points(table: sa.Table, root: sa.Table, own: Sequence[str],
                  from_root: Sequence[str], where) -> sa.Select:
    """A table's geopoint columns (`own`) beside its submission's key fields (`from_root`)."""
    joined = root_from(root)
    if table is not root:
        joined = joined.join(table, table.c._submission_id == root.c._submission_id)
    return (sa.select(*(table.c[name] for name in own), *(root.c[name] for name in from_root))
            .select_from(joined).where(where)
            .order_by(root.c._submission_id, *([] if table is root else [table.c._key])))




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


def review_page(session: Session, root: sa.Table, where, *, newest: bool,
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


# Indexes the list needs on each root table; created, idempotently, wherever a form's tables are
# created or grown (CREATE INDEX IF NOT EXISTS is the same statement on SQLite and PostgreSQL),
# so that opening a list only reads.
LIST_INDEXES = {
    "order": ("_submitted_at", "_submission_id"),
    "state": ("_review_state", "_submitted_at", "_submission_id"),
}


def create_list_indexes(session: Session, table_name: str, places: Sequence[str] = ()) -> None:
    """The list's indexes, in the session's transaction; `places`: the place columns (scope,
    filters), each with the state so counts within a scope read the index alone."""
    wanted = dict(LIST_INDEXES)
    for column in places:
        wanted[f"place_{column}"] = (column, "_review_state")
    for suffix, columns in wanted.items():
        name = f"ix_{table_name}_review_{suffix}"
        if len(name) > 63:  # PostgreSQL's limit; cut names must stay apart (place_* share a stem)
            name = f"{name[:56]}_{hashlib.sha1(name.encode()).hexdigest()[:6]}"
        session.execute(sa.text(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table_name}" '
                                f'({", ".join(columns)})'))


def update_root_state(session: Session, root: sa.Table, submission_ids: Sequence[int],
                      state: str) -> None:
    session.execute(sa.update(root).where(root.c._submission_id.in_(submission_ids))
                    .values(_review_state=state))


def mapping(session: Session, form_id: int
            ) -> tuple[Sequence[ProjectionTable], Sequence[ProjectionColumn]]:
    tables = session.scalars(sa.select(ProjectionTable).where(ProjectionTable.form_id == form_id)
                             .order_by(ProjectionTable.id)).all()
    columns = session.scalars(
        sa.select(ProjectionColumn).join(ProjectionTable)
        .where(ProjectionTable.form_id == form_id).order_by(ProjectionColumn.id)).all()
    return tables, columns


def all_table_names(session: Session) -> set[str]:
    return set(session.scalars(sa.select(ProjectionTable.table_name)))


def create_table(session: Session, table: sa.Table) -> None:
    table.create(session.connection())


def add_column(session: Session, table_name: str, column: sa.Column) -> None:
    Operations(MigrationContext.configure(session.connection())).add_column(table_name, column)


def delete_submission_rows(connection: sa.Connection, tables: Iterable[sa.Table],
                           submission_id: int) -> None:
    for table in tables:
        connection.execute(sa.delete(table).where(table.c._submission_id == submission_id))


def delete_all_rows(session: Session, tables: Iterable[sa.Table]) -> None:
    for table in tables:
        session.execute(sa.delete(table))


def read_rows(session: Session, table: sa.Table) -> list[dict]:
    """Every row of a projection table, in key order (for checks and rebuilds)."""
    order = [table.c._key] if "_key" in table.c else [table.c._parent_key, table.c._position]
    return [dict(row._mapping) for row in session.execute(sa.select(table).order_by(*order))]
