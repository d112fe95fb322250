"""The statements of the submission path, in SQLAlchemy Core: run on the request's connection,
or on SQLite straight on the driver (`server.database.sqlite.driver`, which takes these same
statements: each takes all its values as parameters, none named like a column it sets).

Built once at import, so SQLAlchemy compiles each once per dialect and then finds it in its cache:
the ORM's unit of work cost several times what the database itself did for these few rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from server.database.models import (
    AppUser,
    AppUserForm,
    Blob,
    Form,
    FormVersion,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
    SyncLog,
    ValueIssueRecord,
)

_users, _forms, _versions = AppUser.__table__, Form.__table__, FormVersion.__table__
_subs, _defs = Submission.__table__, SubmissionDef.__table__
_log = SyncLog.__table__

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
    .where(_users.c.id == sa.bindparam("app_user_id"),
           # relayed: a field office took it when its sender could send, and sends it on
           sa.or_(_users.c.revoked_at.is_(None), sa.bindparam("relayed", type_=sa.Boolean)),
           sa.or_(sa.bindparam("token", type_=sa.String) == sa.null(),
                  _users.c.token == sa.bindparam("token", type_=sa.String))))


def target(connection: Connection, app_user_id: int, token: str | None, xml_form_id: str,
           version: str, instance_id: str, *, relayed: bool = False) -> sa.Row | None:
    """None when the app user is revoked (or its token changed), unless `relayed`; form and
    version columns are None when unknown; `held_id` names the version already held under
    `instance_id`, if any."""
    return connection.execute(_TARGET, {
        "app_user_id": app_user_id, "token": token, "xml_form_id": xml_form_id,
        "version": version, "instance_id": instance_id, "relayed": relayed}).first()


_XFORM = sa.select(_versions.c.xform).where(_versions.c.id == sa.bindparam("id"))


def xform(connection: Connection, version_id: int) -> bytes:
    return connection.execute(_XFORM, {"id": version_id}).scalar_one()


# What is held under an instanceID: the version and its submission's state, and what a retry
# or an edit of it carries over (the submission's key, first arrival and first sender).
_HELD = (
    sa.select(_defs.c.id, _defs.c.submission_id, _defs.c.xml_sha256,
              (_subs.c.current_def_id == _defs.c.id).label("is_current"),
              _subs.c.deleted_at.is_not(None).label("deleted"),
              _defs.c.attachments_present, _defs.c.attachments_expected,
              _subs.c.instance_id.label("key"), _subs.c.created_at.label("submitted_at"),
              _users.c.name.label("submitter"))
    .join(_subs, _subs.c.id == _defs.c.submission_id)
    .outerjoin(_users, _users.c.id == _subs.c.submitter_id)
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


# An edit: the submission moves to its new version unless another edit got there first.
_MOVE_TO_EDIT = sa.update(_subs).where(
    _subs.c.id == sa.bindparam("submission_id"),
    _subs.c.current_def_id == sa.bindparam("old_def_id"),
).values(current_def_id=sa.bindparam("new_def_id"), review_state=sa.bindparam("edited"),
         updated_at=sa.func.now()).returning(_subs.c.id)
_VERSIONS = sa.select(sa.func.count().label("versions")).select_from(_defs).where(
    _defs.c.submission_id == sa.bindparam("submission_id"))


def move_to_edit(connection: Connection, submission_id: int, old_def_id: int,
                 new_def_id: int) -> bool:
    return connection.execute(_MOVE_TO_EDIT, {
        "submission_id": submission_id, "old_def_id": old_def_id, "new_def_id": new_def_id,
        "edited": "edited"}).first() is not None


def count_versions(connection: Connection, submission_id: int) -> int:
    return connection.execute(_VERSIONS, {"submission_id": submission_id}).scalar_one()


_attachments = SubmissionAttachment.__table__
_ATTACHMENT = sa.select(_attachments.c.blob_sha256).where(
    _attachments.c.submission_def_id == sa.bindparam("def_id"),
    _attachments.c.name == sa.bindparam("file_name"))
_SET_BLOB = sa.update(_attachments).where(
    _attachments.c.submission_def_id == sa.bindparam("def_id"),
    _attachments.c.name == sa.bindparam("file_name"),
).values(blob_sha256=sa.bindparam("sha256"))
_PRESENT = sa.select(sa.func.count().label("present")).select_from(_attachments).where(
    _attachments.c.submission_def_id == sa.bindparam("def_id"),
    _attachments.c.blob_sha256.is_not(None))
_SET_PRESENT = sa.update(_defs).where(_defs.c.id == sa.bindparam("def_id")).values(
    attachments_present=sa.bindparam("present"))
_TOUCH = sa.update(_subs).where(_subs.c.id == sa.bindparam("submission_id")).values(
    updated_at=sa.bindparam("now"))


def attachment(connection: Connection, def_id: int, name: str) -> sa.Row | None:
    """A version's attachment called `name` (its `blob_sha256` None while not yet received)."""
    return connection.execute(_ATTACHMENT, {"def_id": def_id, "file_name": name}).first()


def set_attachment_blob(connection: Connection, def_id: int, name: str, sha256: str) -> None:
    connection.execute(_SET_BLOB, {"def_id": def_id, "file_name": name, "sha256": sha256})


def recount_attachments(connection: Connection, submission_id: int, def_id: int,
                        now: datetime) -> int:
    """A version received more of its files: count them again, and the submission changed."""
    present = connection.execute(_PRESENT, {"def_id": def_id}).scalar_one()
    connection.execute(_SET_PRESENT, {"def_id": def_id, "present": present})
    connection.execute(_TOUCH, {"submission_id": submission_id, "now": now})
    return present


def set_root_attachments(connection: Connection, table: sa.Table, submission_id: int,
                         present: int) -> None:
    """The count of files received, on a submission's form row."""
    connection.execute(sa.update(table).where(
        table.c._submission_id == sa.bindparam("row_of")).values(
        _attachments_present=sa.bindparam("present")),
        {"row_of": submission_id, "present": present})


def delete_rows(connection: Connection, tables: Iterable[sa.Table], submission_id: int) -> None:
    """A submission's rows in its form's tables, before its new version's are written."""
    for table in tables:
        connection.execute(sa.delete(table).where(
            table.c._submission_id == sa.bindparam("rows_of")), {"rows_of": submission_id})


_INSERT_ATTACHMENT = sa.insert(SubmissionAttachment.__table__)
_INSERT_ISSUE = sa.insert(ValueIssueRecord.__table__)


def insert_attachments(connection: Connection, rows: Sequence[dict]) -> None:
    if rows:
        connection.execute(_INSERT_ATTACHMENT, list(rows))


_issues = ValueIssueRecord.__table__
_DELETE_ISSUES = sa.delete(_issues).where(_issues.c.submission_def_id == sa.bindparam("def_id"))


def insert_value_issues(connection: Connection, rows: Sequence[dict]) -> None:
    if rows:
        connection.execute(_INSERT_ISSUE, list(rows))


def delete_value_issues(connection: Connection, def_id: int) -> None:
    connection.execute(_DELETE_ISSUES, {"def_id": def_id})


# A stored file's row, unless another submission already brought the same bytes.
_ENSURE_BLOB = {
    "postgresql": postgresql.insert(Blob.__table__).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(Blob.__table__).on_conflict_do_nothing(),
}


def ensure_blobs(connection: Connection, blobs: Sequence[tuple[str, str, int]],
                 now: datetime, *, contents: Mapping[str, bytes] | None = None) -> None:
    """`contents`: the bytes of the small files among them, kept in their rows."""
    for sha256, md5, size in blobs:
        connection.execute(_ENSURE_BLOB[connection.dialect.name],
                           {"sha256": sha256, "md5": md5, "size": size, "created_at": now,
                            "content": (contents or {}).get(sha256)})


def insert_rows(connection: Connection, statement: sa.Insert, rows: list[dict]) -> None:
    if rows:
        connection.execute(statement, rows)


class Collector:
    """Stands in for a connection and keeps the INSERTs of a submission's rows, so that they can
    be written in one statement with it (see `insert_new_at_once`)."""

    def __init__(self):
        self.inserts: list[tuple[sa.Table, list[dict]]] = []

    def execute(self, statement: sa.Insert, rows: list[dict]) -> None:
        self.inserts.append((statement.table, rows))


_AT_ONCE: dict[tuple, sa.Select] = {}


def insert_new_at_once(connection: Connection, submission: dict, definition: dict,
                       inserts: list[tuple[sa.Table, list[dict]]], *,
                       peer_id: int | None = None, files: Sequence[dict] = ()
                       ) -> tuple[int, int]:
    """PostgreSQL: a new submission, its first version and its rows in one statement, run in
    autocommit mode, so it is its own transaction: one round trip instead of a BEGIN, six
    INSERTs, an UPDATE and a COMMIT. The version's id is drawn first, so that the submission
    names it as current when inserted (the foreign keys are checked at the statement's end).
    Each table's rows travel as one JSON parameter, read back with their columns' types: a few
    parameters, and a statement text that depends only on the tables' columns.
    `files`: the version's attachments, all brought with it ({name, position, sha256, md5,
    size}), written with their blobs' rows (unless another submission brought the same bytes).
    Returns (submission id, version id)."""
    names = [tuple(sorted({c for row in rows for c in row} - {"_submission_id"}))
             for _table, rows in inserts]
    shape = (tuple(submission), tuple(definition),
             tuple((table, columns)
                   for (table, _rows), columns in zip(inserts, names, strict=True)),
             bool(files))
    statement = _AT_ONCE.get(shape)
    if statement is None:
        if len(_AT_ONCE) > 256:
            _AT_ONCE.clear()
        statement = _AT_ONCE[shape] = _build_at_once(*shape)
    params = {f"s_{name}": value for name, value in submission.items()}
    params.update({f"d_{name}": value for name, value in definition.items()})
    params["log_peer"] = peer_id  # the field office that sent it on, if one did
    if files:
        params["files"] = json.dumps(list(files), separators=(",", ":"))
    for i, ((_table, rows), columns) in enumerate(zip(inserts, names, strict=True)):
        params[f"t{i}"] = json.dumps([{c: row.get(c) for c in columns} for row in rows],
                                     default=_json_value, separators=(",", ":"))
    return tuple(connection.execute(statement, params).one())


def _json_value(value):
    if isinstance(value, Decimal):
        return str(value)  # exactly as parsed; PostgreSQL reads the text
    if isinstance(value, (date, time)):  # datetime too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value")


def _build_at_once(submission: tuple[str, ...], definition: tuple[str, ...], tables: tuple,
                   files: bool) -> sa.Select:
    def_id = sa.select(sa.func.nextval(sa.func.pg_get_serial_sequence(
        "submission_defs", "id")).label("id")).cte("new_def_id")
    sub = sa.insert(_subs).from_select([*submission, "current_def_id"], sa.select(
        *(sa.bindparam(f"s_{c}", type_=_subs.c[c].type) for c in submission), def_id.c.id,
    )).returning(_subs.c.id).cte("new_submission")
    both = def_id.join(sub, sa.true())
    ctes = [sa.insert(_defs).from_select(["id", "submission_id", *definition], sa.select(
        def_id.c.id, sub.c.id,
        *(sa.bindparam(f"d_{c}", type_=_defs.c[c].type) for c in definition),
    ).select_from(both)).cte("new_def"),
        # the version in the log of changes a field office's headquarters reads (unnumbered)
        sa.insert(_log).from_select(["kind", "ref", "peer_id", "created_at"], sa.select(
            sa.literal("submission"), sa.cast(def_id.c.id, sa.String),
            sa.bindparam("log_peer", type_=sa.Integer),
            sa.bindparam("d_created_at", type_=_defs.c.created_at.type))).cte("new_log")]
    if files:
        ctes += _files_at_once(def_id, sa.bindparam("d_created_at",
                                                    type_=_defs.c.created_at.type))
    for i, (table, names) in enumerate(tables):
        rows = sa.func.jsonb_to_recordset(sa.cast(sa.bindparam(f"t{i}", type_=sa.Text),
                                                  postgresql.JSONB)).table_valued(
            *(sa.column(c, table.c[c].type) for c in names)
        ).render_derived(name=f"r{i}", with_types=True)
        ctes.append(sa.insert(table).from_select(["_submission_id", *names], sa.select(
            sub.c.id, *(rows.c[c] for c in names)).select_from(sub.join(rows, sa.true())))
            .cte(f"new_rows_{i}"))
    statement = sa.select(sub.c.id, def_id.c.id).select_from(both)
    for cte in ctes:
        statement = statement.add_cte(cte)
    return statement


def _files_at_once(def_id: sa.CTE, created_at) -> list[sa.CTE]:
    """The CTEs of a new version's files: the blobs' rows (kept when already there) and the
    attachments naming them. The foreign key between them is checked at the statement's end."""
    _blobs, _atts = Blob.__table__, SubmissionAttachment.__table__
    listed = sa.func.jsonb_to_recordset(sa.cast(sa.bindparam("files", type_=sa.Text),
                                                postgresql.JSONB)).table_valued(
        sa.column("name", sa.Text), sa.column("position", sa.Integer),
        sa.column("sha256", sa.Text), sa.column("md5", sa.Text),
        sa.column("size", sa.BigInteger), sa.column("content", sa.Text)
    ).render_derived(name="files", with_types=True)
    blobs = postgresql.insert(_blobs).from_select(
        ["sha256", "md5", "size", "created_at", "content"],
        sa.select(listed.c.sha256, listed.c.md5, listed.c.size, created_at,
                  sa.func.decode(listed.c.content, "base64"))
        .distinct()).on_conflict_do_nothing().cte("new_blobs")
    attachments = sa.insert(_atts).from_select(
        ["submission_def_id", "name", "position", "blob_sha256"],
        sa.select(def_id.c.id, listed.c.name, listed.c.position, listed.c.sha256)
        .select_from(def_id.join(listed, sa.true()))).cte("new_attachments")
    return [blobs, attachments]


def is_arrival_conflict(error: sa.exc.IntegrityError) -> bool:
    """Whether a refused INSERT was the submission's or its version's (another request stored
    the same instance first), not one of its rows'."""
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "table_name", None) in (_subs.name, _defs.name)
