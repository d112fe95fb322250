"""Review feedback through a real `muntada serve` over real sockets, set up with the command line:
the officer's phone sends a meeting, a supervisor signed in with a browser's requests returns it
with a comment, the phone finds it in its `feedback` list, answers, and the answer is in the
thread; approved, the entry leaves the phone through the integrity answer."""

from __future__ import annotations

import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from server.services.feedback import entry_name
from tests.e2e.conftest import (
    ServerProcess,
    collect_url,
    free_port,
    muntada_environment,
    run_cli,
)
from tests.support.instances import instance, new_id
from tests.support.phone import Phone, http_transport
from tests.support.programme_meetings import FORM, forum_meeting

pytestmark = pytest.mark.e2e
PASSWORD = "a long enough password"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def site(e2e_programme):
    root = e2e_programme.root
    port = free_port()
    env = muntada_environment(e2e_programme.data_dir, port, e2e_programme.database_url)
    # the server starts while both commands run: each spends seconds importing
    server = ServerProcess(env, port, root / "serve.log")
    try:
        with ThreadPoolExecutor(2) as pool:
            officer = pool.submit(run_cli, env, "app-users", "create", "officer")
            supervisor = pool.submit(run_cli, env, "users", "create", "karim", "--role",
                                     "supervisor", "--governorate", "anbar", "--password-stdin",
                                     input=f"{PASSWORD}\n")
            officer = collect_url(officer.result())
            supervisor.result()
        server.wait_ready(f"{officer}/formList")
        yield server, officer
    finally:
        server.stop()


class Supervisor:
    """A browser's requests: the login form, then each form with its CSRF token."""

    def __init__(self, base_url: str):
        self.base_url, self.http = base_url, requests.Session()
        self.token = self._token("/login")
        reply = self.http.post(f"{base_url}/login", data={
            "username": "karim", "password": PASSWORD, "csrf_token": self.token},
            allow_redirects=False, timeout=30)
        assert reply.status_code == 302, reply.text[:2000]
        self.token = self._token("/password")

    def _token(self, path: str) -> str:
        return _TOKEN.search(self.http.get(f"{self.base_url}{path}", timeout=30).text).group(1)

    def review(self, instance_id: str, state: str, comment: str = "") -> None:
        reply = self.http.post(
            f"{self.base_url}/forms/{FORM}/submissions/{instance_id}/review",
            data={"state": state, "comment": comment, "version": instance_id,
                  "csrf_token": self.token}, allow_redirects=False, timeout=30)
        assert reply.status_code == 303, reply.text[:2000]

    def page(self, instance_id: str) -> str:
        return self.http.get(f"{self.base_url}/forms/{FORM}/submissions/{instance_id}?lang=en",
                             timeout=30).text


def test_feedback_reaches_the_phone_and_the_answer_comes_back(site):
    server, officer_url = site
    with requests.Session() as http:
        phone = Phone(http_transport(http), officer_url)
        meeting = new_id()
        assert phone.submit(forum_meeting(instance_id=meeting)).status == 201
        supervisor = Supervisor(server.base_url)
        supervisor.review(meeting, "hasIssues", '=1+1, "women": 21?\nفيه خطأ')

        (entry,) = phone.form_list("my_returned_forms")
        media = {m["filename"]: m for m in phone.manifest(entry)}["feedback.csv"]
        assert media["type"] == "entityList"
        rows = list(csv.DictReader(io.StringIO(phone.download_media(media).decode("utf-8"),
                                               newline="")))
        name = entry_name(FORM, meeting)
        assert [(r["name"], r["state"], r["comment"]) for r in rows] == [
            (name, "hasIssues", '=1+1, "women": 21?\nفيه خطأ')]

        body = (f"<returned>{name}</returned><answer>Counted again: 12 women</answer>")
        assert phone.submit(instance("my_returned_forms", "2026120301", body)).status == 201
        thread = re.search(r'<ol id="comments".*?</ol>', supervisor.page(meeting), re.S)[0]
        assert "<bdi>officer</bdi>" in thread and "Counted again: 12 women" in thread

        supervisor.review(meeting, "approved")
        assert phone.deleted_states(media, [name]) == {name: True}
