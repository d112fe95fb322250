"""Review feedback that reaches the officer's phone: a submission a supervisor returns (has issues,
rejected) with a comment is listed in that officer's `feedback` list, the attachment of the form
`my_returned_forms`, as stock Collect reads an entity list; it leaves the phone through the
integrity answer when it is approved or corrected; the officer's answer joins the thread once."""

from __future__ import annotations

import csv
import io
import logging
import re
from xml.sax.saxutils import escape

import pytest
import sqlalchemy as sa

from server.database.models import Form, ReviewComment, Submission
from server.services.feedback import entry_name
from tests.review.conftest import LIST
from tests.support.instances import instance, new_id
from tests.support.programme_meetings import FORM, forum_meeting

ANSWER_FORM, ANSWER_VERSION = "my_returned_forms", "2026120301"
HEADER = ["name", "label", "__version", "form", "date", "forum", "state", "comment"]


@pytest.fixture
def supervisor(browser_for):
    return browser_for("supervisor", username="karim", scopes=[("governorate", "anbar")])


def review(browser, instance_id: str, state: str, comment: str = "", *,
           version: str | None = None) -> None:
    """`version`: the instanceID of the version the supervisor read (else the first)."""
    response = browser.post(f"{LIST}/{instance_id}/review", {
        "state": state, "comment": comment, "version": version or instance_id})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]


def feedback_media(phone) -> dict[str, str]:
    (entry,) = phone.form_list(ANSWER_FORM)
    return next(m for m in phone.manifest(entry) if m["filename"] == "feedback.csv")


def feedback_of(phone) -> list[dict[str, str]]:
    """The phone's feedback list, downloaded as Collect does (its hash checked)."""
    rows = list(csv.reader(io.StringIO(phone.download_media(feedback_media(phone))
                                       .decode("utf-8"), newline="")))
    assert rows[0] == HEADER
    return [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]


def name_of(instance_id: str) -> str:
    return entry_name(FORM, instance_id)


def answer(picked: str, words: str, *, instance_id: str | None = None) -> bytes:
    """A `my_returned_forms` instance as Collect fills it: the entry picked, what the phone
    calculated from it, and the officer's answer."""
    body = (f"<start>2026-11-21T09:00:00.000+03:00</start><end>2026-11-21T09:05:00.000+03:00"
            f"</end><today>2026-11-21</today><deviceid>collect:abc</deviceid>"
            f"<returned>{escape(picked)}</returned><returned_form>Forum meeting</returned_form>"
            f"<returned_date>2026-11-20</returned_date><returned_forum>anb_ramadi_01"
            f"</returned_forum><returned_comment>x</returned_comment><returned_forum_name/>"
            f"<feedback><form_note/><date_note/><forum_note/><returned_state>hasIssues"
            f"</returned_state><comment_note/></feedback><answer>{escape(words)}</answer>")
    return instance(ANSWER_FORM, ANSWER_VERSION, body, instance_id=instance_id or new_id())


def submission_id(session, instance_id: str) -> int:
    session.rollback()
    return session.scalar(sa.select(Submission.id).where(Submission.instance_id == instance_id))


def thread(session, instance_id: str) -> list[tuple[str | None, int | None, str]]:
    """(web user, app user, words) of each comment on the submission, in order."""
    session.rollback()
    submission = session.scalar(sa.select(Submission).where(
        Submission.instance_id == instance_id))
    return [(c.user.username if c.user else None, c.app_user_id, c.body)
            for c in session.scalars(sa.select(ReviewComment).where(
                ReviewComment.submission_id == submission.id).order_by(ReviewComment.id))]


# ------------------------------------------------------------------- the list on the phone


def test_the_form_lists_the_feedback_as_an_entity_list_beside_the_forums(programme, phone):
    (entry,) = phone.form_list(ANSWER_FORM)
    media = {m["filename"]: m for m in phone.manifest(entry)}
    assert set(media) == {"feedback.csv", "forums.csv"}
    assert media["feedback.csv"]["type"] == "entityList"
    assert media["feedback.csv"]["integrityUrl"].endswith("/lists/feedback/integrity")
    assert "type" not in media["forums.csv"]
    assert feedback_of(phone) == []  # nothing returned yet: the header alone


def test_a_submission_returned_with_a_comment_reaches_its_officer_s_phone_only(
        send, supervisor, phone, make_phone):
    other = make_phone("other")
    returned, kept = send(meeting_date="2026-11-18"), send()
    review(supervisor, returned, "hasIssues", "Attendance does not add up: 21 women?")
    review(supervisor, kept, "approved")

    (entry,) = feedback_of(phone)
    assert entry["name"] == name_of(returned)
    assert (entry["state"], entry["comment"]) == ("hasIssues", "Attendance does not add up: 21 women?")
    assert entry["forum"] == "anb_ramadi_01"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", entry["date"])  # the day it was sent, Baghdad time
    assert entry["form"] in entry["label"] and entry["date"] in entry["label"]
    assert entry["__version"] == "1"
    assert feedback_of(other) == []
    states = other.deleted_states(feedback_media(other), [entry["name"]])
    assert states == {entry["name"]: True}  # another officer's: as gone as unknown


def test_a_rejection_is_listed_with_the_latest_comment_and_a_version_that_grows(
        send, supervisor, phone):
    one = send()
    review(supervisor, one, "hasIssues", "Photo missing")
    assert [(e["state"], e["comment"], e["__version"]) for e in feedback_of(phone)] == [
        ("hasIssues", "Photo missing", "1")]
    assert supervisor.post(f"{LIST}/{one}/comments", {"comment": "Any news?"}).status_code == 303
    assert [(e["comment"], e["__version"]) for e in feedback_of(phone)] == [("Any news?", "2")]
    review(supervisor, one, "rejected", "Duplicate of yesterday's meeting")
    assert [(e["state"], e["comment"], e["__version"]) for e in feedback_of(phone)] == [
        ("rejected", "Duplicate of yesterday's meeting", "3")]


def test_the_hash_changes_exactly_when_the_list_changes_and_304_when_it_does_not(
        send, supervisor, phone, make_phone):
    one, two = send(), send()
    review(supervisor, one, "hasIssues", "Check the date")
    first = feedback_media(phone)
    assert feedback_media(phone)["hash"] == first["hash"]
    etag = '"' + first["hash"].removeprefix("md5:") + '"'
    reply = phone.get(first["downloadUrl"], {"If-None-Match": etag})
    assert (reply.status, reply.body) == (304, b"")

    other = make_phone("other")
    other.submit(forum_meeting(instance_id=new_id()))  # another officer's submission...
    review(supervisor, two, "approved")  # ...and an approval: nothing this phone receives
    assert feedback_media(phone)["hash"] == first["hash"]

    review(supervisor, two, "rejected", "Wrong forum")
    changed = feedback_media(phone)
    assert changed["hash"] != first["hash"]
    assert [e["name"] for e in feedback_of(phone)] == [name_of(one), name_of(two)]
    reply = phone.get(changed["downloadUrl"], {"If-None-Match": etag})
    assert reply.status == 200  # the old hash no longer matches


def test_an_approved_submission_leaves_the_phone(send, supervisor, phone):
    one = send()
    review(supervisor, one, "hasIssues", "Check the date")
    name = name_of(one)
    media = feedback_media(phone)
    assert phone.deleted_states(media, [name]) == {name: False}
    review(supervisor, one, "approved")
    assert phone.deleted_states(media, [name]) == {name: True}
    assert feedback_of(phone) == []


def test_a_submission_the_officer_corrects_by_an_edit_leaves_the_phone(
        send, supervisor, phone, session):
    first = send()
    review(supervisor, first, "rejected", "Women count is wrong")
    name = name_of(first)
    second = new_id()
    assert phone.submit(forum_meeting(instance_id=second, deprecated_id=first,
                                      women="4")).status == 201
    session.rollback()
    assert session.scalar(sa.select(Submission.review_state)) == "edited"
    assert phone.deleted_states(feedback_media(phone), [name, "not-a-uuid"]) == {
        name: True, "not-a-uuid": True}
    assert feedback_of(phone) == []
    # returned again after the edit: the same entry, a later version
    review(supervisor, first, "hasIssues", "Still wrong", version=second)
    (entry,) = feedback_of(phone)
    assert (entry["name"], entry["__version"], entry["comment"]) == (name, "2", "Still wrong")


def test_a_deleted_submission_leaves_the_phone(send, supervisor, phone, session):
    one = send()
    review(supervisor, one, "hasIssues", "Check the date")
    session.rollback()
    session.execute(sa.update(Submission).values(deleted_at=sa.func.now()))
    session.commit()
    assert phone.deleted_states(feedback_media(phone), [name_of(one)]) == {name_of(one): True}


@pytest.mark.parametrize("hostile", [
    '=cmd|"/c calc"!A1',
    "+SUM(1,2), -1, @x",
    'He said "no", then left',
    "Line one\nLine two\r\nLine three",
    "المجموع غير صحيح، راجع الحضور · ژمارەکان هەڵەن",
])
def test_hostile_comment_text_arrives_intact(send, supervisor, phone, hostile):
    one = send()
    review(supervisor, one, "hasIssues", hostile)
    (entry,) = feedback_of(phone)
    # what the supervisor typed, as the pages keep it (a browser sends line ends as \r\n)
    assert entry["comment"] == hostile.strip()


# ------------------------------------------------------------------------ the answer


def test_the_answer_joins_the_thread_as_the_officer_s_once_even_if_sent_twice(
        send, supervisor, phone, session):
    one = send()
    review(supervisor, one, "hasIssues", "Photo missing")
    sent = answer(name_of(one), "Photo added, the forum's camera was broken")
    assert phone.submit(sent).status == 201
    assert phone.submit(sent).status == 201  # the same answer again (no 201 reached the phone)

    officer_id = session.scalar(sa.select(Submission.submitter_id).where(
        Submission.instance_id == one))
    assert thread(session, one) == [
        ("karim", None, "Photo missing"),
        (None, officer_id, "Photo added, the forum's camera was broken")]
    answer_ids = session.scalars(sa.select(ReviewComment.answer_submission_id).where(
        ReviewComment.answer_submission_id.is_not(None))).all()
    assert len(answer_ids) == 1
    page = supervisor.get(f"{LIST}/{one}?lang=en").get_data(as_text=True)
    comments = re.search(r'<ol id="comments".*?</ol>', page, re.S).group(0)
    assert "<bdi>officer</bdi>" in comments and "answer from the phone" in comments
    assert "Photo added, the forum&#39;s camera was broken" in comments


def test_an_answer_marked_has_issues_in_its_turn_is_not_fed_back(send, supervisor, phone,
                                                                 browser_for):
    administrator = browser_for("administrator", username="root")  # an answer has no place
    one = send()
    review(supervisor, one, "hasIssues", "Photo missing")
    reply = new_id()
    assert phone.submit(answer(name_of(one), "Sent it by hand", instance_id=reply)).status == 201
    response = administrator.post(f"/forms/{ANSWER_FORM}/submissions/{reply}/review", {
        "state": "hasIssues", "comment": "Which photo?", "version": reply})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]

    assert [entry["name"] for entry in feedback_of(phone)] == [name_of(one)]


def test_an_answer_to_another_officer_s_submission_is_kept_but_adds_no_comment(
        send, supervisor, make_phone, session, caplog):
    caplog.set_level(logging.INFO, logger="server.services.feedback")
    one = send()
    review(supervisor, one, "hasIssues", "Photo missing")
    intruder = make_phone("intruder")
    assert intruder.submit(answer(name_of(one), "I answer for them")).status == 201
    assert intruder.submit(answer("f7a1c6de-0000-4000-8000-000000000000", "Nothing")
                           ).status == 201
    assert thread(session, one) == [("karim", None, "Photo missing")]
    kept = session.scalars(sa.select(Form.xml_form_id).join(
        Submission, Submission.form_id == Form.id).where(Submission.id != submission_id(
            session, one))).all()
    assert kept == [ANSWER_FORM, ANSWER_FORM]  # both answers kept as submissions
    assert "none of app user" in caplog.text


def test_renormalise_neither_loses_nor_duplicates_answers(send, supervisor, phone, session,
                                                           app):
    from click.testing import CliRunner

    from server.surfaces.cli import main

    one = send()
    review(supervisor, one, "hasIssues", "Photo missing")
    assert phone.submit(answer(name_of(one), "Photo added")).status == 201
    before = thread(session, one)
    env = {"DATABASE_URL": app.config["DATABASE_URL"],
           "MUNTADA_DATA_DIR": app.config["DATA_DIR"],
           "MUNTADA_SECRET_KEY": "test-secret", "MUNTADA_VALIDATE_FORMS": "false"}
    for _ in range(2):
        result = CliRunner().invoke(main, ["renormalise"], env=env)
        assert result.exit_code == 0, result.output
        assert "answers\t0 added" in result.output
        assert thread(session, one) == before

    # an answer missing from its thread (a database restored from before it) is added back
    session.execute(sa.delete(ReviewComment).where(ReviewComment.app_user_id.is_not(None)))
    session.commit()
    result = CliRunner().invoke(main, ["renormalise"], env=env)
    assert "answers\t1 added" in result.output
    assert thread(session, one) == before


def test_an_answer_purged_for_good_leaves_the_thread(send, supervisor, phone, session):
    from datetime import timedelta

    from server.database.models import utcnow
    from server.services import deletion

    one = send()
    review(supervisor, one, "hasIssues", "Photo missing")
    sent = new_id()
    assert phone.submit(answer(name_of(one), "Photo added", instance_id=sent)).status == 201
    session.rollback()
    session.execute(sa.update(Submission).where(Submission.instance_id == sent).values(
        deleted_at=utcnow() - timedelta(days=deletion.KEEP_DAYS + 1)))
    session.commit()
    assert deletion.purge(session)[0] == [sent]
    session.commit()
    assert thread(session, one) == [("karim", None, "Photo missing")]


def test_an_answer_written_offline_joins_the_thread_even_if_approved_meanwhile(
        send, supervisor, phone, session):
    one = send()
    review(supervisor, one, "hasIssues", "Photo missing")
    review(supervisor, one, "approved")  # while the officer was writing, offline
    assert phone.submit(answer(name_of(one), "Photo added")).status == 201
    assert [words for _who, _app_user, words in thread(session, one)] == [
        "Photo missing", "", "Photo added"]


def test_no_form_may_feed_a_case_list_named_feedback(app, load):
    from server.kernel.problems import Problem
    from tests.support.cases import with_entities
    from tests.support.xlsforms import xlsform

    source = with_entities(xlsform("""
        | | type | name | label | save_to |
        | | text | what | What | what |
    """, form_id="feeds_feedback"), """
        | | list_name | label |
        | | feedback | ${what} |
    """)
    with pytest.raises(Problem, match="'feedback' is the server's own"):
        load(source)
