"""What a form says about entities (ODK Entities): which lists it creates or updates, from where.

A form that creates or updates cases declares it in its primary instance: an `<entity>` element
in a `meta` group (the form's own, or, from spec version 2025.1, one inside a repeat: an entity per
repeat instance), whose `create` and `update` attributes say which actions the form may take, and
binds with `entities:saveto="<property>"` on the fields whose answers become the entity's
properties. The refusals are the ones ODK Central makes when such a form is published
(central-backend lib/data/dataset.js), so a form loaded here would load there too, with the
versions both Central and Collect recognise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from forms.errors import FormError
from forms.xml import local_name

ENTITIES_NS = "http://www.opendatakit.org/xforms/entities"
ALWAYS, CONDITIONAL = "always", "conditional"  # a literal "1", or a bind the phone computes
# Central accepts the range 2022.1.0 - 2025.1.x, Collect the values starting with one of these
# four: a form must satisfy both to be filled on the phone and processed here.
_VERSION = re.compile(r"^(2022|2023|2024|2025)\.1\.(0|[1-9]\d*)$")
REPEATS_VERSION = (2025, 1)  # entities from repeats, several lists in one form
OFFLINE_VERSION = (2024, 1)  # Collect applies the form's updates to its local copy

# Numbered refusals (FormError.code), one per rule a form designer can break.
VERSION_MISSING = "ENTITIES_001"
VERSION_UNKNOWN = "ENTITIES_002"
LIST_NAME_MISSING = "ENTITIES_003"
LIST_NAME_INVALID = "ENTITIES_004"
NO_ACTION = "ENTITIES_005"
SEVERAL_BEFORE_2025 = "ENTITIES_006"
REPEAT_BEFORE_2025 = "ENTITIES_007"
PROPERTY_INVALID = "ENTITIES_008"
PROPERTY_TWICE = "ENTITIES_009"


@dataclass(frozen=True)
class EntityDeclaration:
    """One `<entity>` element of the form: the list it feeds and how."""

    dataset: str  # the entity list ("cases")
    path: str  # the entity element, from the instance root: /meta/entity, /people/meta/entity
    create: str | None  # ALWAYS, CONDITIONAL or None (the form never creates)
    update: str | None  # the same for updates
    properties: dict[str, str] = field(default_factory=dict)  # property -> field path, in order
    repeat: str | None = None  # the innermost repeat holding the element (one entity per entry)

    @property
    def container(self) -> str:
        """The path of the group whose `meta` holds the element ("" for the form's root)."""
        return self.path.removesuffix("/meta/entity")

    @property
    def creates(self) -> bool:
        return self.create is not None

    @property
    def updates(self) -> bool:
        return self.update is not None


def read_declarations(model: etree._Element, root: etree._Element,
                      binds: dict[str, etree._Element], repeats: set[str]
                      ) -> tuple[str | None, tuple[EntityDeclaration, ...]]:
    """The model's `entities-version` and the form's entity declarations; FormError if Central
    would refuse the form. `binds` are keyed by absolute nodeset, `repeats` are the form's repeat
    paths (from the instance root, as Field.path)."""
    prefix = f"/{local_name(root)}"
    version = _model_version(model)
    elements = list(_entity_elements(root, ""))
    if not elements:
        return version, ()
    number = _check_version(version)
    declarations = []
    for path, element in elements:
        dataset = _dataset(element)
        create, update = (_action(element, name, binds.get(f"{prefix}{path}/@{name}"))
                          for name in ("create", "update"))
        if create is None and update is None:
            raise FormError(
                f"The entity declaration of list '{dataset}' allows no action: it needs a "
                "'create' or an 'update' attribute (in the XLSForm, an entities sheet row with "
                "a label to create, or an entity_id to update).", code=NO_ACTION)
        declarations.append(EntityDeclaration(
            dataset=dataset, path=path, create=create, update=update,
            repeat=max((r for r in repeats if path.startswith(f"{r}/")), key=len, default=None)))
    if number < REPEATS_VERSION:
        if len(declarations) > 1:
            raise FormError(
                f"The form declares {len(declarations)} entity lists "
                f"({', '.join(d.dataset for d in declarations)}) with entities version {version}"
                "; more than one needs version 2025.1 or later.", code=SEVERAL_BEFORE_2025)
        if declarations[0].repeat is not None:
            raise FormError(
                f"The entity of list '{declarations[0].dataset}' is declared inside the repeat "
                f"'{declarations[0].repeat}' with entities version {version}; entities from "
                "repeats need version 2025.1 or later.", code=REPEAT_BEFORE_2025)
    return version, tuple(_with_properties(declarations, binds, prefix))


def offline_updates(version: str | None) -> bool:
    """Whether phones apply the form's updates to their own copy of the list and send the
    branch fields (spec 2024.1 and later): Central publishes older forms with a warning."""
    match = _VERSION.match(version or "")
    return match is not None and (int(match.group(1)), 1) >= OFFLINE_VERSION


def _model_version(model: etree._Element) -> str | None:
    value = model.get(f"{{{ENTITIES_NS}}}entities-version")
    if value is None:  # Central strips prefixes: any namespace's entities-version counts
        value = next((v for k, v in model.attrib.items()
                      if etree.QName(k).localname == "entities-version"), None)
    return value.strip() if value is not None else None


def _check_version(version: str | None) -> tuple[int, int]:
    if not version:
        raise FormError("The form declares an entity but not which version of the entities "
                        "specification it follows (the model's entities:entities-version).",
                        code=VERSION_MISSING)
    match = _VERSION.match(version)
    if match is None:
        raise FormError(f"Entities specification version '{version}' is not supported: use "
                        "2022.1.x, 2023.1.x, 2024.1.x or 2025.1.x (pyxform writes 2024.1.0, or "
                        "2025.1.0 for entities from repeats).", code=VERSION_UNKNOWN)
    return int(match.group(1)), 1


def _entity_elements(parent: etree._Element, prefix: str
                     ) -> list[tuple[str, etree._Element]]:
    """(path, element) of every meta/entity, once per path: a repeat's template and its first
    entry share their names and declare the same entity."""
    found: list[tuple[str, etree._Element]] = []
    seen: set[str] = set()
    for child in parent:
        if not isinstance(child.tag, str):
            continue
        name = local_name(child)
        if name in seen:
            continue
        seen.add(name)
        path = f"{prefix}/{name}"
        if name == "entity" and local_name(parent) == "meta" and prefix:
            found.append((path, child))
        else:
            found.extend(_entity_elements(child, path))
    return found


def _dataset(element: etree._Element) -> str:
    name = _attribute(element, "dataset")
    if name is None or not name.strip():
        raise FormError("An entity declaration names no entity list (its 'dataset' attribute; "
                        "the entities sheet's list_name).", code=LIST_NAME_MISSING)
    name = name.strip()
    if not valid_list_name(name):
        raise FormError(
            f"The entity list name '{name}' is not valid: it must start with a letter, ':' or "
            "'_' (not '__') and contain only letters, digits, ':', '_' and '-'.",
            code=LIST_NAME_INVALID)
    return name


def _action(element: etree._Element, name: str, bind: etree._Element | None) -> str | None:
    value = _attribute(element, name)
    if value is None:
        return None  # Central permits an action when its attribute is present at all
    if bind is not None and bind.get("calculate"):
        return CONDITIONAL
    return ALWAYS if value.strip() in ("1", "true") else CONDITIONAL


def _with_properties(declarations: list[EntityDeclaration], binds: dict[str, etree._Element],
                     prefix: str) -> list[EntityDeclaration]:
    """Give each declaration the saveto fields of its container: the most specific one whose
    path encloses the field (a field inside a repeat belongs to that repeat's entity)."""
    properties: dict[str, dict[str, str]] = {d.path: {} for d in declarations}
    by_depth = sorted(declarations, key=lambda d: d.container.count("/"), reverse=True)
    for nodeset, bind in binds.items():
        name = _saveto(bind)
        if name is None or not nodeset.startswith(f"{prefix}/"):
            continue
        path = nodeset[len(prefix):]
        owner = next((d for d in by_depth if path.startswith(f"{d.container}/")), None)
        if owner is None:
            continue
        if not valid_property_name(name):
            raise FormError(
                f"The field {path} saves to the property '{name}', which is not a valid "
                "property name: it must start with a letter or '_' (not '__'), contain only "
                "letters, digits, '.', '_' and '-', and be neither 'name' nor 'label'.",
                code=PROPERTY_INVALID)
        taken = properties[owner.path]
        if name in taken:
            raise FormError(f"The fields {taken[name]} and {path} both save to the property "
                            f"'{name}' of list '{owner.dataset}'.", code=PROPERTY_TWICE)
        taken[name] = path
    return [EntityDeclaration(dataset=d.dataset, path=d.path, create=d.create, update=d.update,
                              properties=properties[d.path], repeat=d.repeat)
            for d in declarations]


def _saveto(bind: etree._Element) -> str | None:
    for key, value in bind.attrib.items():
        if etree.QName(key).localname == "saveto":
            return value.strip()
    return None


def _attribute(element: etree._Element, name: str) -> str | None:
    value = element.get(name)
    if value is None:
        value = next((v for k, v in element.attrib.items() if etree.QName(k).localname == name),
                     None)
    return value


def valid_list_name(name: str) -> bool:
    """Central's rule (validateDatasetName): a letter, ':' or '_' first, then letters, digits
    (ASCII, as JavaScript's \\d), ':', '_' and '-'; never '__' first."""
    return (bool(name) and not name.startswith("__") and _letter(name[0], ":_")
            and all(_letter(c, ":_-") or c in _DIGITS for c in name[1:]))


def valid_property_name(name: str) -> bool:
    """Central's rule (validatePropertyName): a letter or '_' first, then letters, digits, '.',
    '_' and '-'; never '__' first, never `name` or `label` in any case."""
    lowered = name.lower()
    return (bool(lowered) and not lowered.startswith("__") and lowered not in ("name", "label")
            and _letter(lowered[0], "_")
            and all(_letter(c, "._-") or c in _DIGITS for c in lowered[1:]))


_DIGITS = frozenset("0123456789")


def _letter(char: str, extra: str) -> bool:
    # str.isalpha is the Unicode letter categories (L*), as \p{L}: Arabic and Kurdish letters
    # pass; combining marks (harakat) do not, in Central either.
    return char.isalpha() or char in extra
