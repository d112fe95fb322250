"""The programme's indicators as declared in `programme.toml`, read and checked once: a definition
file an analyst can read and change, not code. `server.services.indicators` computes them."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DEFINITIONS = Path(__file__).with_name("programme.toml")
MEASURES = ("count", "distinct", "sum", "share", "mean", "days_to_close")
LANGUAGES = ("ar", "ckb", "en")
CASE_STATUS = "@case.status"  # the split by the current status of the case a submission opened


class DefinitionError(ValueError):
    """The definition file says something this code cannot compute; the message says where."""


@dataclass(frozen=True)
class Series:
    id: str
    title: dict[str, str]
    fields: tuple[str, ...] = ()  # summed (sum), or the one averaged (mean)
    where: str | None = None  # count: "agreed" or "overdue" (see Indicator.agreed / due)


@dataclass(frozen=True)
class FollowUp:
    form: str
    case: str
    status: str
    closed: str
    date: str


@dataclass(frozen=True)
class Indicator:
    id: str
    title: dict[str, str]
    form: str
    date: str
    measure: str
    table: str = ""
    field: str | None = None
    split: str | None = None
    sensitive: bool = False
    series: tuple[Series, ...] = ()
    numerator: tuple[str, ...] = ()
    denominator: tuple[str, ...] = ()
    agreed: str | None = None
    due: str | None = None
    follow_up: FollowUp | None = None

    def title_in(self, language: str) -> str:
        return self.title.get(language) or self.title["en"]

    @property
    def series_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.series) or ("value",)


@cache
def indicators() -> tuple[Indicator, ...]:
    return read(DEFINITIONS.read_bytes())


def by_id(indicator_id: str) -> Indicator | None:
    return next((i for i in indicators() if i.id == indicator_id), None)


def read(data: bytes) -> tuple[Indicator, ...]:
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise DefinitionError(f"the definitions do not read as TOML: {error}") from None
    found, seen = [], set()
    for number, entry in enumerate(document.get("indicator", []), 1):
        indicator = _indicator(entry, f"indicator {number} ({entry.get('id', 'no id')})")
        if indicator.id in seen:
            raise DefinitionError(f"two indicators are called {indicator.id}")
        seen.add(indicator.id)
        found.append(indicator)
    return tuple(found)


def _indicator(entry: dict, where: str) -> Indicator:
    def need(name: str):
        if name not in entry:
            raise DefinitionError(f"{where}: `{name}` is missing")
        return entry[name]

    measure = need("measure")
    if measure not in MEASURES:
        raise DefinitionError(f"{where}: measure {measure!r} is not one of {', '.join(MEASURES)}")
    series = tuple(Series(s["id"], _title(s.get("title"), f"{where}, series {s.get('id')}"),
                          tuple(s.get("fields", ())) or ((s["field"],) if "field" in s else ()),
                          s.get("where")) for s in entry.get("series", []))
    follow_up = entry.get("follow_up")
    indicator = Indicator(
        id=need("id"), title=_title(need("title"), where), form=need("form"),
        date=need("date"), measure=measure, table=entry.get("table", ""),
        field=entry.get("field"), split=entry.get("split"),
        sensitive=bool(entry.get("sensitive", False)), series=series,
        numerator=tuple(entry.get("numerator", ())),
        denominator=tuple(entry.get("denominator", ())),
        agreed=entry.get("agreed"), due=entry.get("due"),
        follow_up=FollowUp(**follow_up) if follow_up else None)
    problems = {
        "distinct": indicator.field is None and "`field` is needed",
        "sum": not all(s.fields for s in series) or not series and "series with `fields`",
        "share": not (indicator.numerator and indicator.denominator)
        and "`numerator` and `denominator` are needed",
        "mean": not series and "series with a `field` are needed",
        "days_to_close": indicator.follow_up is None and "`follow_up` is needed",
        "count": any(s.where not in ("agreed", "overdue") for s in series)
        and "a count's series says `where = \"agreed\"` or `\"overdue\"`",
    }
    if problems[measure]:
        raise DefinitionError(f"{where}: {problems[measure] or 'series with `fields` needed'}")
    if any(s.where for s in series) and not (indicator.agreed and indicator.due):
        raise DefinitionError(f"{where}: `agreed` and `due` name the fields of its series")
    return indicator


def _title(title, where: str) -> dict[str, str]:
    if not isinstance(title, dict) or any(not title.get(code) for code in LANGUAGES):
        raise DefinitionError(f"{where}: a title in each of {', '.join(LANGUAGES)} is needed")
    return dict(title)
