"""A field office's own server syncing with headquarters, both real `muntada serve` processes set
up with the commands the README gives: headquarters (PostgreSQL when TEST_DATABASE_URL is set,
as in the field; else SQLite) registers the office, the office (SQLite) joins, phones send to the
office, and everything reaches headquarters: every version's XML, every attachment's SHA-256,
reviews both ways, with nothing doubled when a sync is run again."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from server.database import make_engine
from server.database.models import (
    AppUser,
    Entity,
    Form,
    ReviewComment,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
    SyncConflict,
)
from tests.e2e.conftest import (
    ServerProcess,
    free_port,
    muntada_environment,
    own_postgres_database,
    run_cli,
)
from tests.support.cases import programme_referral
from tests.support.instances import new_id
from tests.support.phone import Phone, http_transport
from tests.support.programme_meetings import forum_meeting, jpeg

pytestmark = pytest.mark.e2e
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
        self.server = ServerProcess(self.env, self.port, self.root / "serve.log")
        self.server.wait_ready(f"{self.url}/login")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def holdings(self) -> dict[tuple[str, str], tuple[str, frozenset]]:
        """Every version held: (form, instanceID) -> (SHA-256 of its XML, its files' SHA-256)."""
        engine = make_engine(self.database_url)
        try:
            with engine.connect() as connection:
                defs = connection.execute(
                    sa.select(Form.xml_form_id, SubmissionDef.id, SubmissionDef.instance_id,
                              SubmissionDef.xml_sha256)
                    .join(Form, Form.id == SubmissionDef.form_id)).all()
                files = connection.execute(sa.select(
                    SubmissionAttachment.submission_def_id, SubmissionAttachment.name,
                    SubmissionAttachment.blob_sha256)).all()
        finally:
            engine.dispose()
        by_def: dict[int, set] = {}
        for def_id, name, sha in files:
            by_def.setdefault(def_id, set()).add((name, sha))
        return {(form, instance_id): (sha, frozenset(by_def.get(def_id, ())))
                for form, def_id, instance_id, sha in defs}

    def scalar(self, statement):
        engine = make_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return connection.execute(statement).scalar()
        finally:
            engine.dispose()

    def rows(self, statement):
        engine = make_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return connection.execute(statement).all()
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """Headquarters with the programme, an officer of Nineveh and a supervisor, and the
    Qayyarah office registered; the office's server joined to it."""
    root = tmp_path_factory.mktemp("field-office")
    with _hq_database() as hq_url:
        hq, office = Site(root, "hq", hq_url), Site(root, "office", None)
        hq.cli("forms", "load-programme")
        officer = hq.cli("app-users", "create", "officer-q", "--governorate", "nineveh")
        hq.cli("app-users", "create", "officer-basra", "--governorate", "basra")
        hq.cli("users", "create", "hq-sup", "--role", "supervisor", "--governorate", "nineveh",
               "--password-stdin",
               input=f"{PASSWORD}\n")
        registered = hq.cli("field-office", "register", "qayyarah", "--governorate", "nineveh")
        token = re.search(r"field-office join \S+ (\S+)", registered).group(1)
        try:
            hq.start()
            office.start()
            joined = office.cli("field-office", "join", hq.url, token)
            office.cli("users", "create", "office-sup", "--role", "supervisor",
                       "--governorate", "nineveh", "--password-stdin", input=f"{PASSWORD}\n")
            token_of_officer = re.search(r"/collect/key/(\S+)", officer).group(1)
            yield hq, office, token_of_officer, joined
        finally:
            office.stop()
            hq.stop()


def _hq_database():
    if os.environ.get("TEST_DATABASE_URL"):
        return own_postgres_database(f"muntada_hq_{os.getpid()}")
    from contextlib import nullcontext
    return nullcontext(None)


def phone_of(site: Site, token: str) -> Phone:
    return Phone(http_transport(requests.Session()), f"{site.url}/collect/key/{token}")


def ninewa_meeting(**options) -> bytes:
    return forum_meeting(governorate="nineveh", district="mosul", forum="nin_qayyarah_01",
                         **options)


def test_joining_brings_the_forms_and_the_office_s_app_users_only(sites):
    hq, office, token, joined = sites
    assert "Joined headquarters" in joined
    phone = phone_of(office, token)
    listed = {entry["formID"] for entry in phone.form_list()}
    assert {"forum_meeting", "incident_referral", "training_attendance"} <= listed
    names = {row[0] for row in office.rows(sa.select(AppUser.name))}
    assert "officer-q" in names and "officer-basra" not in names


def test_what_phones_send_to_the_office_reaches_headquarters_exactly(sites):
    hq, office, token, _ = sites
    phone = phone_of(office, token)
    photo = jpeg("blue", (1600, 1200))
    ids = [new_id() for _ in range(3)]
    for n, instance_id in enumerate(ids):
        reply = phone.submit(ninewa_meeting(instance_id=instance_id, photos=("p.jpg",),
                                            notes=f"meeting {n}"), {"p.jpg": photo})
        assert reply.status == 201, reply.body
    office.cli("field-office", "sync")
    held_here = office.holdings()
    at_hq = hq.holdings()
    assert {k: v for k, v in at_hq.items() if k in held_here} == held_here
    for instance_id in ids:
        assert ("forum_meeting", instance_id) in at_hq
    # sent by the officer headquarters gave the office, at the time the office took it
    office_times = dict(office.rows(sa.select(SubmissionDef.instance_id,
                                              SubmissionDef.created_at)))
    hq_rows = hq.rows(sa.select(SubmissionDef.instance_id, SubmissionDef.created_at,
                                AppUser.name).join(AppUser,
                                                   AppUser.id == SubmissionDef.submitter_id)
                      .where(SubmissionDef.instance_id.in_(ids)))
    assert {name for _i, _t, name in hq_rows} == {"officer-q"}
    for instance_id, created_at, _name in hq_rows:
        assert abs((created_at.replace(tzinfo=None)
                    - office_times[instance_id].replace(tzinfo=None)).total_seconds()) < 0.001

    # again: nothing new, nothing doubled
    before = hq.scalar(sa.select(sa.func.count()).select_from(SubmissionDef))
    again = office.cli("field-office", "sync")
    assert "up: 0 applied" in again
    assert hq.scalar(sa.select(sa.func.count()).select_from(SubmissionDef)) == before


def test_reviews_travel_both_ways_and_crossing_reviews_are_a_conflict(sites):
    hq, office, token, _ = sites
    phone = phone_of(office, token)
    reviewed_at_hq, reviewed_here, crossed = new_id(), new_id(), new_id()
    for instance_id in (reviewed_at_hq, reviewed_here, crossed):
        assert phone.submit(ninewa_meeting(instance_id=instance_id)).status == 201
    office.cli("field-office", "sync")

    review(hq, "hq-sup", reviewed_at_hq, "approved")
    review(office, "office-sup", reviewed_here, "hasIssues", "the date is wrong")
    review(hq, "hq-sup", crossed, "approved")
    review(office, "office-sup", crossed, "rejected", "a duplicate")
    office.cli("field-office", "sync")

    def state(site, instance_id):
        return site.scalar(sa.select(Submission.review_state).where(
            Submission.instance_id == instance_id))
    assert state(office, reviewed_at_hq) == "approved"
    assert state(hq, reviewed_here) == "hasIssues"
    # neither end overwrote what its own supervisor decided: both comments kept, a conflict
    assert state(hq, crossed) == "approved" and state(office, crossed) == "rejected"
    for site in (hq, office):
        crossed_id = site.scalar(sa.select(Submission.id).where(
            Submission.instance_id == crossed))
        assert site.scalar(sa.select(sa.func.count()).select_from(SyncConflict).where(
            SyncConflict.submission_id == crossed_id)) == 1
        assert site.scalar(sa.select(sa.func.count()).select_from(ReviewComment).where(
            ReviewComment.submission_id == crossed_id)) == 2
    # a supervisor settles it at headquarters: the office takes the decision
    review(hq, "hq-sup", crossed, "rejected", "agreed: a duplicate")
    office.cli("field-office", "sync")
    assert state(office, crossed) == "rejected" and state(hq, crossed) == "rejected"


def test_a_referral_reaches_headquarters_and_opens_its_case_there(sites):
    hq, office, token, _ = sites
    phone = phone_of(office, token)
    case_id = str(uuid.uuid4())
    xml = programme_referral(case_id, governorate="nineveh")
    instance_id = re.search(rb"<instanceID>([^<]+)</instanceID>", xml).group(1).decode()
    assert phone.submit(xml).status == 201
    office.cli("field-office", "sync")
    assert hq.holdings()[("incident_referral", instance_id)] \
        == office.holdings()[("incident_referral", instance_id)]
    cases = sa.select(sa.func.count()).select_from(Entity).where(Entity.uuid == case_id)
    assert hq.scalar(cases) == 1
    assert office.scalar(cases) == 1


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
