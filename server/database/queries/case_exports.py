"""SQL of the cases in a form's exports: each case as it stands (its row of the list's typed
table, `e_cases`) and every version of it, chosen by a WHERE clause on the case (its place, as
the phones' lists match it, and its typed columns), in the order the cases were opened, streamed
through `form_tables.batches` like the submission exports."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import (
    AppUser,
    Entity,
    EntityDef,
    EntityList,
    Submission,
    SubmissionDef,
    User,
)

_entities, _defs = Entity.__table__, EntityDef.__table__

# The copies of a case's place that the phones' lists and scopes are matched on.
PLACE_COLUMNS = {"governorate": _entities.c.governorate, "forum": _entities.c.forum}


def lists_named(session: Session, names: Sequence[str]) -> list[EntityList]:
    """The registered lists among `names`, in the order given (a list no form loaded yet is
    absent)."""
    if not names:
        return []
    found = {lst.name: lst for lst in session.scalars(
        sa.select(EntityList).where(EntityList.name.in_(sorted(set(names)))))}
    return [found[name] for name in dict.fromkeys(names) if name in found]


def _cases_of(typed: sa.Table, list_id: int):
    """The list's typed rows with their cases (place copies, opening order). The list is
    matched as `list_id + 0`, which no index serves: SQLite then reads the cases in the order
    of their primary key, the export's order, rather than by the list's (list_id, seq) index
    and a sort of every row before the first is sent (a whole list's versions held at once)."""
    return typed.join(_entities, sa.and_(_entities.c.uuid == typed.c._uuid,
                                         _entities.c.list_id + 0 == list_id))


def select_cases(typed: sa.Table, list_id: int, sources: Sequence[str], where) -> sa.Select:
    """The cases passing `where`, one row each (the typed table's `sources`), oldest first."""
    return (sa.select(*(typed.c[name] for name in sources))
            .select_from(_cases_of(typed, list_id)).where(where).order_by(_entities.c.id))


def select_versions(typed: sa.Table, list_id: int, where) -> sa.Select:
    """Every version of the cases passing `where`, case by case in opening order, each case's
    versions in order: its number, label, properties (`data`, JSON), conflict and forcing, who
    made it (`app_user`: the submission's app user, or `web_user`: who resolved a conflict) and
    from which submission (`submission_key`, and `instance_id` of the version of it that did)."""
    return (sa.select(
        _entities.c.uuid, _defs.c.version, _defs.c.label, _defs.c.data, _defs.c.conflict,
        _defs.c.conflicting_properties, _defs.c.forced, _defs.c.created_at,
        AppUser.name.label("app_user"), User.username.label("web_user"),
        Submission.instance_id.label("submission_key"),
        SubmissionDef.instance_id.label("instance_id"))
        .select_from(_cases_of(typed, list_id)
                     .join(_defs, _defs.c.entity_id == _entities.c.id)
                     .outerjoin(AppUser, AppUser.id == _defs.c.app_user_id)
                     .outerjoin(User, User.id == _defs.c.user_id)
                     .outerjoin(Submission, Submission.id == _defs.c.submission_id)
                     .outerjoin(SubmissionDef, SubmissionDef.id == _defs.c.submission_def_id))
        .where(where).order_by(_entities.c.id, _defs.c.version))


def count_cases(session: Session, typed: sa.Table, list_id: int, where) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(
        _cases_of(typed, list_id)).where(where)) or 0


def count_versions(session: Session, typed: sa.Table, list_id: int, where) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(
        _cases_of(typed, list_id).join(_defs, _defs.c.entity_id == _entities.c.id))
        .where(where)) or 0
