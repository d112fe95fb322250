"""The relational tables: typed rows that analysts query with plain SQL, a projection of the raw
submissions that `muntada renormalise` can rebuild at any time.

`ensure` grows a form's tables when a version is loaded (DDL stays off the submission path), and
`index_lists` gives them the indexes the review lists read (DDL stays off their GET too);
`write` replaces one submission's rows. The sync core decides shapes, names and values; this
module only maps them onto SQLAlchemy tables.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from forms import FormStructure
from server.database.models import (
    Form,
    ProjectionColumn,
    ProjectionTable,
    Submission,
    SubmissionDef,
)
from server.database.queries import arrivals as arrival_queries
from server.database.queries import form_tables as table_queries
from sync import tables as shapes
from sync.normalise import Rows


# A decimal is a double, as on the phone (JavaRosa's decimal is one): floating point on both
# databases, so that `score / 100` divides as a decimal in plain SQL (SQLite's NUMERIC affinity
# would store 82 as an integer, and integer division gives 0).
class TimeOfDay(sa.TypeDecorator):
    """A time with the offset the phone sent: PostgreSQL's TIME WITH TIME ZONE; on SQLite the
    ISO text (08:56:00.000000+03:00), since its own TIME type drops the offset."""

    impl = sa.Time
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Time(timezone=True))

    def process_bind_param(self, value, dialect):
        if dialect.name != "sqlite" or value is None:
            return value
        return value.isoformat(timespec="microseconds")

    def process_result_value(self, value, dialect):
        if dialect.name != "sqlite" or value is None or isinstance(value, dt.time):
            return value
        return dt.time.fromisoformat(value)  # a table made before kept the clock alone


SQL_TYPES = {
    "integer": sa.BigInteger,
    "decimal": sa.Double,
    "date": sa.Date,
    "datetime": lambda: sa.DateTime(timezone=True),
    "time": TimeOfDay,
    "text": sa.Text,
}


def _system_columns(kind: str) -> list[sa.Column]:
    if kind == "form":
        return [
            sa.Column("_key", sa.Text, primary_key=True),
            sa.Column("_submission_id", sa.Integer, nullable=False, unique=True),
            sa.Column("_instance_id", sa.Text, nullable=False),
            sa.Column("_submitted_at", sa.DateTime(timezone=True)),
            sa.Column("_updated_at", sa.DateTime(timezone=True)),
            sa.Column("_submitter", sa.Text),
            sa.Column("_device_id", sa.Text),
            sa.Column("_form_version", sa.Text),
            sa.Column("_review_state", sa.Text),
            sa.Column("_attachments_present", sa.Integer),
            sa.Column("_attachments_expected", sa.Integer),
            sa.Column("_edits", sa.Integer),
        ]
    if kind == "repeat":
        return [
            sa.Column("_key", sa.Text, primary_key=True),
            sa.Column("_parent_key", sa.Text, nullable=False, index=True),
            sa.Column("_submission_id", sa.Integer, nullable=False, index=True),
            sa.Column("_position", sa.Integer, nullable=False),
        ]
    return [  # a select-multiple: one row per chosen value
        sa.Column("_parent_key", sa.Text, primary_key=True),
        sa.Column("_position", sa.Integer, primary_key=True),
        sa.Column("_submission_id", sa.Integer, nullable=False, index=True),
        sa.Column("value", sa.Text),
    ]


@dataclass(frozen=True)
class Projection:
    """A form's tables as SQLAlchemy objects, and where each (path, kind, part) lives."""

    tables: dict[str, sa.Table]  # table key → table
    columns: dict[tuple[str, str, str, str], str]  # (table key, path, kind, part) → column name
    inserts: dict[str, sa.Insert]  # table key → its INSERT, built once (compiled once)

    @property
    def root(self) -> sa.Table:
        return self.tables[shapes.ROOT]


def ensure(session: Session, form: Form, structure: FormStructure) -> bool:
    """Create the tables and columns this version needs; True when anything was added."""
    plan = shapes.plan(structure)
    tables, columns = table_queries.mapping(session, form.id)
    by_key = {t.key: t for t in tables}
    key_of = {t.id: t.key for t in tables}
    known = {(key_of[c.table_id], c.path, c.kind, c.part): c.column_name for c in columns}
    taken: dict[str, set[str]] = {spec.key: set() for spec in plan.tables}
    for (table_key, *_identity), name in known.items():
        taken.setdefault(table_key, set()).add(name)
    added = shapes.new_names(plan.columns, known, taken)
    new_tables = [spec for spec in plan.tables if spec.key not in by_key]
    if not added and not new_tables:
        return False
    taken_tables = table_queries.all_table_names(session)
    for spec in new_tables:
        by_key[spec.key] = ProjectionTable(
            form_id=form.id, key=spec.key, parent_key=spec.parent, kind=spec.kind,
            table_name=shapes.table_name(form.xml_form_id, spec.key, taken_tables))
        session.add(by_key[spec.key])
    session.flush()
    for (table_key, path, kind, part), name in added.items():
        session.add(ProjectionColumn(table_id=by_key[table_key].id, path=path, kind=kind,
                                     part=part, column_name=name))
    # A new table is created with all its columns in one statement; a known one grows.
    for spec in new_tables:
        table_queries.create_table(session, sa.Table(
            by_key[spec.key].table_name, sa.MetaData(), *_system_columns(spec.kind),
            *(sa.Column(name, SQL_TYPES[kind]()) for (key, _p, kind, _part), name
              in added.items() if key == spec.key)))
    fresh = {spec.key for spec in new_tables}
    for (table_key, _path, kind, _part), name in added.items():
        if table_key not in fresh:
            table_queries.add_column(session, by_key[table_key].table_name,
                               sa.Column(name, SQL_TYPES[kind]()))
    form.projection_revision = uuid.uuid4().hex
    session.flush()
    return True


def index_lists(session: Session, form: Form, places: Sequence[str]) -> None:
    """The review lists' indexes on the form's root table, if missing: submission order, state,
    and each column of the fields named `places` (scope, filters) with the state."""
    projection = load(session, form)
    if projection.tables:
        table_queries.create_list_indexes(
            session, projection.root.name,
            [c.name for c in place_columns(projection, tuple(places)).values()])


def load(session: Session, form: Form) -> Projection:
    """The form's tables, built once per worker for each revision of its mapping."""
    return load_revision(session, form.id, form.projection_revision)


def load_revision(session: Session, form_id: int, revision: str) -> Projection:
    key = (form_id, revision, session.get_bind())  # the engine: one database's mapping
    projection = _loaded.get(key)
    if projection is None:
        if len(_loaded) > 256:
            _loaded.clear()
        projection = _build(*table_queries.mapping(session, form_id))
        _loaded[key] = projection
    return projection


_loaded: dict[tuple[int, str, sa.Engine], Projection] = {}


def _build(tables, columns) -> Projection:
    metadata = sa.MetaData()
    key_of = {t.id: t.key for t in tables}
    sql_tables = {
        t.key: sa.Table(t.table_name, metadata, *_system_columns(t.kind), *(
            sa.Column(c.column_name, SQL_TYPES[c.kind]()) for c in columns if c.table_id == t.id))
        for t in tables}
    names = {(key_of[c.table_id], c.path, c.kind, c.part): c.column_name for c in columns}
    return Projection(sql_tables, names, {key: sa.insert(t) for key, t in sql_tables.items()})


def write(connection: sa.Connection, projection: Projection, submission_id: int, rows: Rows,
          system: dict, *, replace: bool = True) -> None:
    """Write a submission's rows (replacing those it had unless `replace` is false, for a new
    submission); `system` holds the form row's `_` columns (see `system_values`)."""
    if replace:
        table_queries.delete_submission_rows(connection, projection.tables.values(), submission_id)
    for key, table_rows in rows.tables.items():
        out = []
        for row in table_rows:
            values = {"_submission_id": submission_id}
            for column, value in row.items():
                if isinstance(column, shapes.ColumnSpec):
                    values[projection.columns[(key, *column.identity)]] = value
                else:
                    values[column] = value
            out.append(values)
        if key == shapes.ROOT:
            out[0].update(system)
        arrival_queries.insert_rows(connection, projection.inserts[key], out)


def system_values(submission: Submission, definition: SubmissionDef, *,
                  submitter: str | None, edits: int) -> dict:
    return {
        "_instance_id": definition.instance_id,
        "_submitted_at": submission.created_at,
        "_updated_at": definition.created_at,
        "_submitter": submitter,
        "_device_id": definition.device_id,
        "_form_version": definition.form_version.version,
        "_review_state": submission.review_state,
        "_attachments_present": definition.attachments_present,
        "_attachments_expected": definition.attachments_expected,
        "_edits": edits,
    }


def place_columns(projection: Projection, names: tuple[str, ...]) -> dict[str, sa.Column]:
    """The root table's columns for the fields called `names` (the shallowest of each name,
    so a `governorate` inside a group still counts), as scope and filters need them."""
    found: dict[str, tuple[int, str]] = {}
    for (key, path, _kind, part), column in projection.columns.items():
        name = path.rsplit("/", 1)[-1]
        if key == shapes.ROOT and not part and name in names:
            depth = path.count("/")
            if name not in found or depth < found[name][0]:
                found[name] = (depth, column)
    return {name: projection.root.c[column] for name, (_depth, column) in found.items()}
