"""From an indicator's definition to the SQL that computes it, for one reader and one period.

Indicators over the same rows (the same form, repeat and date) are computed by one query,
grouped by every choice field any of them is split by: five of them read the meetings' own
table, three the issues (by category, by priority, and neither). Each asks for additive parts
(counts, and the sum of each field once), so that each indicator's lines, and the totals over
all places, are added up from that query's lines; only a count of distinct values (forums
active) is counted by a query of its own when the others are split, and counted again for its
total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from server.database.projection import Projection, place_columns
from server.database.queries import indicators as indicator_queries
from server.services import access
from server.services.indicators.catalogue import CASE_STATUS, Indicator
from sync import tables as shapes

IRAQ = timezone(timedelta(hours=indicator_queries.IRAQ_OFFSET_HOURS))
_NUMERIC = ("integer", "decimal")


class Missing(Exception):
    """The definitions name a form, repeat or field this server's tables do not have (yet)."""


@dataclass(frozen=True)
class Part:
    """One labelled aggregate of an indicator's series: `kind` says how parts add up."""

    label: str
    kind: str  # "add" (counts, sums) or "distinct" (recounted for the total)
    expression: sa.ColumnElement


def parts_of(build: Rows, indicator: Indicator) -> dict[str, dict[str, Part]]:
    """{series: {component: Part}}: count → n; distinct → d; sum → s; share → num, den;
    mean and days to close → s, n."""
    table = indicator.table
    out: dict[str, dict[str, Part]] = {}

    def add(series: str, component: str, expression, kind: str = "add") -> None:
        out.setdefault(series, {})[component] = Part(
            f"p_{indicator.id}__{series}__{component}", kind, expression)

    measure = indicator.measure
    if measure == "count" and indicator.series:
        agreed = sa.func.coalesce(sa.func.trim(build.column(indicator.agreed, table)), "") != ""
        due = build.column(indicator.due, table)
        when = {"agreed": agreed,
                "overdue": sa.and_(agreed, due < min(date.today(), build.period.end))}
        for s in indicator.series:
            add(s.id, "n", sa.func.count(sa.case((when[s.where], 1))))
    elif measure == "count":
        add("value", "n", sa.func.count())
    elif measure == "distinct":
        add("value", "d", sa.func.count(sa.distinct(build.column(indicator.field, table))),
            "distinct")
    elif measure == "sum":
        for s in indicator.series:
            _sums(out, s.id, "s", build.numbers(s.fields))
    elif measure == "share":
        _sums(out, "value", "num", build.numbers(indicator.numerator))
        _sums(out, "value", "den", build.numbers(indicator.denominator))
    elif measure == "mean":
        for s in indicator.series:
            (value,) = build.numbers(s.fields)
            add(s.id, "s", sa.func.sum(value))
            add(s.id, "n", sa.func.count(value))
    else:  # days_to_close: its rows come with the source (`Rows.source`)
        add("value", "s", sa.func.sum(build.days))
        add("value", "n", sa.func.count(build.days))
    return out


def _sums(out: dict, series: str, component: str, columns: Sequence[sa.Column]) -> None:
    """A sum over several fields, as the sum of each field: the same field summed for several
    indicators is summed once (its label is the column's)."""
    for column in columns:
        label = f"p_sum__{column.table.name}__{column.name}"
        out.setdefault(series, {})[f"{component}:{column.name}"] = Part(
            label, "add", sa.func.sum(column))


def value_of(measure: str, components: dict[str, float | int | None]) -> float | int | None:
    """An indicator's value from its parts (summed over lines, for a total); a sum's parts are
    its fields' sums, `s:column`."""
    def summed(component: str) -> float:
        return sum(float(v or 0) for k, v in components.items()
                   if k.split(":", 1)[0] == component)
    if measure in ("count", "distinct"):
        return components.get("n", components.get("d")) or 0
    if measure == "sum":
        return _number_like(summed("s"))
    if measure == "share":  # (PostgreSQL sums integers as numeric: Decimal)
        den = summed("den")
        return 100.0 * summed("num") / den if den else None
    total, count = components["s"], components["n"]
    return float(total) / count if count else None  # mean, days to close


def _number_like(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def sharing(indicator: Indicator) -> tuple:
    """What decides whether two indicators are computed by the same query: the same rows, and
    a split of their own where their parts do not add up over others' splits (distinct
    values), or need rows of their own (a case's status, a case's closing)."""
    own = indicator.measure == "days_to_close" or indicator.split == CASE_STATUS \
        or (indicator.measure == "distinct" and indicator.split is not None)
    return (indicator.form, indicator.table, indicator.date,
            (indicator.split, indicator.follow_up) if own else None)


class Rows:
    """The rows one query reads for a reader and a period: the form's table or a repeat's
    joined to it, in the reader's places, rejected submissions left out."""

    def __init__(self, session, user, indicator: Indicator, period, proj: Projection,
                 tables: dict[str, Projection | None], *, splits: Sequence[str] = ()):
        """`splits`: the split fields of every indicator the query serves (`indicator`'s
        included); each becomes a group of the query."""
        self.session, self.indicator, self.proj, self.period = session, indicator, proj, period
        self.root = proj.root
        if indicator.table and indicator.table not in proj.tables:
            raise Missing(f"the form has no repeat {indicator.table}")
        self.table = proj.tables[indicator.table] if indicator.table else self.root
        self.places = place_columns(proj, access.PLACE_FIELDS)
        self.date, self.timestamp = self._date_column()
        self.where = sa.and_(indicator_queries.counted(self.root),
                             access.scope_clause(access.scope_of(user), self.places),
                             *self._period())
        self.source = self.root if self.table is self.root \
            else indicator_queries.repeat_source(self.table, self.root)
        self.splits: dict[str, sa.ColumnElement] = {}
        for path in dict.fromkeys([*splits, *([indicator.split] if indicator.split else [])]):
            if path == CASE_STATUS:
                self.source, self.splits[path] = indicator_queries.case_status(self.root)
            else:
                self.splits[path] = self.column(path, indicator.table)
        self.days = None
        if indicator.measure == "days_to_close":
            self._closing(tables)

    def aggregate(self, by: Sequence[str], parts: Sequence[Part]
                  ) -> indicator_queries.Aggregate:
        groups = [(f"g_{d}", self.dimension(d)) for d in by]
        groups += [(split_label(path), column) for path, column in self.splits.items()]
        return indicator_queries.Aggregate(self.source, self.where, groups,
                                           [(p.label, p.expression) for p in parts])

    def chosen(self, group: dict[str, str], split: str | None):
        """The rows of one figure: its source, and the clause that picks them."""
        terms = [self.where] + [self.dimension(d) == v for d, v in group.items()]
        if self.indicator.split:
            column = self.splits[self.indicator.split]
            terms.append(column == split if split is not None else column.is_(None))
        return self.source, sa.and_(*terms)

    def column(self, path: str, table: str) -> sa.Column:
        return column_of(self.proj, _table_of(path, table), path)

    def numbers(self, paths: Sequence[str]) -> list[sa.Column]:
        return [column_of(self.proj, _table_of(p, self.indicator.table), p, kinds=_NUMERIC)
                for p in paths]

    def dimension(self, name: str):
        if name == "month":
            return indicator_queries.month_of(self.session, self.date, timestamp=self.timestamp)
        column = self.places.get(name)
        return column if column is not None else sa.null()

    def _closing(self, tables) -> None:
        follow_up = self.indicator.follow_up
        other = tables.get(follow_up.form)
        if other is None:
            raise Missing(f"the form {follow_up.form} is not loaded")

        def field(path: str) -> sa.Column:
            return column_of(other, shapes.ROOT, path)
        self.source, self.days = indicator_queries.case_closing(
            self.session, self.root, other.root, case=field(follow_up.case),
            status=field(follow_up.status), closed=follow_up.closed,
            on=field(follow_up.date), opened_at=self.date, timestamp=self.timestamp)

    def _date_column(self) -> tuple[sa.Column, bool]:
        for kind in ("date", "datetime"):
            name = self.proj.columns.get((shapes.ROOT, self.indicator.date, kind, ""))
            if name is not None:
                return self.root.c[name], kind == "datetime"
        raise Missing(f"the form has no date field {self.indicator.date}")

    def _period(self) -> list:
        start, end = self.period.start, self.period.end
        if self.timestamp:
            start, end = _utc_midnight(start), _utc_midnight(end)
        return [self.date >= start, self.date < end]


def split_label(path: str) -> str:
    """The query's name for the group of a split field."""
    return "g_split_" + "".join(c if c.isalnum() else "_" for c in path)


def column_of(proj: Projection, key: str, path: str, *, kinds: Sequence[str] = ()) -> sa.Column:
    """The column of a field, by its path; a field that changed type has one per type: the
    numeric one where a number is wanted."""
    found = [(kind, name) for (k, p, kind, part), name in proj.columns.items()
             if k == key and p == path and not part]
    if kinds:
        found = [f for f in found if f[0] in kinds] or found
    if not found:
        raise Missing(f"the form has no field {path}")
    return proj.tables[key].c[found[0][1]]


def _table_of(path: str, table: str) -> str:
    return table if table and path.startswith(table + "/") else shapes.ROOT


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), IRAQ).astimezone(UTC)
