"""A real headless Chromium (Debian's, driven by Playwright) against a real `muntada serve`, seeded
through the command line as an operator does and fed by a phone that posts forum meetings as ODK
Collect does.

One browser per session; each test gets fresh contexts (no cookies, no cache). Every context is
watched: a test fails if a page requested anything outside 127.0.0.1 (the pages must work offline),
logged a console error, hit a Content-Security-Policy violation or threw an uncaught exception.
An error page a test means to reach (401, 403, 429) is declared with `watch.allow_status(...)`.
"""

from __future__ import annotations

import itertools
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy.engine import make_url

from tests.e2e.browser.meetings import BlankForm, Meeting, blank_form, send
from tests.e2e.conftest import (
    ServerProcess,
    collect_url,
    free_port,
    muntada_environment,
    own_postgres_database,
    run_cli,
)
from tests.support.phone import Phone, http_transport

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; CI installs it (.ci/run)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking"]
VIEWPORT = {"width": 1100, "height": 720}
PHONE_VIEWPORT = {"width": 375, "height": 740}
BROWSER_LOCALE = "ar-IQ"  # an Iraqi supervisor's browser; the account's choice overrides it
TIMEOUT_MS = 10_000
PASSWORD = "forum-meetings-2026"
LOCAL_HOSTS = {"127.0.0.1"}
FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


@dataclass(frozen=True)
class Person:
    username: str
    role: str
    password: str = PASSWORD
    email: str | None = None
    governorates: tuple[str, ...] = ()
    personal_data: bool = False  # may see fields marked personal (the facilitator's name)


PEOPLE = (
    Person("admin", "administrator", email="admin@muntada.example"),
    Person("karim", "supervisor", email="Karim.Supervisor@Baghdad.example",
           governorates=("baghdad",)),
    Person("layla", "supervisor", email="layla@nineveh.example", governorates=("nineveh",)),
    Person("analyst", "analyst"),
)
# What the phone sends before any test runs: (governorate, district, forum) per meeting.
MEETINGS = (
    ("baghdad", "karkh", "bgd_karkh_01"), ("baghdad", "rusafa", "bgd_rusafa_01"),
    ("baghdad", "adhamiyah", "bgd_adhamiyah_01"), ("baghdad", "karkh", "bgd_karkh_01"),
    ("nineveh", "mosul", "nin_mosul_01"), ("nineveh", "mosul", "nin_qayyarah_01"),
    ("nineveh", "tel_kaif", "nin_tel_kaif_01"),
    ("anbar", "ramadi", "anb_ramadi_01"),
)


@dataclass
class Site:
    """A seeded server: who can sign in, and what the phone sent (instanceIDs by governorate)."""

    base_url: str
    env: dict[str, str]
    server: ServerProcess
    people: dict[str, Person]
    phone_url: str
    form: BlankForm
    meetings: dict[str, list[Meeting]] = field(default_factory=dict)
    latest: dict[str, str] = field(default_factory=dict)  # instanceID -> its last edit's


    def url(self, path: str) -> str:
        return self.base_url + path

    def person(self, username: str) -> Person:
        return self.people[username]

    def instance_ids(self, governorate: str) -> list[str]:
        return [m.instance_id for m in self.meetings.get(governorate, [])]

    def add_person(self, person: Person) -> Person:
        """Create a web user with the command line (a test's own account, for state it changes:
        its language, its failed logins)."""
        create_person(self.env, person)
        self.people[person.username] = person
        return person

    def send_meetings(self, *meetings: Meeting) -> list[Meeting]:
        """The phone sends more meetings; they are recorded under their governorate."""
        with requests.Session() as session:
            phone = Phone(http_transport(session), self.phone_url)
            sent = [replace(m, instance_id=send(phone, self.form, m)) for m in meetings]
        for meeting in sent:
            self.meetings.setdefault(meeting.governorate, []).append(meeting)
        return sent

    def edit_meeting(self, meeting: Meeting, **changes) -> str:
        """The phone sends an edit of `meeting` as Collect does: a new instanceID, with the
        one of the version it replaces as deprecatedID. The new version's instanceID."""
        replaced = self.latest.get(meeting.instance_id, meeting.instance_id)
        edit = replace(meeting, **changes, instance_id="", deprecated_id=replaced)
        with requests.Session() as session:
            new = send(Phone(http_transport(session), self.phone_url), self.form, edit)
        self.latest[meeting.instance_id] = new
        return new


def create_person(env: dict[str, str], person: Person) -> None:
    args = ["users", "create", person.username, "--role", person.role, "--password-stdin"]
    if person.email:
        args += ["--email", person.email]
    for governorate in person.governorates:
        args += ["--governorate", governorate]
    if person.personal_data:
        args.append("--personal-data")
    run_cli(env, *args, input=person.password + "\n")


@dataclass(frozen=True)
class Seed:
    """A data folder and database seeded once per kind of database; each test module serves a
    copy of its own, so what one module changes (a review, a locked account) no other sees."""

    data_dir: Path
    database: str | None  # PostgreSQL: the template database's name; SQLite: in data_dir
    collect_path: str  # the phone's server URL without its address
    form: BlankForm
    meetings: tuple[Meeting, ...]


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def seed(request, programmes, tmp_path_factory) -> Seed:
    """The programme loaded (a copy of the session's, tests/e2e/conftest.py), an administrator, a
    supervisor for Baghdad (karim) and one for Nineveh (layla), an analyst and an app user, all
    created with the CLI; then the phone downloads the forum-meeting form and sends four meetings
    from Baghdad, three from Nineveh and one from Anbar."""
    root = tmp_path_factory.mktemp("browser-seed")
    with programmes.copy(request.param, root) as loaded:
        database = loaded.database_url
        port = free_port()
        env = muntada_environment(loaded.data_dir, port, database)
        # the server starts while the commands run: each spends seconds importing
        server = ServerProcess(env, port, root / "seed-serve.log")
        try:
            with ThreadPoolExecutor(3) as pool:
                officer = pool.submit(run_cli, env, "app-users", "create", "officer-field")
                created = [pool.submit(create_person, env, person) for person in PEOPLE]
                phone_url = collect_url(officer.result())
                for done in created:
                    done.result()
            server.wait_ready(f"{phone_url}/formList")
            with requests.Session() as session:
                phone = Phone(http_transport(session), phone_url)
                form = blank_form(phone)
                meetings = tuple(
                    replace(meeting, instance_id=send(phone, form, meeting)) for meeting in (
                        Meeting(governorate=g, district=d, forum=f, day=f"2026-11-{10 + n:02d}",
                                women=n % 4, men=3 + n,
                                issue=f"قضية رقم {n + 1}: الإنارة في الشارع")
                        for n, (g, d, f) in enumerate(MEETINGS)))
        finally:
            server.stop()
        yield Seed(data_dir=root / "data", database=database and make_url(database).database,
                   collect_path=urlsplit(phone_url).path, form=form, meetings=meetings)


_copies = itertools.count(1)


@pytest.fixture(scope="module")
def site(seed, tmp_path_factory) -> Site:
    """A real server of the module's own, serving a copy of the seeded data and database."""
    root = tmp_path_factory.mktemp("browser")
    shutil.copytree(seed.data_dir, root / "data")
    with ExitStack() as stack:
        database = None
        if seed.database:
            database = stack.enter_context(own_postgres_database(
                f"{seed.database}_{next(_copies)}", template=seed.database))
        port = free_port()
        env = muntada_environment(root / "data", port, database)
        server = ServerProcess(env, port, root / "serve.log")
        stack.callback(server.stop)
        phone_url = server.base_url + seed.collect_path
        server.wait_ready(f"{phone_url}/formList")
        meetings = {}
        for meeting in seed.meetings:
            meetings.setdefault(meeting.governorate, []).append(meeting)
        yield Site(base_url=server.base_url, env=env, server=server,
                   people={p.username: p for p in PEOPLE}, phone_url=phone_url, form=seed.form,
                   meetings=meetings)


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}: apt-get install chromium "
                    "(CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Watch:
    """What every page of a test did that it must not: requests outside the app, console errors,
    CSP violations, uncaught exceptions."""

    def __init__(self):
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.allowed_statuses: set[int] = set()
        self._documents: dict[str, int] = {}  # url -> status of the last document loaded there

    def allow_status(self, *statuses: int) -> None:
        """This test means to reach error pages with these statuses (a wrong password, 403)."""
        self.allowed_statuses.update(statuses)

    def attach(self, context) -> None:
        context.on("request", self._request)
        context.on("response", self._response)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.problems.append(f"uncaught: {error.error}"))

    def _request(self, request) -> None:
        self.requests.append(request.url)
        parts = urlsplit(request.url)
        if parts.scheme not in ("data", "blob") and parts.hostname not in LOCAL_HOSTS:
            self.problems.append(f"requested outside the app: {request.url}")

    def _response(self, response) -> None:
        if response.request.resource_type == "document":
            self._documents[response.url] = response.status

    def _console(self, message) -> None:
        if message.type != "error":
            return
        failed = FAILED_LOAD.match(message.text)
        url = message.location.get("url", "")
        if failed and int(failed.group(1)) in self.allowed_statuses \
                and self._documents.get(url) == int(failed.group(1)):
            return  # the error page the test asked for
        self.problems.append(f"console error on {url}: {message.text}")


@pytest.fixture
def watch():
    return Watch()


@pytest.fixture
def open_page(chromium, watch):
    """Open a page in a fresh browser context (its own cookies): `open_page()`,
    `open_page(viewport=PHONE_VIEWPORT)`, `open_page(cookies=...)`. Each is watched."""
    contexts = []

    def _open(*, viewport: dict[str, int] = VIEWPORT, cookies: list | None = None,
              locale: str = BROWSER_LOCALE):
        context = chromium.new_context(viewport=viewport, locale=locale)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        watch.attach(context)
        if cookies:
            context.add_cookies(cookies)
        return context.new_page()

    yield _open
    for context in contexts:
        context.close()
    if watch.problems:
        pytest.fail("the pages did what they must not:\n" + "\n".join(watch.problems))


@pytest.fixture
def page(open_page):
    """A page in a fresh context, at desktop width, in a browser that prefers Arabic."""
    return open_page()
