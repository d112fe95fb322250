"""A review is bound to the version its reviewer read: a phone's edit arriving after the page was
drawn makes the review change nothing, and the page says what changed."""

from __future__ import annotations

import html
import json
import re

import pytest
import sqlalchemy as sa

from server.database.models import AuditEvent, ReviewComment
from tests.review.conftest import LIST, counts, forum_meeting
from tests.review.test_review_actions import state_of
from tests.support.instances import new_id

STALE_WORDS = {"en": "This submission changed after you opened it",
               "ar": "تغيّرت هذه الاستمارة بعد أن فتحتها",
               "ckb": "ئەم فۆرمە دوای کردنەوەی تۆ گۆڕا"}
BULK_WORDS = {"en": "Some submissions changed after the list was shown",
              "ar": "تغيّرت بعض الاستمارات بعد عرض القائمة",
              "ckb": "هەندێک فۆرم دوای پیشاندانی لیستەکە گۆڕان"}


def edit(phone, first: str, **answers) -> str:
    """The phone sends an edit of `first` (Collect's deprecatedID); its new instanceID."""
    second = new_id()
    reply = phone.submit(forum_meeting(instance_id=second, deprecated_id=first, **answers))
    assert reply.status == 201, reply.body
    return second


def shown_version(page: str, form_id: str) -> str:
    form = re.search(rf'<form id="{form_id}".*?</form>', page, re.S).group(0)
    return re.search(r'name="version" value="([^"]+)"', form).group(1)


def reviews(session) -> list[ReviewComment]:
    session.rollback()
    return list(session.scalars(sa.select(ReviewComment).order_by(ReviewComment.id)))


@pytest.mark.parametrize("lang", ["en", "ar", "ckb"])
def test_approving_from_a_page_drawn_before_an_edit_changes_nothing(send, phone, browser_for,
                                                                    session, lang):
    first = send(notes="Lights broken on the main road")
    supervisor = browser_for("supervisor", scopes=[("governorate", "anbar")])
    supervisor.post("/language", {"lang": lang, "next": LIST})  # chosen and remembered
    page = supervisor.get(f"{LIST}/{first}").get_data(as_text=True)
    read = shown_version(page, "review")
    assert read == first
    second = edit(phone, first, notes="Lights repaired")

    response = supervisor.post(f"{LIST}/{first}/review",
                               {"state": "approved", "version": read, "comment": "Looks right"})
    assert response.status_code == 409
    assert state_of(session, first) == ("edited", "edited")
    assert reviews(session) == []
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "submission.reviewed")) == 0

    page = response.get_data(as_text=True)
    notice = re.search(r'<section id="stale".*?</section>', page, re.S).group(0)
    assert STALE_WORDS[lang] in notice
    changes = re.search(r'<table id="stale-changes".*?</table>', notice, re.S).group(0)
    rows = dict(re.findall(r'<tr data-path="([^"]+)">(.*?)</tr>', changes, re.S))
    assert set(rows) == {"/notes"}
    assert "Lights broken on the main road" in rows["/notes"]
    assert "Lights repaired" in rows["/notes"]
    link = html.unescape(re.search(r'href="([^"]*/diff\?[^"]+)"', notice).group(1))
    assert supervisor.get(link).status_code == 200
    assert f"from={first.replace(':', '%3A')}" in link and f"to={second.replace(':', '%3A')}" \
        in link
    # the form now carries the version just shown, and the comment typed is kept
    assert shown_version(page, "review") == second
    assert "Looks right</textarea>" in page

    again = supervisor.post(f"{LIST}/{first}/review",
                            {"state": "approved", "version": second, "comment": "Looks right"})
    assert again.status_code == 303
    assert state_of(session, first) == ("approved", "approved")
    [decision] = reviews(session)
    assert (decision.review_state, decision.version_id) == ("approved", second)
    event = session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "submission.reviewed"))
    assert json.loads(event.details)["version"] == second


@pytest.mark.parametrize("state", ["hasIssues", "rejected"])
def test_no_decision_holds_on_a_version_nobody_read(send, phone, browser_for, session, state):
    first = send()
    edit(phone, first, women="9")
    admin = browser_for("administrator")
    response = admin.post(f"{LIST}/{first}/review",
                          {"state": state, "version": first, "comment": "Wrong count"})
    assert response.status_code == 409
    assert state_of(session, first) == ("edited", "edited")


def test_a_review_without_a_version_is_taken_as_made_on_the_first(send, phone, browser_for,
                                                                  session):
    # a page drawn before reviews carried versions: right while nobody has edited
    untouched, edited = send(), send()
    edit(phone, edited, women="7")
    admin = browser_for("administrator")
    assert admin.post(f"{LIST}/{untouched}/review", {"state": "approved"}).status_code == 303
    assert admin.post(f"{LIST}/{edited}/review", {"state": "approved"}).status_code == 409
    assert state_of(session, untouched)[0] == "approved"
    assert state_of(session, edited)[0] == "edited"


def test_an_unknown_version_changes_nothing(send, browser_for, session):
    first = send()
    admin = browser_for("administrator")
    response = admin.post(f"{LIST}/{first}/review",
                          {"state": "approved", "version": "uuid:never-sent"})
    assert response.status_code == 409
    assert state_of(session, first) == ("received", "received")
    assert 'id="stale"' in response.get_data(as_text=True)


@pytest.mark.parametrize("lang", ["en", "ar", "ckb"])
def test_bulk_review_leaves_out_what_changed_since_the_list_was_drawn(send, phone, browser_for,
                                                                      session, lang):
    ids = [send() for _ in range(3)]
    supervisor = browser_for("supervisor", scopes=[("governorate", "anbar")])
    page = supervisor.get(f"{LIST}?sort=oldest").get_data(as_text=True)
    ticked = re.findall(r'<input type="checkbox" name="ids" value="([^"]+)"', page)
    assert ticked == ids  # each box carries the version its row shows
    second = edit(phone, ids[1], notes="Changed after the list was drawn")

    supervisor.post("/language", {"lang": lang, "next": LIST})
    response = supervisor.post(f"{LIST}/review", {"ids": ticked, "state": "approved",
                                                  "next": f"{LIST}?sort=oldest"})
    assert response.status_code == 409
    assert [state_of(session, i)[0] for i in ids] == ["approved", "edited", "approved"]
    assert sorted(c.version_id for c in reviews(session)) == sorted([ids[0], ids[2]])

    page = response.get_data(as_text=True)
    notice = re.search(r'<section id="stale".*?</section>', page, re.S).group(0)
    assert BULK_WORDS[lang] in notice
    assert re.findall(r'<li data-instance-id="([^"]+)"', notice) == [ids[1]]
    link = html.unescape(re.search(r'href="([^"]*/diff\?[^"]+)"', notice).group(1))
    assert link == f"{LIST}/{ids[1]}/diff?from={ids[1].replace(':', '%3A')}" \
                   f"&to={second.replace(':', '%3A')}"
    assert f'href="{LIST}?sort=oldest"' in page

    # the list drawn now carries the new version, and approving from it works
    page = supervisor.get(LIST).get_data(as_text=True)
    assert second in re.findall(r'<input type="checkbox" name="ids" value="([^"]+)"', page)
    assert supervisor.post(f"{LIST}/review", {"ids": [second], "state": "approved"}
                           ).status_code == 303
    assert counts(supervisor.get(LIST))["approved"] == 3


def test_bulk_review_of_only_changed_submissions_changes_nothing(send, phone, browser_for,
                                                                 session):
    ids = [send() for _ in range(2)]
    for one in ids:
        edit(phone, one, women="5")
    admin = browser_for("administrator")
    response = admin.post(f"{LIST}/review", {"ids": ids, "state": "rejected",
                                             "comment": "Duplicates"})
    assert response.status_code == 409
    assert [state_of(session, i)[0] for i in ids] == ["edited", "edited"]
    assert reviews(session) == []


def test_a_comment_on_a_changed_submission_is_kept_with_the_version_read(send, phone,
                                                                        browser_for, session):
    first = send()
    supervisor = browser_for("supervisor", scopes=[("governorate", "anbar")])
    read = shown_version(supervisor.get(f"{LIST}/{first}").get_data(as_text=True), "comment")
    second = edit(phone, first, women="6")
    response = supervisor.post(f"{LIST}/{first}/comments",
                               {"comment": "Why did the count change?", "version": read})
    assert response.status_code == 303
    [note] = reviews(session)
    assert (note.body, note.review_state, note.version_id) == (
        "Why did the count change?", None, first)
    assert state_of(session, first) == ("edited", "edited")
    page = supervisor.get(f"{LIST}/{first}?lang=en").get_data(as_text=True)
    assert shown_version(page, "comment") == second
    thread = re.search(r'<ol id="comments".*?</ol>', page, re.S).group(0)
    assert "on an earlier version" in thread
    assert html.unescape(re.search(r'href="([^"]*/diff\?[^"]+)"', thread).group(1)).endswith(
        f"from={first.replace(':', '%3A')}&to={second.replace(':', '%3A')}")
