"""Analysts' exports: the CSV zip (as ODK Central lays it out), the Excel workbook with its
codebook, and GeoJSON of every geopoint; typed, cleaned, labelled, pseudonymised where the reader
may not see personal data, within the reader's scope, streamed so memory stays flat.

`prepare` decides what an export holds (layout, filters, wording, and the cases of the lists the
form feeds: `cases`); the writers in `csv_zip`, `workbook` and `geojson` stream it into a file;
`jobs` runs long ones in the background.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

from sqlalchemy.orm import Session

from server.database.models import Form, User, utcnow
from server.database.queries import form_tables as table_queries
from server.kernel import private, problems
from server.kernel.problems import Problem
from server.kernel.storage import BlobStore
from server.services import access
from server.services.exports import cases as case_lists
from server.services.exports import filters as filtering
from server.services.exports.cells import Choices, row_maker
from server.services.exports.cleaning import Pseudonyms
from server.services.exports.layout import Layout, Table, build, split_multiples

FORMATS = {"csv": ".csv.zip", "xlsx": ".xlsx", "geojson": ".geojson"}
ABOUT_FILES = ("codebook", "export")  # the files (and sheets) beside the tables
LANGUAGES = ("ar", "ckb", "en")
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Options:
    format: str = "csv"
    language: str | None = None  # ar, ckb or en: labels in that language
    labels: bool = False  # answers as choice labels
    header_labels: bool = False  # columns headed by labels
    group_paths: bool = True
    split_multiples: bool = False
    attachments: bool = False
    filters: filtering.Filters = field(default_factory=filtering.Filters)

    def __post_init__(self):
        if self.format not in FORMATS:
            raise Problem(problems.EXPORT_OPTION_INVALID, option="format",
                          reason=f"one of {', '.join(FORMATS)}")
        if self.language not in (None, *LANGUAGES):
            raise Problem(problems.EXPORT_OPTION_INVALID, option="language",
                          reason=f"one of {', '.join(LANGUAGES)}")

    def as_dict(self) -> dict:
        data = asdict(self)
        data["filters"] = self.filters.as_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Options:
        values = dict(data)
        values["filters"] = filtering.Filters.from_dict(values.get("filters") or {})
        return cls(**values)


@dataclass
class Prepared:
    """One export, decided: what it holds and how it is worded."""

    form: Form
    user: User
    options: Options
    layout: Layout
    where: object  # the WHERE clause on the form's table
    choices: Choices
    pseudonyms: Pseudonyms
    blobs: BlobStore
    started_at: object = field(default_factory=utcnow)
    cases: tuple[case_lists.CaseList, ...] = ()

    def tables(self):
        return self.layout.tables

    def layouts(self) -> Iterator[Layout]:
        """The form's layout, then each case list's."""
        yield self.layout
        yield from (c.layout for c in self.cases)

    @property
    def personal_used(self) -> bool:
        """Whether the file shows (or hides) any personal answer."""
        return any(c.personal for layout in self.layouts() for t in layout.tables
                   for c in t.columns)

    def count(self, session: Session) -> int:
        """Rows the export will write, over all its tables (for progress)."""
        root = self.layout.root.sql
        return sum(table_queries.count_rows(session, t.sql, root, self.where)
                   for t in self.layout.tables) + sum(c.count(session) for c in self.cases)

    def parts(self, session: Session, target: str
              ) -> Iterator[tuple[Layout, Table, Iterator[list[list]]]]:
        """Each table of a file (the form's, then the cases'), with its rows as `target`'s cells,
        a batch at a time from a server-side cursor."""
        layout = self.layout
        for table in layout.tables:
            make = row_maker(layout, table, self.choices, self.pseudonyms, target)
            query = table_queries.select_rows(table.sql, layout.root.sql, table.sources,
                                              self.where)
            yield layout, table, (list(map(make, rows))
                                  for rows in table_queries.batches(session, query))
        for case_list in self.cases:
            for table in case_list.layout.tables:
                make = row_maker(case_list.layout, table, self.choices, self.pseudonyms,
                                 target)
                yield case_list.layout, table, case_list.batches(session, table, make)


def prepare(session: Session, form: Form, user: User, options: Options, *, secret_key: str,
            blobs: BlobStore) -> Prepared:
    reveal = access.sees_personal_data(user)
    layout = build(session, form, blobs, group_paths=options.group_paths, reveal_personal=reveal)
    where = filtering.clause(layout, options.filters, user)
    if options.split_multiples:
        chosen = {path: table_queries.chosen_values(session, layout.projection.tables[path],
                                              layout.root.sql, where)
                  for path in layout.select_multiples}
        layout = split_multiples(layout, chosen, reveal_personal=reveal)
    choices = Choices(language=options.language, labels=options.labels,
                      header_labels=options.header_labels, reveal_personal=reveal)
    cases = () if options.format == "geojson" else case_lists.lists_of(
        session, form, {t.name for t in layout.tables} | set(ABOUT_FILES), user,
        options.filters, layout.languages)
    return Prepared(form, user, options, layout, where, choices, Pseudonyms(secret_key), blobs,
                    cases=cases)


def write(session: Session, prepared: Prepared, target, progress: Progress | None = None
          ) -> dict[str, int]:
    """Write the export to the path `target`; return rows written per table."""
    from server.services.exports import csv_zip, geojson, workbook

    writer = {"csv": csv_zip.write, "xlsx": workbook.write, "geojson": geojson.write}
    # made 0600 first: each writer opens it with "w", which keeps the mode (personal data)
    private.file(target)
    return writer[prepared.options.format](session, prepared, target, progress or _quiet)


def _quiet(_done: int) -> None:
    pass
