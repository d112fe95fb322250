"""Two real servers of the field: a headquarters and a field office's own, set up and read as
an operator would (the command line, the database), for the field-office tests and bench."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
import sqlalchemy as sa

from server.database import make_engine
from server.database.models import Form, Submission, SubmissionAttachment, SubmissionDef
from tests.e2e.conftest import (
    Programmes,
    ServerProcess,
    free_port,
    muntada_environment,
    run_cli,
)
from tests.support.phone import Phone, http_transport
from tests.support.programme_meetings import forum_meeting

PASSWORD = "a long enough password"


class Site:
    """One server: its environment, its process, its database."""

    def __init__(self, root: Path, name: str, database_url: str | None):
        self.root = root / name
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.env = muntada_environment(self.root / "data", self.port, database_url)
        self.env["MUNTADA_SYNC_EVERY"] = "0"  # the tests sync when they choose
        self.database_url = database_url or f"sqlite:///{self.root / 'data' / 'muntada.sqlite'}"
        self.server: ServerProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, input: str | None = None) -> str:
        return run_cli(self.env, *args, input=input)

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """`muntada serve` started, not yet answering (`wait_ready`)."""
        self.server = ServerProcess(self.env, self.port, self.root / "serve.log")

    def wait_ready(self) -> None:
        self.server.wait_ready(f"{self.url}/login")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def holdings(self) -> dict[tuple[str, str], tuple[str, frozenset]]:
        """Every version held: (form, instanceID) -> (SHA-256 of its XML, its files' SHA-256)."""
        defs = self.rows(sa.select(Form.xml_form_id, SubmissionDef.id, SubmissionDef.instance_id,
                                   SubmissionDef.xml_sha256)
                         .join(Form, Form.id == SubmissionDef.form_id))
        files = self.rows(sa.select(SubmissionAttachment.submission_def_id,
                                    SubmissionAttachment.name, SubmissionAttachment.blob_sha256))
        by_def: dict[int, set] = {}
        for def_id, name, sha in files:
            by_def.setdefault(def_id, set()).add((name, sha))
        return {(form, instance_id): (sha, frozenset(by_def.get(def_id, ())))
                for form, def_id, instance_id, sha in defs}

    def scalar(self, statement):
        rows = self.rows(statement)
        return rows[0][0] if rows else None

    def keys(self, table: str) -> set[str]:
        """The rows of a relational table, by their `_key` (what analysts query)."""
        return {row[0] for row in self.rows(sa.text(f'SELECT _key FROM "{table}"'))}

    def rows(self, statement):
        """What a statement reads, on a connection of its own (the server may be writing)."""
        engine = make_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return connection.execute(statement).all()
        finally:
            engine.dispose()


def review(site: Site, username: str, instance_id: str, state: str, comment: str = "") -> None:
    http = requests.Session()
    token_of = re.compile(r'name="csrf_token" value="([^"]+)"')
    token = token_of.search(http.get(f"{site.url}/login", timeout=30).text).group(1)
    reply = http.post(f"{site.url}/login", data={"username": username, "password": PASSWORD,
                                                  "csrf_token": token},
                      allow_redirects=False, timeout=30)
    assert reply.status_code == 302, reply.text[:1000]
    token = token_of.search(http.get(f"{site.url}/password", timeout=30).text).group(1)
    form = site.scalar(sa.select(Form.xml_form_id).join(Submission, Submission.form_id == Form.id)
                       .where(Submission.instance_id == instance_id))
    reply = http.post(f"{site.url}/forms/{form}/submissions/{instance_id}/review",
                      data={"state": state, "comment": comment, "version": instance_id,
                            "csrf_token": token}, allow_redirects=False, timeout=30)
    assert reply.status_code == 303, reply.text[:2000]


@dataclass
class Pair:
    hq: Site
    office: Site
    officer_token: str  # an app user of Nineveh that headquarters made: the office's phones'
    office_token: str  # the office's token, for joining
    joined: str  # what `field-office join` printed


@contextmanager
def pair(root: Path, programmes: Programmes, *, join_through: str | None = None,
         office_env: dict | None = None, before_join=None) -> Iterator[Pair]:
    """Headquarters (PostgreSQL when TEST_DATABASE_URL is set, as in the field; else SQLite)
    with the programme (a copy of the session's, `programmes`), an officer of Nineveh and one of
    Basra, a supervisor of Nineveh, the Qayyarah office registered; the office's server (SQLite)
    serving and joined, through `join_through` (a proxy's address) if given; a supervisor of
    Nineveh at the office too."""
    kind = "postgresql" if os.environ.get("TEST_DATABASE_URL") else "sqlite"
    with programmes.copy(kind, root / "hq") as loaded, ThreadPoolExecutor(4) as pool:
        hq, office = Site(root, "hq", loaded.database_url), Site(root, "office", None)
        office.env.update(office_env or {})
        try:
            # the office's server makes its own database: it starts while headquarters is set up
            office.launch()
            # at once: each command spends seconds importing, little in the database
            made = [pool.submit(hq.cli, "app-users", "create", "officer-q",
                                "--governorate", "nineveh"),
                    pool.submit(hq.cli, "app-users", "create", "officer-basra",
                                "--governorate", "basra"),
                    pool.submit(hq.cli, "users", "create", "hq-sup", "--role", "supervisor",
                                "--governorate", "nineveh", "--password-stdin",
                                input=f"{PASSWORD}\n"),
                    pool.submit(hq.cli, "field-office", "register", "qayyarah",
                                "--governorate", "nineveh")]
            officer, _basra, _sup, registered = (done.result() for done in made)
            token = re.search(r"field-office join \S+ (\S+)", registered).group(1)
            hq.start()
            office.wait_ready()
            if before_join is not None:
                before_join(hq)
            joined = office.cli("field-office", "join", join_through or hq.url, token)
            office.cli("users", "create", "office-sup", "--role", "supervisor",
                       "--governorate", "nineveh", "--password-stdin", input=f"{PASSWORD}\n")
            yield Pair(hq, office, re.search(r"/collect/key/(\S+)", officer).group(1), token,
                       joined)
        finally:
            office.stop()
            hq.stop()


def phone_of(site: Site, token: str) -> Phone:
    return Phone(http_transport(requests.Session()), f"{site.url}/collect/key/{token}")


def nineveh_meeting(**options) -> bytes:
    return forum_meeting(governorate="nineveh", district="mosul", forum="nin_qayyarah_01",
                         **options)
