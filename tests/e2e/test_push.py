"""`muntada push` run as an operator runs it, against a real `muntada serve` (SQLite, and PostgreSQL
when TEST_DATABASE_URL is set) that accepts at most 300 KB per request, so a meeting with three
photos is sent in two POSTs: a Collect folder and a Briefcase folder of programme meetings, a second
run that sends nothing, the server's refusals in the summary, and pushes cut in the middle of a
photo (tests/support/proxy.py) then run again. What the server holds is read from its database and
its blob store: exactly one of each instance, every attachment's SHA-256 that of the folder's file.
One server per database for the whole module."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from server.services import pushing
from tests.e2e.conftest import (
    APP_USER_PASSWORD,
    CLI_TIMEOUT,
    MUNTADA,
    REPO,
    ServerProcess,
    collect_url,
    free_port,
    muntada_environment,
    run_cli,
)
from tests.support.instances import new_id
from tests.support.phone_folders import Filled, briefcase_storage, collect_folder, collect_name
from tests.support.programme_meetings import forum_meeting
from tests.support.proxy import FaultProxy

pytestmark = pytest.mark.e2e

LIMIT = 300_000
PHOTO = 110_000  # two fit in one request with the XML, three do not


@dataclass
class PushSite:
    root: Path
    env: dict[str, str]
    database_url: str | None
    officer_url: str  # token address
    password_url: str  # /collect, for --user
    port: int
    server: ServerProcess

    def rows(self, sql: str, *params) -> list[tuple]:
        if self.database_url is None:
            with closing(sqlite3.connect(self.root / "data" / "muntada.sqlite", timeout=30)) as db:
                return db.execute(sql, params).fetchall()
        import psycopg

        dsn = self.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(dsn) as db:
            return db.execute(sql.replace("?", "%s"), params).fetchall()

    def held(self, instance_id: str) -> dict[str, str]:
        """The one submission with this instanceID, as one version: its files' SHA-256 by name,
        each checked against the blob on disk."""
        submissions = self.rows("SELECT id FROM submissions WHERE instance_id = ?", instance_id)
        versions = self.rows("SELECT id FROM submission_defs WHERE instance_id = ?", instance_id)
        assert len(submissions) == 1 and len(versions) == 1, (instance_id, submissions, versions)
        held = dict(self.rows("SELECT name, blob_sha256 FROM submission_attachments"
                              " WHERE submission_def_id = ?", versions[0][0]))
        for name, sha in held.items():
            assert sha is not None, f"{name} of {instance_id} has not arrived"
            blob = self.root / "data" / "blobs" / sha[:2] / sha[2:4] / sha
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == sha, name
        return held

    def count(self, instance_id: str) -> int:
        return self.rows("SELECT COUNT(*) FROM submissions WHERE instance_id = ?",
                         instance_id)[0][0]

    def through(self, proxy: FaultProxy, url: str) -> str:
        return url.replace(f"127.0.0.1:{self.port}", f"127.0.0.1:{proxy.port}", 1)


@pytest.fixture(scope="module")
def site(e2e_programme) -> PushSite:
    root, database_url = e2e_programme.root, e2e_programme.database_url
    port = free_port()
    env = muntada_environment(e2e_programme.data_dir, port, database_url)
    env["MUNTADA_MAX_SUBMISSION_BYTES"] = str(LIMIT)
    # the server starts while both commands run: each spends seconds importing
    server = ServerProcess(env, port, root / "serve.log")
    try:
        with ThreadPoolExecutor(2) as pool:
            officer = pool.submit(run_cli, env, "app-users", "create", "officer")
            laptop = pool.submit(run_cli, env, "app-users", "create", "field-laptop",
                                 "--password", input=f"{APP_USER_PASSWORD}\n{APP_USER_PASSWORD}\n")
            officer = officer.result()
            laptop.result()
        officer_url = collect_url(officer)
        server.wait_ready(f"{officer_url}/formList")
        yield PushSite(root=root, env=env, database_url=database_url,
                       officer_url=officer_url, password_url=f"{server.base_url}/collect",
                       port=port, server=server)
    finally:
        server.stop()


def push(site: PushSite, folder: Path, url: str, state: Path, *extra: str
         ) -> subprocess.CompletedProcess:
    env = {**site.env, "XDG_STATE_HOME": str(state.parent / "xdg")}
    return subprocess.run([*MUNTADA, "push", str(folder), url, "--state", str(state), *extra],
                          env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, check=False)


def counts(result: subprocess.CompletedProcess) -> dict[str, int]:
    found = {}
    for line in result.stdout.splitlines():
        for label in ("accepted", "already held", "refused", "skipped", "failed"):
            if line.startswith(f"  {label} "):
                found[label] = int(line[len(label) + 2:].split()[0])
    assert len(found) == 5, result.stdout + result.stderr
    return found


def lines(result: subprocess.CompletedProcess, kind: str) -> dict[str, str]:
    return {line.split("\t")[1]: line.split("\t")[2] for line in result.stdout.splitlines()
            if line.startswith(kind + "\t")}


def meeting(n_photos: int, *, photo_size: int = PHOTO, **options) -> Filled:
    names = tuple(f"photo-{n}.jpg" for n in range(1, n_photos + 1))
    return Filled(forum_meeting(photos=names, instance_id=options.pop("instance_id", new_id()),
                                **options),
                  {name: os.urandom(photo_size) for name in names})


def instance_id(filled: Filled) -> str:
    from sync.instance import read_identity

    return read_identity(filled.xml)[0].instance_id


def shas(filled: Filled) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in filled.files.items()}


def test_a_collect_folder_is_sent_whole_once_and_a_second_run_sends_nothing(site, tmp_path):
    sent = {collect_name("forum_meeting", n): meeting(n) for n in range(4)}  # 0 to 3 photos
    draft = meeting(1)
    draft.status = "incomplete"
    instances = collect_folder(tmp_path / "phone", {**sent, "forum_meeting_draft": draft},
                               with_database=True)
    state = tmp_path / "state.json"
    proxy = FaultProxy(site.port).start()  # both runs through it, to count what each sends
    url = site.through(proxy, site.officer_url)
    try:
        first = push(site, instances, url, state)
        sent_first = proxy.bytes_up
        second = push(site, instances, url, state)
        sent_second = proxy.bytes_up - sent_first
    finally:
        proxy.stop()

    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stderr == ""  # no progress bar when stderr is not a terminal
    assert counts(first) == {"accepted": 4, "already held": 0, "refused": 0, "skipped": 1,
                             "failed": 0}
    assert "(1 sent in parts)" in first.stdout  # the meeting with three photos
    assert lines(first, "skipped") == {"forum_meeting_draft": (
        "not finalised on the phone (Collect's status: incomplete); finalise it in Collect and "
        "copy the folder again")}
    for filled in sent.values():
        assert site.held(instance_id(filled)) == shas(filled)
    assert site.count(instance_id(draft)) == 0

    assert sent_first > 6 * PHOTO
    assert second.returncode == 0, second.stdout + second.stderr
    assert counts(second) == {"accepted": 0, "already held": 4, "refused": 0, "skipped": 1,
                              "failed": 0}
    assert "4 known from an earlier run, not sent again" in second.stdout, second.stdout
    assert sent_second < 1000  # the pre-flight HEAD, nothing else
    for filled in sent.values():
        assert site.held(instance_id(filled)) == shas(filled)


def test_a_briefcase_folder_is_sent_with_a_password_over_digest(site, tmp_path):
    filled = [("Forum meeting", meeting(1)), ("Forum meeting", meeting(3)),
              ("Forum meeting", meeting(0))]
    storage = briefcase_storage(tmp_path, filled)

    result = push(site, storage, site.password_url, tmp_path / "state.json",
                  "--user", "field-laptop", "--password", APP_USER_PASSWORD)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "(Briefcase storage)" in result.stdout
    assert counts(result)["accepted"] == 3
    for _form, one in filled:
        assert site.held(instance_id(one)) == shas(one)

    refused = push(site, storage, site.password_url, tmp_path / "other.json",
                   "--user", "field-laptop", "--password", "not-the-password")
    assert refused.returncode != 0
    assert "refused the login (HTTP 401" in refused.stderr


def test_refusals_are_reported_with_the_server_s_reason_and_exit_non_zero(site, tmp_path):
    kept = meeting(1)
    same_id = instance_id(kept)
    first_folder = collect_folder(tmp_path / "first", {"forum_meeting_a": kept})
    assert push(site, first_folder, site.officer_url, tmp_path / "one.json").returncode == 0

    other_phone = {
        # the identical instance again, unknown to this state: the server says it has it
        "forum_meeting_a": kept,
        # a different XML under the same instanceID
        "forum_meeting_b": meeting(0, instance_id=same_id, notes="changed afterwards"),
        # a photo alone larger than the server accepts: never sent
        "forum_meeting_c": meeting(1, photo_size=LIMIT + 1),
        # a form the server does not have
        "unknown_form_d": Filled(forum_meeting().replace(b'id="forum_meeting"',
                                                          b'id="no_such_form"')),
        "forum_meeting_e": meeting(2),
    }
    folder = collect_folder(tmp_path / "second", other_phone)

    result = push(site, folder, site.officer_url, tmp_path / "two.json")

    assert result.returncode == 1, result.stdout + result.stderr
    assert counts(result) == {"accepted": 1, "already held": 1, "refused": 3, "skipped": 0,
                              "failed": 0}
    refused = lines(result, "refused")
    assert refused["forum_meeting_b"].startswith(
        f"A different submission with the same ID ({same_id}) was already received")
    assert refused["forum_meeting_b"].endswith("(HTTP 409)")
    assert refused["forum_meeting_c"] == (
        "not sent: the file photo-1.jpg (300.0 KB) is larger than the 300.0 KB the server "
        "accepts in one request")
    assert refused["unknown_form_d"].endswith("(HTTP 404)")
    assert site.held(same_id) == shas(kept)
    assert site.count(instance_id(other_phone["forum_meeting_c"])) == 0
    assert site.held(instance_id(other_phone["forum_meeting_e"])) == \
        shas(other_phone["forum_meeting_e"])

    # the refused are tried again on the next run (a closed form may reopen); the rest are not
    again = push(site, folder, site.officer_url, tmp_path / "two.json")
    assert counts(again) == {"accepted": 0, "already held": 2, "refused": 3, "skipped": 0,
                             "failed": 0}


def test_a_push_cut_in_the_middle_of_a_photo_goes_on_when_run_again(site, tmp_path):
    phone = {collect_name("forum_meeting", n): meeting(photos) for n, photos in
             enumerate((1, 2, 1, 3))}
    instances = collect_folder(tmp_path / "phone", phone)
    state = tmp_path / "state.json"
    first_post = PHOTO + 10_000  # the first meeting, its XML and its one photo, and headers

    with FaultProxy(site.port) as proxy:
        # ~70 KB into the second meeting's first photo
        proxy.cut_after(first_post + 70_000, direction="up")
        cut = push(site, instances, site.through(proxy, site.officer_url), state,
                   "--retries", "0", "--parallel", "1")  # one after the other, as Collect
        assert proxy.cuts == 1

    assert cut.returncode == 1, cut.stdout + cut.stderr
    assert counts(cut) == {"accepted": 1, "already held": 0, "refused": 0, "skipped": 0,
                           "failed": 3}
    assert "(2 not tried)" in cut.stdout and "Stopped: the server could not be reached" in \
        cut.stdout
    names = list(phone)
    assert site.held(instance_id(phone[names[0]])) == shas(phone[names[0]])
    assert [site.count(instance_id(phone[n])) for n in names[1:]] == [0, 0, 0]

    again = push(site, instances, site.officer_url, state)

    assert again.returncode == 0, again.stdout + again.stderr
    assert counts(again) == {"accepted": 3, "already held": 1, "refused": 0, "skipped": 0,
                             "failed": 0}
    for filled in phone.values():
        assert site.held(instance_id(filled)) == shas(filled)


def test_a_split_upload_cut_in_its_second_part_sends_only_that_part_again(site, tmp_path):
    phone = {"forum_meeting_a": meeting(3)}  # photos 1 and 2 in the first POST, 3 in the second
    instances = collect_folder(tmp_path / "phone", phone)
    state = tmp_path / "state.json"
    filled = phone["forum_meeting_a"]
    with FaultProxy(site.port) as proxy:
        url = site.through(proxy, site.officer_url)
        proxy.cut_after(2 * PHOTO + 10_000 + PHOTO // 2, direction="up")  # half-way in photo 3
        cut = push(site, instances, url, state, "--retries", "0")
        assert proxy.cuts == 1
        assert cut.returncode == 1 and counts(cut)["failed"] == 1, cut.stdout + cut.stderr
        (record,) = json.loads(state.read_text())["servers"][
            pushing.target_for(url).server].values()
        assert (record["files_sent"], record["done"]) == (["photo-1.jpg", "photo-2.jpg"], False)
        versions = site.rows("SELECT attachments_present, attachments_expected FROM "
                             "submission_defs WHERE instance_id = ?", instance_id(filled))
        assert versions == [(2, 3)]

        before = proxy.bytes_up
        again = push(site, instances, url, state)
        resent = proxy.bytes_up - before

    assert again.returncode == 0, again.stdout + again.stderr
    assert counts(again)["accepted"] == 1  # what the first part's answer said
    assert PHOTO < resent < 2 * PHOTO  # the XML and photo 3, not photos 1 and 2 again
    assert site.held(instance_id(filled)) == shas(filled)


def test_a_photo_goes_through_a_slow_link_that_takes_longer_than_the_timeout(site, tmp_path):
    """At 32 KB/s (2G at its best) a 280 KB photo takes 8.75 s to send, longer than --timeout 6:
    the timeout bounds each wait on the link, never the whole upload. (The 64 KB the kernel may
    still hold after the last block drain in 2 s, well within the timeout.)"""
    phone = {"forum_meeting_a": meeting(1, photo_size=280_000)}
    instances = collect_folder(tmp_path / "phone", phone)
    with FaultProxy(site.port) as proxy:
        proxy.rate(32_000)
        result = push(site, instances, site.through(proxy, site.officer_url),
                      tmp_path / "state.json", "--timeout", "6", "--retries", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert counts(result)["accepted"] == 1
    assert site.held(instance_id(phone["forum_meeting_a"])) == shas(phone["forum_meeting_a"])


def test_the_progress_bar_shows_on_a_terminal(site, tmp_path):
    import pty

    instances = collect_folder(tmp_path / "phone", {"forum_meeting_a": meeting(0)})
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [*MUNTADA, "push", str(instances), site.officer_url, "--state",
             str(tmp_path / "state.json")], env=site.env, cwd=REPO, stdout=subprocess.PIPE,
            stderr=follower, text=True, timeout=CLI_TIMEOUT, check=False)
        os.close(follower)
        follower = None
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal is closed once everything is read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if follower is not None:
            os.close(follower)
        os.close(leader)
    assert result.returncode == 0, result.stdout
    assert b"Sending" in shown and b"1/1" in shown


def test_an_answer_lost_after_the_server_stored_it_is_recognised_on_the_retry(site, tmp_path):
    """The link drops while the 201 comes back: the push tries again, and the server answers that
    it already holds the instance, which is what the summary says."""
    phone = {"forum_meeting_a": meeting(2)}
    instances = collect_folder(tmp_path / "phone", phone)
    with FaultProxy(site.port) as proxy:
        url = site.through(proxy, site.officer_url)
        with requests.Session() as session:  # the pre-flight's answer, as the push will get it
            session.headers.update(pushing.HEADERS)
            assert session.head(f"{url}/submission", timeout=5).status_code == 204
        preflight = proxy.bytes_down
        # 5 bytes into the 201: "HTTP/" (a cut after the status line would still read as 201)
        proxy.cut_after(preflight + 5, direction="down")
        result = push(site, instances, url, tmp_path / "state.json", "--retries", "2")
        assert proxy.cuts == 1

    assert result.returncode == 0, result.stdout + result.stderr
    assert counts(result) == {"accepted": 0, "already held": 1, "refused": 0, "skipped": 0,
                              "failed": 0}
    assert site.held(instance_id(phone["forum_meeting_a"])) == shas(phone["forum_meeting_a"])


def test_a_push_killed_mid_run_leaves_its_state_readable_and_the_next_run_finishes(
        site, tmp_path):
    phone = {collect_name("forum_meeting", n): meeting(1) for n in range(6)}
    instances = collect_folder(tmp_path / "phone", phone)
    state = tmp_path / "state.json"
    with FaultProxy(site.port) as proxy:
        proxy.rate(250_000)  # about half a second a meeting
        env = {**site.env, "XDG_STATE_HOME": str(tmp_path / "xdg")}
        running = subprocess.Popen(
            [*MUNTADA, "push", str(instances), site.through(proxy, site.officer_url),
             "--state", str(state)], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            # killed once the state has been written and the third meeting is on its way
            assert proxy.wait_for(lambda p: state.exists() and p.bytes_up > 2.5 * PHOTO,
                                  timeout=30)
            running.kill()
        finally:
            running.wait(10)
    assert running.returncode == -9

    recorded = json.loads(state.read_text())  # whole, whatever moment the kill came
    (records,) = recorded["servers"].values()
    assert 1 <= len(records) < len(phone)
    assert all(r["done"] and r["outcome"] == "accepted" for r in records.values())

    again = push(site, instances, site.officer_url, state)
    assert again.returncode == 0, again.stdout + again.stderr
    found = counts(again)
    assert found["accepted"] + found["already held"] == len(phone)
    for filled in phone.values():
        assert site.held(instance_id(filled)) == shas(filled)
