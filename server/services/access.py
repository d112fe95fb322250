"""Who may do what, and which submissions each web user sees.

Every page and API route asks here; nothing is decided by what a page happens to show. Roles give
permissions; a supervisor's or analyst's assigned governorates and forums limit the submissions
they see; seeing personal fields is a permission of its own, granted per user, and so is holding
the keys of encrypted forms.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from server.database.models import User

# permission → roles that have it
_GRANTS = {
    "users.manage": {"administrator"},
    "forms.manage": {"administrator"},
    "app_users.manage": {"administrator"},
    "audit.read": {"administrator"},
    "field_offices.manage": {"administrator"},
    "submissions.read": {"administrator", "supervisor", "analyst"},
    "submissions.review": {"administrator", "supervisor"},
    "submissions.delete": {"administrator"},
    "data.download": {"administrator", "analyst"},
}
PERMISSIONS = tuple(_GRANTS)
# The fields that say where a submission comes from, by name, in every programme form.
PLACE_FIELDS = ("governorate", "district", "forum")
SCOPE_KINDS = ("governorate", "forum")


def can(user: User | None, permission: str) -> bool:
    if permission not in _GRANTS:
        raise KeyError(permission)  # a typo must not silently deny (or grant) anything
    return user is not None and user.disabled_at is None and user.role in _GRANTS[permission]


def sees_personal_data(user: User | None) -> bool:
    return user is not None and user.disabled_at is None and bool(user.personal_data)


def holds_keys(user: User | None) -> bool:
    """May create the keys of encrypted forms (and, later, unlock them with their passphrase)."""
    return user is not None and user.disabled_at is None and bool(user.key_holder)


@dataclass(frozen=True)
class Scope:
    """The places whose submissions a user sees; `everything` for administrators and for
    analysts with no assignment. A supervisor with no assignment sees nothing."""

    everything: bool
    governorates: frozenset[str] = frozenset()
    forums: frozenset[str] = frozenset()

    def allows(self, place: dict[str, str | None]) -> bool:
        if self.everything:
            return True
        return (place.get("governorate") in self.governorates
                or place.get("forum") in self.forums)


def scope_of(user: User) -> Scope:
    governorates = frozenset(s.value for s in user.scopes if s.kind == "governorate")
    forums = frozenset(s.value for s in user.scopes if s.kind == "forum")
    if user.role == "administrator" or (user.role == "analyst" and not governorates | forums):
        return Scope(everything=True)
    return Scope(everything=False, governorates=governorates, forums=forums)


def scope_clause(scope: Scope, place_columns: dict[str, sa.ColumnElement]):
    """A WHERE clause on a form's root table keeping only the rows `scope` allows.

    `place_columns` maps the names in PLACE_FIELDS to the table's columns, for those the form
    has; a form without them shows a scoped user nothing rather than everything.
    """
    if scope.everything:
        return sa.true()
    terms = []
    if scope.governorates and "governorate" in place_columns:
        terms.append(place_columns["governorate"].in_(sorted(scope.governorates)))
    if scope.forums and "forum" in place_columns:
        terms.append(place_columns["forum"].in_(sorted(scope.forums)))
    return sa.or_(*terms) if terms else sa.false()
