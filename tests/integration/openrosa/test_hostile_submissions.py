"""Bad input gets a clear answer and changes nothing.

Whatever a broken or hostile phone sends to POST submission (XML that is not XML, a body cut short,
a document type that reaches for a local file, a name that points outside the data folder, more
bytes than the server takes) the answer is an OpenRosa error the officer can read, with no stack
trace, SQL, path or file content in it; and no row, no stored file and no file anywhere else
comes of it.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from hashlib import sha256
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from server.app import create_app
from server.database import per_request
from server.database.models import Blob, Submission, SubmissionAttachment, SubmissionDef
from server.kernel import settings
from tests.support.instances import instance, new_id
from tests.support.meeting import FORM_ID, meeting, meeting_form
from tests.support.phone import COLLECT_HEADERS, XML_PART, Reply
from tests.support.tables import sql_names
from tests.support.xlsforms import simple_form

RESPONSE_NS = "{http://openrosa.org/http/response}"
MB = 1024 * 1024
SMALL_LIMIT = 4096
PHOTO = b"\xff\xd8\xff\xe0" + b"photo-bytes" * 100
COLLECT_PHOTO = "1764662400000.jpg"  # as Collect names a photo: the moment it was taken
BOUNDARY = "----hostile-phone-boundary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
# When a multipart body ends early or passes the limit, Werkzeug's parser drops the buffers of
# the parts it had begun without closing them; CPython frees them at once, with a ResourceWarning.
werkzeug_drops_part_buffers = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <function SpooledTemporaryFile.__del__"
    ":pytest.PytestUnraisableExceptionWarning")
# What must never reach an answer: a stack trace, SQL, the database driver, a path, file content.
LEAKS = ("traceback", 'file "', "select ", "insert into", "sqlalchemy", "psycopg", "sqlite3",
         "/work", "/tmp", "/etc/", "/root", "root:x:", "daemon:x:")


@pytest.fixture
def submission_limit() -> int:
    """The largest body the server accepts: the default, unless a test parametrizes it."""
    return next(s.default for s in settings.SETTINGS if s.name == "MAX_SUBMISSION_BYTES")


@pytest.fixture
def app(database, tmp_path, submission_limit):
    """conftest's app with the test's upload limit and no SECRET_KEY given: the server makes its
    own key and keeps it in its data folder, the very file an external entity would reach for."""
    app = create_app({
        "TESTING": True,
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database,
        "SECRET_KEY": None,
        "VALIDATE_FORMS": False,
        "PUBLIC_URL": "http://muntada.test:5000",
        "MAX_SUBMISSION_BYTES": submission_limit,
    })
    yield app
    per_request.of(app).engine.dispose()


@pytest.fixture
def form(load):
    return load(meeting_form())


class Server:
    """What a test checks of the server: what it holds, and what its answers show."""

    def __init__(self, app, session):
        self.app, self.session = app, session
        self.data_dir = Path(app.config["DATA_DIR"])
        self.secret_key_file = self.data_dir / "secret_key"

    def holdings(self) -> dict:
        """Everything a submission could leave behind: its rows and the blob store's files."""
        self.session.rollback()
        held = {model.__tablename__: self.session.scalar(
            sa.select(sa.func.count()).select_from(model))
            for model in (Submission, SubmissionDef, SubmissionAttachment, Blob)}
        blobs = self.data_dir / "blobs"
        held["files in the blob store"] = sorted(
            str(p.relative_to(blobs)) for p in blobs.rglob("*") if p.is_file()
        ) if blobs.is_dir() else []
        return held

    def assert_reveals_nothing(self, reply: Reply, what: str = "") -> None:
        answer = (reply.body.decode("utf-8", "replace") + "\n"
                  + "\n".join(f"{k}: {v}" for k, v in reply.headers.items())).lower()
        for leak in (*LEAKS, str(self.data_dir).lower(), self.app.config["SECRET_KEY"].lower()):
            assert leak not in answer, f"{what}: the answer shows {leak!r}: {reply.body!r}"

    def assert_refused(self, reply: Reply, status: int, says: str = "", what: str = "") -> None:
        """A refusal Collect shows the officer: OpenRosa XML, nature="error", nothing leaked."""
        assert reply.status == status, f"{what}: {reply.body!r}"
        assert reply.headers["Content-Type"].startswith("text/xml"), what
        assert reply.headers["X-OpenRosa-Version"] == "1.0", what
        root = reply.xml()
        assert root.tag == f"{RESPONSE_NS}OpenRosaResponse", f"{what}: {reply.body!r}"
        message = root.find(f"{RESPONSE_NS}message")
        assert message is not None and message.get("nature") == "error", f"{what}: {reply.body!r}"
        assert says in message.text, f"{what}: {message.text}"
        self.assert_reveals_nothing(reply, what)


@pytest.fixture
def server(app, session) -> Server:
    return Server(app, session)


def multipart(*parts: tuple[str, bytes]) -> bytes:
    """A multipart/form-data body of (part name, content) parts, framed as Collect frames it."""
    body = b""
    for name, content in parts:
        body += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
                 f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                 ).encode() + content + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


def send_raw(client, phone, body: io.RawIOBase, environ: dict[str, object]) -> Reply:
    """POST a body the test client cannot fake, which would measure it and set Content-Length:
    one that streams, or one that ends before the Content-Length it announced."""
    built = EnvironBuilder(urlsplit(phone.server_url).path + "/submission", method="POST",
                           headers=COLLECT_HEADERS).get_environ()
    built.pop("CONTENT_LENGTH", None)
    built.update({"CONTENT_TYPE": MULTIPART["Content-Type"], "wsgi.input": body, **environ})
    response = client.open(Request(built))
    try:
        return Reply(response.status_code, dict(response.headers), response.get_data())
    finally:
        response.close()


def with_doctype(doctype: str, *, encoding: str = "utf-8", form_id: str = FORM_ID,
                 **values: str) -> bytes:
    """A meeting instance with a document type before its root, in the encoding given."""
    xml = meeting(**values).decode().replace(f'id="{FORM_ID}"', f'id="{form_id}"', 1)
    _declaration, rest = xml.split("?>", 1)
    return f'<?xml version="1.0" encoding="{encoding.upper()}"?>{doctype}{rest}'.encode(encoding)


# -- XML that is not XML ------------------------------------------------------------------------

def test_malformed_xml_is_refused(form, phone, server):
    documents = {
        "tags that do not match": meeting().replace(b"</women>", b"</men>", 1),
        "a root never closed": meeting().removesuffix(b"</data>"),
        "a second root": meeting() + b"<data/>",
        "only a declaration": b'<?xml version="1.0" encoding="UTF-8"?>',
        "not XML at all": b"women=3&men=5",
        "well-formed, but naming no form": instance(""),
    }
    before = server.holdings()
    for what, xml in documents.items():
        reply = phone.submit(xml)
        server.assert_refused(reply, 400, says="could not be read", what=what)
    assert server.holdings() == before


def test_nul_bytes_and_invalid_utf8_are_refused(form, phone, server):
    in_a_value = meeting().replace
    documents = {
        "NUL bytes in a value": meeting(women="3\x00"),
        "a NUL before the document": b"\x00" + meeting(),
        "a NUL in the instanceID": meeting(instance_id="uuid:\x00"),
        "bytes that are not UTF-8": in_a_value(b"Street lights", b"Street \xff\xfe lights"),
        "a lone continuation byte": in_a_value(b"Street lights", b"Street \x80 lights"),
        "an overlong '/'": in_a_value(b"Street lights", b"Street \xc0\xaf lights"),
        "a surrogate in UTF-8": in_a_value(b"Street lights", b"Street \xed\xa0\x80 lights"),
        "Latin-1 declared as UTF-8": in_a_value(b"Street lights", "Café".encode("latin-1")),
    }
    before = server.holdings()
    for what, xml in documents.items():
        server.assert_refused(phone.submit(xml), 400, says="could not be read", what=what)
    assert server.holdings() == before


def test_nesting_fifty_thousand_levels_deep_is_refused(form, phone, server, record_property):
    depth = 50_000
    xml = meeting(extra="<nest>" * depth + "</nest>" * depth)
    before = server.holdings()

    started = time.perf_counter()
    reply = phone.submit(xml)
    record_property("seconds", round(time.perf_counter() - started, 3))  # measured, not asserted

    server.assert_refused(reply, 400, says="could not be read")
    assert server.holdings() == before


# -- Document types: external entities and entity expansion --------------------------------------

def test_an_external_entity_is_refused_and_no_file_content_is_answered(
        form, phone, server, record_property):
    secret = server.secret_key_file.read_text().strip()
    assert secret == server.app.config["SECRET_KEY"]  # the target exists and is the live key
    reach = {
        "/etc/passwd": '<!DOCTYPE data [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        "the server's secret key":
            f'<!DOCTYPE data [<!ENTITY x SYSTEM "file://{server.secret_key_file}">]>',
        "a parameter entity": '<!DOCTYPE data [<!ENTITY % x SYSTEM "file:///etc/passwd"> %x;]>',
        "an external DTD": '<!DOCTYPE data SYSTEM "file:///etc/passwd">',
    }
    before = server.holdings()
    started = time.perf_counter()
    for what, doctype in reach.items():
        for encoding in ("utf-8", "utf-16"):  # UTF-16 hides the bytes "<!DOCTYPE" from a grep
            xml = with_doctype(doctype, encoding=encoding, women="&x;",
                               instance_id=new_id())
            reply = phone.submit(xml)
            server.assert_refused(reply, 400, says="could not be read", what=f"{what} {encoding}")
            assert secret.encode() not in reply.body, (what, encoding)
    record_property("seconds for all eight", round(time.perf_counter() - started, 3))
    assert server.holdings() == before


BILLION_LAUGHS = '<!DOCTYPE data [<!ENTITY lol "lol">' + "".join(
    f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
    for n in range(1, 10)) + "]>"


def test_billion_laughs_is_refused_in_bounded_memory(form, phone, server, record_property):
    documents = {
        "in a value": with_doctype(BILLION_LAUGHS, women="&lol9;"),
        "in a value, UTF-16": with_doctype(BILLION_LAUGHS, encoding="utf-16", women="&lol9;"),
        "in the form id, UTF-16": with_doctype(BILLION_LAUGHS, encoding="utf-16",
                                               form_id="&lol9;"),
    }
    before = server.holdings()
    for what, xml in documents.items():
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, a high-water mark
        tracemalloc.start()
        started = time.perf_counter()
        try:
            reply = phone.submit(xml)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        record_property(f"seconds {what}", round(time.perf_counter() - started, 3))

        server.assert_refused(reply, 400, says="could not be read", what=what)
        assert peak < 50 * MB, (what, peak)
        # libxml2 allocates outside Python, where tracemalloc cannot see: a billion laughs
        # expanded would take gigabytes; the process's peak may grow a little, not that.
        rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
        assert rss_growth * 1024 < 200 * MB, (what, rss_growth)
    assert server.holdings() == before


# -- Bodies that are not what they claim --------------------------------------------------------

def test_a_body_that_is_not_the_multipart_it_should_be_is_refused(form, phone, server):
    content_types = {
        "multipart without a boundary": "multipart/form-data",
        "a boundary the body does not use": "multipart/form-data; boundary=another-boundary",
        "the XML sent bare, not multipart": "text/xml",
    }
    before = server.holdings()
    for what, content_type in content_types.items():
        reply = phone.post("submission", multipart((XML_PART, meeting())),
                           {"Content-Type": content_type})
        server.assert_refused(reply, 400, says="xml_submission_file", what=what)
    assert server.holdings() == before


@werkzeug_drops_part_buffers
def test_a_truncated_body_is_refused_and_no_half_file_is_kept(form, client, phone, server):
    body = multipart((XML_PART, meeting(photos=("a.jpg",))), ("a.jpg", PHOTO))
    in_the_photo = body.index(PHOTO) + len(PHOTO) // 2
    cut_short = {
        "inside the XML": body[:body.index(b"<attendance>")],
        "inside the photo": body[:in_the_photo],
        "before the closing boundary": body[:body.rindex(b"--" + BOUNDARY.encode())],
    }
    before = server.holdings()
    for what, truncated in cut_short.items():
        server.assert_refused(phone.post("submission", truncated, MULTIPART), 400, what=what)
    # the connection dropped inside the photo: fewer bytes came than Content-Length announced
    dropped = send_raw(client, phone, io.BytesIO(body[:in_the_photo]),
                       {"CONTENT_LENGTH": str(len(body))})
    server.assert_refused(dropped, 400, what="short of its Content-Length")
    assert server.holdings() == before
    # the same body, whole, is a good submission
    assert phone.post("submission", body, MULTIPART).status == 201


def test_a_request_without_the_xml_part_is_refused(form, phone, server):
    bodies = {
        "only a photo": multipart(("a.jpg", PHOTO)),
        "the XML under another name": multipart(("xml_submission", meeting())),
        "an empty XML part": multipart((XML_PART, b""), ("a.jpg", PHOTO)),
        "no parts at all": multipart(),
    }
    before = server.holdings()
    for what, body in bodies.items():
        reply = phone.post("submission", body, MULTIPART)
        server.assert_refused(reply, 400, says="xml_submission_file", what=what)
    assert server.holdings() == before


# -- Hostile names: instanceIDs and attachment file names ---------------------------------------

HOSTILE_NAMES = {
    "a path up and out": "../../etc/passwd",
    "an absolute path": "/etc/passwd",
    "a right-to-left override": "photo\u202egpj.exe",  # shown as "photoexe.jpg"
    "300 characters": "n" * 296 + ".jpg",
    "a NUL": "../../etc/passwd\x00.jpg",  # what C would read stops at the NUL
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_written: list[str] | None = None
_hooked = False


def _audit(event: str, args: tuple) -> None:
    if _written is None:
        return
    try:
        if event == "open" and not isinstance(args[0], int) and args[2] & _WRITE_FLAGS:
            _written.append(os.path.abspath(os.fsdecode(args[0])))
        elif event in ("os.rename", "os.link", "os.symlink"):
            _written.append(os.path.abspath(os.fsdecode(args[1])))
        elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.truncate") \
                and not isinstance(args[0], int):
            _written.append(os.path.abspath(os.fsdecode(args[0])))
    except Exception:  # an audit hook must never break what it watches
        _written.append(f"<unreadable {event} event>")


@contextmanager
def paths_written() -> Iterator[list[str]]:
    """Every path this process opens for writing, creates, renames to or removes meanwhile (from
    Python's audit events; SQLite writes its database files itself, unseen)."""
    global _written, _hooked
    if not _hooked:  # a hook stays for the life of the process: added once, idle outside here
        sys.addaudithook(_audit)
        _hooked = True
    _written = written = []
    try:
        yield written
    finally:
        _written = None


def _content(path: Path) -> bytes | str | None:
    try:
        return path.read_bytes()
    except IsADirectoryError:
        return "a directory"
    except (OSError, ValueError):  # absent, a name too long for the filesystem
        return None


def _files(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if p.is_file()}


def test_hostile_names_never_reach_the_filesystem(form, phone, server, tmp_path):
    data_dir, tmp_path = server.data_dir.resolve(), tmp_path.resolve()
    bases = (data_dir, data_dir / "blobs", tmp_path, Path.cwd(), Path("/"))
    places = {base / name.split("\x00")[0] for name in HOSTILE_NAMES.values() for base in bases}
    places_before = {place: _content(place) for place in places}
    elsewhere_before = _files(tmp_path) - _files(data_dir)

    with paths_written() as written:
        for what, name in HOSTILE_NAMES.items():
            # the name is the instanceID, the photo's answer and the part the photo comes in
            # (refused), then the instanceID of a submission whose photo Collect named
            for photo in (name, COLLECT_PHOTO):
                reply = phone.submit(meeting(instance_id=name, photos=(photo,)), {photo: PHOTO})
                server.assert_reveals_nothing(reply, what)

    assert any(p.startswith(str(data_dir / "blobs")) for p in written)  # the watch sees writes
    # the SQLite database's own files (its writers' lock file) sit beside it, here outside the
    # data folder because the test keeps its database there
    database = Path(server.app.config["DATABASE_URL"].split("///", 1)[-1]).resolve()
    own = {str(database.with_suffix(".writers"))}
    outside = [p for p in written
               if not os.path.realpath(p).startswith(str(data_dir) + os.sep) and p not in own]
    assert outside == []
    assert {place: _content(place) for place in places} == places_before
    assert _files(tmp_path) - _files(data_dir) - own == elsewhere_before
    stored = {p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*") if p.is_file()}
    named_by_content = re.compile(r"blobs/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}")
    assert {p for p in stored if not named_by_content.fullmatch(p)} == {"secret_key"}


def test_hostile_instance_ids_are_kept_only_as_data(form, phone, server, session):
    for what in ("a path up and out", "an absolute path", "a right-to-left override"):
        name = HOSTILE_NAMES[what]
        xml = meeting(instance_id=name, photos=(COLLECT_PHOTO,))

        reply = phone.submit(xml, {COLLECT_PHOTO: PHOTO})

        assert reply.status == 201, f"{what}: {reply.body!r}"
        server.assert_reveals_nothing(reply, what)
        session.rollback()
        submission = session.scalar(sa.select(Submission).where(Submission.instance_id == name))
        definition = session.get(SubmissionDef, submission.current_def_id)
        assert definition.xml == xml, what
        (attachment,) = definition.attachments
        assert (attachment.name, attachment.blob_sha256) == (
            COLLECT_PHOTO, sha256(PHOTO).hexdigest())
    assert server.app.extensions["blobs"].read(sha256(PHOTO).hexdigest()) == PHOTO


# Names ODK Collect never writes (it names a file after the moment it was made); the XML can
# carry all but the NUL and the angle brackets
UNSAFE_ATTACHMENT_NAMES = [
    "../../etc/passwd", "/etc/passwd", "media\\photo.jpg", "..", "photo\u202egpj.exe",
    "C:photo.jpg", 'say "cheese".jpg', "what?.jpg", "a|b.jpg", "*.jpg",
]


@pytest.mark.parametrize("name", UNSAFE_ATTACHMENT_NAMES)
def test_an_attachment_named_as_collect_never_names_one_is_refused(form, phone, server, name):
    before = server.holdings()

    reply = phone.submit(meeting(photos=(name,)), {name: PHOTO})

    server.assert_refused(reply, 400, says="in its name, which ODK Collect never writes",
                          what=repr(name))
    assert server.holdings() == before


# a part's name is a quoted string in its header: no quote or backslash reaches the server as is
@pytest.mark.parametrize("name", [
    *(n for n in UNSAFE_ATTACHMENT_NAMES if '"' not in n and "\\" not in n),
    "../../etc/passwd\x00.jpg", "<b>.jpg"])
def test_a_part_named_as_collect_never_names_one_is_refused_though_unreferenced(
        form, phone, server, name):
    before = server.holdings()

    reply = phone.submit(meeting(photos=(COLLECT_PHOTO,)), {COLLECT_PHOTO: PHOTO, name: PHOTO})

    server.assert_refused(reply, 400, says="in its name", what=repr(name))
    assert server.holdings() == before  # not even the photo the form references


@pytest.mark.parametrize("role", ["instanceID", "attachment name"])
def test_a_name_longer_than_the_server_keeps_is_refused_clearly(form, phone, server, role):
    name = HOSTILE_NAMES["300 characters"]
    xml = meeting(instance_id=name) if role == "instanceID" else meeting(photos=(name,))
    before = server.holdings()

    reply = phone.submit(xml, {name: PHOTO})

    server.assert_refused(reply, 400)
    assert server.holdings() == before


def test_a_device_id_too_long_for_its_column_does_not_break_the_submission(
        form, phone, server, session):
    device_id = "collect:" + "d" * 300

    reply = phone.post(f"submission?deviceID={device_id}", multipart((XML_PART, meeting())),
                       MULTIPART)

    assert reply.status == 201, reply.body
    session.rollback()
    stored = session.scalar(sa.select(Submission.device_id))
    assert stored and device_id.startswith(stored)


# -- Who may send, and how much -----------------------------------------------------------------

def test_a_form_the_app_user_may_not_fill_is_refused_and_nothing_is_kept(
        form, load, make_phone, server):
    load(simple_form("other"))
    limited = make_phone("limited", forms=("other",))
    before = server.holdings()

    reply = limited.submit(meeting(photos=("a.jpg",)), {"a.jpg": PHOTO})

    server.assert_refused(reply, 403, says="may not send the form 'meeting'")
    assert server.holdings() == before  # not even the photo reached the blob store


@pytest.mark.parametrize("submission_limit", [SMALL_LIMIT])
def test_a_body_above_the_limit_is_refused_with_413(form, phone, server, submission_limit):
    before = server.holdings()

    reply = phone.submit(meeting(photos=("a.jpg",)), {"a.jpg": PHOTO * 8})

    server.assert_refused(reply, 413, says=f"larger than the {SMALL_LIMIT} bytes")
    assert server.holdings() == before
    assert phone.submit(meeting()).status == 201  # a body within the limit is taken


class StreamedBody(io.RawIOBase):
    """A body a phone streams as it goes; counts the bytes the server reads of it."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks, self._pending, self.read_by_server = iter(chunks), b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self._pending:
            self._pending = next(self._chunks, b"")
        n = min(len(buffer), len(self._pending))
        buffer[:n], self._pending = self._pending[:n], self._pending[n:]
        self.read_by_server += n
        return n


def streamed_submission(photo_size: int) -> StreamedBody:
    """A submission whose photo of `photo_size` bytes is made as the server reads it."""
    head, tail = multipart((XML_PART, meeting(photos=("a.jpg",))), ("a.jpg", b"\0")).split(b"\0")
    photo = (b"\xff" * min(65536, photo_size - at) for at in range(0, photo_size, 65536))
    return StreamedBody(itertools.chain([head], photo, [tail]))


def send_chunked(client, phone, body: StreamedBody) -> Reply:
    """POST with Transfer-Encoding: chunked and no Content-Length, as gunicorn hands it to the
    app: the body de-chunked as it arrives, wsgi.input_terminated set."""
    return send_raw(client, phone, body, {"HTTP_TRANSFER_ENCODING": "chunked",
                                          "wsgi.input_terminated": True})


@werkzeug_drops_part_buffers
@pytest.mark.parametrize("submission_limit", [SMALL_LIMIT])
def test_a_chunked_body_above_the_limit_is_refused_with_413(
        form, client, phone, server, submission_limit):
    body = streamed_submission(photo_size=8 * MB)
    before = server.holdings()

    reply = send_chunked(client, phone, body)

    server.assert_refused(reply, 413)
    assert body.read_by_server <= SMALL_LIMIT + 65536  # it stopped reading at the limit
    assert server.holdings() == before
    assert send_chunked(client, phone, streamed_submission(photo_size=1000)).status == 201


@werkzeug_drops_part_buffers
@pytest.mark.parametrize("submission_limit", [SMALL_LIMIT])
def test_the_413_for_a_chunked_body_names_the_limit(client, phone, server, submission_limit):
    reply = send_chunked(client, phone, streamed_submission(photo_size=8 * MB))
    server.assert_refused(reply, 413, says=f"larger than the {SMALL_LIMIT} bytes")


# -- Large but legitimate ----------------------------------------------------------------------

def test_a_hundred_thousand_repeats_are_accepted_and_each_becomes_a_row(
        form, phone, session, server, record_property):
    issues = tuple((f"Issue {n}", ()) for n in range(100_000))

    started = time.perf_counter()
    reply = phone.submit(meeting(issues=issues))
    record_property("seconds", round(time.perf_counter() - started, 3))  # measured, not asserted

    assert reply.status == 201, reply.body
    server.assert_reveals_nothing(reply)
    session.rollback()
    definition = session.scalar(sa.select(SubmissionDef))
    assert definition.normalise_error is None and definition.normalised_at is not None
    issue_table = sa.table(sql_names(session, FORM_ID)["/issue"])
    assert session.scalar(sa.select(sa.func.count()).select_from(issue_table)) == 100_000
