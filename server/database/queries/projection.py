"""SQL of the relational projection: the mapping tables, the DDL that grows a form's tables, and
the rows written into them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.orm import Session

from server.database.models import ProjectionColumn, ProjectionTable


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


def update_root(session: Session, table: sa.Table, submission_id: int, values: dict) -> None:
    session.execute(sa.update(table).where(table.c._submission_id == submission_id)
                    .values(**values))


def read_rows(session: Session, table: sa.Table) -> list[dict]:
    """Every row of a projection table, in key order (for checks and rebuilds)."""
    order = [table.c._key] if "_key" in table.c else [table.c._parent_key, table.c._position]
    return [dict(row._mapping) for row in session.execute(sa.select(table).order_by(*order))]
