"""A submission's answers laid out as its form: groups as headed sections, repeats as numbered
blocks, choices by their labels in the reader's language, identifying fields masked for readers
without the permission (their values never reach the page; an exact location becomes the point
the form gives the submission's district). Quasi-identifying fields (sex, age group...) are read
by everyone who may read the submission.

Built from the raw XML of one version and the structure of the form version it was filled with,
so an old version reads with its own labels; the diff between versions compares these layouts.
"""

from __future__ import annotations

import csv
import io
import mimetypes
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from lxml import etree

from forms import FormStructure
from forms.structure import Field, Language
from forms.xml import local_name
from server.kernel import i18n

MASK = "••••••"
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


@dataclass
class Answer:
    path: str  # from the root, with repeat positions: /issue[2]/issue_category
    field: Field
    label: str
    raw: str
    masked: bool
    text: str = ""  # what the reader sees; empty when masked
    items: list[str] = field(default_factory=list)  # a select-multiple's labels
    file: str | None = None  # an attachment's name
    file_sha256: str | None = None
    is_image: bool = False
    geopoint: tuple[float, float] | None = None
    personal: bool = False  # marked identifying, itself or a group around it
    coarse: bool = False  # an identifying location shown as its district's point

    kind = "answer"


@dataclass
class Section:
    kind: str  # "group" or "entry" (one instance of a repeat)
    path: str
    label: str
    children: list = field(default_factory=list)
    number: int | None = None


@dataclass
class Repeat:
    path: str
    label: str
    entries: list[Section]

    kind = "repeat"


def pick(labels: dict[str, str], code: str) -> str | None:
    """A label in the language `code` (ar, ckb, en), else the form's default, else any."""
    for name, text in labels.items():
        if name == code or Language.from_name(name).code == code:
            return text
    return labels.get("default") or next(iter(labels.values()), None)


@lru_cache(maxsize=32)
def file_choices(csv_bytes: bytes) -> dict[str, dict[str, str]]:
    """A select_one_from_file's choices: value → {language code or "default": label}."""
    choices = {}
    for row in csv.DictReader(io.StringIO(csv_bytes.decode("utf-8-sig"))):
        name = (row.get("name") or "").strip()
        if not name:
            continue
        labels = {key.split("_", 1)[1]: value for key, value in row.items()
                  if key and key.startswith("label_") and value}
        if row.get("label"):
            labels["default"] = row["label"]
        choices[name] = labels
    return choices


def choice_options(structure_field: Field | None, code: str,
                   files: dict[str, dict[str, dict[str, str]]]) -> list[tuple[str, str]]:
    """(value, label) of a select's choices in the reader's language, for filter menus."""
    if structure_field is None:
        return []
    if structure_field.choices_file:
        return [(name, pick(labels, code) or name) for name, labels
                in files.get(structure_field.choices_file, {}).items()]
    return [(c.name, pick(c.labels, code) or c.name) for c in structure_field.choices]


def layout(structure: FormStructure, root: etree._Element, *, code: str, personal_ok: bool,
           files: dict[str, dict[str, dict[str, str]]],
           attachments: dict[str, str | None]) -> list:
    """The answers of one version, as the form lays them out."""
    children: dict[str, list[Field]] = defaultdict(list)
    for f in structure.fields:
        children[f.path.rsplit("/", 1)[0]].append(f)
    district = None if personal_ok else coarse_point(structure, root)

    def walk(element: etree._Element, schema_path: str, data_path: str, personal: bool) -> list:
        out: list = []
        by_name: dict[str, list[etree._Element]] = defaultdict(list)
        for child in element:
            if isinstance(child.tag, str):
                by_name[local_name(child)].append(child)
        for f in children[schema_path]:
            if f.path == "/meta":
                continue
            hidden = personal or f.personal  # personal data, shown or not
            label = f.label(code)
            found = by_name.get(f.name, [])
            if f.kind == "group":
                inner = walk(found[0], f.path, f"{data_path}/{f.name}", hidden) if found else []
                if inner:
                    out.append(Section("group", f"{data_path}/{f.name}", label, inner))
            elif f.kind == "repeat":
                entries = [Section("entry", f"{data_path}/{f.name}[{n}]", label,
                                   walk(e, f.path, f"{data_path}/{f.name}[{n}]", hidden), n)
                           for n, e in enumerate(found, start=1)]
                if entries:
                    out.append(Repeat(f"{data_path}/{f.name}", label, entries))
            elif f.control is not None:
                raw = (found[0].text or "").strip() if found else ""
                if raw or (f.required and not f.relevant):
                    masked = hidden and not personal_ok
                    if masked and raw and f.type == "geopoint" and not f.repeats \
                            and district is not None:
                        item = _coarsened(f, f"{data_path}/{f.name}", label, district)
                    else:
                        item = _answer(f, f"{data_path}/{f.name}", label, raw, masked, code,
                                       files, attachments)
                    item.personal = hidden
                    out.append(item)
        return out

    return walk(root, "", "", False)


def _answer(f: Field, path: str, label: str, raw: str, masked: bool, code: str,
            files: dict[str, dict[str, dict[str, str]]],
            attachments: dict[str, str | None]) -> Answer:
    answer = Answer(path=path, field=f, label=label, raw=raw, masked=masked)
    if masked or not raw:
        return answer
    if f.control in ("select1", "select"):
        labels = files.get(f.choices_file, {}) if f.choices_file else {
            c.name: c.labels for c in f.choices}
        names = raw.split() if f.select_multiple else [raw]
        texts = [pick(labels[n], code) or n if n in labels else n for n in names]
        if f.select_multiple:
            answer.items = texts
        answer.text = "، ".join(texts) if code != "en" else ", ".join(texts)
    elif f.type == "binary":
        answer.file, answer.text = raw, raw
        answer.file_sha256 = attachments.get(raw)
        answer.is_image = (mimetypes.guess_type(raw)[0] or "") in IMAGE_TYPES
    elif f.type == "geopoint":
        parts = raw.split()
        try:
            answer.geopoint = (float(parts[0]), float(parts[1]))
            answer.text = coordinates_text(*answer.geopoint)
        except (IndexError, ValueError):
            answer.text = raw
    else:
        answer.text = value_text(f.type, raw)
    return answer


def coarse_point(structure: FormStructure, root: etree._Element) -> tuple[float, float] | None:
    """The point the form gives this submission's place: the answer to the last field outside
    repeats (governorate, then district) whose choices carry points; None if there is none."""
    places = [f for f in structure.fields if f.control == "select1" and not f.repeats
              and not f.personal and any(c.point for c in f.choices)]
    if not places:
        return None
    place = places[-1]
    element = root
    for name in place.path.strip("/").split("/"):
        element = next((c for c in element if isinstance(c.tag, str)
                        and local_name(c) == name), None)
        if element is None:
            return None
    value = (element.text or "").strip()
    return next((c.point for c in place.choices if c.name == value), None)


def _coarsened(f: Field, path: str, label: str, point: tuple[float, float]) -> Answer:
    """An exact location as a reader without the permission sees it: the district's point. Its
    raw value is that point too, so that comparing versions tells nothing finer."""
    text = coordinates_text(*point)
    return Answer(path=path, field=f, label=label, raw=text, masked=False, text=text,
                  geopoint=point, coarse=True)


def coordinates_text(latitude: float, longitude: float) -> str:
    return f"{latitude:.6f}, {longitude:.6f}"


def value_text(kind: str, raw: str) -> str:
    """A typed answer as the reader's language writes it; the raw text if it does not parse."""
    try:
        if kind == "date":
            return i18n.datetime_text(date.fromisoformat(raw[:10]))
        if kind == "dateTime":
            return i18n.datetime_text(datetime.fromisoformat(raw))
        if kind == "int":
            return i18n.number_text(int(raw))
        if kind == "decimal":
            return i18n.number_text(float(raw))
    except ValueError:
        return raw
    return raw


def flatten(nodes: list) -> dict[str, Answer]:
    """Every answer by its path, for comparing two versions."""
    found: dict[str, Answer] = {}
    for node in nodes:
        if node.kind == "answer":
            found[node.path] = node
        elif node.kind == "repeat":
            for entry in node.entries:
                found.update(flatten(entry.children))
        else:
            found.update(flatten(node.children))
    return found


def first_geopoint(nodes: list) -> Answer | None:
    for answer in flatten(nodes).values():
        if answer.geopoint is not None and "[" not in answer.path:
            return answer
    return None
