"""The page of field offices at headquarters: each office registered, with what its link holds
(made through the services and the office's own calls: a hello, a key, a refused change, a review
that crossed one made here); registering an office from the page shows its join command once,
and the token in it opens /sync/v1; only administrators reach it; Arabic and Kurdish right to
left. On an office's own server, the same page shows its link to headquarters."""

from __future__ import annotations

import hashlib
import re
import socket
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from lxml import html

from server.database import per_request
from server.database.models import AuditEvent, SyncLog, SyncPeer
from server.kernel import i18n
from server.services.field_office import applying, registry, status, syncing
from server.services.field_office.client import LinkDown
from sync import bundles, field_sync
from sync.field_sync import Item
from tests.support.cases import REFERRAL
from tests.support.instances import new_id
from tests.support.programme_meetings import forum_meeting

PUBLIC_URL = "http://muntada.test:5000"  # tests/conftest.py's app


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def office_row(page, name: str):
    rows = page.xpath(f'//table[@id="field-offices"]/tbody/tr[@data-office="{name}"]')
    assert len(rows) == 1, f"no row for {name}"
    return rows[0]


def cell(row, name: str) -> str:
    """A cell's words, its lines (<br>, list items) apart."""
    return words(row.xpath(f'td[contains(@class, "{name}")]')[0])


def words(element) -> str:
    return " ".join(" ".join(element.itertext()).split())


def read(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return html.fromstring(response.get_data(as_text=True))


@pytest.fixture
def nineveh_meeting(programme, make_phone, browser_for):
    """A meeting a phone sent headquarters from Qayyarah, approved by an administrator here."""
    phone = make_phone("officer")
    instance_id = new_id()
    reply = phone.submit(forum_meeting(governorate="nineveh", district="mosul",
                                       forum="nin_qayyarah_01", instance_id=instance_id))
    assert reply.status == 201, reply.body
    reviewer = browser_for("administrator", username="hq-admin")
    reply = reviewer.post(f"/forms/forum_meeting/submissions/{instance_id}/review",
                          {"state": "approved", "comment": "", "version": instance_id})
    assert reply.status_code == 303, reply.get_data(as_text=True)[:2000]
    return instance_id


def changes(session, kinds, *, not_from: int | None = None) -> int:
    """Every change this server logged of `kinds`, but those `not_from` sent it."""
    return session.scalar(sa.select(sa.func.count()).select_from(SyncLog).where(
        SyncLog.kind.in_(kinds),
        sa.or_(SyncLog.peer_id.is_(None), SyncLog.peer_id != not_from)))


def test_the_list_shows_each_office_its_link_and_what_went_wrong(
        app, client, session, load, nineveh_meeting, browser_for):
    qayyarah, token = registry.register(session, "qayyarah", [("governorate", "nineveh")])
    registry.register(session, "khalis", [("forum", "dyl_khalis_01")])
    session.commit()
    # the office's server joins (its key) and calls, holding seven changes of its own
    key = bundles.public_key_of(bundles.new_private_key())
    assert client.post("/sync/v1/key", json={"public_key": key},
                       headers=bearer(token)).status_code == 200
    assert client.get("/sync/v1/hello", headers=bearer(
        token, **{"X-Muntada-Last-Seq": "7"})).status_code == 200
    # it sends two: a review its supervisor made without seeing the one made here, and a
    # submission that does not read
    made = datetime.now(UTC)
    crossing = Item(1, "review", {
        "form": "forum_meeting", "instance_id": nineveh_meeting,
        "key": field_sync.review_key(nineveh_meeting, made, "office-sup", "rejected", "twice"),
        "author": "office-sup", "review_state": "rejected", "body": "twice",
        "version_id": None, "created_at": field_sync.timestamp(made), "seen": []})
    unreadable = Item(2, "submission", {"xml": "this is not base64!"})
    session.rollback()
    done = applying.apply(session, app.extensions["blobs"], qayyarah.id, [crossing, unreadable])
    assert done.conflicts == 1 and [seq for seq, _ in done.refused] == [2]
    # headquarters changes after the office's call: a form loaded again (not numbered yet)
    load(REFERRAL)
    session.rollback()
    # the office has applied none of headquarters' changes: every one of them waits
    waiting_down = changes(session, field_sync.DOWN, not_from=qayyarah.id)
    # (those not yet numbered counted too)
    link = next(link for link in status.links(session) if link.name == "qayyarah")
    assert waiting_down == link.waiting_here > 0

    page = read(browser_for("administrator").get("/field-offices?lang=en"))
    row = office_row(page, "qayyarah")
    assert cell(row, "office") == "qayyarah Governorate: nineveh"
    assert cell(row, "joined") == f"joined {key[:16]}…"
    assert cell(row, "contact").endswith("less than a minute ago")
    assert cell(row, "waiting") == f"to the office: {waiting_down} from the office: 5"
    refused = cell(row, "refusals")
    assert refused.startswith("1 change 2") and "could not be read" in refused
    links = row.xpath('td[contains(@class, "conflicts")]//a/@href')
    assert links == [f"/forms/forum_meeting/submissions/{nineveh_meeting}"]
    assert cell(row, "conflicts") == f"1 forum_meeting · {nineveh_meeting[5:13]}…"
    # headquarters records what went wrong with the office's changes
    assert cell(row, "last-error").startswith("refused: 1; the latest: A change sent")

    other = office_row(page, "khalis")
    assert cell(other, "last-error") == "none"
    assert cell(other, "joined") == "not yet" and cell(other, "contact") == "never"
    assert cell(other, "refusals") == "none" and cell(other, "conflicts") == "none"
    assert page.xpath('//form[@action="/field-offices"]')  # headquarters registers offices
    assert not page.xpath('//*[@id="headquarters"]')


def test_registering_shows_the_join_command_once_and_its_token_opens_the_sync(
        client, session, browser_for):
    admin = browser_for("administrator", username="registrar")
    assert 'href="/field-offices"' in admin.get("/field-offices").get_data(as_text=True)
    page = read(admin.post("/field-offices", {
        "name": "Qayyarah office", "governorate": "nineveh\n", "forum": " nin_qayyarah_01 "}))
    command = page.xpath('//*[@id="join-command"]')[0].text_content()
    found = re.fullmatch(r"muntada field-office join (\S+) ([0-9a-f]{64})", command)
    assert found is not None, command
    assert found.group(1) == PUBLIC_URL
    token = found.group(2)

    hello = client.get("/sync/v1/hello", headers=bearer(token))
    assert hello.status_code == 200, hello.get_data(as_text=True)
    assert hello.get_json()["office"] == "qayyarah office"  # names are kept in lower case
    assert hello.get_json()["places"] == [["forum", "nin_qayyarah_01"],
                                          ["governorate", "nineveh"]]
    assert client.get("/sync/v1/hello", headers=bearer("0" * 64)).status_code == 401

    # never again: not on the page, not in the database (its SHA-256 only)
    again = admin.get("/field-offices?lang=en")
    assert token not in again.get_data(as_text=True)
    assert cell(office_row(read(again), "qayyarah office"), "contact").endswith(
        "less than a minute ago")  # it has called
    session.rollback()
    peer = session.scalars(sa.select(SyncPeer).where(SyncPeer.name == "qayyarah office")).one()
    assert peer.token is None and peer.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    # who registered it is in the audit log, the token is not
    event = session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "field_office.registered")).one()
    assert event.username == "registrar" and token not in event.details


@pytest.mark.parametrize(("form", "status_code", "code"), [
    ({"name": "qayyarah", "governorate": "nineveh"}, 409, "409.40"),  # the name is taken
    ({"name": "khalis", "governorate": "", "forum": "\n"}, 400, "400.5"),  # no place
    ({"name": "khalis/2", "governorate": "diyala"}, 400, "400.5"),  # a bad name
    ({"name": "  ", "governorate": "diyala"}, 400, "400.5"),
])
def test_a_refused_registration_says_why_and_registers_nothing(
        session, browser_for, form, status_code, code):
    registry.register(session, "qayyarah", [("governorate", "nineveh")])
    session.commit()
    admin = browser_for("administrator")
    admin.get("/field-offices")
    reply = admin.post("/field-offices?lang=en", form)
    assert reply.status_code == status_code
    page = html.fromstring(reply.get_data(as_text=True))
    assert page.xpath('//p[contains(@class, "problem")]')[0].text_content().strip()
    assert code in page.xpath("//small")[-1].text_content()
    assert "field-office join" not in reply.get_data(as_text=True)
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(SyncPeer)) == 1


@pytest.mark.parametrize("role", ["supervisor", "analyst"])
def test_only_administrators_reach_the_page(session, browser_for, role):
    reader = browser_for(role, scopes=[("governorate", "nineveh")] if role == "supervisor"
                         else ())
    home = reader.get("/forms").get_data(as_text=True)
    assert 'href="/field-offices"' not in home
    assert reader.get("/field-offices").status_code == 403
    assert reader.post("/field-offices", {"name": "qayyarah",
                                          "governorate": "nineveh"}).status_code == 403
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(SyncPeer)) == 0


@pytest.mark.parametrize("code", ["ar", "ckb"])
def test_the_page_is_in_arabic_and_kurdish_right_to_left(session, browser_for, code):
    registry.register(session, "qayyarah", [("governorate", "nineveh")])
    session.commit()
    admin = browser_for("administrator")
    page = read(admin.get(f"/field-offices?lang={code}"))
    assert page.xpath("/html/@lang") == [code] and page.xpath("/html/@dir") == ["rtl"]
    words = i18n.catalogue(code)
    text = " ".join(page.text_content().split())
    for english in ("Field offices", "Register a field office", "Last contact", "Waiting",
                    "Review conflicts", "not yet", "never"):
        assert words[english] in text, english
    assert "Field offices" not in text and "Register a field office" not in text
    assert page.xpath('//header//a[@href="/field-offices"]/text()') == [words["Field offices"]]


def test_on_an_office_s_server_the_page_shows_its_link_to_headquarters(
        app, session, programme, make_phone, browser_for):
    with socket.socket() as probe:  # an address where nothing listens: headquarters is away
        probe.bind(("127.0.0.1", 0))
        away = f"http://127.0.0.1:{probe.getsockname()[1]}"
    registry.join(session, away, "a" * 64, {
        "protocol": field_sync.PROTOCOL, "office": "qayyarah",
        "places": [["governorate", "nineveh"]], "up_seq": 0, "down_seq": 0, "last_seq": 9})
    session.commit()
    phone = make_phone("officer")
    assert phone.submit(forum_meeting(governorate="nineveh", district="mosul",
                                      forum="nin_qayyarah_01")).status == 201
    work = syncing.Syncing(per_request.of(app), app.extensions["blobs"], app.config["DATA_DIR"])
    with pytest.raises(LinkDown):
        work.sync()
    session.rollback()
    waiting_up = changes(session, field_sync.UP)  # headquarters has none of them
    assert waiting_up >= 1  # the meeting, at least

    page = read(browser_for("administrator").get("/field-offices?lang=en"))
    facts = page.xpath('//*[@id="headquarters"]')[0]
    text = " ".join(facts.text_content().split())
    assert away in text and "qayyarah" in text and "nineveh" in text
    assert " ".join(facts.xpath('.//dd[@class="waiting-up"]')[0].text_content().split()) \
        == str(waiting_up)
    assert facts.xpath('.//dd[@class="waiting-down"]')[0].text_content().split()[0] == "9"
    error = " ".join(facts.xpath('.//dd[@class="last-error"]')[0].text_content().split())
    assert error.startswith("headquarters could not be reached")
    # an office registers no offices of its own, and lists none
    assert not page.xpath('//form[@action="/field-offices"]')
    assert not page.xpath('//table[@id="field-offices"]')
