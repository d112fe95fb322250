"""SQL of cases (ODK Entities): entity lists, entities, their versions, the entity actions of
submissions (the held backlog among them) and the case events kept across rebuilds.

The statements the submission path runs are built once, with every value a parameter, so that
they run on a Connection and on SQLite's lane alike (see `queries.arrivals`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import (
    AppUser,
    CaseEvent,
    Entity,
    EntityActionRecord,
    EntityDef,
    EntityList,
    Submission,
    SubmissionDef,
)
from server.database.queries import form_tables as table_queries

_lists, _entities, _defs = EntityList.__table__, Entity.__table__, EntityDef.__table__
_actions, _events = EntityActionRecord.__table__, CaseEvent.__table__

# -- lists ------------------------------------------------------------------------------------

_LIST = sa.select(_lists.c.id, _lists.c.name, _lists.c.properties, _lists.c.epoch,
                  _lists.c.last_seq, _lists.c.table_name).where(
    _lists.c.name == sa.bindparam("name"))
_LIST_BY_ID = sa.select(*_LIST.selected_columns).where(_lists.c.id == sa.bindparam("list_id"))
# The next change number: on PostgreSQL this also locks the list's row until the commit, so
# concurrent changes of one list take their numbers (and make their changes) one after another.
_NEXT_SEQ = (sa.update(_lists).where(_lists.c.id == sa.bindparam("list_id"))
             .values(last_seq=_lists.c.last_seq + sa.literal_column("1"))
             .returning(_lists.c.last_seq))


def list_named(connection, name: str) -> sa.Row | None:
    return connection.execute(_LIST, {"name": name}).first()


def list_by_id(connection, list_id: int) -> sa.Row:
    return connection.execute(_LIST_BY_ID, {"list_id": list_id}).one()


def next_seq(connection, list_id: int) -> int:
    return connection.execute(_NEXT_SEQ, {"list_id": list_id}).scalar_one()


def list_by_name(session: Session, name: str) -> EntityList | None:
    return session.scalar(sa.select(EntityList).where(EntityList.name == name))


def entities_of_list(session: Session, list_id: int) -> Sequence[Entity]:
    return session.scalars(sa.select(Entity).where(Entity.list_id == list_id)
                           .order_by(Entity.id)).all()


def all_lists(session: Session) -> Sequence[EntityList]:
    return session.scalars(sa.select(EntityList).order_by(EntityList.name)).all()


# -- one case, on the write path ----------------------------------------------------------------

_ENTITY = sa.select(
    _entities.c.id, _entities.c.list_id, _entities.c.uuid, _entities.c.label,
    _entities.c.version, _entities.c.data, _entities.c.conflict, _entities.c.deleted_at,
    _entities.c.governorate, _entities.c.forum, _entities.c.created_at,
    _entities.c.updated_at, _entities.c.creator_id,
).where(_entities.c.uuid == sa.bindparam("uuid"))
_ENTITY_LOCKED = _ENTITY.with_for_update()  # PostgreSQL: one case changed by one at a time
_VERSIONS = sa.select(
    _defs.c.version, _defs.c.label, _defs.c.data, _defs.c.branch_id, _defs.c.trunk_version,
    _defs.c.branch_base_version, _defs.c.forced, _defs.c.submission_id,
).where(_defs.c.entity_id == sa.bindparam("entity_id")).order_by(_defs.c.version)
_INSERT_ENTITY = sa.insert(_entities).returning(_entities.c.id)
_INSERT_DEF = sa.insert(_defs).returning(_defs.c.id)
_UPDATE_ENTITY = sa.update(_entities).where(_entities.c.id == sa.bindparam("entity_id")).values(
    label=sa.bindparam("new_label"), version=sa.bindparam("new_version"),
    data=sa.bindparam("new_data"), conflict=sa.bindparam("new_conflict"),
    governorate=sa.bindparam("new_governorate"), forum=sa.bindparam("new_forum"),
    status=sa.bindparam("new_status"), follow_up=sa.bindparam("new_follow_up"),
    seq=sa.bindparam("new_seq"), csv_row=sa.bindparam("new_csv_row"),
    updated_at=sa.bindparam("new_updated_at"))


_MARK_DELETED = sa.update(_entities).where(_entities.c.id == sa.bindparam("entity_id")).values(
    deleted_at=sa.bindparam("new_deleted_at"), seq=sa.bindparam("new_seq"),
    updated_at=sa.bindparam("new_deleted_at"))


def mark_deleted(connection, entity_id: int, at: datetime, seq: int) -> None:
    connection.execute(_MARK_DELETED, {"entity_id": entity_id, "new_deleted_at": at,
                                       "new_seq": seq})


def entity(connection, uuid: str, *, lock: bool = True) -> sa.Row | None:
    return connection.execute(_ENTITY_LOCKED if lock else _ENTITY, {"uuid": uuid}).first()


def versions(connection, entity_id: int) -> list[sa.Row]:
    return list(connection.execute(_VERSIONS, {"entity_id": entity_id}))


def insert_entity(connection, values: dict) -> int:
    """The unique uuid constraint speaks here when two phones create one case at once."""
    return connection.execute(_INSERT_ENTITY, values).scalar_one()


def update_entity(connection, entity_id: int, values: dict) -> None:
    connection.execute(_UPDATE_ENTITY, {"entity_id": entity_id,
                                        **{f"new_{k}": v for k, v in values.items()}})


def insert_version(connection, values: dict) -> int:
    return connection.execute(_INSERT_DEF, values).scalar_one()


# -- what each action came to; the held backlog ------------------------------------------------

_INSERT_ACTION = sa.insert(_actions).returning(_actions.c.id)
_HELD = sa.select(
    _actions.c.id, _actions.c.submission_def_id, _actions.c.position, _actions.c.submission_id,
    _actions.c.uuid, _actions.c.branch_id, _actions.c.base_version, _actions.c.action,
    _actions.c.created_at,
).where(_actions.c.outcome == sa.literal_column("'held'"))
_HELD_OF = _HELD.where(_actions.c.uuid == sa.bindparam("uuid")).order_by(_actions.c.id)
_HELD_BEFORE = _HELD.where(_actions.c.created_at < sa.bindparam("before")).order_by(
    _actions.c.id)
_SETTLE = sa.update(_actions).where(_actions.c.id == sa.bindparam("action_id")).values(
    outcome=sa.bindparam("new_outcome"), refusal=sa.bindparam("new_refusal"),
    message=sa.bindparam("new_message"), entity_def_id=sa.bindparam("new_def_id"),
    updated_at=sa.bindparam("new_updated_at"))
_ACTION_AT = sa.select(_actions.c.id, _actions.c.outcome).where(
    _actions.c.submission_def_id == sa.bindparam("def_id"),
    _actions.c.position == sa.bindparam("position"))


def insert_action(connection, values: dict) -> int:
    return connection.execute(_INSERT_ACTION, values).scalar_one()


def held_of(connection, uuid: str) -> list[sa.Row]:
    """The case's held updates, oldest first."""
    return list(connection.execute(_HELD_OF, {"uuid": uuid}))


def held_before(connection, before: datetime) -> list[sa.Row]:
    return list(connection.execute(_HELD_BEFORE, {"before": before}))


def action_at(connection, def_id: int, position: int) -> sa.Row | None:
    return connection.execute(_ACTION_AT, {"def_id": def_id, "position": position}).first()


def settle_action(connection, action_id: int, *, outcome: str, refusal: str | None,
                  message: str, def_id: int | None, now: datetime) -> None:
    connection.execute(_SETTLE, {
        "action_id": action_id, "new_outcome": outcome, "new_refusal": refusal,
        "new_message": message, "new_def_id": def_id, "new_updated_at": now})


# -- case events (kept for good) ----------------------------------------------------------------

_INSERT_EVENT = sa.insert(_events).returning(_events.c.id)
_LAST_DEF = sa.select(sa.func.coalesce(sa.func.max(SubmissionDef.id), 0))
_REFUSED_BY_EVENT = sa.select(_events.c.id).where(
    _events.c.kind == sa.literal_column("'refuse'"),
    _events.c.submission_def_id == sa.bindparam("def_id"),
    _events.c.position == sa.bindparam("position"))


def refused_by_event(connection, def_id: int, position: int) -> bool:
    """Whether a case event says this action was refused when it arrived."""
    return connection.execute(_REFUSED_BY_EVENT, {"def_id": def_id, "position": position}
                              ).first() is not None


_APP_USER_NAME = sa.select(AppUser.name).where(AppUser.id == sa.bindparam("app_user_id"))


def app_user_name(connection, app_user_id: int) -> str | None:
    return connection.execute(_APP_USER_NAME, {"app_user_id": app_user_id}).scalar()


def insert_event(connection, values: dict) -> int:
    return connection.execute(_INSERT_EVENT, values).scalar_one()


def event(connection, event_id: int) -> sa.Row:
    return connection.execute(sa.select(_events).where(_events.c.id == event_id)).one()


def last_def_id(connection) -> int:
    return connection.execute(_LAST_DEF).scalar_one()


def events(session: Session) -> list[sa.Row]:
    """Every case event, in the order they happened."""
    return list(session.execute(sa.select(_events).order_by(_events.c.id)))


# -- rebuilding ---------------------------------------------------------------------------------

def delete_projection(session: Session, tables: Iterable[sa.Table]) -> None:
    """Every case, version and action record, and the rows of the lists' typed tables: what a
    rebuild writes again."""
    for table in tables:
        session.execute(sa.delete(table))
    session.execute(sa.delete(_actions))
    session.execute(sa.delete(_defs))
    session.execute(sa.delete(_entities))


def defs_with_entities(session: Session, form_ids: Sequence[int], *, after_id: int,
                       limit: int) -> list[sa.Row]:
    """Submission versions of the forms that feed cases, in the order they arrived (deleted
    submissions' too: their cases stay, as they did)."""
    if not form_ids:
        return []
    return list(session.execute(
        sa.select(SubmissionDef.id, SubmissionDef.submission_id, SubmissionDef.xml,
                  SubmissionDef.form_version_id, SubmissionDef.submitter_id,
                  SubmissionDef.created_at, Submission.instance_id.label("key"))
        .join(Submission, Submission.id == SubmissionDef.submission_id)
        .where(SubmissionDef.form_id.in_(form_ids), SubmissionDef.id > after_id)
        .order_by(SubmissionDef.id).limit(limit)))


# -- the typed table (e_cases) -------------------------------------------------------------------

def replace_typed_row(connection, table: sa.Table, uuid: str, row: dict) -> None:
    statements = _typed_statements.get(table)
    if statements is None:
        if len(_typed_statements) > 64:
            _typed_statements.clear()
        statements = _typed_statements[table] = (
            sa.delete(table).where(table.c._uuid == sa.bindparam("case_uuid")), sa.insert(table))
    connection.execute(statements[0], {"case_uuid": uuid})
    connection.execute(statements[1], [row])


# The literals above are SQL, not parameters: SQLite's lane runs a statement with exactly the
# values it is given. A typed table's statements are built once per shape of it.
_typed_statements: dict[sa.Table, tuple[sa.Delete, sa.Insert]] = {}


def create_typed_table(session: Session, table: sa.Table) -> None:
    table.create(session.connection())


def add_typed_column(session: Session, table_name: str, column: sa.Column) -> None:
    table_queries.add_column(session, table_name, column)


# -- the phones' lists ----------------------------------------------------------------------------

def visible_csv_rows(connection, list_id: int, governorates: Sequence[str],
                     forums: Sequence[str], closed: Sequence[str]) -> list[str]:
    """The CSV lines of the cases a phone of these places receives: not deleted, not closed,
    in the order they were opened."""
    places = []
    if governorates:
        places.append(_entities.c.governorate.in_(sorted(governorates)))
    if forums:
        places.append(_entities.c.forum.in_(sorted(forums)))
    if not places:
        return []
    return list(connection.execute(
        sa.select(_entities.c.csv_row).where(
            _entities.c.list_id == list_id, _entities.c.deleted_at.is_(None),
            sa.or_(_entities.c.status.is_(None), _entities.c.status.not_in(sorted(closed))),
            sa.or_(*places))
        .order_by(_entities.c.id)).scalars())


def states(connection, list_id: int, uuids: Sequence[str]) -> list[sa.Row]:
    """Where each of these cases stands, for the integrity answer."""
    if not uuids:
        return []
    return list(connection.execute(sa.select(
        _entities.c.uuid, _entities.c.deleted_at, _entities.c.status, _entities.c.governorate,
        _entities.c.forum).where(_entities.c.list_id == list_id,
                                 _entities.c.uuid.in_(sorted(set(uuids))))))


# -- the JSON lists of our own clients (full, or changed since a token) ---------------------------

_FEED_COLUMNS = (_entities.c.id, _entities.c.uuid, _entities.c.label, _entities.c.version,
                 _entities.c.data, _entities.c.conflict, _entities.c.governorate,
                 _entities.c.forum, _entities.c.seq, _entities.c.created_at,
                 _entities.c.updated_at, _entities.c.deleted_at)


def feed_rows(connection, list_id: int, *, upto: int, after: int | None,
              governorates: Sequence[str] | None, forums: Sequence[str] | None) -> list[sa.Row]:
    """The cases of the list changed up to change `upto`: all those not deleted (`after` None),
    or every one changed after change `after`, deleted ones too. `governorates`/`forums` None:
    every place; else only the cases of those places (the full list only: a delta is sorted by
    the caller, which must also tell what left the places)."""
    where = [_entities.c.list_id == list_id, _entities.c.seq <= upto]
    if after is None:
        where.append(_entities.c.deleted_at.is_(None))
        if governorates is not None:
            places = [column.in_(sorted(values)) for column, values in (
                (_entities.c.governorate, governorates), (_entities.c.forum, forums)) if values]
            if not places:
                return []
            where.append(sa.or_(*places))
    else:
        where.append(_entities.c.seq > after)
    return list(connection.execute(sa.select(*_FEED_COLUMNS).where(*where)
                                   .order_by(_entities.c.seq)))


def version_data(connection, entity_ids: Sequence[int]) -> list[sa.Row]:
    """(entity_id, data) of every version of these cases."""
    if not entity_ids:
        return []
    return list(connection.execute(sa.select(_defs.c.entity_id, _defs.c.data).where(
        _defs.c.entity_id.in_(sorted(set(entity_ids))))))
