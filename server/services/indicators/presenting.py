"""The indicators as a reader sees them: each a table (a line per place or month, a column per
series and split value, the total under them) and its chart, every label in the reader's
language (places and categories as the forms label them), every number as `i18n` writes it,
and each figure with what finds the submissions behind it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup
from sqlalchemy.orm import Session

from server.database.queries import forms as form_queries
from server.kernel.storage import BlobStore
from server.services import answers, reviewing
from server.services.indicators import DIMENSIONS, Figure, Result, charts
from server.services.indicators.catalogue import CASE_STATUS, Indicator

PLACE_FORM = "forum_meeting"  # the form whose choices name the places (all programme forms do)
CASE_FORM, CASE_STATUS_FIELD = "referral_follow_up", "/status"


@dataclass(frozen=True)
class Column:
    series: str
    split: str | None
    title: str


@dataclass
class Cell:
    value: float | int | None
    text: str
    behind: dict | None  # the figure's group and split, to list its submissions; None: no link


@dataclass
class Line:
    group: dict[str, str | None]
    label: str
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Table:
    indicator: Indicator
    title: str
    columns: list[Column]
    lines: list[Line]
    total: Line
    chart: Markup | None
    unavailable: str | None = None


class Labels:
    """Choice labels by field, read once per request from the forms' current versions."""

    def __init__(self, session: Session, user, blobs: BlobStore, code: str):
        self.session, self.user, self.blobs, self.code = session, user, blobs, code
        self._cache: dict[tuple[str, str], dict[str, str]] = {}

    def of(self, form_id: str, path: str) -> dict[str, str]:
        if (form_id, path) not in self._cache:
            self._cache[(form_id, path)] = self._read(form_id, path)
        return self._cache[(form_id, path)]

    def _read(self, form_id: str, path: str) -> dict[str, str]:
        form = form_queries.get_form(self.session, form_id)
        if form is None or form.current_version is None:
            return {}
        view = reviewing.FormView(self.session, form, self.user)
        try:
            found = view.structure.field(path)
        except KeyError:
            return {}
        return dict(answers.choice_options(found, self.code, view.files(self.blobs)))

    def place(self, dimension: str, value: str | None) -> str:
        if value is None:
            return "—"
        if dimension == "month":
            return value
        return self.of(PLACE_FORM, f"/{dimension}").get(value, value)

    def split(self, indicator: Indicator, value: str | None) -> str:
        if value is None:
            return "—"
        if indicator.split == CASE_STATUS:
            return self.of(CASE_FORM, CASE_STATUS_FIELD).get(value, value)
        return self.of(indicator.form, indicator.split).get(value, value)


def present(results: Sequence[Result], labels: Labels, *, rtl: bool,
            number: Callable[[float], str], total: str) -> list[Table]:
    """`total`: the word for the total line, in the reader's language."""
    return [_table(result, labels, rtl=rtl, number=number, total_label=total)
            for result in results]


def _table(result: Result, labels: Labels, *, rtl: bool, number, total_label: str) -> Table:
    indicator = result.indicator
    title = indicator.title_in(labels.code)
    if result.unavailable:
        return Table(indicator, title, [], [], Line({}, total_label), None,
                     unavailable=result.unavailable)
    series_titles = {s.id: s.title.get(labels.code) or s.title["en"] for s in indicator.series}
    columns = [Column(series, split, " · ".join(t for t in (
        series_titles.get(series, ""), labels.split(indicator, split) if indicator.split
        else "") if t) or title) for split in result.splits for series in indicator.series_ids]
    groups: dict[tuple, Line] = {}
    for figure in result.figures:
        key = tuple(figure.group.get(d) for d in result.by)
        if key not in groups:
            groups[key] = Line(figure.group, " · ".join(
                labels.place(d, figure.group.get(d)) for d in result.by))
    found = {(tuple(f.group.get(d) for d in result.by), f.split): f for f in result.figures}
    for key, line in groups.items():
        line.cells = [_cell(found.get((key, c.split)), c, indicator, number) for c in columns]
    totals = {f.split: f for f in result.totals}
    total = Line({}, total_label, [_cell(totals.get(c.split), c, indicator, number)
                                      for c in columns])
    lines = list(groups.values())
    chart_lines = [charts.Line(line.label, [charts.Bar(n, cell.value, cell.text)
                                            for n, cell in enumerate(line.cells)])
                   for line in (lines or [total])]
    chart = charts.bar_chart(title, chart_lines, [c.title for c in columns], rtl=rtl,
                             number=number) if columns else None
    return Table(indicator, title, columns, lines, total, chart)


def _cell(figure: Figure | None, column: Column, indicator: Indicator, number) -> Cell:
    if figure is None:
        return Cell(0 if indicator.measure in ("count", "distinct", "sum") else None,
                    number(0) if indicator.measure in ("count", "distinct", "sum") else "—",
                    None)
    shown = figure.text(column.series)
    if shown is not None:
        return Cell(None, shown, None)  # withheld: no number, and no list that counts it
    value = figure.values.get(column.series)
    if value is None:
        return Cell(None, "—", None)
    text = number(round(value, 1)) if isinstance(value, float) else number(value)
    behind = {**{d: v for d, v in figure.group.items() if d in DIMENSIONS and v is not None},
              **({"split": figure.split} if figure.split is not None else {})}
    return Cell(value, text, behind)
