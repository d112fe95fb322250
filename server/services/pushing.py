"""`muntada push`: sending what a phone or ODK Briefcase holds to an OpenRosa server (ours, ODK
Central, any other), as ODK Collect sends it.

`HEAD <url>/submission` first: it says the largest body the server accepts
(X-OpenRosa-Accept-Content-Length, 10 MB when unsaid, as Collect assumes) and, by its 401, how to
log in (Digest; Basic only over HTTPS; an app user's token in the address needs no login). Then one
`POST <url>/submission` per instance, multipart/form-data with `xml_submission_file` and each file;
an instance whose files do not fit in one body is split into several POSTs, each with the XML,
all but the last marked `*isIncomplete*` = `yes`. Connection errors and a busy server are retried
with backoff; what each server accepted is kept in the push state (`push_state`).

The answer is read as the servers mean it. Ours answers an identical resend 201 "already received"
and a different XML under the same instanceID 409. ODK Central (lib/resources/submissions.js)
answers an identical resend 201 as if new, a different XML 409.1 "A submission already exists with
this ID, but with different XML", a resend of a version since edited 409.9 "... is now out of
date", a resend of a deleted submission 409.18, and two at once 409.3 "A resource already exists
with instanceId ..." (older versions).
"""

from __future__ import annotations

import io
import mimetypes
import re
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth, HTTPDigestAuth
from urllib3 import encode_multipart_formdata
from urllib3.connection import HTTPConnection

from forms.xml import UnsafeXMLError, local_name, parse_xml
from server.kernel import problems
from server.kernel.problems import Problem
from server.services.push_state import PushState
from sync.instance_folders import FolderContents, FolderInstance, MediaFile, fingerprint

XML_PART = "xml_submission_file"
INCOMPLETE_PART = "*isIncomplete*"
DEFAULT_LIMIT = 10_000_000  # what Collect assumes when the server does not say
PART_OVERHEAD = 256  # a part's boundary and headers, besides its name (twice) and content
BODY_OVERHEAD = 1024
CONNECT_TIMEOUT = 10
# What the kernel may hold of a body not yet on the wire (it doubles this). The body is written in
# blocks, each wait bounded by --timeout; with a small buffer, what remains to drain after the last
# block stays small too (64 KB: 11 s at 2G's 6 KB/s), where loopback-sized buffers would let the
# whole body "leave" at once and the wait for the answer outlast any timeout.
SEND_BUFFER = 32 * 1024
MAX_BACKOFF = 30.0
TRANSIENT_STATUSES = {408, 429, 500, 502, 503, 504}
HEADERS = {"X-OpenRosa-Version": "1.0", "Accept-Language": "en",
           "User-Agent": "muntada-push/1 (OpenRosa)"}

_HELD_201 = re.compile(r"already (been )?received", re.IGNORECASE)  # ours: a resend
_HELD_409 = re.compile(r"A resource already exists with instanceId", re.IGNORECASE)  # Central
_EDITED_SINCE = re.compile(r"is now out of date", re.IGNORECASE)  # Central 409.9


class Verdict(Enum):
    ACCEPTED = "accepted"
    HELD = "already held"
    REFUSED = "refused"
    TRANSIENT = "failed"
    LOGIN = "login refused"


@dataclass(frozen=True)
class Target:
    url: str  # the address given, without a trailing /submission
    server: str  # the key of the push state: the address without its token
    user: str | None = None
    password: str | None = None

    @property
    def submission_url(self) -> str:
        return f"{self.url}/submission"

    @property
    def https(self) -> bool:
        return self.url.startswith("https://")


def target_for(url: str, user: str | None = None, password: str | None = None) -> Target:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Problem(problems.PUSH_URL_INVALID, url=url,
                      reason="it must start with http:// or https:// and name a host")
    if parts.username or parts.password:
        raise Problem(problems.PUSH_URL_INVALID, url=url,
                      reason="put the user name in --user, not in the address")
    path = parts.path.rstrip("/")
    path = path[:-len("/submission")] if path.endswith("/submission") else path
    without_token = re.sub(r"/key/[^/]+", "", path, count=1)
    if without_token != path and user:
        raise Problem(problems.PUSH_URL_INVALID, url=url,
                      reason="the address carries a token, so leave out --user")
    netloc = parts.netloc.lower()
    address = urlunsplit((parts.scheme, netloc, path, parts.query, ""))
    return Target(url=address, server=urlunsplit((parts.scheme, netloc, without_token, "", "")),
                  user=user, password=password)


class Unreachable(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _LinkAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        kwargs["socket_options"] = [*HTTPConnection.default_socket_options,
                                    (socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)]
        super().init_poolmanager(*args, **kwargs)


class Client:
    """The connection to the server: its login, timeouts, and retries with backoff. Each thread
    that sends gets a session of its own (requests' sessions are not shared between threads),
    all alike."""

    def __init__(self, target: Target, *, timeout: float = 60, retries: int = 3,
                 backoff: float = 1.0, sleep: Callable[[float], None] = time.sleep):
        self.target = target
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._auth: type[HTTPDigestAuth] | type[HTTPBasicAuth] | None = None
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        # The proxy and certificate settings of the environment, read once rather than on every
        # request (requests reads them each time: milliseconds a submission).
        probe = requests.Session()
        self._environment = probe.merge_environment_settings(target.url, {}, None, None, None)
        probe.close()

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            for prefix in ("http://", "https://"):
                session.mount(prefix, _LinkAdapter())
            session.trust_env = False
            session.headers.update(HEADERS)
            session.proxies.update(self._environment.get("proxies") or {})
            session.verify = self._environment.get("verify", True)
            if self._auth is not None:
                session.auth = self._auth(self.target.user, self.target.password or "")
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        self._local = threading.local()

    def connect(self) -> int:
        """The pre-flight HEAD, and the login it asks for; returns the largest body accepted."""
        target = self.target
        response = self.request("HEAD", target.submission_url)
        if target.user is not None:
            offered = response.headers.get("WWW-Authenticate", "").lower() \
                if response.status_code == 401 else ""
            if "digest" in offered or (not offered and not target.https):
                self._auth = HTTPDigestAuth
            elif target.https:  # Basic offered, or nothing said (ODK Central never says)
                self._auth = HTTPBasicAuth
            else:
                raise Problem(problems.PUSH_BASIC_OVER_HTTP, url=target.server)
            self.session.auth = self._auth(target.user, target.password or "")
            if response.status_code == 401:
                response = self.request("HEAD", target.submission_url)
        if response.status_code in (401, 403):
            raise Problem(problems.PUSH_LOGIN_REFUSED, url=target.server,
                          status=response.status_code, message=_message(response) or (
                              "it asks for a login: give --user" if target.user is None
                              else response.reason))
        if response.status_code != 204:
            moved = response.headers.get("Location") if 300 <= response.status_code < 400 \
                else None
            raise Problem(problems.PUSH_NOT_OPENROSA, url=f"{target.server}/submission",
                          status=response.status_code,
                          message=f"it sends elsewhere: {moved}" if moved else
                          _message(response) or response.reason or "no message")
        try:
            limit = int(response.headers.get("X-OpenRosa-Accept-Content-Length") or 0)
        except ValueError:
            limit = 0
        return limit if limit > 0 else DEFAULT_LIMIT

    def post(self, fields: list[tuple]) -> requests.Response:
        body, content_type = encode_multipart_formdata(fields)
        return self.request("POST", self.target.submission_url, body=body,
                            headers={"Content-Type": content_type})

    def request(self, method: str, url: str, **arguments) -> requests.Response:
        """Retried on connection errors, timeouts and a busy server; `Unreachable` at the end."""
        body = arguments.pop("body", None)
        attempt = 0
        while True:
            if body is not None:
                # a stream, sent block by block (each with its own timeout), afresh each try
                arguments["data"] = io.BytesIO(body)
            try:
                response = self.session.request(method, url, timeout=(CONNECT_TIMEOUT,
                                                                      self.timeout),
                                                allow_redirects=False, **arguments)
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as error:
                if attempt >= self.retries:
                    raise Unreachable(_reason(error)) from error
                response, wait = None, None
            else:
                if response.status_code not in TRANSIENT_STATUSES or attempt >= self.retries:
                    return response
                wait = _retry_after(response)
            self._sleep(wait if wait is not None else
                        min(MAX_BACKOFF, self.backoff * 2 ** attempt))
            attempt += 1


class TooLarge(Exception):
    pass


def plan_parts(instance: FolderInstance, limit: int, sent: set[str] = frozenset()
               ) -> list[list[MediaFile]]:
    """The files of each POST (the XML goes in every one), as Collect splits: in order, as many
    as fit under `limit`. Files in `sent` were accepted by an earlier run and are not sent again."""
    fixed = BODY_OVERHEAD + instance.xml_size + _part_size(XML_PART) + _part_size(INCOMPLETE_PART)
    if fixed > limit:
        raise TooLarge(f"its XML alone ({_size(instance.xml_size)}) is larger than the "
                       f"{_size(limit)} the server accepts in one request")
    for media in instance.media:
        if fixed + media.size + _part_size(media.name) > limit:
            raise TooLarge(f"the file {media.name} ({_size(media.size)}) is larger than the "
                           f"{_size(limit)} the server accepts in one request")
    parts: list[list[MediaFile]] = []
    current: list[MediaFile] = []
    size = fixed
    for media in instance.media:
        if media.name in sent:
            continue
        needed = media.size + _part_size(media.name)
        if current and size + needed > limit:
            parts.append(current)
            current, size = [], fixed
        current.append(media)
        size += needed
    parts.append(current)
    return parts


def classify(status: int, message: str, *, is_edit: bool = False) -> Verdict:
    """What the server's answer to one POST means for the instance."""
    if status in (201, 202):
        return Verdict.HELD if _HELD_201.search(message) else Verdict.ACCEPTED
    if status == 409 and (_HELD_409.search(message)
                          or (not is_edit and _EDITED_SINCE.search(message))):
        return Verdict.HELD
    if status in (401, 403):
        return Verdict.LOGIN
    if status in TRANSIENT_STATUSES:
        return Verdict.TRANSIENT
    return Verdict.REFUSED  # 200 and 204 too: Collect counts them as failures


@dataclass
class Summary:
    server: str
    layout: str
    accepted: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    sent_before: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    not_attempted: list[str] = field(default_factory=list)
    split: int = 0  # instances accepted in more than one POST (in this run)
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.refused or self.failed or self.not_attempted)


def push(contents: FolderContents, client: Client, state: PushState, *, parallel: int = 4,
         progress: Callable[[FolderInstance], None] = lambda _instance: None) -> Summary:
    """Send every instance the server has not accepted yet, `parallel` at a time (an edit only
    once what it edits has been sent); never raises for one instance's refusal (it is in the
    summary), only for what stops them all (the login)."""
    server = client.target.server
    summary = Summary(server=server, layout=contents.layout,
                      skipped=[(s.name, s.reason) for s in contents.skipped])
    limit = client.connect()
    lock = threading.Lock()
    stopped = threading.Event()

    def send(instance: FolderInstance) -> None:
        try:
            if stopped.is_set():
                with lock:
                    summary.not_attempted.append(instance.name)
                return
            try:
                _push_one(instance, client, state, server, limit, summary, lock)
            except Unreachable as error:
                with lock:
                    summary.failed.append((instance.name,
                                           f"no answer from the server: {error.reason}"))
                    summary.stopped = summary.stopped or error.reason
                stopped.set()
            except BaseException:
                stopped.set()  # the login was refused: the others are not tried either
                raise
        finally:
            with lock:
                progress(instance)

    with ThreadPoolExecutor(max(1, parallel), thread_name_prefix="push") as pool:
        for wave in _waves(contents.instances):
            for future in [pool.submit(send, instance) for instance in wave]:
                future.result()
    order = {instance.name: n for n, instance in enumerate(contents.instances)}
    for names in (summary.accepted, summary.held, summary.sent_before, summary.not_attempted):
        names.sort(key=order.__getitem__)
    for pairs in (summary.refused, summary.failed):
        pairs.sort(key=lambda pair: order[pair[0]])
    return summary


def _waves(instances: list[FolderInstance]) -> list[list[FolderInstance]]:
    """Instances that may be sent at once, in the folder's order: an edit goes in a wave after
    what it edits, and a second instance with the same instanceID after the first (which of two
    different XMLs the server keeps must not depend on which thread was quicker)."""
    waves: list[list[FolderInstance]] = []
    wave_of: dict[str, int] = {}
    for instance in instances:
        after = [wave_of[i] for i in (instance.deprecated_id, instance.instance_id)
                 if i in wave_of]
        number = max(after) + 1 if after else 0
        wave_of[instance.instance_id] = number
        while len(waves) <= number:
            waves.append([])
        waves[number].append(instance)
    return waves


def _push_one(instance: FolderInstance, client: Client, state: PushState, server: str,
              limit: int, summary: Summary, lock: threading.Lock) -> None:
    try:
        key = fingerprint(instance)
        xml = instance.xml()
    except OSError as error:
        with lock:
            summary.failed.append((instance.name,
                                   f"could not be read: {error.strerror or error}"))
        return
    with lock:
        record = state.get(server, key) or {}
    if record.get("done"):
        with lock:
            summary.sent_before.append(instance.name)
        return
    sent = set(record.get("files_sent", ()))
    try:
        parts = plan_parts(instance, limit, sent)
    except TooLarge as error:
        with lock:
            summary.refused.append((instance.name, f"not sent: {error}"))
        return
    outcome = record.get("outcome")
    for number, part in enumerate(parts, start=1):
        last = number == len(parts)
        fields = [(XML_PART, (instance.xml_path.name, xml, "text/xml"))]
        fields += [(m.name, (m.name, m.path.read_bytes(), _mimetype(m.name))) for m in part]
        if not last:
            fields.append((INCOMPLETE_PART, "yes"))
        response = client.post(fields)
        message = _message(response)
        verdict = classify(response.status_code, message,
                           is_edit=instance.deprecated_id is not None)
        if verdict is Verdict.LOGIN:
            raise Problem(problems.PUSH_LOGIN_REFUSED, url=client.target.server,
                          status=response.status_code, message=message or response.reason)
        if verdict in (Verdict.REFUSED, Verdict.TRANSIENT):
            reason = message or response.reason or "no message"
            bucket = summary.refused if verdict is Verdict.REFUSED else summary.failed
            with lock:
                bucket.append((instance.name, f"{reason} (HTTP {response.status_code})"))
            return
        outcome = outcome or verdict.value  # the first part's answer says what the server had
        sent |= {m.name for m in part}
        with lock:
            state.put(server, key, instance_id=instance.instance_id, name=instance.name,
                      outcome=outcome, files_sent=sorted(sent), done=last)
    with lock:
        if outcome == Verdict.HELD.value:
            summary.held.append(instance.name)
        else:
            summary.accepted.append(instance.name)
            summary.split += len(parts) > 1


def _message(response: requests.Response) -> str:
    """The OpenRosa response's message, else the start of whatever the body is."""
    body = response.content or b""
    if not body.strip():
        return ""
    try:
        root = parse_xml(body)
    except (UnsafeXMLError, ValueError):
        return " ".join(body[:300].decode("utf-8", "replace").split())
    for element in root.iter():
        if isinstance(element.tag, str) and local_name(element) == "message":
            return " ".join((element.text or "").split())
    return ""


def _retry_after(response: requests.Response) -> float | None:
    try:
        return min(MAX_BACKOFF, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _reason(error: Exception) -> str:
    text = str(error)
    for known in ("Connection refused", "Connection reset", "Connection aborted",
                  "Read timed out", "timed out", "Name or service not known",
                  "Remote end closed connection", "Broken pipe"):
        if known in text:
            return known.lower()
    return type(error).__name__


def _part_size(name: str) -> int:
    return PART_OVERHEAD + 2 * len(name.encode("utf-8"))


def _mimetype(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _size(n: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("KB", 1_000)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
