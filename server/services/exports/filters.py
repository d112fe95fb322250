"""Which submissions an export or an API page holds: the same filters in the downloads page and
in the API, read by one schema, turned into one WHERE clause on the form's table, always within
the reader's scope."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from marshmallow import Schema, fields, validate, validates
from marshmallow import ValidationError as SchemaError

from server.database.models import REVIEW_STATES, User, utcnow
from server.database.projection import place_columns
from server.database.queries import form_tables as table_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import access
from server.services.exports.layout import Layout
from server.services.validation import load
from sync.values import ValueProblem, parse

_CONDITION = re.compile(r"^\s*([^\s=!<>~]+)\s*(>=|<=|!=|=|>|<|~)\s*(.*?)\s*$", re.DOTALL)
# A pull's cursor is taken this long before it ran: a submission whose transaction was still
# open then comes again in the next pull (scripts match rows by KEY) rather than never.
CURSOR_GRACE = timedelta(seconds=60)


class FilterSchema(Schema):
    submittedFrom = fields.Date(load_default=None)
    submittedTo = fields.Date(load_default=None)
    reviewState = fields.List(fields.String(validate=validate.OneOf(REVIEW_STATES)),
                              load_default=list)
    governorate = fields.List(fields.String(), load_default=list)
    district = fields.List(fields.String(), load_default=list)
    forum = fields.List(fields.String(), load_default=list)
    formVersion = fields.List(fields.String(), load_default=list)
    where = fields.List(fields.String(), load_default=list,
                        metadata={"description": "A field's value: name=value, name>=value, "
                                  "name~text (contains, in any case); operators = != > >= < <= ~"})
    since = fields.AwareDateTime(load_default=None, default_timezone=UTC, metadata={
        "description": "Only what was added, edited or reviewed after this moment: the "
                       "`cursor` of the previous pull."})
    includeRejected = fields.Boolean(load_default=False)

    @validates("where")
    def _conditions(self, value, **_kwargs) -> None:
        for text in value:
            if not _CONDITION.match(text):
                raise SchemaError(f"'{text}' is not name=value (or != > >= < <= ~)")


LIST_FIELDS = ("reviewState", "governorate", "district", "forum", "formVersion", "where")


@dataclass(frozen=True)
class Filters:
    submitted_from: date | None = None
    submitted_to: date | None = None
    review_states: tuple[str, ...] = ()
    governorates: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    forums: tuple[str, ...] = ()
    versions: tuple[str, ...] = ()
    where: tuple[str, ...] = ()
    since: datetime | None = None
    include_rejected: bool = False

    def as_dict(self) -> dict:
        """What the audit log and an export job keep (JSON)."""
        return {k: (v.isoformat() if isinstance(v, date) else list(v) if isinstance(v, tuple)
                    else v) for k, v in self.__dict__.items() if v not in (None, (), False)}

    @classmethod
    def from_dict(cls, data: dict) -> Filters:
        values = dict(data)
        for name in ("submitted_from", "submitted_to"):
            if values.get(name):
                values[name] = date.fromisoformat(values[name])
        if values.get("since"):
            values["since"] = datetime.fromisoformat(values["since"])
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def read(args: Mapping[str, list[str]], schema: Schema | None = None) -> tuple[Filters, dict]:
    """The filters of a query string or a page's form (each name with all its values), and
    everything else `schema` reads from it (a FilterSchema or one that extends it); 400.5 names
    a bad one."""
    schema = schema or FilterSchema()
    raw = {name: [v for v in args[name] if v != ""] if name in LIST_FIELDS
           else args[name][0] for name in schema.fields if args.get(name)}
    raw = {k: v for k, v in raw.items() if v not in ("", None)}
    data = load(schema, raw)
    return Filters(
        submitted_from=data["submittedFrom"], submitted_to=data["submittedTo"],
        review_states=tuple(data["reviewState"]), governorates=tuple(data["governorate"]),
        districts=tuple(data["district"]), forums=tuple(data["forum"]),
        versions=tuple(data["formVersion"]), where=tuple(data["where"]),
        since=data["since"], include_rejected=data["includeRejected"]), data


def clause(layout: Layout, filters: Filters, user: User):
    """The WHERE clause on the form's table (joined to submissions): scope, then filters."""
    proj = layout.projection
    root = proj.root
    place = place_columns(proj, access.PLACE_FIELDS)
    terms = [access.scope_clause(access.scope_of(user), place)]
    if filters.submitted_from:
        terms.append(root.c._submitted_at >= _midnight(filters.submitted_from))
    if filters.submitted_to:
        terms.append(root.c._submitted_at < _midnight(filters.submitted_to + timedelta(days=1)))
    if filters.review_states:
        terms.append(root.c._review_state.in_(filters.review_states))
    elif not filters.include_rejected:
        terms.append(sa.or_(root.c._review_state != "rejected", root.c._review_state.is_(None)))
    for name, values in (("governorate", filters.governorates),
                         ("district", filters.districts), ("forum", filters.forums)):
        if values:
            # a form without the field has none of these places: nothing matches
            terms.append(place[name].in_(values) if name in place else sa.false())
    if filters.versions:
        terms.append(root.c._form_version.in_(filters.versions))
    reveal = access.sees_personal_data(user)
    for text in filters.where:
        terms.append(_condition(layout, text, reveal))
    if filters.since:
        terms.append(table_queries.changed_since(root, filters.since))
    return sa.and_(*terms)


def next_cursor() -> str:
    """The `since` of the next incremental pull, for a pull that starts now."""
    return (utcnow() - CURSOR_GRACE).isoformat().replace("+00:00", "Z")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _condition(layout: Layout, text: str, reveal_personal: bool):
    name, operator, raw = _CONDITION.match(text).groups()
    found = _find_column(layout, name)
    if found is None:
        raise Problem(problems.EXPORT_FILTER_FIELD, name=name)
    table, column = found
    if column.personal and (operator != "=" or not reveal_personal):
        # a reader who sees pseudonyms must not test guesses against the values behind them;
        # a range or a substring would do it letter by letter for anyone
        raise Problem(problems.EXPORT_FILTER_PERSONAL, name=name)
    sql_column = table.sql.c[column.source]
    if column.kind == "text" or operator == "~":
        value = raw
    else:
        try:
            value = parse(column.kind, raw)
        except ValueProblem as error:
            raise Problem(problems.EXPORT_FILTER_VALUE, name=name, reason=str(error)) from error
    condition = table_queries.OPERATORS[operator](sql_column, value)
    if table.root:
        return condition
    # a field of a repeat: the submissions with at least one repeat row that matches
    return table_queries.any_row(layout.root.sql, table.sql, condition)


def _find_column(layout: Layout, name: str):
    """A column by its header, or a field by its name or path: the form's table first, then
    its repeats' (where a name may stand in several, the first, outermost, is taken)."""
    for table in layout.tables:
        for column in table.columns:
            if column.choice is not None or column.source == "submitter_id" \
                    or (column.field is None and not table.root):
                continue
            names = {column.header}
            if column.field is not None and not column.part:
                names |= {column.field.name, column.field.path}
            if name in names:
                return table, column
    return None
