"""Fixtures of the review workspace: the programme's forms, forum meetings sent by a phone, and
people signed in with each role and scope."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.database.models import Submission
from tests.support.instances import new_id
from tests.support.programme_meetings import FORM, forum_meeting, jpeg  # noqa: F401

LIST = f"/forms/{FORM}/submissions"


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
        from server.database import projection
        from server.database.queries import forms as form_queries

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
