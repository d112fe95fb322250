"""Approve, has issues, reject; comments; bulk review."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from server.database import projection
from server.database.models import AuditEvent, ReviewComment, Submission
from server.database.queries import forms as form_queries
from tests.review.conftest import LIST, counts


def state_of(session, instance_id: str) -> tuple[str, str]:
    """The review state in the submission and in the form's table."""
    session.rollback()
    submission = session.scalar(sa.select(Submission).where(
        Submission.instance_id == instance_id))
    root = projection.load(session, form_queries.get_form(session, "forum_meeting")).root
    row_state = session.scalar(sa.select(root.c._review_state).where(
        root.c._submission_id == submission.id))
    return submission.review_state, row_state


@pytest.mark.parametrize("state", ["approved", "hasIssues", "rejected"])
def test_each_decision_with_a_comment(send, browser_for, session, state):
    one = send()
    supervisor = browser_for("supervisor", scopes=[("governorate", "anbar")])
    response = supervisor.post(f"{LIST}/{one}/review", {"state": state,
                                                        "comment": "Checked with the forum"})
    assert response.status_code == 303
    assert state_of(session, one) == (state, state)
    comment = session.scalar(sa.select(ReviewComment))
    assert (comment.body, comment.review_state) == ("Checked with the forum", state)
    assert session.scalar(sa.select(Submission.reviewed_at)) is not None
    event = session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "submission.reviewed"))
    assert '"after": "' + state in event.details
    page = supervisor.get(f"{LIST}/{one}?lang=en").get_data(as_text=True)
    thread = re.search(r'<ol id="comments".*?</ol>', page, re.S).group(0)
    assert "Checked with the forum" in thread and f"state-{state}" in thread


def test_approving_needs_no_comment(send, browser_for, session):
    one = send()
    browser_for("administrator").post(f"{LIST}/{one}/review", {"state": "approved"})
    assert state_of(session, one) == ("approved", "approved")


@pytest.mark.parametrize("state", ["hasIssues", "rejected"])
@pytest.mark.parametrize("lang, words", [("en", "A comment is required"),
                                         ("ar", "التعليق مطلوب"), ("ckb", "لێدوان پێویستە")])
def test_issues_and_rejection_need_a_comment(send, browser_for, session, state, lang, words):
    one = send()
    supervisor = browser_for("supervisor", scopes=[("governorate", "anbar")])
    supervisor.post("/language", {"lang": lang, "next": LIST})  # chosen and remembered
    response = supervisor.post(f"{LIST}/{one}/review", {"state": state, "comment": "   "})
    assert response.status_code == 400
    assert words in response.get_data(as_text=True)
    assert state_of(session, one) == ("received", "received")
    assert session.scalar(sa.select(sa.func.count()).select_from(ReviewComment)) == 0


def test_an_unknown_state_is_refused(send, browser_for, session):
    one = send()
    admin = browser_for("administrator")
    assert admin.post(f"{LIST}/{one}/review", {"state": "edited"}).status_code == 400
    assert state_of(session, one) == ("received", "received")


def test_a_comment_alone_keeps_the_state(send, browser_for, session):
    one = send()
    supervisor = browser_for("supervisor", scopes=[("governorate", "anbar")])
    assert supervisor.post(f"{LIST}/{one}/comments", {"comment": "Photo is blurry"}
                           ).status_code == 303
    assert supervisor.post(f"{LIST}/{one}/comments", {"comment": ""}).status_code == 400
    assert state_of(session, one) == ("received", "received")
    comment = session.scalar(sa.select(ReviewComment))
    assert (comment.body, comment.review_state) == ("Photo is blurry", None)
    assert session.scalar(sa.select(AuditEvent.action).where(
        AuditEvent.action == "submission.commented")) == "submission.commented"


def test_bulk_approve_and_reject(send, browser_for, session):
    ids = [send() for _ in range(3)]
    supervisor = browser_for("supervisor", scopes=[("governorate", "anbar")])
    response = supervisor.post(f"{LIST}/review", {"ids": ids[:2], "state": "approved",
                                                  "next": f"{LIST}?sort=oldest"})
    assert response.status_code == 303 and response.headers["Location"].endswith("sort=oldest")
    assert [state_of(session, i)[0] for i in ids] == ["approved", "approved", "received"]
    assert counts(supervisor.get(LIST))["approved"] == 2

    assert supervisor.post(f"{LIST}/review", {"ids": ids[2:], "state": "rejected"}
                           ).status_code == 400  # no comment
    assert supervisor.post(f"{LIST}/review", {"ids": ids[2:], "state": "rejected",
                                              "comment": "Test data"}).status_code == 303
    assert state_of(session, ids[2]) == ("rejected", "rejected")
    assert supervisor.post(f"{LIST}/review", {"ids": [], "state": "approved"}
                           ).status_code == 400
    assert supervisor.post(f"{LIST}/review", {"ids": ids, "state": "hasIssues",
                                              "comment": "x"}).status_code == 400


def test_bulk_with_an_unknown_id_changes_nothing(send, browser_for, session):
    one = send()
    response = browser_for("administrator").post(
        f"{LIST}/review", {"ids": [one, "uuid:nothing"], "state": "approved"})
    assert response.status_code == 404
    assert state_of(session, one) == ("received", "received")


def test_next_never_leaves_the_site(send, browser_for):
    one = send()
    response = browser_for("administrator").post(
        f"{LIST}/review", {"ids": [one], "state": "approved", "next": "https://evil.example/"})
    assert response.headers["Location"] == LIST
