"""Edits from phones: the versions of a submission and what changed between them."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

from server.database.models import AuditEvent
from tests.review.conftest import LIST, forum_meeting
from tests.support.instances import new_id


def test_versions_are_listed_and_the_diff_shows_changed_fields(send, phone, browser_for,
                                                               session):
    first = send(women="3", notes="First notes", facilitator="Layla")
    second = new_id()
    reply = phone.submit(forum_meeting(instance_id=second, deprecated_id=first, women="4",
                                       notes="Corrected notes", facilitator="Layla Hassan"))
    assert reply.status == 201
    supervisor = browser_for("supervisor", scopes=[("governorate", "anbar")])
    page = supervisor.get(f"{LIST}/{first}?lang=en").get_data(as_text=True)
    history = re.search(r'<section id="history">.*?</section>', page, re.S).group(0)
    assert first in history and second in history and "officer" in history
    assert '<span class="state state-edited">' in page
    link = re.search(r'href="([^"]*/diff\?[^"]+)"', history).group(1).replace("&amp;", "&")
    assert link == f"{LIST}/{first}/diff?from={first.replace(':', '%3A')}" \
                   f"&to={second.replace(':', '%3A')}"

    diff = supervisor.get(link + "&lang=en").get_data(as_text=True)
    table = re.search(r'<table id="diff".*?</table>', diff, re.S).group(0)
    rows = dict(re.findall(r'<tr data-path="([^"]+)">(.*?)</tr>', table, re.S))
    assert set(rows) == {"/attendance_police/police_women", "/attendance_idp/idp_women",
                         "/attendance_host/host_women", "/attendance_returnee/returnee_women",
                         "/attendance_civil_society/civil_society_women",
                         "/attendance_judiciary/judiciary_women",
                         "/attendance_local_authority/local_authority_women",
                         "/notes", "/facilitator"}
    assert "First notes" in rows["/notes"] and "Corrected notes" in rows["/notes"]
    assert "Women" in rows["/attendance_police/police_women"]
    assert "Layla" not in table and 'class="value masked"' in rows["/facilitator"]


def test_the_diff_shows_personal_fields_to_readers_allowed_and_audits_it(send, phone,
                                                                          browser_for, session):
    first = send(facilitator="Layla")
    second = new_id()
    phone.submit(forum_meeting(instance_id=second, deprecated_id=first,
                               facilitator="Layla Hassan"))
    reader = browser_for("administrator", personal_data=True)
    diff = reader.get(f"{LIST}/{first}/diff?from={first}&to={second}").get_data(as_text=True)
    assert "Layla Hassan" in diff
    session.rollback()
    event = session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "submission.personal_viewed"))
    assert json.loads(event.details)["fields"] == ["/facilitator"]


def test_an_unknown_version_is_404(send, browser_for):
    first = send()
    admin = browser_for("administrator")
    assert admin.get(f"{LIST}/{first}/diff?from={first}&to=uuid:x").status_code == 404
    assert admin.get(f"{LIST}/{first}/diff").status_code == 404
