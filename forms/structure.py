"""Read a compiled XForm into the structure the rest of the system works from.

The server lists and serves forms, the sync core normalises instances into tables, the review pages
label answers and the exports write codebooks: all of them ask the same questions of a form (which
fields, of which type, inside which repeat, labelled how in Arabic, Kurdish and English, which media
files), so the XForm is read once, here, into plain immutable values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from lxml import etree

from forms.entity_declarations import EntityDeclaration, read_declarations
from forms.errors import FormError
from forms.xml import (
    JR_NS,
    XFORMS_NS,
    XHTML_NS,
    UnsafeXMLError,
    attribute,
    local_name,
    parse_xml,
)

DEFAULT_LANGUAGE = "default"  # label key in a form without translations (pyxform's name)

_XF = f"{{{XFORMS_NS}}}"
_H = f"{{{XHTML_NS}}}"
_ITEXT_REF = re.compile(r"""^\s*jr:itext\(\s*['"]?(.*?)['"]?\s*\)\s*$""")
_INSTANCE_REF = re.compile(r"""instance\(\s*['"]([^'"]+)['"]\s*\)""")
_JR_MEDIA = re.compile(r"jr://(images|audio|video|file-csv|file)/([^\s'\"<>)]+)")
_FILE_FUNCTIONS = re.compile(r"""\b(?:pulldata|search)\(\s*['"]([^'"]+)['"]""")
_LANGUAGE_CODE = re.compile(r"\(([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*)\)\s*$")
_SIMPLE_NAME = re.compile(r"^[A-Za-z_][\w.-]*$")
_MEDIA_TYPES = {"images": "image", "audio": "audio", "video": "video",
                "file": "file", "file-csv": "file"}
_CONTROLS = {"input", "select1", "select", "upload", "trigger", "range", "rank", "textarea",
             "secret"}
# `bind::muntada:personal`: how much a field says about who someone is. The form author decides;
# the older mark (yes/true) meant what is now "identifying", so forms loaded before still work,
# and a value misspelt errs on the side of hiding.
IDENTIFYING, QUASI = "identifying", "quasi"
_NOT_PERSONAL = {"", "no", "false", "false()", "0"}
_QUASI_VALUES = {"quasi", "quasi-identifying", "quasi_identifying"}
# Extra columns of the choices sheet (pyxform copies them into the choice list's instance; a
# colon would make pyxform read a column group, hence the underscore).
SENSITIVE_COLUMN = "muntada_sensitive"  # yes on a choice whose cases are sensitive (GBV...)
POINT_COLUMN = "muntada_point"  # "latitude longitude" standing for a place (a district's town)
_PRELOAD, _PRELOAD_PARAMS = f"{{{JR_NS}}}preload", f"{{{JR_NS}}}preloadParams"


@dataclass(frozen=True)
class Language:
    """A form language as the XForm names it (`Arabic (ar)`), with its code when it has one."""

    name: str
    code: str | None

    @classmethod
    def from_name(cls, name: str) -> Language:
        match = _LANGUAGE_CODE.search(name)
        return cls(name=name, code=match.group(1).lower() if match else None)


@dataclass(frozen=True)
class Choice:
    name: str
    labels: dict[str, str]
    sensitive: bool = False  # figures of this category are suppressed when small
    point: tuple[float, float] | None = None  # (latitude, longitude) standing for this place


@dataclass(frozen=True)
class MediaFile:
    """A file the form references and the phone must download with it."""

    name: str
    type: str  # image, audio, video or file (CSV and XML data)


@dataclass(frozen=True)
class Field:
    """One node of the form's primary instance: a group, a repeat or a value."""

    path: str  # from the instance root, without its name: /meeting/date, as ODK Central writes it
    name: str
    kind: str  # "group", "repeat" or "value"
    type: str  # the bind type (string, int, decimal, date, dateTime, geopoint, binary...)
    control: str | None  # the body control (input, select1, select, upload...), None if hidden
    repeats: tuple[str, ...]  # paths of the enclosing repeats, outermost first
    labels: dict[str, str] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    choices_file: str | None = None  # select_one_from_file: the choices live in this media file
    required: bool = False
    relevant: str | None = None
    calculate: str | None = None
    # `bind::muntada:personal` in the XLSForm: "identifying" (names, phones, exact places,
    # narratives: hidden from readers without the personal-data permission), "quasi" (sex, age
    # group, displacement: readable, flagged in the codebook) or None
    privacy: str | None = None
    appearance: str | None = None
    preload: tuple[str, str] | None = None  # (jr:preload, jr:preloadParams): property, deviceid

    @property
    def personal(self) -> bool:
        """Identifying: masked, pseudonymised, coarsened or withheld without the permission."""
        return self.privacy == IDENTIFYING

    @property
    def quasi(self) -> bool:
        return self.privacy == QUASI

    @property
    def free_text(self) -> bool:
        """A narrative (a multiline text): withheld rather than pseudonymised, since a keyed
        hash of a unique text links nothing and keeps nothing worth having."""
        return self.type == "string" and "multiline" in (self.appearance or "").split()

    @property
    def repeat(self) -> str | None:
        """The innermost repeat this field belongs to (itself excluded), or None."""
        return self.repeats[-1] if self.repeats else None

    @property
    def select_multiple(self) -> bool:
        return self.control == "select"

    def label(self, language: str | None = None) -> str:
        return _pick(self.labels, language) or self.name


@dataclass(frozen=True)
class FormStructure:
    form_id: str
    version: str
    title: str
    root_name: str
    languages: tuple[Language, ...]
    default_language: str | None
    fields: tuple[Field, ...]
    media: tuple[MediaFile, ...]
    encrypted: bool
    # ODK Entities: the model's entities:entities-version and the lists the form feeds
    entities_version: str | None = None
    entities: tuple[EntityDeclaration, ...] = ()

    @cached_property
    def device_id_path(self) -> str | None:
        """The field the phone fills with its own device ID (pyxform's `deviceid` type), if any."""
        return next((f.path for f in self.fields if f.preload == ("property", "deviceid")
                     and not f.repeats), None)

    def field(self, path: str) -> Field:
        for candidate in self.fields:
            if candidate.path == path:
                return candidate
        raise KeyError(path)

    @property
    def repeats(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.kind == "repeat")

    @property
    def values(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.kind == "value")


def read_structure(xform: bytes) -> FormStructure:
    """Read an XForm's bytes; raise FormError when it is not a usable XForm."""
    try:
        html = parse_xml(xform)
    except UnsafeXMLError as error:
        raise FormError(str(error)) from error
    return _Reader(html).read()


def _pick(labels: dict[str, str], language: str | None) -> str | None:
    if language and language in labels:
        return labels[language]
    if language:
        for name, text in labels.items():
            if Language.from_name(name).code == language:
                return text
    return labels.get(DEFAULT_LANGUAGE) or next(iter(labels.values()), None)


class _Reader:
    def __init__(self, html: etree._Element):
        if html.tag != f"{_H}html":
            raise FormError("This is not an XForm: its root element must be h:html.")
        head = html.find(f"{_H}head")
        self.model = head.find(f"{_XF}model") if head is not None else None
        if self.model is None:
            raise FormError("This is not an XForm: it has no h:head/model.")
        self.title = (head.findtext(f"{_H}title") or "").strip()
        self.body = html.find(f"{_H}body")
        self.text = html  # scanned whole for media references
        self.instances = {i.get("id"): i for i in self.model.findall(f"{_XF}instance")}
        primary = next((i for i in self.model.findall(f"{_XF}instance") if i.get("id") is None),
                       None)
        self.root = _first_element(primary)
        if self.root is None:
            raise FormError("The XForm has no primary instance with a root element.")
        self.binds = {b.get("nodeset", "").strip(): b for b in self.model.iter(f"{_XF}bind")}
        self.translations, self.default_language = self._itext()
        self.controls: dict[str, list[etree._Element]] = {}
        for nodeset, element in self._controls():
            # pyxform wraps a repeat in a group of the same ref that carries the label
            self.controls.setdefault(nodeset, []).append(element)

    def read(self) -> FormStructure:
        form_id = self.root.get("id")
        if not form_id:
            raise FormError("The form has no id: set form_id in the XLSForm's settings sheet.")
        submission = self.model.find(f"{_XF}submission")
        fields = tuple(self._fields(self.root, (), ""))
        entities_version, entities = read_declarations(
            self.model, self.root, self.binds, {f.path for f in fields if f.kind == "repeat"})
        return FormStructure(
            form_id=form_id,
            version=attribute(self.root, "version") or "",
            title=self.title or form_id,
            root_name=local_name(self.root),
            languages=tuple(Language.from_name(name) for name in self.translations),
            default_language=self.default_language,
            fields=fields,
            media=self._media(),
            encrypted=submission is not None and bool(submission.get("base64RsaPublicKey")),
            entities_version=entities_version,
            entities=entities,
        )

    # -- translations ---------------------------------------------------------------------------

    def _itext(self) -> tuple[dict[str, dict[str, list[etree._Element]]], str | None]:
        translations: dict[str, dict[str, list[etree._Element]]] = {}
        default = None
        itext = self.model.find(f"{_XF}itext")
        for translation in itext.findall(f"{_XF}translation") if itext is not None else ():
            lang = translation.get("lang") or DEFAULT_LANGUAGE
            if translation.get("default") in ("true()", "true") and default is None:
                default = lang
            translations[lang] = {t.get("id"): t.findall(f"{_XF}value")
                                  for t in translation.findall(f"{_XF}text")}
        if translations and default is None:
            default = next(iter(translations))
        return translations, default

    def _text(self, element: etree._Element | None) -> dict[str, str]:
        """Labels per language of a <label> or <hint> element."""
        if element is None:
            return {}
        match = _ITEXT_REF.match(element.get("ref", ""))
        if match:
            return self._itext_values(match.group(1))
        text = _plain(element)
        return {DEFAULT_LANGUAGE: text} if text else {}

    def _itext_values(self, text_id: str) -> dict[str, str]:
        labels = {}
        for lang, texts in self.translations.items():
            values = texts.get(text_id, [])
            plain = [v for v in values if v.get("form") in (None, "long", "short")]
            if plain:
                labels[lang] = _plain(plain[0])
        return labels

    # -- body -----------------------------------------------------------------------------------

    def _controls(self) -> Iterator[tuple[str, etree._Element]]:
        """Yield (absolute nodeset, body element) for every control, group and repeat."""
        def walk(parent: etree._Element, context: str) -> Iterator[tuple[str, etree._Element]]:
            for child in parent:
                if not isinstance(child.tag, str):
                    continue
                name = local_name(child)
                ref = child.get("nodeset") if name == "repeat" else child.get("ref")
                path = _resolve(ref, context) if ref else context
                if ref and (name in _CONTROLS or name in ("group", "repeat")):
                    yield path, child
                if name in ("group", "repeat"):
                    yield from walk(child, path)
        if self.body is not None:
            yield from walk(self.body, "")

    # -- instance -------------------------------------------------------------------------------

    def _fields(self, parent: etree._Element, repeats: tuple[str, ...], prefix: str
                ) -> Iterator[Field]:
        seen: set[str] = set()
        for child in parent:
            if not isinstance(child.tag, str):
                continue
            name = local_name(child)
            if name in seen:  # a repeat's template and its first instance share a name
                continue
            seen.add(name)
            if name == "entity" and local_name(parent) == "meta" and child.get("dataset"):
                continue  # what the instance does to an entity list (`entity_declarations`)
            path = f"{prefix}/{name}"
            nodeset = f"/{local_name(self.root)}{path}"
            control = self.controls.get(nodeset, [None])[-1]
            is_repeat = (control is not None and local_name(control) == "repeat") \
                or child.get(f"{{{JR_NS}}}template") is not None
            has_children = any(isinstance(c.tag, str) for c in child)
            kind = "repeat" if is_repeat else "group" if has_children else "value"
            yield self._field(path, name, kind, nodeset, control, repeats)
            if kind != "value":
                yield from self._fields(child, repeats + ((path,) if is_repeat else ()), path)

    def _field(self, path: str, name: str, kind: str, nodeset: str,
               control: etree._Element | None, repeats: tuple[str, ...]) -> Field:
        bind = self.binds.get(nodeset)
        attrs = dict(bind.attrib) if bind is not None else {}
        control_name = local_name(control) if control is not None else None
        if control_name in ("group", "repeat"):
            control_name = None
        choices, choices_file = self._choices(control) if control is not None else ((), None)
        return Field(
            path=path,
            name=name,
            kind=kind,
            type=_bind_type(attrs.get("type"), kind),
            control=control_name,
            repeats=repeats,
            labels=self._text(self._find(nodeset, "label")),
            hints=self._text(self._find(nodeset, "hint")),
            choices=choices,
            choices_file=choices_file,
            required=attrs.get("required", "").strip() in ("true()", "true"),
            relevant=attrs.get("relevant"),
            calculate=attrs.get("calculate"),
            privacy=_privacy(attrs),
            appearance=control.get("appearance") if control is not None else None,
            preload=(attrs[_PRELOAD], attrs.get(_PRELOAD_PARAMS, "")) if _PRELOAD in attrs
            else None,
        )

    def _find(self, nodeset: str, child: str) -> etree._Element | None:
        for element in self.controls.get(nodeset, ()):
            found = element.find(f"{_XF}{child}")
            if found is not None:
                return found
        return None

    def _choices(self, control: etree._Element) -> tuple[tuple[Choice, ...], str | None]:
        items = control.findall(f"{_XF}item")
        if items:
            return tuple(Choice(name=(i.findtext(f"{_XF}value") or "").strip(),
                                labels=self._text(i.find(f"{_XF}label"))) for i in items), None
        itemset = control.find(f"{_XF}itemset")
        if itemset is None:
            return (), None
        match = _INSTANCE_REF.search(itemset.get("nodeset", ""))
        instance = self.instances.get(match.group(1)) if match else None
        if instance is None:
            return (), None  # choices from the form's own answers (e.g. a repeat)
        src = instance.get("src")
        if src:
            return (), src.rsplit("/", 1)[-1]
        value_ref = itemset.find(f"{_XF}value")
        label = itemset.find(f"{_XF}label")
        value_name = value_ref.get("ref", "name") if value_ref is not None else "name"
        root = _first_element(instance)
        rows = root.iter() if root is not None else ()
        return tuple(
            Choice(name=(row.findtext(f"{_XF}{value_name}") or row.findtext(value_name) or "")
                   .strip(), labels=self._item_labels(label, row),
                   sensitive=_column(row, SENSITIVE_COLUMN).lower() in ("yes", "true", "1"),
                   point=parse_point(_column(row, POINT_COLUMN)))
            for row in rows if isinstance(row.tag, str) and local_name(row) == "item"
        ), None

    def _item_labels(self, label: etree._Element | None, row: etree._Element) -> dict[str, str]:
        if label is None:
            return {}
        ref = label.get("ref", "label")
        match = _ITEXT_REF.match(ref)
        if match:  # jr:itext(itextId): the item names its own text id
            text_id = row.findtext(f"{_XF}{match.group(1)}") or row.findtext(match.group(1))
            return self._itext_values(text_id or "")
        if not _SIMPLE_NAME.match(ref):
            return {}  # an XPath expression label, evaluated only on the phone
        text = row.find(f"{_XF}{ref}")
        if text is None:
            text = row.find(ref)
        return {DEFAULT_LANGUAGE: _plain(text)} if text is not None else {}

    # -- media ----------------------------------------------------------------------------------

    def _media(self) -> tuple[MediaFile, ...]:
        found: dict[str, MediaFile] = {}
        text = self._raw_text()
        for kind, name in _JR_MEDIA.findall(text):
            found.setdefault(name, MediaFile(name=name, type=_MEDIA_TYPES[kind]))
        for name in _FILE_FUNCTIONS.findall(text):
            filename = name if name.lower().endswith((".csv", ".xml")) else f"{name}.csv"
            found.setdefault(filename, MediaFile(name=filename, type="file"))
        if any(e.get("query") for e in self.text.iter(f"{_XF}input")):
            # select_one_external: Collect reads the choices from itemsets.csv by convention
            found.setdefault("itemsets.csv", MediaFile(name="itemsets.csv", type="file"))
        return tuple(sorted(found.values(), key=lambda m: m.name))

    def _raw_text(self) -> str:
        parts = []
        for element in self.text.iter():
            if not isinstance(element.tag, str):
                continue
            parts.extend(element.attrib.values())
            if element.text:
                parts.append(element.text)
        return " ".join(parts)


def _privacy(attrs: dict[str, str]) -> str | None:
    for name, value in attrs.items():
        if etree.QName(name).localname == "personal":
            value = value.strip().lower()
            if value in _NOT_PERSONAL:
                return None
            return QUASI if value in _QUASI_VALUES else IDENTIFYING
    return None


def _column(row: etree._Element, name: str) -> str:
    return (row.findtext(f"{_XF}{name}") or row.findtext(name) or "").strip()


def parse_point(text: str | None) -> tuple[float, float] | None:
    """"33.42 43.30" (latitude longitude, as a geopoint starts) → (33.42, 43.3); None if not."""
    parts = (text or "").replace(",", " ").split()
    try:
        latitude, longitude = float(parts[0]), float(parts[1])
    except (IndexError, ValueError):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return latitude, longitude


def _first_element(parent: etree._Element | None) -> etree._Element | None:
    if parent is None:
        return None
    return next((c for c in parent if isinstance(c.tag, str)), None)


def _plain(element: etree._Element | None) -> str:
    if element is None:
        return ""
    parts = []
    for node in element.iter():
        if node is not element and local_name(node) == "output":
            parts.append("${" + (node.get("value") or "").rsplit("/", 1)[-1] + "}")
            if node.tail:
                parts.append(node.tail)
        elif node is element:
            parts.append(node.text or "")
        else:
            parts.append((node.text or "") + (node.tail or ""))
    return " ".join("".join(parts).split())


def _resolve(ref: str, context: str) -> str:
    ref = ref.strip()
    if ref.startswith("/"):
        return ref
    return f"{context}/{ref}" if context else f"/{ref}"


def _bind_type(raw: str | None, kind: str) -> str:
    if kind == "repeat":
        return "repeat"
    if kind == "group":
        return "structure"
    if not raw:
        return "string"
    bare = raw.split(":", 1)[-1]
    return {"integer": "int", "select1": "string", "select": "string", "odk:rank": "string"}.get(
        bare, bare)
