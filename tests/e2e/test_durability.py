"""A real `muntada serve` killed in the middle of a submission, on SQLite and on PostgreSQL: when
the phone tries again against the restarted server, nothing is lost and nothing is counted twice.

Two crashes, each a SIGKILL of the whole server (gunicorn master and its one worker, as a power
cut would):
- while the body of a submission with two photos is still arriving: the phone has had no answer,
  and its retry must be stored whole, once;
- after the submission's transaction has committed and before the 201 leaves (a `sitecustomize`
  in tests/e2e/crash_shim, active only in that server, kills it as `server.services.receiving.receive`
  returns): the phone saw the connection drop, and its identical retry must be recognised as the
  same submission.
The database is read directly (sqlite3 or psycopg), the stored files on disk. Two more tests:
a phone stuck half-way must not hold up the others, and twenty identical posts at once leave one
submission.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.conftest import (
    STOP_TIMEOUT,
    ServerProcess,
    collect_url,
    free_port,
    muntada_environment,
    run_cli,
)
from tests.support.instances import new_id
from tests.support.meeting import meeting, meeting_form
from tests.support.phone import Phone, Reply, http_transport

pytestmark = pytest.mark.e2e

CRASH_SHIM = Path(__file__).resolve().parent / "crash_shim"
CRASH_MARKER = "crash shim: SIGKILL after commit of"  # written by crash_shim/sitecustomize.py
RESPONSE_MESSAGE = "{http://openrosa.org/http/response}message"
NEW_MESSAGE = "Full submission upload was successful!"
RETRY_MESSAGE = "This submission was already received; any new files were added."
CONSUME_TIMEOUT = 10
OTHER_PHONE_TIMEOUT = 5  # a small submission takes well under a second
THREADS_PER_WORKER = 4  # server.app.wsgi_server.run


@dataclass
class Site:
    """A data folder and database set up with the command line; servers started on it at will,
    always on the same port (the phone's server URL names it)."""

    root: Path
    data_dir: Path
    port: int
    env: dict[str, str]
    database_url: str | None  # None: SQLite in the data folder
    officer_url: str
    servers: list[ServerProcess] = field(default_factory=list)

    @property
    def blob_root(self) -> Path:
        return self.data_dir / "blobs"

    def serve(self, **extra_env: str) -> ServerProcess:
        server = ServerProcess({**self.env, **extra_env}, self.port,
                               self.root / f"serve-{len(self.servers)}.log")
        self.servers.append(server)
        server.wait_ready(f"{self.officer_url}/formList")
        return server

    def kill_servers(self) -> None:
        """SIGKILL every server started on the site, dead or alive, and reap it."""
        while self.servers:
            server = self.servers.pop()
            try:
                os.killpg(server.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            server.stop()  # reaps the process and closes its log

    def serve_crashing_after_commit(self) -> ServerProcess:
        return self.serve_crashing(MUNTADA_TEST_CRASH_AFTER_COMMIT="1")

    def serve_crashing(self, **crash: str) -> ServerProcess:
        """A server with the crash shim on the path, armed by `crash` (see crash_shim)."""
        path = os.pathsep.join(p for p in (str(CRASH_SHIM), self.env.get("PYTHONPATH")) if p)
        return self.serve(PYTHONPATH=path, **crash)

    def rows(self, sql: str, *params) -> list[tuple]:
        """Run a query on the site's database directly; `?` placeholders."""
        if self.database_url is None:
            with closing(sqlite3.connect(self.data_dir / "muntada.sqlite", timeout=30)) as db:
                return db.execute(sql, params).fetchall()
        import psycopg

        dsn = self.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(dsn) as db:
            return db.execute(sql.replace("?", "%s"), params).fetchall()


@pytest.fixture(scope="module")
def crash_site(e2e_database_url, tmp_path_factory) -> Site:
    """The meeting form (two photos) loaded and an app user created with the CLI; one worker, so
    the process receiving a submission is known."""
    root = tmp_path_factory.mktemp("crashes")
    port = free_port()
    env = muntada_environment(root / "data", port, e2e_database_url, workers=1)
    form = root / "meeting.md"
    form.write_bytes(meeting_form())
    run_cli(env, "forms", "add", str(form))
    officer = run_cli(env, "app-users", "create", "officer")
    return Site(root=root, data_dir=root / "data", port=port, env=env,
                database_url=e2e_database_url, officer_url=collect_url(officer))


@pytest.fixture
def site(crash_site: Site):
    """The module's site; every server a test starts is killed when it ends, dead or alive (no
    graceful stop: nothing here needs one, and it would cost seconds)."""
    try:
        yield crash_site
    finally:
        crash_site.kill_servers()


def kill_server(server: ServerProcess) -> None:
    """SIGKILL the whole process group at once: master and workers, no chance to clean up."""
    try:
        os.killpg(server.process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    assert server.process.wait(STOP_TIMEOUT) == -signal.SIGKILL


def photos() -> dict[str, bytes]:
    # Sizes chosen so that half of the body ends inside the second photo.
    return {"photo-1.jpg": os.urandom(1_200_000), "photo-2.jpg": os.urandom(1_800_000)}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def recorded_submission(officer_url: str, xml: bytes, attachments: dict[str, bytes]
                        ) -> tuple[str, dict[str, str], bytes]:
    """(url, headers, body) of the request `Phone.submit` sends, byte for byte, unsent."""
    sent = []

    def record(method: str, url: str, headers: dict[str, str], body: bytes | None = None
               ) -> Reply:
        sent.append((url, headers, body))
        return Reply(0, {}, b"")

    Phone(record, officer_url).submit(xml, attachments)
    (request,) = sent
    return request


def send_part(url: str, headers: dict[str, str], body: bytes, upto: int) -> socket.socket:
    """Open a connection and send the headers (announcing the whole body) and `upto` bytes."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=CONSUME_TIMEOUT)
    try:
        lines = [f"POST {parts.path}?{parts.query} HTTP/1.1", f"Host: {parts.netloc}",
                 *(f"{name}: {value}" for name, value in headers.items()),
                 f"Content-Length: {len(body)}", "Connection: close", "", ""]
        sock.sendall("\r\n".join(lines).encode("latin-1") + body[:upto])
    except BaseException:
        sock.close()
        raise
    return sock


def _tcp_queues(local_port: int, remote_port: int) -> tuple[int, int] | None:
    """(tx_queue, rx_queue) of the IPv4 socket local_port -> remote_port, from /proc/net/tcp."""
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote, queues = fields[1], fields[2], fields[4]
            if int(local.split(":")[1], 16) == local_port \
                    and int(remote.split(":")[1], 16) == remote_port:
                tx, rx = queues.split(":")
                return int(tx, 16), int(rx, 16)
    return None


def wait_until_server_read_everything(sock: socket.socket, server_port: int) -> None:
    """Until the server process has read every byte sent (our send queue and its receive queue
    are empty): the worker is then inside the request, waiting for the rest of the body."""
    if not Path("/proc/net/tcp").exists():
        time.sleep(1)  # not Linux: give the worker a moment to read what was sent
        return
    client_port = sock.getsockname()[1]
    deadline = time.monotonic() + CONSUME_TIMEOUT
    state = None
    while time.monotonic() < deadline:
        sending = _tcp_queues(client_port, server_port)
        receiving = _tcp_queues(server_port, client_port)
        state = (sending, receiving)
        if sending and receiving and sending[0] == 0 and receiving[1] == 0:
            return
        time.sleep(0.02)
    pytest.fail(f"the server did not read the partial body within {CONSUME_TIMEOUT} s: "
                f"(client tx, rx), (server tx, rx) = {state}")


def assert_no_answer_yet(sock: socket.socket) -> None:
    """The server is still waiting for the body: it has not answered (nor refused) anything."""
    sock.setblocking(False)
    try:
        data = sock.recv(65536)
    except BlockingIOError:
        return
    finally:
        sock.setblocking(True)
    pytest.fail(f"the server answered a request it had only half received: {data[:500]!r}")


def message(reply: Reply) -> str:
    return reply.xml().findtext(RESPONSE_MESSAGE)


def count(site: Site, table: str, instance_id: str) -> int:
    return site.rows(f"SELECT COUNT(*) FROM {table} WHERE instance_id = ?", instance_id)[0][0]


def assert_stored_once(site: Site, instance_id: str, attachments: dict[str, bytes]) -> None:
    """One submission, one version of it, every attachment held with the bytes the phone sent."""
    submissions = site.rows("SELECT id, current_def_id FROM submissions WHERE instance_id = ?",
                            instance_id)
    definitions = site.rows("SELECT id, submission_id, attachments_present, attachments_expected"
                            " FROM submission_defs WHERE instance_id = ?", instance_id)
    assert len(submissions) == 1, submissions
    assert len(definitions) == 1, definitions
    (submission_id, current_def_id), = submissions
    (def_id, def_submission_id, present, expected), = definitions
    assert (def_submission_id, current_def_id) == (submission_id, def_id)
    assert (present, expected) == (len(attachments), len(attachments))
    held = dict(site.rows("SELECT name, blob_sha256 FROM submission_attachments"
                          " WHERE submission_def_id = ?", def_id))
    assert held == {name: sha256(data) for name, data in attachments.items()}
    for name, data in attachments.items():
        path = site.blob_root / held[name][:2] / held[name][2:4] / held[name]
        assert path.is_file(), (name, path)
        assert sha256(path.read_bytes()) == sha256(data), name


def check_blob_store(site: Site) -> dict[str, list[str]]:
    """Every stored file the database names is on disk, whole; returns what is on disk and named
    by nothing (acceptable after a crash: temporary `.incoming-*` files, unreferenced blobs)."""
    blobs = dict(site.rows("SELECT sha256, size FROM blobs"))
    referenced = {sha for (sha,) in site.rows(
        "SELECT blob_sha256 FROM submission_attachments WHERE blob_sha256 IS NOT NULL"
        " UNION SELECT blob_sha256 FROM form_media WHERE blob_sha256 IS NOT NULL"
        " UNION SELECT source_sha256 FROM form_versions WHERE source_sha256 IS NOT NULL")}
    assert referenced <= blobs.keys(), sorted(referenced - blobs.keys())
    for sha, size in blobs.items():
        path = site.blob_root / sha[:2] / sha[2:4] / sha
        assert path.is_file(), f"blob {sha} is in the database but not on disk"
        data = path.read_bytes()
        assert (len(data), sha256(data)) == (size, sha), f"blob {sha} on disk is not whole"
    on_disk = {p.name for p in site.blob_root.glob("??/??/*") if p.is_file()}
    return {"incoming": sorted(p.name for p in site.blob_root.glob(".incoming-*")),
            "unreferenced": sorted(on_disk - blobs.keys())}


def report(record_property, leftovers: dict[str, list[str]]) -> None:
    """Leftovers are allowed; they are recorded (junit XML) and printed (pytest -s / -rP)."""
    for kind, names in leftovers.items():
        record_property(f"leftover_{kind}", " ".join(names))
        if names:
            print(f"leftover {kind} files in the blob store: {names}")


def test_killed_while_the_body_arrives_then_the_retry_is_stored_once(site, record_property):
    attachments = photos()
    instance_id = new_id()
    xml = meeting(photos=tuple(attachments), instance_id=instance_id)
    url, headers, body = recorded_submission(site.officer_url, xml, attachments)
    second_photo = body.index(b'name="photo-2.jpg"')
    assert second_photo < len(body) // 2 < second_photo + 1_800_000  # the cut falls inside it

    server = site.serve()
    with closing(send_part(url, headers, body, len(body) // 2)) as sock:
        wait_until_server_read_everything(sock, site.port)
        assert_no_answer_yet(sock)
        kill_server(server)

    # Nothing of a half-received submission is kept, and nothing is half-written.
    assert count(site, "submissions", instance_id) == 0
    assert count(site, "submission_defs", instance_id) == 0
    held = dict(site.rows("SELECT sha256, size FROM blobs"))
    assert not {sha256(data) for data in attachments.values()} & held.keys()
    check_blob_store(site)

    site.serve()
    with requests.Session() as session:
        reply = Phone(http_transport(session), site.officer_url).submit(xml, attachments)
    assert reply.status == 201, reply.body
    assert message(reply) == NEW_MESSAGE
    assert_stored_once(site, instance_id, attachments)
    report(record_property, check_blob_store(site))


def test_killed_after_the_commit_before_the_answer_then_the_retry_is_the_same(
        site, record_property):
    attachments = photos()
    instance_id = new_id()
    xml = meeting(photos=tuple(attachments), instance_id=instance_id)

    server = site.serve_crashing_after_commit()
    with requests.Session() as session:
        phone = Phone(http_transport(session), site.officer_url)
        with pytest.raises(requests.ConnectionError):
            phone.submit(xml, attachments)
    assert server.process.wait(STOP_TIMEOUT) == -signal.SIGKILL, server.output()
    kill_server(server)  # the worker too, should the shim have spared it
    assert f"{CRASH_MARKER} {instance_id}" in server.output()

    # The phone heard nothing, yet everything was committed before the server died.
    assert_stored_once(site, instance_id, attachments)

    site.serve()
    with requests.Session() as session:
        reply = Phone(http_transport(session), site.officer_url).submit(xml, attachments)
    assert reply.status == 201, reply.body
    assert message(reply) == RETRY_MESSAGE  # recognised as the submission already held
    assert_stored_once(site, instance_id, attachments)
    report(record_property, check_blob_store(site))


def test_a_phone_still_uploading_does_not_hold_up_other_phones(site):
    """The prelude of the first crash, a phone stalled half-way through its upload (2G, a lift),
    must not stop the other phones' submissions."""
    attachments = photos()
    slow_xml = meeting(photos=tuple(attachments))
    url, headers, body = recorded_submission(site.officer_url, slow_xml, attachments)
    other_id = new_id()
    site.serve()
    with closing(send_part(url, headers, body, len(body) // 2)) as sock, \
            requests.Session() as session:
        wait_until_server_read_everything(sock, site.port)
        reply = other_phone_submits(site, session, other_id, "a phone was still uploading")
        assert_no_answer_yet(sock)
    assert reply.status == 201, reply.body
    assert_stored_once(site, other_id, {})


def test_phones_keeping_their_connections_open_do_not_hold_up_another(site):
    """A thread that has answered waits a moment for its connection's next request: as many
    phones as the worker has threads, each keeping its connection open after a submission,
    must not keep a fifth phone waiting."""
    site.serve()
    with ExitStack() as stack:
        sessions = [stack.enter_context(requests.Session()) for _ in range(THREADS_PER_WORKER)]
        for session in sessions:
            reply = Phone(http_transport(session), site.officer_url).submit(meeting())
            assert reply.status == 201, reply.body
        other_id = new_id()
        with requests.Session() as other:
            reply = other_phone_submits(site, other, other_id, f"{THREADS_PER_WORKER} phones "
                                        "kept their connections open")
    assert reply.status == 201, reply.body
    assert_stored_once(site, other_id, {})


def other_phone_submits(site: Site, session: requests.Session, instance_id: str,
                        meanwhile: str) -> Reply:
    """A meeting from another phone, answered within OTHER_PHONE_TIMEOUT or the test fails."""
    try:
        return Phone(http_transport(session, timeout=OTHER_PHONE_TIMEOUT),
                     site.officer_url).submit(meeting(instance_id=instance_id))
    except requests.Timeout:
        pytest.fail(f"another phone's submission had no answer within {OTHER_PHONE_TIMEOUT} s "
                    f"while {meanwhile}")


def test_twenty_identical_posts_at_the_same_moment_leave_one_submission(site):
    """A phone on a flaky network, or twenty: the database's unique constraints back the
    decision up, on SQLite and PostgreSQL alike, and nobody gets a 500."""
    site.serve(MUNTADA_WORKERS="4")
    attachments = {"a.jpg": b"\xff\xd8" + b"a" * 50_000}
    instance_id = new_id()
    xml = meeting(instance_id=instance_id, photos=tuple(attachments))
    start = threading.Barrier(20)

    def post(_n: int) -> int:
        with requests.Session() as session:
            phone = Phone(http_transport(session), site.officer_url)
            start.wait(timeout=30)
            return phone.submit(xml, attachments).status

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(post, range(20)))

    assert statuses == [201] * 20, statuses
    assert_stored_once(site, instance_id, attachments)
    assert site.rows("SELECT COUNT(*) FROM f_meeting WHERE _key = ?", instance_id) == [(1,)]
