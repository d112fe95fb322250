"""Every real submission of the outside corpus (`../shared/corpus/PAIRS.json`, see SOURCES.md) is
posted as ODK Collect posts it, to a server holding the form it was filled with, and is either
accepted with every value of its XML in the relational rows (or kept raw as a value issue), or
refused for the right reason.

Each pair (a form and its submissions) gets a server of its own, emptied before the pair starts,
so that pairs never meet: several share a form id ("data", "tutorial"...) with other content, and
some share submissions. Submissions are posted in the pair's order, except that an edit waits for
the submission it replaces, as on a phone.

Two passes per pair:

* "as loaded": the form file is loaded as an administrator would load it. Submissions from
  projects whose server named the form after its file (pyxform without a settings `form_id`
  names it "data") or stamped a version on it at publication are then rightly refused: 404.2 (no
  such form) or 404.5 (no such version).
* "as served": for those pairs, a second empty server gets the same form with the id and version
  its project served it under (the id and version attributes of the instance root, as each
  submission names them), and every submission is posted again, so that its values are checked.

What the server should answer is decided by the test (`Expectations`) from what it has loaded and
received, by ODK Central's rules: no such form, no such version, same instanceID with other
content (409.5), an edit of something never received (404.6) or already replaced (409.6).

The values are checked exactly, in both directions: every non-empty leaf of the XML is in its
table, row (the n-th repeat instance under its parent is the row with `_position` n) and column
with its typed value, or recorded as a value issue (it does not parse as its type, or the form has
no such field); no row, column value, choice row or issue appears that the XML does not explain.
Expected values are parsed here with Python's own ISO 8601 and Decimal parsers; the server's
lenient parser (`sync.values.parse`) decides only what those refuse (decimal commas, thousands
separators, the Arabic decimal separator). A decimal is held as the double nearest its text,
exactly, on both databases; a time with the offset it was sent with.

Run with `-s` to see the counts.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from lxml import etree

from forms import FormStructure, compile_form, read_structure
from forms.xml import JR_NS, XFORMS_NS, XHTML_NS, parse_xml
from server.database import per_request
from server.database.models import Base, Submission, SubmissionDef, ValueIssueRecord
from server.database.queries import forms as form_queries
from server.kernel import problems
from server.kernel.problems import CATALOGUE, Problem, ProblemType
from sync.values import ValueProblem, parse
from tests.support.tables import rows, sql_names

OPENROSA_RESPONSE = "{http://openrosa.org/http/response}message"
RETRY_MESSAGE = "This submission was already received; any new files were added."
ACCEPTED, NEW, EDIT, RETRY = "201", "201 new", "201 edit", "201 retry"
BIND_KINDS = {"int": "integer", "integer": "integer", "long": "integer", "decimal": "decimal",
              "date": "date", "dateTime": "datetime", "datetime": "datetime", "time": "time"}
GEOPOINT = ("latitude", "longitude", "altitude", "accuracy")
BIGINT = 2 ** 63 - 1
CODE_NAMES = {p.code: name for name, p in vars(problems).items() if isinstance(p, ProblemType)}


def local(element) -> str:
    return etree.QName(element).localname


def elements(parent):
    return [c for c in parent if isinstance(c.tag, str)]


# -- the corpus -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Posted:
    """One submission file and what its XML says of itself."""

    name: str  # relative to the corpus
    path: Path
    xml: bytes
    form_id: str
    version: str
    instance_id: str  # meta/instanceID, or what the server derives without one
    deprecated_id: str | None
    encrypted: bool
    pair_meta: dict


@dataclass(frozen=True)
class Pair:
    form: str
    form_path: Path
    submissions: tuple[Posted, ...]


def meta(root, name: str) -> str | None:
    for group in elements(root):
        if local(group) == "meta":
            for child in elements(group):
                if local(child) == name and (child.text or "").strip():
                    return child.text.strip()
    return None


def read_submission(corpus: Path, entry: dict) -> Posted:
    path = corpus / entry["file"]
    xml = path.read_bytes()
    root = parse_xml(xml)
    versions = [v for k, v in root.attrib.items() if etree.QName(k).localname == "version"]
    top_level = [(c.text or "").strip() for c in elements(root) if local(c) == "instanceID"]
    return Posted(
        name=entry["file"], path=path, xml=xml, form_id=(root.get("id") or "").strip(),
        # `orx:version` (ODK Collect's test forms) is the version as `version` is
        version=(root.get("version", versions[0] if versions else "")).strip(),
        # ODK Central's order, then the root's attribute (onadata's exports)
        instance_id=meta(root, "instanceID") or next(filter(None, top_level), None)
        or (root.get("instanceID") or "").strip()
        or f"sha256:{hashlib.sha256(xml).hexdigest()}",
        deprecated_id=meta(root, "deprecatedID"),
        encrypted=root.get("encrypted") == "yes"
        or any(local(c) == "base64EncryptedKey" for c in elements(root)),
        pair_meta=entry)


def read_pairs(corpus: Path) -> list[Pair]:
    pairs = json.loads((corpus / "PAIRS.json").read_text(encoding="utf-8"))["pairs"]
    return [Pair(p["form"], corpus / p["form"],
                 tuple(read_submission(corpus, s) for s in p["submissions"])) for p in pairs]


def as_a_phone_sends_them(submissions) -> list[Posted]:
    """The pair's order, but an edit after the submission it replaces when the pair has it."""
    pending, sent, ordered = list(submissions), set(), []
    while pending:
        waiting = {s.instance_id for s in pending}
        ready = next((s for s in pending if s.deprecated_id is None or s.deprecated_id in sent
                      or s.deprecated_id not in waiting), pending[0])
        pending.remove(ready)
        sent.add(ready.instance_id)
        ordered.append(ready)
    return ordered


def attachments_beside(submission: Posted) -> dict[str, bytes]:
    """Files the submission names that the corpus keeps next to it."""
    found = {}
    for element in parse_xml(submission.xml).iter():
        text = (element.text or "").strip() if isinstance(element.tag, str) else ""
        if text and "/" not in text and not elements(element):
            candidate = submission.path.parent / text
            if candidate.is_file() and candidate != submission.path:
                found[text] = candidate.read_bytes()
    return found


def instance_paths(xform: bytes) -> tuple[set[str], set[str]]:
    """The element paths of the XForm's primary instance, and which of them are repeats (a
    <repeat> in the body, or jr:template in the instance); read here, not by forms.structure."""
    html = parse_xml(xform)
    model = html.find(f"{{{XHTML_NS}}}head/{{{XFORMS_NS}}}model")
    primary = next(i for i in model.findall(f"{{{XFORMS_NS}}}instance") if i.get("id") is None)
    root = elements(primary)[0]
    repeats = set()

    def body(element, context: str) -> None:
        for child in elements(element):
            ref = child.get("nodeset") if local(child) == "repeat" else child.get("ref")
            path = (ref.strip() if ref.strip().startswith("/") else f"{context}/{ref.strip()}") \
                if ref else context
            if local(child) == "repeat":
                repeats.add("/" + path.strip("/").split("/", 1)[1])
            body(child, path)
    body(html.find(f"{{{XHTML_NS}}}body"), "")
    for element in root.iter():
        if isinstance(element.tag, str) and element.get(f"{{{JR_NS}}}template") is not None:
            names = []
            while element is not root:
                names.append(local(element))
                element = element.getparent()
            repeats.add("/" + "/".join(reversed(names)))
    return element_paths(root), repeats


def element_paths(root) -> set[str]:
    paths = set()

    def walk(element, prefix: str) -> None:
        for child in elements(element):
            paths.add(f"{prefix}/{local(child)}")
            walk(child, f"{prefix}/{local(child)}")
    walk(root, "")
    return paths


def submission_paths(s: Posted) -> set[str]:
    return element_paths(parse_xml(s.xml))


def as_served(xform: bytes, form_id: str, version: str) -> bytes:
    """The same XForm under the id and version its project's server gave it."""
    html = parse_xml(xform)
    model = html.find(f"{{{XHTML_NS}}}head/{{{XFORMS_NS}}}model")
    primary = next(i for i in model.findall(f"{{{XFORMS_NS}}}instance") if i.get("id") is None)
    root = elements(primary)[0]
    root.set("id", form_id)
    for attribute in [a for a in root.attrib if etree.QName(a).localname == "version"]:
        del root.attrib[attribute]
    if version:
        root.set("version", version)
    return etree.tostring(html, xml_declaration=True, encoding="UTF-8")


# -- what the server should answer ----------------------------------------------------------------

@dataclass
class Held:
    sha256: str
    key: str  # the submission's row key: its first instanceID
    current: bool


@dataclass
class Expectations:
    """What one server holds, as the test understands it, and what it should answer next."""

    forms: dict[str, dict[str, tuple[FormStructure, set[str]]]] = field(default_factory=dict)
    held: dict[tuple[str, str], Held] = field(default_factory=dict)  # (form id, instanceID)
    edits: Counter = field(default_factory=Counter)  # (form id, row key) → edits received

    def loaded(self, xform: bytes) -> list[str]:
        """Note a loaded version; return how the server's reading of it differs from the test's."""
        structure = read_structure(xform)
        paths, repeats = instance_paths(xform)
        self.forms.setdefault(structure.form_id, {})[structure.version] = (structure, paths)
        read = {f.path for f in structure.repeats}
        return [] if read == repeats else [
            f"the server reads the repeats {sorted(read)}; the XForm has {sorted(repeats)}"]

    def answer(self, s: Posted) -> str:
        if not s.form_id:
            return "400.6"
        if s.form_id not in self.forms:
            return "404.2"
        if s.version not in self.forms[s.form_id]:
            return "404.5"
        same = self.held.get((s.form_id, s.instance_id))
        if same is not None:
            return RETRY if same.sha256 == hashlib.sha256(s.xml).hexdigest() else "409.5"
        if s.deprecated_id is None:
            return NEW
        replaced = self.held.get((s.form_id, s.deprecated_id))
        if replaced is None:
            return "404.6"
        return EDIT if replaced.current else "409.6"

    def received(self, s: Posted, outcome: str) -> str:
        """Record an accepted submission; return its row key."""
        sha = hashlib.sha256(s.xml).hexdigest()
        if outcome == RETRY:
            return self.held[(s.form_id, s.instance_id)].key
        key = s.instance_id
        if outcome == EDIT:
            replaced = self.held[(s.form_id, s.deprecated_id)]
            replaced.current = False
            key = replaced.key
            self.edits[(s.form_id, key)] += 1
        self.held[(s.form_id, s.instance_id)] = Held(sha, key, True)
        return key


def _template(message: str) -> re.Pattern:
    parts = [re.escape(literal) + (".*" if name is not None else "")
             for literal, name, _spec, _conversion in string.Formatter().parse(message)]
    return re.compile("".join(parts), re.DOTALL)


TEMPLATES = [(p.code, p.status, _template(p.message)) for p in CATALOGUE]


def answer_of(reply) -> str:
    """What a phone reads: 201 (a new submission or an edit: the same message), 201 retry, or
    the refusal's code, recognised by its message."""
    try:
        message = reply.xml().findtext(OPENROSA_RESPONSE) or ""
    except etree.XMLSyntaxError:
        return f"{reply.status} (not an OpenRosa response: {reply.body[:200]!r})"
    if reply.status == 201:
        return RETRY if message == RETRY_MESSAGE else ACCEPTED
    codes = [code for code, status, pattern in TEMPLATES
             if status == reply.status and pattern.fullmatch(message)]
    return codes[0] if len(codes) == 1 else f"{reply.status} ({message[:200]})"


# -- what the rows should hold --------------------------------------------------------------------

@dataclass
class Expected:
    tables: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    issues: set[tuple[str, str, str]] = field(default_factory=set)  # (row key, path, raw)
    unknown: set[str] = field(default_factory=set)  # paths the form does not have
    attachments: list[str] = field(default_factory=list)
    values: int = 0  # non-empty leaves of the XML
    lost: list[str] = field(default_factory=list)  # values a row cannot hold (one cell, two)


def _datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _time(text: str) -> time:
    value = time.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


STRICT = {
    "integer": int,
    "decimal": Decimal,
    "date": date.fromisoformat,
    "datetime": _datetime,  # stored in UTC; without an offset, taken as UTC
    "time": lambda text: _time(text),  # the wall clock with the offset sent; none: UTC
}


def typed(kind: str, text: str) -> Any:
    """The value an answer's text means, by ISO 8601 and Python's Decimal; ValueProblem if none.
    Text is kept exactly as the XML has it, spaces and line breaks included."""
    if kind == "text":
        return text
    text = text.strip()
    try:
        value = STRICT[kind](text)
    except (ValueError, InvalidOperation):
        return parse(kind, text)  # the server's documented leniency; raises ValueProblem
    if kind == "integer" and abs(value) > BIGINT or kind == "decimal" and not value.is_finite():
        raise ValueProblem(f"{text!r} cannot be stored as {kind}")
    return value


def geopoint(text: str) -> tuple:
    parts = text.split()
    try:
        numbers = [Decimal(p) for p in parts]
    except InvalidOperation:
        raise ValueProblem("not numbers") from None
    if not 2 <= len(numbers) <= 4 or not all(n.is_finite() for n in numbers) \
            or not (-90 <= numbers[0] <= 90 and -180 <= numbers[1] <= 180):
        raise ValueProblem("not a geopoint")
    return tuple(numbers + [None] * (4 - len(numbers)))


def expect(structure: FormStructure, root, key: str, encrypted: bool) -> Expected:
    fields = {f.path: f for f in structure.fields}
    out = Expected()
    top = {"_key": key}
    out.tables[""].append(top)

    def value(f, element, row: dict, row_key: str) -> None:
        text = element.text or ""
        cells = [(f.path, part) for part in GEOPOINT] if f.type == "geopoint" else [(f.path, "")]
        kind = "decimal" if f.type == "geopoint" else BIND_KINDS.get(f.type, "text")
        if any(row.get(cell, (None, None))[1] is not None for cell in cells) and text.strip():
            out.lost.append(f"{f.path} appears twice in row {row_key}: one cell for two values")
        if not text.strip():
            for cell in cells:
                row.setdefault(cell, (kind, None))
            return
        out.values += 1
        try:
            numbers = geopoint(text) if f.type == "geopoint" else (typed(kind, text),)
            for cell, number in zip(cells, numbers, strict=True):
                row[cell] = (kind, number)
        except ValueProblem:
            for cell in cells:
                row[cell] = (kind, None)
            out.issues.add((row_key, f.path, text.strip()))
        if f.select_multiple:
            out.tables[f.path].extend({"_parent_key": row_key, "_position": n, "value": v}
                                      for n, v in enumerate(text.split(), start=1))
        if f.type == "binary" and text.strip() not in out.attachments:
            out.attachments.append(text.strip())

    def walk(element, prefix: str, table: str, row: dict, row_key: str) -> None:
        positions: Counter = Counter()
        for child in elements(element):
            path = f"{prefix}/{local(child)}"
            f = fields.get(path)
            text = (child.text or "").strip()
            nested = bool(elements(child))
            if f is None:
                out.unknown.add(path)
            if encrypted and path in ("/media/file", "/encryptedXmlFile") and text \
                    and text not in out.attachments:
                out.attachments.append(text)
            if f is not None and f.kind == "repeat":
                positions[path] += 1
                child_key = f"{row_key}{path[len(table):]}[{positions[path]}]"
                child_row = {"_key": child_key, "_parent_key": row_key,
                             "_position": positions[path]}
                out.tables[path].append(child_row)
                if text and not nested:
                    out.values += 1
                    out.issues.add((child_key, path, text))
                walk(child, path, path, child_row, child_key)
            elif f is not None and f.kind == "value":
                value(f, child, row, row_key)
                walk(child, path, table, row, row_key)  # children of a value: not fields
            elif nested:
                walk(child, path, table, row, row_key)  # a group, known or not: same row
            elif text:
                out.values += 1
                if not path.startswith("/meta/"):  # OpenRosa metadata (deprecatedID...) is known
                    out.issues.add((row_key, path, text))

    if encrypted:
        # an envelope has no answers until decrypted: the submission's row, its files, no issues
        for child in elements(root):
            path, text = f"/{local(child)}", (child.text or "").strip()
            if path == "/encryptedXmlFile" and text:
                out.attachments.append(text)
            if path == "/media":
                out.attachments += [t for f in elements(child) if (t := (f.text or "").strip())
                                    and t not in out.attachments]
                out.unknown |= {f"/media/{local(f)}" for f in elements(child)
                                if f"/media/{local(f)}" not in fields}
            if path not in fields:
                out.unknown.add(path)
        return out
    walk(root, "", "", top, key)
    return out


def same_value(kind: str, expected: Any, actual: Any, dialect: str) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if kind == "decimal":  # a double on both databases (see server/database/projection): the nearest
        return type(actual) is float and actual == float(expected)
    if kind == "datetime" and isinstance(actual, datetime) and actual.tzinfo is None:
        actual = actual.replace(tzinfo=UTC)  # SQLite keeps the UTC wall clock
    return type(actual) is type(expected) and actual == expected


def cell_of(column: str) -> tuple[str, str, str | None]:
    """`/loc#latitude:decimal` → (path, part, kind when the column name carries one)."""
    base, _, kind = column.partition(":")
    path, _, part = base.partition("#")
    return path, part, kind or None


def compare_row(table: str, expected: dict, actual: dict, dialect: str) -> list[str]:
    problems = []
    where = f"{table or 'form table'} row " + (
        expected.get("_key") or f"{expected['_parent_key']} #{expected['_position']}")
    for name in ("_key", "_parent_key", "_position", "value"):
        if name in expected and actual.get(name) != expected[name]:
            problems.append(f"{where}: {name} is {actual.get(name)!r}, expected "
                            f"{expected[name]!r}")
    seen = set()
    for column, stored in actual.items():
        if not column.startswith("/"):
            continue
        path, part, kind = cell_of(column)
        wanted_kind, wanted = expected.get((path, part), (None, None))
        if kind is not None and kind != wanted_kind:
            wanted = None  # another version's column for this path
        else:
            seen.add((path, part))
        if not same_value(wanted_kind or "text", wanted, stored, dialect):
            problems.append(f"{where}: {column} holds {stored!r}, the XML says {wanted!r}")
    for cell in set(k for k in expected if isinstance(k, tuple)) - seen:
        if expected[cell][1] is not None:
            problems.append(f"{where}: no column for {cell[0]}{'#' + cell[1] if cell[1] else ''}"
                            f" (value {expected[cell][1]!r})")
    return problems


def check_rows(session, s: Posted, structure: FormStructure, key: str, edits: int,
               attached: dict[str, bytes]) -> tuple[Expected, list[str]]:
    """Compare the rows and value issues of `s` (just accepted) with its XML."""
    dialect = session.get_bind().dialect.name
    out = expect(structure, parse_xml(s.xml), key, s.encrypted)
    problems = list(out.lost)
    actual = {table: rows(session, s.form_id, table) for table in sql_names(session, s.form_id)}
    mine = [r for r in actual[""] if r["_instance_id"] == s.instance_id]
    if len(mine) != 1:
        return out, [f"{len(mine)} rows in the form table for {s.instance_id}"]
    root = mine[0]
    submission_id = root["_submission_id"]
    system = ("_form_version", "_attachments_present", "_attachments_expected", "_edits",
              "_review_state")
    wanted = (s.version, len(attached), len(out.attachments), edits,
              "edited" if edits else "received")
    if tuple(root[c] for c in system) != wanted:
        problems.append(f"system columns {system} hold {tuple(root[c] for c in system)}, "
                        f"expected {wanted}")
    for table in sorted(set(actual) | set(out.tables)):
        if table not in actual:
            problems.append(f"no table {table} for {len(out.tables[table])} expected rows")
            continue
        have = [r for r in actual[table] if r["_submission_id"] == submission_id]
        want = out.tables.get(table, [])
        by = "_key" if "_key" in (have or want or [{"_key": 0}])[0] else None
        index = {(r["_key"] if by else (r["_parent_key"], r["_position"])): r for r in have}
        for expected in want:
            k = expected["_key"] if by else (expected["_parent_key"], expected["_position"])
            if k not in index:
                problems.append(f"{table or 'form table'}: no row {k}")
                continue
            problems += compare_row(table, expected, index.pop(k), dialect)
        problems += [f"{table or 'form table'}: a row the XML does not have: {k}" for k in index]

    session.rollback()
    form = form_queries.get_form(session, s.form_id)
    definition = session.scalar(sa.select(SubmissionDef).where(
        SubmissionDef.form_id == form.id, SubmissionDef.instance_id == s.instance_id))
    if definition.normalise_error:
        problems.append(f"normalising failed: {definition.normalise_error[:300]}")
    issues = {(i.row_key, i.path, i.raw.strip()) for i in session.scalars(
        sa.select(ValueIssueRecord).where(ValueIssueRecord.submission_def_id == definition.id))}
    problems += [f"value {raw!r} at {path} (row {k}) is neither in the rows nor a value issue"
                 for k, path, raw in sorted(out.issues - issues)]
    problems += [f"value issue the XML does not explain: {raw!r} at {path} (row {k})"
                 for k, path, raw in sorted(issues - out.issues)]
    return out, problems


# -- running the pairs ----------------------------------------------------------------------------

@dataclass
class Tally:
    pairs: int = 0
    servers: int = 0
    forms_refused: list[str] = field(default_factory=list)
    posted: Counter = field(default_factory=Counter)  # pass → posts
    answers: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    values: int = 0
    issues: int = 0
    unknown_paths: int = 0
    attached: int = 0
    encrypted: int = 0  # accepted encrypted submissions (their envelope becomes value issues)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        def answers(counter: Counter) -> str:
            return ", ".join(f"{a} {CODE_NAMES.get(a, '')}".rstrip() + f" ×{n}"
                             for a, n in sorted(counter.items()))
        return (f"{self.pairs} pairs on {self.servers} empty servers; "
                + "; ".join(f"{name}: posted {self.posted[name]} → {answers(self.answers[name])}"
                            for name in ("as loaded", "as served"))
                + f"; values checked {self.values}, of which value issues {self.issues} "
                f"(fields the form lacks: {self.unknown_paths} paths); encrypted accepted "
                f"{self.encrypted}; attachments found {self.attached}; forms refused {len(self.forms_refused)}; "
                f"failures {len(self.failures)}")


def empty_the_server(app, session) -> None:
    """As a new server: no forms, no submissions, no app users, no relational tables."""
    session.rollback()
    session.expunge_all()
    with per_request.of(app).engine.begin() as connection:
        for (name,) in connection.execute(
                sa.text("SELECT table_name FROM projection_tables")).all():
            connection.execute(sa.text(f'DROP TABLE IF EXISTS "{name}"'))
        if connection.dialect.name == "postgresql":
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            connection.execute(sa.text("PRAGMA defer_foreign_keys = ON"))
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())


def run(name: str, pair: Pair, forms: dict[str, bytes], server, tally: Tally) -> Counter:
    """Load `forms` (label → source) into an empty server, post the pair; return the answers."""
    app, session, load, make_phone = server
    empty_the_server(app, session)
    tally.servers += 1
    state = Expectations()
    for label, source in forms.items():
        try:
            tally.failures += [f"[{name}] {label}: {problem}"
                               for problem in state.loaded(load(source).version.xform)]
        except Problem as problem:  # every submission of it is then refused with 404.2/404.5
            session.rollback()
            tally.forms_refused.append(f"{label}: {problem.code} {problem}")
        except Exception as error:  # noqa: BLE001  (a crash is a failure; the pair goes on)
            session.rollback()
            tally.failures.append(f"[{name}] {label}: loading crashed: "
                                  f"{type(error).__name__}: {error}")
    phone = make_phone()
    answers: Counter = Counter()
    for s in as_a_phone_sends_them(pair.submissions):
        where = f"[{name}] {pair.form} ← {s.name}"
        wanted = state.answer(s)
        attached = attachments_beside(s)
        try:
            got = answer_of(phone.submit(s.xml, attached))
        except Exception as error:  # noqa: BLE001  (every submission is tried)
            got = f"crash {type(error).__name__}: {error}"
        if got == ACCEPTED and wanted in (NEW, EDIT):
            got = wanted  # the rows tell which: an edit keeps the first instanceID as its key
        tally.posted[name] += 1
        answers[got] += 1
        tally.answers[name][got] += 1
        if got != wanted:
            tally.failures.append(f"{where}: answered {got} {CODE_NAMES.get(got, '')}, expected "
                                  f"{wanted} {CODE_NAMES.get(wanted, '')}")
            continue
        if got not in (NEW, EDIT):
            continue
        key = state.received(s, got)
        structure, in_form = state.forms[s.form_id][s.version]
        try:
            out, problems = check_rows(session, s, structure, key,
                                       state.edits[(s.form_id, key)], attached)
        except Exception as error:  # noqa: BLE001
            session.rollback()
            tally.failures.append(f"{where}: checking rows crashed: {type(error).__name__}: "
                                  f"{error}")
            continue
        tally.values += out.values
        tally.issues += len(out.issues)
        tally.unknown_paths += len(out.unknown)
        tally.attached += len(attached)
        tally.encrypted += s.encrypted
        lacking = submission_paths(s) - in_form
        if out.unknown != lacking:
            problems.append(f"the server's reading of the form lacks {sorted(out.unknown)}; "
                            f"its primary instance lacks {sorted(lacking)}")
        said = set(s.pair_meta["paths_not_in_form"])
        if not said <= lacking:  # PAIRS.json leaves out what onadata adds (formhub/uuid)
            problems.append(f"PAIRS.json says the form lacks {sorted(said - lacking)}; it has "
                            "them")
        tally.failures += [f"{where}: {p}" for p in problems]
    session.rollback()
    stored = (session.scalar(sa.select(sa.func.count()).select_from(Submission)),
              session.scalar(sa.select(sa.func.count()).select_from(SubmissionDef)))
    wanted = (len({(f, h.key) for (f, _i), h in state.held.items()}), len(state.held))
    if stored != wanted:
        tally.failures.append(f"[{name}] {pair.form}: (submissions, versions) stored {stored}, "
                              f"expected {wanted}: a refusal stored something, or an "
                              "acceptance did not")
    return answers


def test_every_corpus_submission_is_accepted_with_its_values_or_refused_rightly(
        app, session, load, make_phone, shared_corpus):
    tally = Tally()
    server = (app, session, load, make_phone)
    for pair in read_pairs(shared_corpus):
        tally.pairs += 1
        source = pair.form_path.read_bytes()
        answers = run("as loaded", pair, {pair.form: source}, server, tally)
        if not answers.keys() & {"404.2", "404.5"}:
            continue
        xform = compile_form(source).xform
        loaded = read_structure(xform)
        variants = {}
        for s in pair.submissions:
            if s.form_id and (s.form_id, s.version) != (loaded.form_id, loaded.version):
                variants[f"{pair.form} as {s.form_id!r} version {s.version!r}"] = \
                    as_served(xform, s.form_id, s.version)
            elif s.form_id:
                variants[pair.form] = source
        run("as served", pair, variants, server, tally)

    database = session.get_bind().dialect.name
    print(f"\noutside submissions [{database}]: {tally.summary()}")
    assert not tally.forms_refused, tally.forms_refused
    # Each line names the pass, the pair's form and the submission file, and what went wrong.
    assert not tally.failures, f"{len(tally.failures)} failures:\n" + "\n".join(
        f"  {failure}" for failure in tally.failures)
