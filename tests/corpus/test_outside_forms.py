"""Every real form of the outside corpus (`../shared/corpus`, see its SOURCES.md) that pyxform compiles
is loaded into the server, listed and served to a phone, and its structure read without error.

The corpus is whatever public projects keep in their test folders: XLSForms, XForms, but also data
CSVs, submissions and deliberately broken XLSForms. Every candidate file is compiled once per test
session (no ODK Validate: seconds per form, hundreds of forms) and must either compile or be refused
with a FormError a form designer can read; anything else is a crash.

Several files share a form id ("data", "tutorial", "one_question"...) with different content, as
happens on a real server when people reuse a template. They are loaded in order into one server per
database, as an administrator would: a new version becomes the current one, the same version with
different content is refused with 409.1 and counted. Each form is checked on the phone right after
it is loaded, while it is the current version of its id.

Run with `-s` to see the counts.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import quote

import pytest

from forms import (
    CompiledForm,
    FormError,
    FormStructure,
    detect_file_type,
    read_structure,
)
from server.kernel.problems import FORM_INVALID, FORM_VERSION_CONFLICT, Problem
from tests.support.compiled import compile_once

CANDIDATE_SUFFIXES = (".xlsx", ".xls", ".xlsm", ".csv", ".md", ".xml")
XLSFORM_TYPES = ("xlsx", "xls", "csv", "md")
SOURCE_TYPES = XLSFORM_TYPES + ("xform",)
# How pyxform locates a problem: "[row : 34] Missing calculation.", "... on row 6 ...".
PYXFORM_ROW = re.compile(r"\brow\s*:?\s*(\d+)", re.IGNORECASE)
TEMPORARY_PATH = re.compile(
    "|".join(re.escape(p) for p in {"/tmp/", "/var/folders/", tempfile.gettempdir() + "/"}))


@dataclass(frozen=True)
class Candidate:
    """One corpus file and what compiling it gave."""

    path: Path
    name: str  # relative to the corpus
    data: bytes
    file_type: str | None  # detect_file_type's verdict; None when not a form of any kind
    compiled: CompiledForm | None = None
    error: FormError | None = None
    crash: str | None = None


@dataclass
class Discovery:
    corpus: Path
    candidates: list[Candidate]

    @property
    def compiled(self) -> list[Candidate]:
        return [c for c in self.candidates if c.compiled is not None]

    @property
    def refused(self) -> list[Candidate]:
        return [c for c in self.candidates if c.error is not None]

    @property
    def crashed(self) -> list[Candidate]:
        return [c for c in self.candidates if c.crash is not None]

    def compiled_by_type(self) -> Counter:
        return Counter(c.compiled.source_type for c in self.compiled)

    def refused_by_kind(self) -> Counter:
        return Counter("xlsform" if c.file_type in XLSFORM_TYPES
                       else "xml" if c.file_type == "xform" else "not a form"
                       for c in self.refused)

    def summary(self) -> str:
        by_type = self.compiled_by_type()
        refused = self.refused_by_kind()
        clear = sum(1 for c in self.refused if not refusal_problems(c))
        return (
            f"{len(self.candidates)} files examined; "
            f"compiled {len(self.compiled)} ("
            + ", ".join(f"{t} {by_type[t]}" for t in SOURCE_TYPES)
            + f"); refused {len(self.refused)}, {clear} with a clear error ("
            f"broken XLSForms {refused['xlsform']}, XML not a usable XForm {refused['xml']}, "
            f"not a form {refused['not a form']}); crashes {len(self.crashed)}"
        )


@cache
def discover(corpus: Path) -> Discovery:
    """Compile every candidate file of the corpus once per test session."""
    candidates = []
    for path in sorted(p for p in corpus.rglob("*")
                       if p.is_file() and p.suffix.lower() in CANDIDATE_SUFFIXES):
        data = path.read_bytes()
        try:
            file_type = detect_file_type(data)
        except FormError:
            file_type = None
        common = dict(path=path, name=path.relative_to(corpus).as_posix(), data=data,
                      file_type=file_type)
        try:
            candidates.append(Candidate(**common, compiled=compile_once(data)))
        except FormError as error:
            candidates.append(Candidate(**common, error=error))
        except Exception as error:  # noqa: BLE001  (a crash is what this test looks for)
            candidates.append(Candidate(**common, crash=f"{type(error).__name__}: {error}"))
    return Discovery(corpus, candidates)


def refusal_problems(candidate: Candidate) -> list[str]:
    """What makes a refusal unclear to a form designer (an empty list when it is clear)."""
    error = candidate.error
    problems = []
    if not error.message.strip() or not str(error).strip():
        problems.append("the message is empty")
    if TEMPORARY_PATH.search(str(error)):
        problems.append(f"the message shows a temporary file path: {error}")
    if candidate.file_type in XLSFORM_TYPES:
        said = PYXFORM_ROW.search(str(error.__cause__ or ""))
        if said and error.row != int(said.group(1)):
            problems.append(f"pyxform named row {said.group(1)} but FormError.row is "
                            f"{error.row!r}: {error.__cause__}")
    return problems


@pytest.fixture(scope="module")
def discovered(shared_corpus) -> Discovery:
    return discover(shared_corpus)


def test_every_corpus_file_compiles_or_is_refused_with_a_clear_error(discovered):
    print(f"\noutside corpus: {discovered.summary()}")

    assert not discovered.crashed, "compile_form crashed instead of raising FormError:\n" + \
        "\n".join(f"  {c.name}: {c.crash}" for c in discovered.crashed)
    unclear = {c.name: refusal_problems(c) for c in discovered.refused if refusal_problems(c)}
    assert not unclear, "refused without a clear error:\n" + "\n".join(
        f"  {name}: {'; '.join(problems)}" for name, problems in unclear.items())
    # The corpus holds every kind of source; if one kind stops compiling, something broke.
    assert all(discovered.compiled_by_type()[t] for t in SOURCE_TYPES), \
        discovered.compiled_by_type()


# -- loading, listing and serving -----------------------------------------------------------------

@dataclass
class LoadTally:
    loaded: int = 0  # new versions
    identical: int = 0  # the same form id, version and XForm as a file loaded before
    # (an identical copy of an older version leaves the current one served: counted as served)
    conflicts: list[str] = field(default_factory=list)  # refused with 409.1
    refused_ids: list[str] = field(default_factory=list)  # form ids no URL can carry, refused
    served: int = 0
    with_media: int = 0
    all_media_found: int = 0
    media_files: int = 0
    media_found: int = 0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"loaded {self.loaded} new versions + {self.identical} identical duplicates; "
                f"conflicts refused with {FORM_VERSION_CONFLICT.code} {len(self.conflicts)}; "
                f"ids with '/' refused {len(self.refused_ids)}; "
                f"listed and served {self.served}; "
                f"forms with media {self.with_media}, all media found for "
                f"{self.all_media_found} ({self.media_found}/{self.media_files} files); "
                f"failures {len(self.failures)}")


def media_places(form: Path) -> list[Path]:
    """Where a project keeps a form's media: next to it, in `<form>-media/` as ODK Collect names
    that folder, or in a `media/` folder beside or above (collect/test-forms/.../media/)."""
    folder, stem = form.parent, form.stem
    places = []
    for base in (folder, folder / "media", folder.parent / "media"):
        places += [base, base / f"{stem}-media"]
    return places


def find_media(candidate: Candidate, structure: FormStructure,
               corpus: Path) -> tuple[dict[str, bytes], list[str]]:
    """The media files the form references that the corpus has: ({name: bytes}, [missing])."""
    found, missing = {}, []
    for media in structure.media:
        if media.name == "itemsets.csv" and candidate.compiled.itemsets_csv is not None:
            found[media.name] = candidate.compiled.itemsets_csv  # pyxform wrote it
            continue
        for place in media_places(candidate.path):
            path = (place / media.name).resolve()
            if path.is_relative_to(corpus.resolve()) and path.is_file() \
                    and path != candidate.path.resolve():
                found[media.name] = path.read_bytes()
                break
        else:
            missing.append(media.name)
    return found, missing


def structure_problems(structure: FormStructure) -> list[str]:
    problems = []
    paths = Counter(f.path for f in structure.fields)
    duplicates = sorted(path for path, count in paths.items() if count > 1)
    if duplicates:
        problems.append(f"field paths read more than once: {duplicates}")
    kinds = {f.path: f.kind for f in structure.fields}
    for f in structure.fields:
        parent = f.path.rsplit("/", 1)[0]
        if parent and kinds.get(parent) not in ("group", "repeat"):
            problems.append(f"{f.path}: its parent {parent} is not a group or repeat")
        ancestors = [f.path[:i] for i in range(1, len(f.path)) if f.path[i] == "/"]
        expected = tuple(a for a in ancestors if kinds.get(a) == "repeat")
        if f.repeats != expected:
            problems.append(f"{f.path}: repeats {f.repeats}, but its enclosing repeats are "
                            f"{expected}")
    return problems


def check_served(phone, candidate: Candidate, result, media: dict[str, bytes]) -> None:
    """The phone sees this form as the current version of its id, exactly as loaded."""
    structure = result.structure
    entries = phone.form_list(quote(structure.form_id, safe=""))
    assert [e["formID"] for e in entries] == [structure.form_id], entries
    (entry,) = entries
    assert entry.get("version", "") == structure.version, entry
    try:
        xform = phone.download_form(entry)  # checks the md5 the form list announced
    except AssertionError as error:
        raise AssertionError(f"the form list's downloadUrl {entry['downloadUrl']} does not "
                             f"serve the form: {str(error)[:200]}") from None
    assert xform == result.version.xform, "served bytes differ from the loaded XForm"
    if candidate.compiled.source_type == "xform":
        assert xform == candidate.data, "an XForm is served byte for byte as it was loaded"
    served = read_structure(xform)
    assert (served.form_id, served.version) == (structure.form_id, structure.version)
    problems = structure_problems(served)
    assert not problems, "; ".join(problems)
    if media:
        assert entry.get("manifestUrl"), "media attached but no manifestUrl in the form list"
        manifest = {m["filename"]: m for m in phone.manifest(entry)}
        for name, data in media.items():
            assert name in manifest, f"{name} attached but not in the manifest"
            assert manifest[name]["hash"] == "md5:" + hashlib.md5(data).hexdigest(), name
            assert phone.download_media(manifest[name]) == data, name


def check_still_current(phone, form_id: str, current) -> None:
    entries = phone.form_list(quote(form_id, safe=""))
    assert [(e["formID"], e["hash"]) for e in entries] == [(form_id, f"md5:{current.xform_md5}")]


def check_conflict_left_form_alone(phone, candidate: Candidate,
                                   structure: FormStructure) -> None:
    """A refused version changes nothing: phones still get what was loaded before."""
    entries = phone.form_list(quote(structure.form_id, safe=""))
    assert [e["formID"] for e in entries] == [structure.form_id], entries
    assert entries[0]["hash"] != "md5:" + hashlib.md5(candidate.compiled.xform).hexdigest()


def test_every_compiled_corpus_form_is_loaded_listed_and_served(discovered, load, phone, session):
    tally = LoadTally()
    for candidate in discovered.compiled:
        try:
            structure = read_structure(candidate.compiled.xform)
            media, missing = find_media(candidate, structure, discovered.corpus)
            try:
                result = load(candidate.data, media)
            except Problem as problem:
                session.rollback()
                if problem.type is FORM_INVALID and "/" in structure.form_id:
                    # The router decodes %2F before matching: such an id cannot be served, and
                    # refusing it clearly is as good as serving it.
                    tally.refused_ids.append(f"{candidate.name} ({structure.form_id!r})")
                    continue
                if problem.type is not FORM_VERSION_CONFLICT:
                    raise
                tally.conflicts.append(f"{candidate.name} ({structure.form_id!r} version "
                                       f"{structure.version!r})")
                check_conflict_left_form_alone(phone, candidate, structure)
                continue
            if result.created:
                tally.loaded += 1
            else:
                tally.identical += 1
                if result.form.current_version_id != result.version.id:
                    # The same XForm as an older version: loading it again changes nothing and
                    # phones keep getting the current version.
                    check_still_current(phone, structure.form_id, result.form.current_version)
                    tally.served += 1
                    continue
            check_served(phone, candidate, result, media)
            tally.served += 1
            if structure.media:
                tally.with_media += 1
                tally.all_media_found += not missing
                tally.media_files += len(structure.media)
                tally.media_found += len(media)
        except Exception as error:  # noqa: BLE001  (every form is tried; all failures listed)
            session.rollback()
            what = f"refused {error.code}" if isinstance(error, Problem) else type(error).__name__
            tally.failures.append(f"{candidate.name}: {what}: {error}")

    database = session.get_bind().dialect.name
    print(f"\noutside corpus [{database}]: {discovered.summary()}; {tally.summary()}")

    assert not tally.failures, f"{len(tally.failures)} compiled forms failed on the server:\n" + \
        "\n".join(f"  {failure}" for failure in tally.failures)
    assert tally.loaded + tally.identical + len(tally.conflicts) + len(tally.refused_ids) \
        == len(discovered.compiled)
    assert tally.served == tally.loaded + tally.identical
