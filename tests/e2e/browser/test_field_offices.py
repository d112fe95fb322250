"""Headquarters' page of field offices, in a real browser: the Qayyarah office's own server (a
second `muntada serve`, SQLite, joined with the command the register command printed) has
synced its officer's meetings, and one of them was reviewed at both ends before the sync; the
administrator reads the office's row in Arabic, right to left, follows its review conflict to the
submission, registers a second office from the page, copies its join command once and does not
see its token again."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
import requests

from tests.e2e.browser.browsing import (
    box,
    goto,
    language,
    nav_link,
    path_of,
    review,
    screenshot,
    scrolls_sideways,
    sign_in,
    submit,
    translated,
)
from tests.e2e.browser.conftest import PHONE_VIEWPORT, Person, create_person
from tests.e2e.browser.meetings import Meeting, blank_form, send
from tests.e2e.conftest import ServerProcess, free_port, muntada_environment, run_cli
from tests.support.phone import Phone, http_transport

pytestmark = pytest.mark.e2e

FORM = "forum_meeting"
OFFICE_SUPERVISOR = Person("nour", "supervisor", governorates=("nineveh",))


class Office:
    """The field office's own server: its environment and its process."""

    def __init__(self, root):
        """Started, not yet answering: `join` waits for it."""
        self.port = free_port()
        self.env = muntada_environment(root / "office-data", self.port, None)
        self.env["MUNTADA_SYNC_EVERY"] = "0"  # it syncs when the test says
        self.server = ServerProcess(self.env, self.port, root / "office-serve.log")
        self.base_url = self.server.base_url
        self.joined = ""
        self.sent: list[str] = []

    def url(self, path: str) -> str:
        return self.base_url + path

    def join(self, hq_url: str, token: str) -> None:
        self.server.wait_ready(self.url("/login"))
        self.joined = run_cli(self.env, "field-office", "join", hq_url, token)

    def sync(self) -> str:
        return run_cli(self.env, "field-office", "sync")


@pytest.fixture(scope="module")
def office(site, tmp_path_factory):
    """Qayyarah's office registered at headquarters and joined; its officer sent three
    meetings to the office, which synced them up; the first was approved at headquarters and
    rejected at the office before the next sync, so headquarters holds a review conflict."""
    root = tmp_path_factory.mktemp("field-office")
    with ExitStack() as stack:
        # the office's server starts, and headquarters' two commands run, at once: each spends
        # seconds importing, little in the database
        office = Office(root)
        stack.callback(office.server.stop)
        with ThreadPoolExecutor(2) as pool:
            officer = pool.submit(run_cli, site.env, "app-users", "create", "officer-qayyarah",
                                  "--governorate", "nineveh")
            registered = pool.submit(run_cli, site.env, "field-office", "register", "qayyarah",
                                     "--governorate", "nineveh")
            officer, registered = officer.result(), registered.result()
        officer_token = re.search(r"/collect/key/(\S+)", officer).group(1)
        join = re.search(r"muntada field-office join (\S+) (\S+)", registered)
        assert join.group(1) == site.base_url, registered  # the hq's MUNTADA_PUBLIC_URL
        office.join(join.group(1), join.group(2))
        assert "Joined headquarters" in office.joined, office.joined
        create_person(office.env, OFFICE_SUPERVISOR)
        with requests.Session() as http:
            phone = Phone(http_transport(http), office.url(f"/collect/key/{officer_token}"))
            form = blank_form(phone)
            sent = [send(phone, form, Meeting(
                governorate="nineveh", district="mosul", forum="nin_qayyarah_01",
                day=f"2026-11-{20 + n}", issue=f"مولدة الحي رقم {n + 1}")) for n in range(3)]
        assert "up: 3 applied" in office.sync()
        office.sent = sent
        yield office


def reviewed(page, server, instance_id: str, state: str, comment: str = "") -> None:
    goto(page, server, f"/forms/{FORM}/submissions/{instance_id}")
    review(page, state, comment)


def test_the_administrator_reads_the_office_s_link_and_registers_another(
        open_page, site, office):
    crossed = office.sent[0]
    hq = open_page()
    sign_in(hq, site, site.person("admin"))
    reviewed(hq, site, crossed, "approved")
    at_office = open_page()
    sign_in(at_office, office, OFFICE_SUPERVISOR)  # its own server, its own supervisor
    reviewed(at_office, office, crossed, "rejected", "مكرر: الاجتماع نفسه")
    office.sync()

    # the administrator's page, in Arabic (the browser's language), right to left
    submit(hq, nav_link(hq, "/field-offices"))
    assert language(hq) == ("ar", "rtl")
    assert hq.locator("main h1").inner_text() == translated("ar", "Field offices")
    row = hq.locator("#field-offices tbody tr[data-office=qayyarah]")
    assert translated("ar", "joined") in row.locator("td.joined").inner_text()
    assert translated("ar", "less than a minute ago") in row.locator("td.contact").inner_text()
    assert row.locator("td.refusals").inner_text() == translated("ar", "none")
    assert row.locator("td.last-error").inner_text() == translated("ar", "none")
    conflict = row.locator("td.conflicts a")
    assert conflict.count() == 1
    assert conflict.get_attribute("href") == f"/forms/{FORM}/submissions/{crossed}"
    assert not scrolls_sideways(hq)

    # a second office, registered here: its join command is shown once
    register = hq.locator("form[action='/field-offices']")
    register.locator("input[name=name]").fill("khalis")
    register.locator("textarea[name=governorate]").fill("diyala")
    submit(hq, register.locator("button[type=submit]"))
    command = hq.locator("#join-command").inner_text()
    found = re.fullmatch(r"muntada field-office join (\S+) ([0-9a-f]{64})", command)
    assert found is not None and found.group(1) == site.base_url, command
    hello = requests.get(f"{site.base_url}/sync/v1/hello", timeout=30,
                         headers={"Authorization": f"Bearer {found.group(2)}"})
    assert hello.status_code == 200 and hello.json()["office"] == "khalis"

    goto(hq, site, "/field-offices")
    assert found.group(2) not in hq.content()
    assert hq.locator("#field-offices tbody tr").count() == 2
    assert not scrolls_sideways(hq)
    table = box(hq, "#field-offices")  # the picture: down to the table's end, not the form
    screenshot(hq, "field-offices", clip={"x": 0, "y": 0, "width": hq.viewport_size["width"],
                                          "height": table["y"] + table["height"] + 16})

    # the conflict's link leads to the submission, where a supervisor settles it
    submit(hq, hq.locator("#field-offices tr[data-office=qayyarah] td.conflicts a"))
    assert path_of(hq) == f"/forms/{FORM}/submissions/{crossed}"


def test_the_page_fits_a_phone_s_screen(open_page, site, office):
    page = open_page(viewport=PHONE_VIEWPORT)
    sign_in(page, site, site.person("admin"))
    submit(page, nav_link(page, "/field-offices"))
    assert page.locator("#field-offices tbody tr[data-office=qayyarah]").is_visible()
    assert not scrolls_sideways(page)  # the table scrolls in its own box
    for element in ("main h1", "main form[action='/field-offices'] button"):
        found = box(page, element)
        assert found["x"] >= 0 and found["x"] + found["width"] <= PHONE_VIEWPORT["width"], element
