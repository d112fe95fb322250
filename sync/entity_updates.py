"""What an entity action does to the case the server holds: create it, update it, wait, or refuse.

The rules are ODK Central's (central-backend lib/model/query/entities.js: `_processEntityData`,
`_computeBaseVersion`, `_updateEntity`, `_createEntity`), made pure: `decide` takes the action
(sync.entities.EntityAction) and everything the server holds of that entity, and returns the
Decision the caller then stores. Phones update cases offline: each update says the version it
was made from (`baseVersion`, counted on the phone), the server version the phone started from
(`trunkVersion`) and the phone's `branchId` for that case. An update whose predecessor on the
same phone has not arrived yet is held (HOLD, with the key its predecessor will release), and
`next_held` says which held update an applied one releases. After the configurable time a held
update is decided again with `force=True`: applied on the latest version, or made the case's
create if the case never arrived, and flagged. Two updates made from the same version are a
conflict: soft when they touched different properties, hard when the same property differs.

Beyond Central, for the programme: an update of a closed case (its `status` property one of
`closed_statuses`) is refused, as is an update of a deleted case at once (Central holds an
offline one until it is forced); and an update applied by force still releases its successor.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from sync.entities import EntityAction

SOFT, HARD = "soft", "hard"  # conflict kinds, Central's names
AUTO_LABEL = "auto generated"  # a forced create that had no label (Central's words)
STATUS_PROPERTY = "status"
CLOSED_STATUSES = frozenset({"closed"})


class Outcome(Enum):
    APPLY_CREATE = "apply_create"
    APPLY_UPDATE = "apply_update"
    HOLD = "hold"
    REFUSE = "refuse"


class Refusal(Enum):
    UNKNOWN = "unknown"  # an update of a case the server never had, without create
    DELETED = "deleted"
    CLOSED = "closed"
    VERSION_NOT_FOUND = "version_not_found"  # baseVersion ahead of the server
    TRUNK_AHEAD = "trunk_ahead"  # trunkVersion beyond the server's current version
    EXISTS = "exists"  # a create of an id the server already holds
    NO_LABEL = "no_label"  # an update turned create, with no label to create with


@dataclass(frozen=True)
class EntityVersion:
    """One version of a case as the server holds it."""

    number: int  # 1 for the create, then each update + 1
    data: Mapping[str, str]
    label: str
    branch_id: str | None = None
    trunk_version: int | None = None
    branch_base_version: int | None = None  # the update's baseVersion when it had a branch
    source: str | None = None  # the submission (instanceID) that made it
    forced: bool = False  # applied by forcing a held update


@dataclass(frozen=True)
class ServerEntity:
    uuid: str
    versions: tuple[EntityVersion, ...]
    deleted: bool = False
    conflict: str | None = None  # SOFT, HARD or None (resolved, or never in conflict)

    @property
    def current(self) -> EntityVersion:
        return max(self.versions, key=lambda v: v.number)

    def version(self, number: int | None) -> EntityVersion | None:
        return next((v for v in self.versions if v.number == number), None)


@dataclass(frozen=True)
class HoldKey:
    """What a held update waits for: the version of its branch made from `base_version - 1`.
    `branch_id` None (a successor key only) means any branch: what follows a create."""

    uuid: str
    branch_id: str | None
    base_version: int  # the held update's baseVersion (Central's branchBaseVersion column)


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    uuid: str
    version: int | None = None  # the number of the version to store
    label: str | None = None
    data: dict[str, str] = field(default_factory=dict)  # the case's whole data after it
    data_received: dict[str, str] = field(default_factory=dict)
    base_version: int | None = None  # the server version the update was applied on
    branch_id: str | None = None
    trunk_version: int | None = None
    branch_base_version: int | None = None
    conflict: str | None = None  # the case's conflict state after it
    conflicting_properties: tuple[str, ...] = ()
    forced: bool = False
    upsert: bool = False  # an update of a case the server does not have, applied as its create
    create_as_update: bool = False  # a create arriving after a forced update made the case
    hold: HoldKey | None = None
    refusal: Refusal | None = None
    message: str = ""

    @property
    def applied(self) -> bool:
        return self.outcome in (Outcome.APPLY_CREATE, Outcome.APPLY_UPDATE)


def decide(action: EntityAction, entity: ServerEntity | None, *, force: bool = False,
           closed_statuses: Collection[str] = CLOSED_STATUSES) -> Decision:
    """What `action` does to `entity` (None: the server never had it). Deterministic: the same
    inputs give the same Decision, so a caller that sees the same submission twice may decide
    again, or better, recognise the submission and skip it."""
    if entity is not None and not entity.versions:
        entity = None
    if entity is not None and entity.deleted:
        return _refuse(action, Refusal.DELETED, f"case {action.uuid} has been deleted")
    if action.update:
        return _decide_update(action, entity, force, closed_statuses)
    return _create(action, entity, force, upsert=False)


def successor(applied: Decision) -> HoldKey | None:
    """The key of the held update that `applied` releases: the next of its branch."""
    if not applied.applied:
        return None
    if applied.branch_id is None:
        return HoldKey(applied.uuid, None, 1)  # the first update made on top of a create
    return HoldKey(applied.uuid, applied.branch_id, (applied.branch_base_version or 0) + 1)


T = TypeVar("T")


def next_held(applied: Decision, held: Iterable[T],
              key: Callable[[T], HoldKey] = lambda item: item) -> T | None:
    """Of the `held` updates (in the caller's order, e.g. oldest first), the one `applied`
    releases, or None."""
    wanted = successor(applied)
    if wanted is None:
        return None
    for item in held:
        candidate = key(item)
        if (candidate.uuid == wanted.uuid and candidate.base_version == wanted.base_version
                and wanted.branch_id in (None, candidate.branch_id)):
            return item
    return None


def _decide_update(action: EntityAction, entity: ServerEntity | None, force: bool,
                   closed_statuses: Collection[str]) -> Decision:
    if action.base_version is None:
        if not (action.create or force):  # read_entities lets none through; said for clarity
            return _refuse(action, Refusal.VERSION_NOT_FOUND,
                           f"the update of case {action.uuid} says no version it was made from")
        # an upsert sent without baseVersion (the phone did not hold the case): its create
        return _create(action, entity, force, upsert=True)
    if entity is None:
        if action.branch_id is not None and not force:
            # made offline on a case whose create (or first update) has not arrived yet
            return _hold(action, "waits for the case to arrive")
        if action.create or force:
            return _create(action, None, force, upsert=True)
        return _refuse(action, Refusal.UNKNOWN, f"case {action.uuid} is not on the server")
    current = entity.current
    if action.trunk_version is not None and action.trunk_version > current.number:
        return _refuse(action, Refusal.TRUNK_AHEAD,
                       f"the update of case {action.uuid} starts from version "
                       f"{action.trunk_version}, but the server is at version {current.number}")
    status = current.data.get(STATUS_PROPERTY)
    if status is not None and status in closed_statuses:
        return _refuse(action, Refusal.CLOSED,
                       f"case {action.uuid} is closed (status '{status}')")
    base = _base(action, entity)
    if base is None and action.branch_id is None:
        return _refuse(action, Refusal.VERSION_NOT_FOUND,
                       f"the update of case {action.uuid} was made from version "
                       f"{action.base_version}, but the server is at version {current.number}")
    if base is None:
        if not force:
            return _hold(action, f"waits for the update made from version "
                                 f"{action.base_version - 1} on the same phone")
        base = current
    return _update(action, entity, base, force, create_as_update=False)


def _base(action: EntityAction, entity: ServerEntity) -> EntityVersion | None:
    """The server version the update was made from (Central's _computeBaseVersion)."""
    if action.branch_id is None or action.base_version in (1, action.trunk_version):
        # online; a case created offline (version 1); the first update of an offline branch
        return entity.version(action.base_version)
    # further along an offline branch: the version its predecessor on the phone made
    return next((v for v in entity.versions if v.branch_id == action.branch_id
                 and v.branch_base_version == action.base_version - 1), None)


def _update(action: EntityAction, entity: ServerEntity, base: EntityVersion, force: bool,
            *, create_as_update: bool) -> Decision:
    current = entity.current
    received = action.data_received
    conflict, conflicting = entity.conflict, ()
    if base.number != current.number or create_as_update:
        # what changed on the server since the phone's version (or, for a late create, all the
        # forced update made): a property the phone sets to something else is a hard conflict
        since = (received, action.label) if create_as_update else (base.data, base.label)
        changed = _changes(current, *since)
        conflicting = tuple(k for k in received if k in changed and received[k] != changed[k])
        if conflict != HARD:  # a hard conflict stays hard until a supervisor resolves it
            conflict = HARD if conflicting else SOFT
    elif _interrupted(action, entity) and conflict != HARD:
        conflict = SOFT
    return Decision(
        outcome=Outcome.APPLY_UPDATE, uuid=action.uuid, version=current.number + 1,
        label=action.label if action.label is not None else current.label,
        data={**current.data, **action.properties}, data_received=received,
        base_version=base.number, branch_id=action.branch_id, trunk_version=action.trunk_version,
        branch_base_version=action.base_version if action.branch_id is not None else None,
        conflict=conflict, conflicting_properties=conflicting, forced=force,
        create_as_update=create_as_update,
        message=f"case {action.uuid} updated to version {current.number + 1}")


def _create(action: EntityAction, entity: ServerEntity | None, force: bool, *,
            upsert: bool) -> Decision:
    if entity is not None:
        first = entity.version(1)
        if not upsert and first is not None and first.forced:
            # a forced update made the case before its create arrived: the create fills it in
            return _update(action, entity, entity.current, force, create_as_update=True)
        return _refuse(action, Refusal.EXISTS, f"case {action.uuid} already exists")
    label = action.label
    if label is None:
        if not force:
            return _refuse(action, Refusal.NO_LABEL,
                           f"case {action.uuid} is not on the server and the update has no "
                           "label to create it with")
        label = AUTO_LABEL
    return Decision(
        outcome=Outcome.APPLY_CREATE, uuid=action.uuid, version=1, label=label,
        data=dict(action.properties), data_received=action.data_received,
        branch_id=action.branch_id, trunk_version=action.trunk_version,
        branch_base_version=action.base_version if force else None, forced=force,
        upsert=upsert, message=f"case {action.uuid} created")


def _changes(current: EntityVersion, data: Mapping[str, str], label: str | None
             ) -> dict[str, str]:
    """The current version's values that differ from `data` (Central's getDiffProp), and its
    label if it differs from `label`."""
    changed = {k: v for k, v in current.data.items() if k not in data or data[k] != v}
    if current.label != label:
        changed["label"] = current.label
    return changed


def _interrupted(action: EntityAction, entity: ServerEntity) -> bool:
    """Another phone (or the server) made a version since this branch started: the branch's
    updates no longer follow each other directly (Central's _interruptedBranch)."""
    if action.branch_id is None:
        return False
    since = action.trunk_version or 1  # a case created offline: version 1 is the branch's own
    return any(v.branch_id != action.branch_id and v.number > since for v in entity.versions)


def _hold(action: EntityAction, why: str) -> Decision:
    key = HoldKey(action.uuid, action.branch_id, action.base_version)
    return Decision(outcome=Outcome.HOLD, uuid=action.uuid, hold=key,
                    data_received=action.data_received, branch_id=action.branch_id,
                    trunk_version=action.trunk_version, message=f"update of case "
                    f"{action.uuid} from version {action.base_version} held: {why}")


def _refuse(action: EntityAction, refusal: Refusal, message: str) -> Decision:
    return Decision(outcome=Outcome.REFUSE, uuid=action.uuid, refusal=refusal,
                    data_received=action.data_received, message=message)

