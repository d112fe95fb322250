"""The programme's indicators (declared in `programme.toml`, read by `catalogue`), each computed in
SQL from the forms' relational tables for a period, by place (governorate, district, forum) and
by month, within the reader's scope. Rejected submissions are never counted; deleted ones and
earlier versions of edited ones have no rows to count.

Where a small count could point at a person (an indicator declared sensitive, in the categories
its form marks sensitive), a count under 5 is withheld from readers without the personal-data
permission as `server.services.disclosure` withholds it on every page: "<5", and totals that
cannot give it back ("12+"), in the page and the workbook alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database import projection
from server.database.models import User
from server.database.projection import Projection, place_columns
from server.database.queries import forms as form_queries
from server.database.queries import indicators as sql
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import access, disclosure, reviewing
from server.services.indicators.catalogue import CASE_STATUS, Indicator, indicators
from sync import tables as shapes

DIMENSIONS = ("governorate", "district", "forum", "month")
IRAQ = timezone(timedelta(hours=sql.IRAQ_OFFSET_HOURS))
_NUMERIC = ("integer", "decimal")


@dataclass(frozen=True)
class Period:
    """From `start` up to `end` (excluded), days in Iraq."""

    start: date
    end: date

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year + 1, 1, 1))

    @classmethod
    def month(cls, month: str) -> Period:
        start = date.fromisoformat(f"{month}-01")
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return cls(start, following)


@dataclass
class Figure:
    """One line of an indicator's table: its places (or month), the split's value, and the
    value of each series; `withheld` names the series shown as "<5"."""

    group: dict[str, str | None]
    split: str | None
    values: dict[str, float | int | None]
    withheld: set[str] = field(default_factory=set)
    shown: dict[str, str] = field(default_factory=dict)  # a withheld total's "<5" or "12+"

    def text(self, series: str) -> str | None:
        """What a withheld value is shown as; None when it is shown as the number."""
        if series not in self.withheld:
            return None
        return self.shown.get(series, disclosure.SUPPRESSED)


@dataclass
class Result:
    indicator: Indicator
    by: tuple[str, ...]
    figures: list[Figure]
    totals: list[Figure]  # over every place in the reader's scope, per split value
    unavailable: str | None = None  # why nothing could be computed (no such form loaded...)

    @property
    def splits(self) -> list[str | None]:
        seen: list[str | None] = []
        for figure in self.totals:
            if figure.split not in seen:
                seen.append(figure.split)
        return seen


def compute(session: Session, user: User, period: Period, by: Sequence[str] = ("governorate",),
            *, only: Sequence[str] | None = None) -> list[Result]:
    by = tuple(d for d in DIMENSIONS if d in by)
    chosen = [i for i in indicators() if only is None or i.id in only]
    tables: dict[str, Projection | None] = {}
    results = []
    for indicator in chosen:
        for form_id in {indicator.form} | ({indicator.follow_up.form}
                                            if indicator.follow_up else set()):
            if form_id not in tables:
                form = form_queries.get_form(session, form_id)
                tables[form_id] = projection.load(session, form) if form else None
        results.append(_compute(session, user, indicator, period, by, tables))
    return results


def _compute(session, user, indicator: Indicator, period: Period, by, tables) -> Result:
    proj = tables.get(indicator.form)
    if proj is None or (indicator.follow_up and tables.get(indicator.follow_up.form) is None):
        return Result(indicator, by, [], [], unavailable="form not loaded")
    try:
        build = _Build(session, user, indicator, period, proj, tables)
        grouped = sql.run(session, build.aggregate(by))
        totals = sql.run(session, build.aggregate(()))
    except _Missing as missing:
        return Result(indicator, by, [], [], unavailable=str(missing))
    result = Result(indicator, by, [_figure(indicator, row, by) for row in grouped],
                    [_figure(indicator, row, ()) for row in totals])
    if indicator.sensitive and indicator.measure == "count" \
            and not access.sees_personal_data(user):
        _withhold(result, _sensitive_splits(session, indicator, user))
    return result


def behind(session: Session, user: User, indicator: Indicator, period: Period,
           group: dict[str, str], split: str | None, *, after: int = 0, limit: int = 50
           ) -> tuple[str, list[dict]]:
    """The submissions behind one figure (the form's id, a page of them); a figure withheld
    from this reader is refused (the list would give its count away)."""
    if indicator.sensitive and not access.sees_personal_data(user):
        (shown,) = compute(session, user, period, tuple(group), only=[indicator.id])
        figure = next((f for f in shown.figures if f.split == split and all(
            str(f.group.get(d)) == str(v) for d, v in group.items())), None)
        if figure is None or figure.withheld:
            raise Problem(problems.PERSONAL_DATA_FORBIDDEN)
    form = form_queries.get_form(session, indicator.form)
    if form is None:
        raise Problem(problems.FORM_NOT_FOUND, form_id=indicator.form)
    proj = projection.load(session, form)
    try:
        build = _Build(session, user, indicator, period, proj, {indicator.form: proj})
        source, where = build.chosen(group, split)
    except _Missing as missing:
        raise Problem(problems.INDICATOR_UNAVAILABLE, indicator=indicator.id,
                      reason=str(missing)) from None
    return form.xml_form_id, sql.behind(session, source, where, proj.root, after=after,
                                        limit=limit)


def _figure(indicator: Indicator, row: dict, by) -> Figure:
    return Figure({d: row.get(f"g_{d}") for d in by}, row.get("g_split"),
                  {s: _number(row.get(f"v_{s}")) for s in indicator.series_ids})


def _sensitive_splits(session, indicator: Indicator, user: User):
    """Which split values may concern sensitive cases: the categories the form marks sensitive
    when the indicator is split by them; every value otherwise (a count by agency may hold
    them); none when the form marks no category sensitive."""
    form = form_queries.get_form(session, indicator.form)
    marked = reviewing.FormView(session, form, user).sensitive
    if marked is None:
        return lambda _split: False
    if indicator.split == marked.path:
        return lambda split: split in marked.sensitive
    return lambda _split: True


def _withhold(result: Result, concerns_sensitive) -> None:
    """Small counts as `server.services.disclosure` hides them, per split value over the
    groups, so that no total gives a hidden count back by subtraction."""
    for series in result.indicator.series_ids:
        for total in result.totals:
            if not concerns_sensitive(total.split):
                continue
            cells = [f for f in result.figures if f.split == total.split]
            shown = disclosure.suppress_small_counts(
                {i: f.values[series] or 0 for i, f in enumerate(cells)})
            for i, figure in enumerate(cells):
                if not isinstance(shown.cells[i], int):
                    figure.values[series] = None
                    figure.withheld.add(series)
            whole = disclosure.suppress_small_counts({0: total.values[series] or 0})
            hidden = shown.total if shown.suppressed else whole.cells[0]
            if not isinstance(hidden, int):
                total.values[series] = None
                total.withheld.add(series)
                total.shown[series] = hidden


def _number(value):
    if value is None or isinstance(value, int):
        return value
    number = float(value)
    return int(number) if number.is_integer() and not isinstance(value, float) else number


class _Missing(Exception):
    """The definitions name a field the form's tables do not have (yet)."""


class _Build:
    def __init__(self, session, user, indicator: Indicator, period: Period, proj: Projection,
                 tables):
        self.session, self.indicator, self.proj, self.tables = session, indicator, proj, tables
        self.root = proj.root
        if indicator.table and indicator.table not in proj.tables:
            raise _Missing(f"the form has no repeat {indicator.table}")
        self.table = proj.tables[indicator.table] if indicator.table else self.root
        self.places = place_columns(proj, access.PLACE_FIELDS)
        self.date, self.timestamp = self._date_column()
        self.where = sa.and_(sql.counted(self.root),
                             access.scope_clause(access.scope_of(user), self.places),
                             *self._period(period))

    def aggregate(self, by) -> sql.Aggregate:
        source = self.root if self.table is self.root else sql.repeat_source(self.table,
                                                                               self.root)
        groups = [(f"g_{d}", self._dimension(d)) for d in by]
        indicator = self.indicator
        if indicator.split == CASE_STATUS:
            source, status = sql.case_status(self.root)
            groups.append(("g_split", status))
        elif indicator.split:
            groups.append(("g_split", self.column(indicator.split, indicator.table)))
        if indicator.measure == "days_to_close":
            return self._days_to_close(groups)
        return sql.Aggregate(source, self.where, groups, self._measures())

    def chosen(self, group: dict[str, str], split: str | None):
        """Where the rows of one figure come from, and the clause that picks them."""
        source = self.root if self.table is self.root else sql.repeat_source(self.table,
                                                                               self.root)
        terms = [self.where] + [self._dimension(d) == v for d, v in group.items()]
        indicator = self.indicator
        if indicator.split == CASE_STATUS:
            source, status = sql.case_status(self.root)
            terms.append(status == split if split is not None else status.is_(None))
        elif indicator.split:
            column = self.column(indicator.split, indicator.table)
            terms.append(column == split if split is not None else column.is_(None))
        return source, sa.and_(*terms)

    def _measures(self) -> list[tuple[str, sa.ColumnElement]]:
        indicator, table = self.indicator, self.indicator.table
        if indicator.measure == "count" and indicator.series:
            agreed = self.column(indicator.agreed, table)
            due = self.column(indicator.due, table)
            conditions = {"agreed": sa.func.coalesce(sa.func.trim(agreed), "") != "",
                          "overdue": sa.and_(sa.func.coalesce(sa.func.trim(agreed), "") != "",
                                             due < min(date.today(), self.period_end))}
            return [(f"v_{s.id}", sa.func.count(sa.case((conditions[s.where], 1))))
                    for s in indicator.series]
        if indicator.measure == "count":
            return [("v_value", sa.func.count())]
        if indicator.measure == "distinct":
            return [("v_value", sa.func.count(sa.distinct(self.column(indicator.field,
                                                                      table))))]
        if indicator.measure == "sum":
            return [(f"v_{s.id}", sa.func.sum(sql.total_of(self.numbers(s.fields))))
                    for s in indicator.series]
        if indicator.measure == "share":
            return [("v_value", sql.share(sql.total_of(self.numbers(indicator.numerator)),
                                          sql.total_of(self.numbers(indicator.denominator))))]
        return [(f"v_{s.id}", sa.func.avg(self.numbers(s.fields)[0]))
                for s in indicator.series]  # mean

    def _days_to_close(self, groups) -> sql.Aggregate:
        follow_up = self.indicator.follow_up
        other = self.tables[follow_up.form]

        def column_of(path: str) -> sa.Column:
            return _column(other, shapes.ROOT, path)
        source, days = sql.case_closing(
            self.session, self.root, other.root, case=column_of(follow_up.case),
            status=column_of(follow_up.status), closed=follow_up.closed,
            on=column_of(follow_up.date), opened_at=self.date, timestamp=self.timestamp)
        return sql.Aggregate(source, self.where, groups,
                             [("v_value", sa.func.avg(days)), ("v_cases", sa.func.count())])

    def column(self, path: str, table: str) -> sa.Column:
        key = table if path.startswith(table + "/") and table else shapes.ROOT
        return _column(self.proj, key, path)

    def numbers(self, paths: Sequence[str]) -> list[sa.Column]:
        return [_column(self.proj, self.indicator.table if self.indicator.table and
                        p.startswith(self.indicator.table + "/") else shapes.ROOT, p,
                        kinds=_NUMERIC) for p in paths]

    def _dimension(self, name: str):
        if name == "month":
            return sql.month_of(self.session, self.date, timestamp=self.timestamp)
        column = self.places.get(name)
        return column if column is not None else sa.null()

    def _date_column(self) -> tuple[sa.Column, bool]:
        path = self.indicator.date
        for kind in ("date", "datetime"):
            name = self.proj.columns.get((shapes.ROOT, path, kind, ""))
            if name is not None:
                return self.root.c[name], kind == "datetime"
        raise _Missing(f"the form has no date field {path}")

    def _period(self, period: Period) -> list:
        self.period_end = period.end
        if not self.timestamp:
            return [self.date >= period.start, self.date < period.end]
        return [self.date >= _utc_midnight(period.start), self.date < _utc_midnight(period.end)]


def _column(proj: Projection, key: str, path: str, *, kinds: Sequence[str] = ()) -> sa.Column:
    """The column of a field, by its path; a field that changed type has one per type: the
    numeric one where a number is wanted."""
    found = [(kind, name) for (k, p, kind, part), name in proj.columns.items()
             if k == key and p == path and not part]
    if kinds:
        found = [f for f in found if f[0] in kinds] or found
    if not found:
        raise _Missing(f"the form has no field {path}")
    return proj.tables[key].c[found[0][1]]


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), IRAQ).astimezone(UTC)
