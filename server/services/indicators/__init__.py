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
from datetime import date

from sqlalchemy.orm import Session

from server.database import projection
from server.database.models import User
from server.database.projection import Projection
from server.database.queries import forms as form_queries
from server.database.queries import indicators as indicator_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import access, disclosure, reviewing
from server.services.indicators import building
from server.services.indicators.catalogue import Indicator, indicators

DIMENSIONS = ("governorate", "district", "forum", "month")


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
    tables = _tables(session, chosen)
    results: dict[str, Result] = {}
    shared: dict[tuple, list[Indicator]] = {}
    for indicator in chosen:
        shared.setdefault(building.sharing(indicator), []).append(indicator)
    for together in shared.values():
        for result in _compute_together(session, user, together, period, by, tables):
            results[result.indicator.id] = result
    for result in results.values():
        indicator = result.indicator
        if indicator.sensitive and indicator.measure == "count" and not result.unavailable \
                and not access.sees_personal_data(user):
            _withhold(result, _sensitive_splits(session, indicator, user))
    return [results[i.id] for i in chosen]


def _tables(session: Session, chosen: Sequence[Indicator]) -> dict[str, Projection | None]:
    tables: dict[str, Projection | None] = {}
    for indicator in chosen:
        for form_id in (indicator.form, *((indicator.follow_up.form,)
                                          if indicator.follow_up else ())):
            if form_id not in tables:
                form = form_queries.get_form(session, form_id)
                tables[form_id] = projection.load(session, form) if form else None
    return tables


def _compute_together(session, user, together: list[Indicator], period: Period, by, tables
                      ) -> list[Result]:
    """Indicators over the same rows: one query for their lines, grouped by all their splits;
    each indicator's lines and totals added up from it."""
    first = together[0]
    try:
        if tables.get(first.form) is None:
            raise building.Missing(f"the form {first.form} is not loaded")
        rows = building.Rows(session, user, first, period, tables[first.form], tables,
                             splits=[i.split for i in together if i.split])
        parts = {i.id: building.parts_of(rows, i) for i in together}
    except building.Missing as missing:
        return [Result(i, by, [], [], unavailable=str(missing)) for i in together]
    every = list({p.label: p for series in parts.values() for named in series.values()
                  for p in named.values()}.values())
    lines = indicator_queries.run(session, rows.aggregate(by, every))
    results = []
    for indicator in together:
        mine = list({p.label: p for named in parts[indicator.id].values()
                     for p in named.values()}.values())
        split = building.split_label(indicator.split) if indicator.split else None
        keys = [f"g_{d}" for d in by] + ([split] if split else [])
        distinct = [p for p in mine if p.kind == "distinct"]
        if distinct and set(rows.splits) - {indicator.split}:  # others' splits would divide it
            alone = building.Rows(session, user, indicator, period, tables[indicator.form],
                                  tables)
            own = indicator_queries.run(session, alone.aggregate(by, distinct))
        else:
            own = _added(lines, mine, keys)
        totals = _added(lines, mine, [split] if split else [])
        if distinct:  # distinct values do not add up over places or months: counted again
            recounted = indicator_queries.run(session, rows.aggregate((), distinct))
            totals = [{**t, **next((r for r in recounted if r.get(split) == t.get(split)), {})}
                      for t in totals] if split else recounted
        results.append(Result(
            indicator, by, [_figure(indicator, parts[indicator.id], line, by, split)
                            for line in own],
            [_figure(indicator, parts[indicator.id], total, (), split) for total in totals]))
    return results


def _added(lines: list[dict], parts: list[building.Part], keys: list[str]) -> list[dict]:
    """The lines added up by `keys` (the others' splits summed over), in the lines' order."""
    added: dict[tuple, dict] = {}
    for line in lines:
        key = tuple(line.get(k) for k in keys)
        if key not in added:
            added[key] = {**dict(zip(keys, key, strict=True)), **{p.label: 0 for p in parts}}
        total = added[key]
        for part in parts:
            total[part.label] += line.get(part.label) or 0
    return list(added.values())


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
    tables = _tables(session, [indicator])
    if tables.get(indicator.form) is None:
        raise Problem(problems.FORM_NOT_FOUND, form_id=indicator.form)
    proj = tables[indicator.form]
    try:
        rows = building.Rows(session, user, indicator, period, proj, tables)
        source, where = rows.chosen(group, split)
    except building.Missing as missing:
        raise Problem(problems.INDICATOR_UNAVAILABLE, indicator=indicator.id,
                      reason=str(missing)) from None
    return indicator.form, indicator_queries.behind(session, source, where, proj.root,
                                                    after=after, limit=limit)


def _figure(indicator: Indicator, parts: dict[str, dict[str, building.Part]], line: dict,
            by, split: str | None) -> Figure:
    values = {series: _number(building.value_of(indicator.measure, {
        name: line.get(part.label) for name, part in named.items()}))
        for series, named in parts.items()}
    return Figure({d: line.get(f"g_{d}") for d in by}, line.get(split) if split else None,
                  values)


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
