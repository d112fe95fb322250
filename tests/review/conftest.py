"""Fixtures of the review workspace: the programme's forms, forum meetings sent by a phone, and
people signed in with each role and scope."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from server.models import Submission
from tests.support.instances import instance, new_id

VERSION = "2026112901"
FORM = "forum_meeting"
LIST = f"/forms/{FORM}/submissions"


def forum_meeting(*, governorate: str = "anbar", district: str = "ramadi",
                  forum: str = "anb_ramadi_01", facilitator: str = "Ahmed Kareem",
                  meeting_date: str = "2026-11-20", women: str = "3",
                  topics: str = "security services",
                  issues: tuple[tuple[str, str, str], ...] = (
                      ("security", "Street lights broken", "high"),),
                  photos: tuple[str, ...] = (), notes: str = "",
                  location: str = "33.3152 44.3661 34.0 5.0", **options) -> bytes:
    issue_xml = "".join(
        f"<issue><issue_category>{category}</issue_category>"
        f"<issue_description>{text}</issue_description><issue_priority>{priority}"
        f"</issue_priority><action_agreed>Call the council</action_agreed>"
        f"<responsible>Local council</responsible><due_date>2026-12-01</due_date></issue>"
        for category, text, priority in issues)
    photo_xml = "".join(f"<photo_{n}>{name}</photo_{n}>" for n, name in enumerate(photos, 1))
    groups = "".join(
        f"<attendance_{g}><{g}_women>{women}</{g}_women><{g}_men>2</{g}_men></attendance_{g}>"
        for g in ("police", "idp", "host", "returnee", "civil_society", "judiciary",
                  "local_authority"))
    body = (f"<start>2026-11-20T09:00:00.000+03:00</start><end>2026-11-20T11:00:00.000+03:00</end>"
            f"<today>2026-11-20</today><deviceid>collect:abc</deviceid>"
            f"<governorate>{governorate}</governorate><district>{district}</district>"
            f"<forum>{forum}</forum><forum_name>x</forum_name>"
            f"<meeting_date>{meeting_date}</meeting_date><location>{location}</location>"
            f"<facilitator>{facilitator}</facilitator><attendance_note/>{groups}"
            f"<total_women>21</total_women><total_men>14</total_men>"
            f"<total_attendance>35</total_attendance><attendance_summary/>"
            f"<topics>{topics}</topics><topics_other/>{issue_xml}<issue_count>1</issue_count>"
            f"<referrals>2</referrals>{photo_xml}<notes>{notes}</notes>")
    return instance(FORM, VERSION, body, **options)


def jpeg(color: str = "red", size: tuple[int, int] = (800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture(autouse=True)
def _fresh_g_per_request(app):
    """The `session` fixture keeps an app context open, which every test request then shares,
    and with it `g`: Flask-WTF would keep serving the CSRF token it cached there before a login
    cleared the session, and Flask-Login the user of whichever browser came first. Each request
    finds its own, as in production."""
    from flask import g

    def forget(_error):
        for name in ("csrf_token", "_login_user", "user", "language"):
            g.pop(name, None)

    app.teardown_request(forget)


@pytest.fixture
def send(programme, phone):
    """send(**answers) → the instanceID of a new forum meeting, sent by the phone."""
    def _send(attachments: dict[str, bytes] | None = None, **answers) -> str:
        instance_id = answers.pop("instance_id", None) or new_id()
        reply = phone.submit(forum_meeting(instance_id=instance_id, **answers), attachments)
        assert reply.status == 201, reply.body
        return instance_id
    return _send


@pytest.fixture
def backdate(session):
    """backdate(instance_id, days): as if it had been submitted `days` earlier."""
    def _backdate(instance_id: str, days: float = 0, *, deleted_days: float | None = None):
        from server import projection
        from server.queries import forms as form_queries

        form = form_queries.get_form(session, FORM)
        root = projection.load(session, form).root
        submission = session.scalar(sa.select(Submission).where(
            Submission.instance_id == instance_id))
        if days:
            moment = submission.created_at - timedelta(days=days)
            submission.created_at = moment
            session.execute(sa.update(root).where(root.c._submission_id == submission.id)
                            .values(_submitted_at=moment))
        if deleted_days is not None:
            submission.deleted_at = submission.deleted_at - timedelta(days=deleted_days)
        session.commit()
    return _backdate


def listed(response) -> list[str]:
    """The instanceIDs of a list page, in order."""
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return re.findall(r'<tr data-instance-id="([^"]+)"', response.get_data(as_text=True))


def counts(response) -> dict[str, int]:
    page = response.get_data(as_text=True)
    return {state: int(number.replace(",", "")) for state, number in re.findall(
        r'<li data-state="(\w+)"[^>]*>.*?<span class="count">([\d,]+)</span>', page, re.S)}
