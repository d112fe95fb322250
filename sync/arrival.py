"""What an arrival means: a new instance, a retry, more attachments, an edit or a conflict.

Pure: the server reads what it already holds about the instance into a `Holding` and carries out
the `Outcome`. The rules are those of ODK Central, which officers' phones already live with.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sync.instance import InstanceIdentity


class Outcome(Enum):
    NEW = "new"  # store a new submission
    RETRY = "retry"  # the same XML again: keep any attachment not yet held
    EDIT = "edit"  # a new version of the submission it deprecates
    CONFLICT = "conflict"  # same instanceID, different XML: refuse, keep the original
    EDIT_UNKNOWN = "edit_unknown"  # deprecatedID names nothing we hold
    EDIT_STALE = "edit_stale"  # deprecatedID is not the current version any more
    DELETED = "deleted"  # the submission was deleted: do not bring it back


@dataclass(frozen=True)
class Held:
    """One version the server holds for an instanceID."""

    sha256: str
    is_current: bool
    deleted: bool


def decide(identity: InstanceIdentity, same_id: Held | None,
           deprecated: Held | None) -> Outcome:
    """`same_id`: what we hold under the arrival's instanceID; `deprecated`: under its
    deprecatedID (edits only)."""
    if same_id is not None:
        if same_id.deleted:
            return Outcome.DELETED
        return Outcome.RETRY if same_id.sha256 == identity.sha256 else Outcome.CONFLICT
    if not identity.is_edit:
        return Outcome.NEW
    if deprecated is None:
        return Outcome.EDIT_UNKNOWN
    if deprecated.deleted:
        return Outcome.DELETED
    return Outcome.EDIT if deprecated.is_current else Outcome.EDIT_STALE
