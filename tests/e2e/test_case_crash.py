"""A real server killed with SIGKILL while it applies a case update (the case's new version
written, its transaction not committed), on SQLite and PostgreSQL: after the restart the case is
what its submissions say, and the phone's retry applies the update exactly once."""

from __future__ import annotations

import json
import signal
import uuid

import pytest
import requests

from tests.e2e.conftest import STOP_TIMEOUT, collect_url, free_port, muntada_environment, run_cli
from tests.e2e.test_durability import Site, kill_server
from tests.support.cases import FOLLOW_UP, REFERRAL, follow_up, referral
from tests.support.phone import Phone, http_transport

pytestmark = pytest.mark.e2e
CASE_MARKER = "crash shim: SIGKILL while applying a case update"


@pytest.fixture(scope="module")
def case_site(e2e_database_url, tmp_path_factory) -> Site:
    root = tmp_path_factory.mktemp("case-crash")
    port = free_port()
    env = muntada_environment(root / "data", port, e2e_database_url, workers=1)
    for name, source in (("referral.md", REFERRAL), ("follow_up.md", FOLLOW_UP)):
        (root / name).write_bytes(source)
        run_cli(env, "forms", "add", "--no-validate", str(root / name))
    officer = run_cli(env, "app-users", "create", "officer", "--forum", "F1")
    return Site(root=root, data_dir=root / "data", port=port, env=env,
                database_url=e2e_database_url, officer_url=collect_url(officer))


@pytest.fixture
def site(case_site: Site):
    try:
        yield case_site
    finally:
        case_site.kill_servers()


def test_killed_while_a_case_update_is_applied_the_retry_applies_it_once(site):
    case_id = str(uuid.uuid4())
    site.serve()
    with requests.Session() as session:
        phone = Phone(http_transport(session), site.officer_url)
        assert phone.submit(referral(case_id)).status == 201
    for server in site.servers:
        kill_server(server)
    update = follow_up(case_id, "in_progress", base=1)

    server = site.serve_crashing(MUNTADA_TEST_CRASH_IN_CASE_UPDATE="1")
    with requests.Session() as session, pytest.raises(requests.ConnectionError):
        Phone(http_transport(session), site.officer_url).submit(update)
    assert server.process.wait(STOP_TIMEOUT) == -signal.SIGKILL, server.output()
    kill_server(server)
    assert CASE_MARKER in server.output()

    # nothing of the interrupted transaction is left: the case is what its one submission says
    assert site.rows("SELECT version, status FROM entities WHERE uuid = ?", case_id) == [
        (1, "open")]
    assert site.rows("SELECT count(*) FROM submissions") == [(1,)]

    site.serve()
    with requests.Session() as session:
        reply = Phone(http_transport(session), site.officer_url).submit(update)
        assert reply.status == 201, reply.body
        assert Phone(http_transport(session), site.officer_url).submit(update).status == 201
    ((version, status, data),) = site.rows(
        "SELECT version, status, data FROM entities WHERE uuid = ?", case_id)
    assert (version, status, json.loads(data)["status"]) == (2, "in_progress", "in_progress")
    assert site.rows("SELECT count(*) FROM entity_defs") == [(2,)]
    assert site.rows("SELECT count(*) FROM submissions") == [(2,)]
