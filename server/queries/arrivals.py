"""The statements of the submission path, in SQLAlchemy Core on the request's connection.

Built once at import, so SQLAlchemy compiles each once per dialect and then finds it in its cache:
the ORM's unit of work cost several times what the database itself did for these few rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from server.models import (
    AppUser,
    AppUserForm,
    Blob,
    Form,
    FormVersion,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
    ValueIssueRecord,
)

_users, _forms, _versions = AppUser.__table__, Form.__table__, FormVersion.__table__
_subs, _defs = Submission.__table__, SubmissionDef.__table__

_PHONE = sa.select(_users.c.id, _users.c.name, _users.c.all_forms).where(
    _users.c.token == sa.bindparam("token"), _users.c.revoked_at.is_(None))


def phone_by_token(connection: Connection, token: str) -> sa.Row | None:
    return connection.execute(_PHONE, {"token": token}).first()


# Who sends (still active: a revocation in any worker counts at once), to which form and version,
# whether they may, and what is already held under the instanceID: one statement.
_held_def = SubmissionDef.__table__.alias("held_def")
_held_sub = Submission.__table__.alias("held_sub")
_TARGET = (
    sa.select(
        _users.c.name.label("submitter"),
        _forms.c.id.label("form_id"), _forms.c.state, _forms.c.projection_revision,
        _versions.c.id.label("version_id"), _versions.c.version, _versions.c.xform_sha256,
        sa.or_(_users.c.all_forms, sa.exists().where(
            AppUserForm.app_user_id == _users.c.id, AppUserForm.form_id == _forms.c.id,
        )).label("allowed"),
        _held_def.c.id.label("held_id"))
    .select_from(_users)
    .outerjoin(_forms, _forms.c.xml_form_id == sa.bindparam("xml_form_id"))
    .outerjoin(_versions, sa.and_(_versions.c.form_id == _forms.c.id,
                                  _versions.c.version == sa.bindparam("version")))
    .outerjoin(_held_def, sa.and_(_held_def.c.form_id == _forms.c.id,
                                  _held_def.c.instance_id == sa.bindparam("instance_id")))
    .where(_users.c.id == sa.bindparam("app_user_id"), _users.c.revoked_at.is_(None),
           sa.or_(sa.bindparam("token", type_=sa.String) == sa.null(),
                  _users.c.token == sa.bindparam("token", type_=sa.String))))


def target(connection: Connection, app_user_id: int, token: str | None, xml_form_id: str,
           version: str, instance_id: str) -> sa.Row | None:
    """None when the app user is revoked (or its token changed); form and version columns are
    None when unknown; `held_id` names the version already held under `instance_id`, if any."""
    return connection.execute(_TARGET, {
        "app_user_id": app_user_id, "token": token, "xml_form_id": xml_form_id,
        "version": version, "instance_id": instance_id}).first()


_XFORM = sa.select(_versions.c.xform).where(_versions.c.id == sa.bindparam("id"))


def xform(connection: Connection, version_id: int) -> bytes:
    return connection.execute(_XFORM, {"id": version_id}).scalar_one()


# What is held under an instanceID: the version and its submission's state.
_HELD = (
    sa.select(_defs.c.id, _defs.c.submission_id, _defs.c.xml_sha256,
              (_subs.c.current_def_id == _defs.c.id).label("is_current"),
              _subs.c.deleted_at.is_not(None).label("deleted"))
    .join(_subs, _subs.c.id == _defs.c.submission_id)
    .where(_defs.c.form_id == sa.bindparam("form_id"),
           _defs.c.instance_id == sa.bindparam("instance_id")))


def held(connection: Connection, form_id: int, instance_id: str) -> sa.Row | None:
    return connection.execute(_HELD, {"form_id": form_id, "instance_id": instance_id}).first()


_INSERT_SUBMISSION = sa.insert(_subs).returning(_subs.c.id)
_INSERT_DEF = sa.insert(_defs).returning(_defs.c.id)
_SET_CURRENT = sa.update(_subs).where(_subs.c.id == sa.bindparam("submission_id")).values(
    current_def_id=sa.bindparam("def_id"))


def insert_submission(connection: Connection, values: dict) -> int:
    return connection.execute(_INSERT_SUBMISSION, values).scalar_one()


def insert_def(connection: Connection, values: dict) -> int:
    """The unique (form, instanceID) constraint speaks here when phones race."""
    return connection.execute(_INSERT_DEF, values).scalar_one()


def set_current_def(connection: Connection, submission_id: int, def_id: int) -> None:
    connection.execute(_SET_CURRENT, {"submission_id": submission_id, "def_id": def_id})


_INSERT_ATTACHMENT = sa.insert(SubmissionAttachment.__table__)
_INSERT_ISSUE = sa.insert(ValueIssueRecord.__table__)


def insert_attachments(connection: Connection, rows: Sequence[dict]) -> None:
    if rows:
        connection.execute(_INSERT_ATTACHMENT, list(rows))


def insert_value_issues(connection: Connection, rows: Sequence[dict]) -> None:
    if rows:
        connection.execute(_INSERT_ISSUE, list(rows))


# A stored file's row, unless another submission already brought the same bytes.
_ENSURE_BLOB = {
    "postgresql": postgresql.insert(Blob.__table__).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(Blob.__table__).on_conflict_do_nothing(),
}


def ensure_blobs(connection: Connection, blobs: Sequence[tuple[str, str, int]],
                 now: datetime) -> None:
    for sha256, md5, size in blobs:
        connection.execute(_ENSURE_BLOB[connection.dialect.name],
                            {"sha256": sha256, "md5": md5, "size": size, "created_at": now})


def insert_rows(connection: Connection, statement: sa.Insert, rows: list[dict]) -> None:
    if rows:
        connection.execute(statement, rows)
