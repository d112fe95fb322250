"""SQL of the supervisors' Cases pages: the cases a reader's places hold, filtered and paged
newest change first; one case with its versions (who made each, from which submission) and the
updates of it that were held or refused; and the few statements a resolution adds to those of
`queries.entities`.

The reader's places arrive as a WHERE clause (`services.access.scope_clause` over PLACES), so
the rule of who sees what is written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import (
    AppUser,
    Entity,
    EntityActionRecord,
    EntityDef,
    EntityList,
    Form,
    Submission,
    SubmissionDef,
    User,
)

_lists = EntityList.__table__
# the columns a reader's places are matched on (services.access.PLACE_FIELDS' names)
PLACES = {"governorate": Entity.governorate, "forum": Entity.forum}
CASE_COLUMNS = (Entity.id, Entity.uuid, Entity.label, Entity.version, Entity.governorate,
                Entity.forum, Entity.status, Entity.follow_up, Entity.conflict, Entity.data,
                Entity.created_at, Entity.updated_at, Entity.deleted_at,
                EntityList.name.label("list_name"))


@dataclass(frozen=True)
class CaseFilters:
    """What the list keeps, besides the reader's places: blank keeps everything."""

    governorate: str = ""
    forum: str = ""
    status: str = ""
    q: str = ""  # in the label or the id
    overdue_before: str = ""  # ISO date: follow-up earlier than it, and not closed
    conflict: bool = False
    closed: Sequence[str] = ()  # the statuses that close a case


def _where(scope_where, filters: CaseFilters):
    terms = [scope_where, Entity.deleted_at.is_(None)]
    for name in ("governorate", "forum", "status"):
        if getattr(filters, name):
            terms.append(getattr(Entity, name) == getattr(filters, name))
    if filters.q:
        terms.append(sa.or_(Entity.label.icontains(filters.q, autoescape=True),
                            Entity.uuid.icontains(filters.q, autoescape=True)))
    if filters.overdue_before:
        terms += [Entity.follow_up.is_not(None), Entity.follow_up < filters.overdue_before,
                  sa.or_(Entity.status.is_(None), Entity.status.not_in(sorted(filters.closed)))]
    if filters.conflict:
        terms.append(Entity.conflict.is_not(None))
    return sa.and_(*terms)


def case_page(session: Session, scope_where, filters: CaseFilters, *,
              after: tuple[datetime, int] | None, limit: int) -> list[sa.Row]:
    """One page of cases, the last changed first, after the keyset cursor `after`."""
    order = (Entity.updated_at, Entity.id)
    query = (sa.select(*CASE_COLUMNS).join(EntityList, EntityList.id == Entity.list_id)
             .where(_where(scope_where, filters)))
    if after is not None:
        query = query.where(sa.tuple_(*order) < sa.tuple_(*after))
    return list(session.execute(query.order_by(*(c.desc() for c in order)).limit(limit)))


def place_values(session: Session, scope_where) -> dict[str, list[str]]:
    """The governorates, forums and statuses of the cases the reader sees, for the menus."""
    found = {}
    for name in ("governorate", "forum", "status"):
        column = getattr(Entity, name)
        found[name] = list(session.scalars(
            sa.select(column).distinct().where(scope_where, Entity.deleted_at.is_(None),
                                               column.is_not(None)).order_by(column)))
    return found


def case_in_scope(session: Session, uuid: str, scope_where) -> sa.Row | None:
    return session.execute(sa.select(*CASE_COLUMNS, Entity.list_id)
                           .join(EntityList, EntityList.id == Entity.list_id)
                           .where(Entity.uuid == uuid, scope_where)).first()


def case_versions(session: Session, entity_id: int) -> list[sa.Row]:
    """Every version of a case, oldest first, with who made it (the phone's app user or the
    web user) and the submission (its form, first and own instanceID) it came from."""
    return list(session.execute(
        sa.select(EntityDef.id, EntityDef.version, EntityDef.label, EntityDef.data,
                  EntityDef.data_received, EntityDef.base_version, EntityDef.branch_id,
                  EntityDef.conflict, EntityDef.conflicting_properties, EntityDef.forced,
                  EntityDef.submission_id, EntityDef.app_user_id, EntityDef.user_id,
                  EntityDef.created_at, AppUser.name.label("app_user"),
                  User.username.label("web_user"), Submission.instance_id.label("key"),
                  Submission.deleted_at.label("submission_deleted_at"),
                  SubmissionDef.instance_id.label("instance_id"),
                  Form.xml_form_id.label("xml_form_id"))
        .outerjoin(AppUser, AppUser.id == EntityDef.app_user_id)
        .outerjoin(User, User.id == EntityDef.user_id)
        .outerjoin(Submission, Submission.id == EntityDef.submission_id)
        .outerjoin(SubmissionDef, SubmissionDef.id == EntityDef.submission_def_id)
        .outerjoin(Form, Form.id == Submission.form_id)
        .where(EntityDef.entity_id == entity_id).order_by(EntityDef.version)))


def unapplied_actions(session: Session, uuid: str) -> list[sa.Row]:
    """The updates of a case that were held (waiting) or refused, oldest first, with their
    submission and the phone that sent it."""
    return list(session.execute(
        sa.select(EntityActionRecord.id, EntityActionRecord.outcome, EntityActionRecord.refusal,
                  EntityActionRecord.message, EntityActionRecord.base_version,
                  EntityActionRecord.created_at, EntityActionRecord.updated_at,
                  AppUser.name.label("app_user"), Submission.instance_id.label("key"),
                  Submission.deleted_at.label("submission_deleted_at"),
                  SubmissionDef.instance_id.label("instance_id"),
                  Form.xml_form_id.label("xml_form_id"))
        .join(Submission, Submission.id == EntityActionRecord.submission_id)
        .join(SubmissionDef, SubmissionDef.id == EntityActionRecord.submission_def_id)
        .join(Form, Form.id == Submission.form_id)
        .outerjoin(AppUser, AppUser.id == SubmissionDef.submitter_id)
        .where(EntityActionRecord.uuid == uuid,
               EntityActionRecord.outcome.in_(("held", "refused")))
        .order_by(EntityActionRecord.id)))


# -- a resolution, on the write path --------------------------------------------------------

def cases_of_submission(session: Session, submission_id: int, scope_where) -> list[sa.Row]:
    """The cases a submission made or changed (of the reader's places), with the versions it
    made of each."""
    return list(session.execute(
        sa.select(Entity.uuid, Entity.label, EntityDef.version)
        .join(Entity, Entity.id == EntityDef.entity_id)
        .where(EntityDef.submission_id == submission_id, scope_where)
        .order_by(Entity.label, Entity.uuid, EntityDef.version)))
