"""What the Cases pages show a supervisor: the cases of their places, and one case's history,
each version with what it changed against the one before, property by property, who made it and
from which submission, and, while the case is in conflict, what the competing versions set.

A case outside the reader's places is treated exactly as one that does not exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from server.database.models import User
from server.database.queries import case_pages as case_page_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import access
from sync.entity_updates import CLOSED_STATUSES

# A version's label change is shown as a change of this name, as the phones send it beside the
# properties (ODK forbids a property of that name).
LABEL = "label"


@dataclass(frozen=True)
class Change:
    name: str  # a property, or LABEL
    before: str | None  # None: not set before
    after: str | None


@dataclass(frozen=True)
class Version:
    """One version of a case as the history shows it."""

    row: object  # queries.case_pages.case_versions' row
    changes: tuple[Change, ...]
    data: dict[str, str]
    received: dict[str, str]  # what its update sent
    conflicting: tuple[str, ...]

    @property
    def number(self) -> int:
        return self.row.version

    @property
    def by_supervisor(self) -> bool:
        return self.row.user_id is not None


@dataclass(frozen=True)
class Option:
    """A value a supervisor may keep for a conflicting property, and the versions that set it."""

    value: str
    versions: tuple[int, ...]
    current: bool


@dataclass(frozen=True)
class Choice:
    name: str
    current: str
    options: tuple[Option, ...]


@dataclass(frozen=True)
class Conflict:
    """An unresolved conflict: the versions made since `base` compete (two phones updated the
    case from it), and the properties they set differently."""

    kind: str  # soft, hard
    base: int
    competing: tuple[int, ...]
    choices: tuple[Choice, ...]


def history(rows) -> list[Version]:
    """The versions, oldest first, each with its changes against the one before."""
    versions, before, label = [], {}, None
    for row in rows:
        data = json.loads(row.data or "{}")
        changes = [Change(LABEL, label, row.label)] if row.label != label else []
        changes += [Change(name, before.get(name), data.get(name))
                    for name in [*data, *(k for k in before if k not in data)]
                    if before.get(name) != data.get(name)]
        versions.append(Version(row, tuple(changes), data,
                                json.loads(row.data_received or "{}"),
                                tuple(json.loads(row.conflicting_properties or "[]"))))
        before, label = data, row.label
    return versions


def conflict_of(versions: list[Version], state: str | None) -> Conflict | None:
    """The open conflict of a case whose versions are `versions` and conflict flag `state`:
    the versions since the last one that was not in conflict (made before the conflict, or a
    resolution) began it; each property any of them reported conflicting is a choice."""
    if state is None or not versions:
        return None
    start = len(versions)
    while start > 0 and versions[start - 1].row.conflict is not None:
        start -= 1
    if start == len(versions):
        return None  # flagged, but no version says so: nothing to choose
    first = versions[start]
    base = first.row.base_version if first.row.base_version is not None else first.number - 1
    competing = [v for v in versions if v.number > base]
    names = list(dict.fromkeys(name for v in versions[start:] for name in v.conflicting))
    current = {**versions[-1].data, LABEL: versions[-1].row.label}  # an update may send both
    choices = []
    for name in names:
        proposed: dict[str, list[int]] = {}
        for version in competing:
            if name in version.received:
                proposed.setdefault(version.received[name], []).append(version.number)
        now = current.get(name, "")
        proposed.setdefault(now, [])
        choices.append(Choice(name, now, tuple(Option(value, tuple(numbers), value == now)
                                               for value, numbers in proposed.items())))
    return Conflict(state, base, tuple(v.number for v in competing), tuple(choices))


@dataclass
class CaseReader:
    """The cases as one reader sees them: those of their places."""

    session: Session
    user: User

    @property
    def scope(self) -> access.Scope:
        return access.scope_of(self.user)

    @property
    def where(self):
        return access.scope_clause(self.scope, case_page_queries.PLACES)

    def page(self, filters: case_page_queries.CaseFilters, *, after, limit: int):
        return case_page_queries.case_page(self.session, self.where, filters, after=after,
                                           limit=limit)

    def menus(self) -> dict[str, list[str]]:
        return case_page_queries.place_values(self.session, self.where)

    def find(self, uuid: str):
        """A case of the reader's places; 404 otherwise, whichever the reason."""
        found = case_page_queries.case_in_scope(self.session, uuid, self.where)
        if found is None:
            raise Problem(problems.CASE_NOT_FOUND)
        return found

    def cases_of_submission(self, submission_id: int) -> list:
        """The cases of the reader's places that a submission made or changed."""
        return case_page_queries.cases_of_submission(self.session, submission_id, self.where)

    def case(self, uuid: str) -> CasePage:
        found = self.find(uuid)
        versions = history(case_page_queries.case_versions(self.session, found.id))
        return CasePage(found, versions, conflict_of(versions, found.conflict),
                        case_page_queries.unapplied_actions(self.session, found.uuid))


@dataclass(frozen=True)
class CasePage:
    case: object  # queries.case_pages.case_in_scope's row
    versions: list[Version]
    conflict: Conflict | None
    actions: list  # held and refused updates

    @property
    def data(self) -> dict[str, str]:
        return json.loads(self.case.data or "{}")


def filters(args, today: date) -> case_page_queries.CaseFilters:
    """The list's filters from the page's query string."""
    def text(name: str) -> str:
        return (args.get(name) or "").strip()[:255]
    return case_page_queries.CaseFilters(
        governorate=text("governorate"), forum=text("forum"), status=text("status"),
        q=text("q"), overdue_before=today.isoformat() if text("overdue") == "1" else "",
        conflict=text("conflict") == "1", closed=tuple(sorted(CLOSED_STATUSES)))


def overdue(case, today: date) -> bool:
    return bool(case.follow_up) and case.follow_up < today.isoformat() \
        and case.status not in CLOSED_STATUSES
