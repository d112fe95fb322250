"""SQL of the programme's indicators: aggregates over a form's typed tables (and, for cases, the
case tables), grouped by place and month, within the reader's scope. The service decides which
columns and measures; this module says them in each database's SQL.

Dates are the programme's: a date-time (stored in UTC) counts on the day and in the month it was
in Iraq (UTC+3 all year: Iraq has kept no daylight saving time since 2008).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import Entity, EntityDef

IRAQ_OFFSET_HOURS = 3


@dataclass(frozen=True)
class Aggregate:
    """One indicator's query: over `source` (the form's table, or a repeat's joined to it),
    rows passing `where`, grouped by `groups` (label → expression), each measure labelled."""

    source: sa.FromClause
    where: sa.ColumnElement
    groups: Sequence[tuple[str, sa.ColumnElement]]
    measures: Sequence[tuple[str, sa.ColumnElement]]


def run(session: Session, aggregate: Aggregate) -> list[dict]:
    labelled = [expression.label(name) for name, expression in aggregate.groups]
    query = (sa.select(*labelled, *(e.label(n) for n, e in aggregate.measures))
             .select_from(aggregate.source).where(aggregate.where))
    if labelled:
        query = query.group_by(*labelled).order_by(*labelled)
    return [dict(row._mapping) for row in session.execute(query)]


def repeat_source(table: sa.Table, root: sa.Table) -> sa.FromClause:
    return table.join(root, table.c._submission_id == root.c._submission_id)


def counted(root: sa.Table) -> sa.ColumnElement:
    """What every indicator leaves out: rejected submissions. (Deleted ones have no rows, and a
    submission's rows are those of its current version only.)"""
    return sa.or_(root.c._review_state != "rejected", root.c._review_state.is_(None))


def local_date(session: Session, column: sa.ColumnElement, *, timestamp: bool):
    """The day a date or date-time column falls on in Iraq."""
    if not timestamp:
        return column
    if _sqlite(session):
        return sa.func.date(column, f"+{IRAQ_OFFSET_HOURS} hours")
    return sa.cast(sa.func.timezone("Asia/Baghdad", column), sa.Date)


def month_of(session: Session, column: sa.ColumnElement, *, timestamp: bool):
    """`2026-11`, as text, of the day `column` falls on in Iraq."""
    day = local_date(session, column, timestamp=timestamp)
    if _sqlite(session):
        return sa.func.strftime("%Y-%m", day)
    return sa.func.to_char(day, "YYYY-MM")


def total_of(columns: Sequence[sa.ColumnElement]) -> sa.ColumnElement:
    """A row's sum over several integer fields, an empty one counting 0."""
    return sum((sa.func.coalesce(c, 0) for c in columns[1:]), sa.func.coalesce(columns[0], 0))


def share(numerator: sa.ColumnElement, denominator: sa.ColumnElement) -> sa.ColumnElement:
    """Per cent, of the groups' sums (not a mean of per-row shares); none when nobody came."""
    return 100.0 * sa.func.sum(numerator) / sa.func.nullif(sa.func.sum(denominator), 0)


def case_status(root: sa.Table) -> tuple[sa.FromClause, sa.ColumnElement]:
    """How to reach the status, now, of the case each submission opened (its first version)."""
    opened = sa.and_(EntityDef.submission_id == root.c._submission_id, EntityDef.version == 1)
    joined = root.outerjoin(EntityDef, opened).outerjoin(
        Entity, sa.and_(Entity.id == EntityDef.entity_id, Entity.deleted_at.is_(None)))
    return joined, Entity.status


def case_closing(session: Session, root: sa.Table, follow_ups: sa.Table, *, case: sa.Column,
                 status: sa.Column, closed: str, on: sa.Column, opened_at: sa.ColumnElement,
                 timestamp: bool) -> tuple[sa.FromClause, sa.ColumnElement]:
    """The submissions (joined to the case each opened) and, for the cases that were closed,
    the days from the submission's date to the first counted follow-up that closed it."""
    first_closing = (sa.select(case.label("uuid"), sa.func.min(on).label("closed_on"))
                     .where(status == closed, counted(follow_ups), on.is_not(None))
                     .group_by(case).subquery("closing"))
    opened = sa.and_(EntityDef.submission_id == root.c._submission_id, EntityDef.version == 1)
    joined = (root.join(EntityDef, opened)
              .join(Entity, sa.and_(Entity.id == EntityDef.entity_id,
                                    Entity.deleted_at.is_(None)))
              .join(first_closing, first_closing.c.uuid == Entity.uuid))
    start = local_date(session, opened_at, timestamp=timestamp)
    if _sqlite(session):
        days = sa.func.julianday(first_closing.c.closed_on) - sa.func.julianday(start)
    else:
        days = first_closing.c.closed_on - start  # PostgreSQL: date - date is whole days
    return joined, days


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def behind(session: Session, source: sa.FromClause, where: sa.ColumnElement, root: sa.Table,
           *, after: int = 0, limit: int = 50) -> list[dict]:
    """The submissions an indicator's figure counts (each once, whatever it counted of them),
    a keyset page at a time by submission id."""
    chosen = (sa.select(root.c._submission_id).select_from(source)
              .where(where, root.c._submission_id > after).distinct().subquery())
    query = (sa.select(root.c._submission_id, root.c._instance_id, root.c._submitted_at,
                       root.c._review_state)
             .where(root.c._submission_id.in_(sa.select(chosen.c._submission_id)))
             .order_by(root.c._submission_id).limit(limit))
    return [dict(row._mapping) for row in session.execute(query)]
