"""The push client against servers that are not ours, on a real socket: a stand-in answering as
ODK Central's lib/resources/submissions.js and lib/util/problem.js do (no Digest, no
X-OpenRosa-Accept-Content-Length, 201 for an identical resend, 409.1 for a different XML, 409.9 for
a version edited since, 409.18 for a deleted submission), a server that asks for Basic over plain
HTTP, and one that is busy for a moment. Plus the pure parts: addresses, splitting, the state file.
(Our own server is tested end to end in tests/e2e/test_push.py.)"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from server.kernel import problems
from server.kernel.problems import Problem
from server.services import pushing
from server.services.push_state import PushState
from sync.instance import read_identity
from sync.instance_folders import read_folder
from tests.support.instances import new_id
from tests.support.phone_folders import Filled, briefcase_storage, collect_folder
from tests.support.programme_meetings import forum_meeting

OPENROSA = ('<OpenRosaResponse xmlns="http://openrosa.org/http/response">'
            '<message nature="{nature}">{message}</message></OpenRosaResponse>')
CENTRAL_CREATED = "full submission upload was successful!"
CENTRAL_XML_CONFLICT = ("A submission already exists with this ID, but with different XML. "
                        "Resubmissions to attach additional multimedia must resubmit an identical "
                        "xml_submission_file.")
CENTRAL_DELETED = "This submission has been deleted. You may not resubmit it."
CENTRAL_EDITED_SINCE = ("You tried to update a submission, but the copy you were editing "
                        "(undefined) is now out of date. Please get the new version that has been "
                        "submitted, and make your edits again.")


class CentralLike:
    """Holds what it is sent, keyed by instanceID, and answers as Central would."""

    def __init__(self, *, user: str = "me@example.org", password: str = "pass",
                 basic_challenge: bool = False, busy: int = 0):
        self.user, self.password = user, password
        self.basic_challenge = basic_challenge
        self.busy = busy  # this many 503s first
        self.held: dict[str, bytes] = {}
        self.files: dict[str, dict[str, bytes]] = {}
        self.deleted: set[str] = set()
        self.edited: set[str] = set()
        self.posts: list[dict[str, bytes]] = []
        self.lock = threading.Lock()

    def answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        # the body is read whatever the answer, so the kept-alive connection stays in step
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if handler.command == "HEAD" and not self.basic_challenge:
            return 204, {}, b""  # Central's pre-flight asks for no login
        wanted = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if handler.headers.get("Authorization") != wanted:
            headers = {"WWW-Authenticate": 'Basic realm="x"'} if self.basic_challenge else {}
            return 401, headers, _openrosa("Could not authenticate with the provided credentials.")
        if handler.command == "HEAD":
            return 204, {}, b""
        with self.lock:
            if self.busy:
                self.busy -= 1
                return 503, {"Retry-After": "0"}, b""
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {handler.headers['Content-Type']}\r\n\r\n".encode() + body)
        parts = {part.get_param("name", header="content-disposition"):
                 part.get_payload(decode=True) for part in message.iter_parts()}
        with self.lock:
            self.posts.append(parts)
            xml = parts["xml_submission_file"]
            instance_id = read_identity(xml)[0].instance_id
            if instance_id in self.deleted:
                return 409, {}, _openrosa(CENTRAL_DELETED)
            if instance_id in self.edited:
                return 409, {}, _openrosa(CENTRAL_EDITED_SINCE)
            if instance_id in self.held and self.held[instance_id] != xml:
                return 409, {}, _openrosa(CENTRAL_XML_CONFLICT)
            self.held[instance_id] = xml
            files = self.files.setdefault(instance_id, {})
            files.update({k: v for k, v in parts.items()
                          if k not in ("xml_submission_file", "*isIncomplete*")})
        return 201, {}, _openrosa(CENTRAL_CREATED, nature="")


def _openrosa(message: str, nature: str = "error") -> bytes:
    return OPENROSA.format(message=message, nature=nature).encode()


@contextmanager
def serving(central: CentralLike) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self) -> None:
            status, headers, body = central.answer(self)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("X-OpenRosa-Version", "1.0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_HEAD = do_POST = _reply

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run(folder: Path, url: str, state: Path, **target) -> pushing.Summary:
    client = pushing.Client(pushing.target_for(url, **target), retries=2, backoff=0.01)
    try:
        with PushState(state) as opened:
            return pushing.push(read_folder(folder), client, opened)
    finally:
        client.close()


def meeting(*photos: str, **options) -> Filled:
    return Filled(forum_meeting(photos=photos, instance_id=options.pop("instance_id", new_id()),
                                **options), {name: name.encode() * 1000 for name in photos})


def test_central_s_answers_are_read_as_it_means_them(tmp_path, monkeypatch):
    # Central refuses Basic over plain HTTP; this stand-in is plain HTTP on loopback, so the push
    # is told it is HTTPS (the rule it follows is tested below)
    monkeypatch.setattr(pushing.Target, "https", property(lambda self: True))
    central = CentralLike()
    kept, deleted, edited = meeting("a.jpg"), meeting(), meeting()
    central.deleted.add(read_identity(deleted.xml)[0].instance_id)
    central.edited.add(read_identity(edited.xml)[0].instance_id)
    folder = collect_folder(tmp_path, {
        "m_1": kept, "m_2": deleted, "m_3": edited,
        "m_4": meeting(instance_id=read_identity(kept.xml)[0].instance_id, notes="changed")})
    with serving(central) as base:
        url = f"{base}/v1/projects/7"
        summary = run(folder, url, tmp_path / "state.json", user="me@example.org",
                      password="pass")
        # the same instances from a copy whose state was lost: Central answers 201 again
        again = run(folder, url, tmp_path / "lost.json", user="me@example.org", password="pass")

    assert summary.accepted == ["m_1"] and summary.held == ["m_3"]
    assert dict(summary.refused) == {"m_2": f"{CENTRAL_DELETED} (HTTP 409)",
                                     "m_4": f"{CENTRAL_XML_CONFLICT} (HTTP 409)"}
    assert summary.server == f"{base}/v1/projects/7"
    assert again.accepted == ["m_1"]  # Central does not tell a resend from a new one
    assert central.files[read_identity(kept.xml)[0].instance_id] == kept.files


def test_without_an_advertised_limit_the_push_splits_at_collect_s_ten_megabytes(tmp_path,
                                                                                 monkeypatch):
    monkeypatch.setattr(pushing.Target, "https", property(lambda self: True))
    central = CentralLike()
    big = Filled(forum_meeting(photos=("1.jpg", "2.jpg", "3.jpg"), instance_id=new_id()),
                 {name: bytes(4_000_000) for name in ("1.jpg", "2.jpg", "3.jpg")})
    storage = briefcase_storage(tmp_path, [("Forum meeting", big)])
    with serving(central) as base:
        summary = run(storage, f"{base}/v1/projects/1", tmp_path / "s.json",
                      user="me@example.org", password="pass")
    assert summary.accepted == ["forms/Forum meeting/instances/" +
                                read_identity(big.xml)[0].instance_id.replace(":", "")]
    assert [sorted(p) for p in central.posts] == [
        ["*isIncomplete*", "1.jpg", "2.jpg", "xml_submission_file"],
        ["3.jpg", "xml_submission_file"]]
    assert central.posts[0]["*isIncomplete*"] == b"yes"


def test_sent_at_once_but_an_edit_after_what_it_edits(tmp_path, monkeypatch):
    monkeypatch.setattr(pushing.Target, "https", property(lambda self: True))
    central = CentralLike()
    original = new_id()
    edit = new_id()
    folder = collect_folder(tmp_path, {
        "a_edit": Filled(forum_meeting(instance_id=edit, deprecated_id=original)),
        **{f"b_{n}": meeting() for n in range(6)},
        "c_original": Filled(forum_meeting(instance_id=original)),
    })
    with serving(central) as base:
        client = pushing.Client(pushing.target_for(f"{base}/v1/projects/1", "me@example.org",
                                                   "pass"))
        with PushState(tmp_path / "s.json") as state:
            summary = pushing.push(read_folder(folder), client, state, parallel=4)
        client.close()
    assert summary.ok and len(summary.accepted) == 8
    sent = [read_identity(p["xml_submission_file"])[0].instance_id for p in central.posts]
    assert sent.index(original) < sent.index(edit) == len(sent) - 1


def test_basic_is_never_sent_over_plain_http(tmp_path):
    folder = collect_folder(tmp_path, {"m_1": meeting()})
    central = CentralLike(basic_challenge=True)
    with serving(central) as base, pytest.raises(Problem) as raised:
        run(folder, f"{base}/collect", tmp_path / "s.json", user="me@example.org",
            password="pass")
    assert raised.value.type is problems.PUSH_BASIC_OVER_HTTP
    assert central.posts == []


def test_a_busy_server_is_tried_again_after_a_while(tmp_path, monkeypatch):
    monkeypatch.setattr(pushing.Target, "https", property(lambda self: True))
    central = CentralLike(busy=2)
    folder = collect_folder(tmp_path, {"m_1": meeting()})
    with serving(central) as base:
        summary = run(folder, f"{base}/v1/projects/1", tmp_path / "s.json",
                      user="me@example.org", password="pass")
    assert summary.accepted == ["m_1"] and summary.ok


def test_an_address_that_is_not_an_openrosa_server_says_what_it_answered(tmp_path):
    folder = collect_folder(tmp_path, {"m_1": meeting()})
    central = CentralLike()
    central.answer = lambda handler: (301, {"Location": "https://elsewhere.example/"}, b"")
    with serving(central) as base, pytest.raises(Problem) as raised:
        run(folder, f"{base}/collect/key/abc", tmp_path / "s.json")
    assert raised.value.type is problems.PUSH_NOT_OPENROSA
    assert "(HTTP 301: it sends elsewhere: https://elsewhere.example/)" in raised.value.message
    central.answer = lambda handler: (200, {}, b"<html>Welcome</html>")
    with serving(central) as base, pytest.raises(Problem) as raised:
        run(folder, f"{base}/collect/key/abc", tmp_path / "s.json")
    assert "(HTTP 200: OK)" in raised.value.message  # a HEAD has no body to quote


def test_an_unreachable_server_is_a_clear_problem(tmp_path):
    folder = collect_folder(tmp_path, {"m_1": meeting()})
    with serving(CentralLike()) as base:
        pass  # stopped: nothing listens there any more
    with pytest.raises(pushing.Unreachable, match="connection refused"):
        run(folder, f"{base}/collect/key/abc", tmp_path / "s.json")


@pytest.mark.parametrize("url, address, server", [
    ("http://10.0.0.5:5000/collect/key/tok/", "http://10.0.0.5:5000/collect/key/tok",
     "http://10.0.0.5:5000/collect"),
    ("https://Central.example.org/v1/key/tok/projects/3/submission",
     "https://central.example.org/v1/key/tok/projects/3",
     "https://central.example.org/v1/projects/3"),
    ("https://central.example.org/v1/projects/3", "https://central.example.org/v1/projects/3",
     "https://central.example.org/v1/projects/3"),
])
def test_addresses(url, address, server):
    target = pushing.target_for(url)
    assert (target.url, target.server, target.submission_url) == (
        address, server, f"{address}/submission")


@pytest.mark.parametrize("url, user", [
    ("ftp://host/collect", None), ("/collect", None), ("http://me:pw@host/collect", None),
    ("http://host/collect/key/tok", "someone")])
def test_addresses_refused(url, user):
    with pytest.raises(Problem) as raised:
        pushing.target_for(url, user)
    assert raised.value.type is problems.PUSH_URL_INVALID


@pytest.mark.parametrize("status, message, is_edit, verdict", [
    (201, "Full submission upload was successful!", False, pushing.Verdict.ACCEPTED),
    (201, "This submission was already received; any new files were added.", False,
     pushing.Verdict.HELD),
    (202, CENTRAL_CREATED, False, pushing.Verdict.ACCEPTED),
    (409, CENTRAL_XML_CONFLICT, False, pushing.Verdict.REFUSED),
    (409, CENTRAL_EDITED_SINCE, False, pushing.Verdict.HELD),
    (409, CENTRAL_EDITED_SINCE, True, pushing.Verdict.REFUSED),  # a stale edit is not held
    (409, "A resource already exists with instanceId value(s) of uuid:1.", False,
     pushing.Verdict.HELD),
    (409, CENTRAL_DELETED, False, pushing.Verdict.REFUSED),
    (404, "Could not find the resource you were looking for.", False, pushing.Verdict.REFUSED),
    (413, "The upload is larger than the 10 bytes this server accepts.", False,
     pushing.Verdict.REFUSED),
    (200, "", False, pushing.Verdict.REFUSED),
    (401, "", False, pushing.Verdict.LOGIN),
    (503, "", False, pushing.Verdict.TRANSIENT),
])
def test_what_an_answer_means(status, message, is_edit, verdict):
    assert pushing.classify(status, message, is_edit=is_edit) is verdict


def test_parts_follow_the_limit_in_order_and_skip_what_was_accepted(tmp_path):
    folder = collect_folder(tmp_path, {"m_1": Filled(
        forum_meeting(photos=("a.jpg", "b.jpg", "c.jpg")),
        {"a.jpg": bytes(4000), "b.jpg": bytes(4000), "c.jpg": bytes(4000)})})
    (found,) = read_folder(folder).instances
    room = found.xml_size + 2 * 4000 + 3000
    assert [[m.name for m in part] for part in pushing.plan_parts(found, room)] == [
        ["a.jpg", "b.jpg"], ["c.jpg"]]
    assert [[m.name for m in part] for part in pushing.plan_parts(found, room, {"a.jpg"})] == [
        ["b.jpg", "c.jpg"]]
    assert pushing.plan_parts(found, room, {"a.jpg", "b.jpg", "c.jpg"}) == [[]]
    with pytest.raises(pushing.TooLarge, match="the file a.jpg"):
        pushing.plan_parts(found, found.xml_size + 4000)
    with pytest.raises(pushing.TooLarge, match="its XML alone"):
        pushing.plan_parts(found, found.xml_size)


def test_the_state_file_is_whole_after_every_write_and_held_by_one_push(tmp_path):
    path = tmp_path / "deep" / "state.json"
    with PushState(path) as state:
        state.put("http://s/collect", "f1", outcome="accepted", done=True)
        assert json.loads(path.read_text())["servers"]["http://s/collect"]["f1"]["done"]
        with pytest.raises(Problem) as raised, PushState(path):
            pass
        assert raised.value.type is problems.PUSH_STATE_LOCKED
        for n in range(50):
            state.put("http://s/collect", f"g{n}", outcome="accepted", done=False)
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.json", "state.json.lock"]
    with PushState(path) as state:
        assert state.get("http://s/collect", "g49")["done"] is False
        assert state.count("http://s/collect") == 51


def test_a_state_file_that_is_not_one_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{ half")
    with pytest.raises(Problem) as raised, PushState(path):
        pass
    assert raised.value.type is problems.PUSH_STATE_UNREADABLE
    assert "Move it aside" in raised.value.message
