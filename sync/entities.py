"""The entity actions a submitted instance carries: a case to create or update, with its values.

The form declares where its entities are (forms.EntityDeclaration); the instance fills them in: the
`<entity>` element's attributes (`id`, `create`, `update`, `baseVersion`, `trunkVersion`,
`branchId`), its `<label>`, and the answers of the fields saved to properties. Each is read and
checked as ODK Central reads it (central-backend lib/data/entity.js: `submissionXmlToEntityData`,
`normalizeUuid`, the `extract...FromSubmission` functions), so a phone's submission means the same
here as there. Pure: no I/O; `root` is the parsed instance (sync.instance.read_identity).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from forms import EntityDeclaration, FormStructure
from forms.xml import local_name

# A v4 UUID, optionally `uuid:`-prefixed, any case (Central's _uuidPattern)
_UUID = re.compile(
    r"(?:uuid:)?([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})",
    re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]+")
_TRUE = ("1", "true")  # exactly these, as Central compares them


@dataclass(frozen=True)
class EntityProblem:
    path: str  # where the entity is in the instance: /meta/entity, /people[2]/meta/entity
    field: str  # id, label, baseVersion, trunkVersion, branchId, dataset, create, update
    message: str


class EntityDataError(ValueError):
    """An instance's entity data cannot be applied as sent (every problem found, listed)."""

    def __init__(self, problems: tuple[EntityProblem, ...]):
        self.problems = problems
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))


@dataclass(frozen=True)
class EntityAction:
    """What one `<entity>` element of an instance asks for, checked."""

    dataset: str
    uuid: str  # normalised: lowercase, without `uuid:`
    create: bool
    update: bool
    label: str | None  # None when not sent or blank (an update keeps the current label)
    base_version: int | None  # the version the phone's copy was at (its local count offline)
    trunk_version: int | None  # the last server version the phone's branch started from
    branch_id: str | None  # one per case per phone download: orders the phone's offline updates
    properties: dict[str, str] = field(default_factory=dict)  # property -> value, as answered
    path: str = "/meta/entity"

    @property
    def data_received(self) -> dict[str, str]:
        """What the phone sent, the label included (Central's dataReceived): what conflicts are
        computed on."""
        return {**self.properties, **({"label": self.label} if self.label is not None else {})}


def read_entities(structure: FormStructure, root: etree._Element) -> tuple[EntityAction, ...]:
    """The entity actions of an instance of `structure`, declaration by declaration and, within
    a repeat, entry by entry; EntityDataError when one of them is invalid (nothing of the
    instance should then be applied, as in Central, where one entity's error rolls back the
    submission's others)."""
    actions: list[EntityAction] = []
    problems: list[EntityProblem] = []
    repeats = {f.path for f in structure.repeats}
    for declaration in structure.entities:
        for container, where in _containers(root, declaration.container, repeats):
            entity = _child_path(container, ("meta", "entity"))
            if entity is None:
                continue  # this entry carries no entity element: nothing asked
            path = f"{where}/meta/entity"
            found: list[EntityProblem] = []
            action = _action(declaration, container, entity, path, found)
            problems.extend(found)
            if action is not None and not found:
                actions.append(action)
    if problems:
        raise EntityDataError(tuple(problems))
    return tuple(actions)


def normalise_uuid(value: str | None) -> str | None:
    """`uuid:6F9C…` → `6f9c…`; None when `value` is not a v4 UUID."""
    match = _UUID.fullmatch(value or "")
    return match.group(1).lower() if match else None


def _action(declaration: EntityDeclaration, container: etree._Element, entity: etree._Element,
            path: str, problems: list[EntityProblem]) -> EntityAction | None:
    def problem(name: str, message: str) -> None:
        problems.append(EntityProblem(path=path, field=name, message=message))

    create, update = (entity.get(name) in _TRUE for name in ("create", "update"))
    if not create and not update:
        return None  # a conditional create/update that did not happen
    if create and not declaration.creates:
        problem("create", f"the form does not create entities of list '{declaration.dataset}'")
    if update and not declaration.updates:
        problem("update", f"the form does not update entities of list '{declaration.dataset}'")
    dataset = (entity.get("dataset") or "").strip()
    if dataset != declaration.dataset:
        problem("dataset", f"the entity names the list '{dataset}' where the form declares "
                           f"'{declaration.dataset}'")

    raw_id = entity.get("id")
    uuid = normalise_uuid(raw_id)
    if not (raw_id or "").strip():
        problem("id", "the entity has no id")
    elif uuid is None:
        problem("id", f"the entity id '{raw_id}' is not a version 4 UUID")

    label_element = _child_path(entity, ("label",))
    label = label_element.text if label_element is not None else None
    label = label if label and label.strip() else None
    if create and not update and label is None:
        problem("label", "a new entity needs a label, and this one is blank")

    base_version = _integer(entity.get("baseVersion"), "baseVersion", problem)
    if update and not create and base_version is None and not _present(entity, "baseVersion"):
        problem("baseVersion", "an update must say which version it was made from "
                               "(baseVersion is blank)")

    raw_branch = entity.get("branchId")
    branch_id = normalise_uuid(raw_branch) if _present(entity, "branchId") else None
    if _present(entity, "branchId") and branch_id is None:
        problem("branchId", f"the branchId '{raw_branch}' is not a version 4 UUID")
    trunk_version = None
    if _present(entity, "trunkVersion"):
        if not _present(entity, "branchId"):
            problem("trunkVersion", "a trunkVersion needs a branchId, and it is blank")
        trunk_version = _integer(entity.get("trunkVersion"), "trunkVersion", problem)

    if uuid is None:
        return None
    return EntityAction(
        dataset=declaration.dataset, uuid=uuid, create=create, update=update, label=label,
        base_version=base_version, trunk_version=trunk_version, branch_id=branch_id,
        properties=_properties(declaration, container), path=path)


def _properties(declaration: EntityDeclaration, container: etree._Element) -> dict[str, str]:
    """The saveto fields' answers, relative to the entity's container; a field absent from the
    instance sends nothing (an empty one sends "" and so empties the property, as in Central)."""
    values = {}
    skip = len(declaration.container.split("/")) if declaration.container else 1
    for name, field_path in declaration.properties.items():
        found = _child_path(container, tuple(field_path.split("/")[skip:]), last=True)
        if found is not None:
            values[name] = found.text or ""
    return values


def _containers(root: etree._Element, container: str, repeats: set[str]
                ) -> Iterator[tuple[etree._Element, str]]:
    """Every instance element at the declaration's container path, with its path as the KEY of
    its rows reads (/people[2]): one per repeat entry."""
    def walk(element: etree._Element, names: list[str], path: str, where: str
             ) -> Iterator[tuple[etree._Element, str]]:
        if not names:
            yield element, where
            return
        path = f"{path}/{names[0]}"
        matches = [c for c in element if isinstance(c.tag, str) and local_name(c) == names[0]]
        for position, child in enumerate(matches if path in repeats else matches[:1], start=1):
            index = f"[{position}]" if path in repeats else ""
            yield from walk(child, names[1:], path, f"{where}/{names[0]}{index}")
    yield from walk(root, [n for n in container.split("/") if n], "", "")


def _child_path(element: etree._Element, names: tuple[str, ...], *, last: bool = False
                ) -> etree._Element | None:
    for name in names:
        matches = [c for c in element if isinstance(c.tag, str) and local_name(c) == name]
        if not matches:
            return None
        element = matches[-1] if last else matches[0]
    return element


def _present(entity: etree._Element, name: str) -> bool:
    return bool((entity.get(name) or "").strip())


def _integer(value: str | None, name: str, problem) -> int | None:
    if value is None or not value.strip():
        return None
    if not _DIGITS.fullmatch(value):
        problem(name, f"the {name} '{value}' is not a whole number")
        return None
    return int(value)
