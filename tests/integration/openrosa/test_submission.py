"""POST submission: every row of the arrival table, as phones send them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.database.models import AppUser, Submission, SubmissionAttachment, SubmissionDef
from tests.support.instances import new_id
from tests.support.meeting import FORM_ID, meeting, meeting_form
from tests.support.tables import count

PHOTO = b"\xff\xd8\xff\xe0" + b"photo-bytes" * 100
PHOTO_2 = b"\xff\xd8\xff\xe0" + b"second-photo" * 100


@pytest.fixture
def form(load):
    return load(meeting_form())


def test_the_preflight_says_204_and_the_largest_body_accepted(phone, app):
    reply = phone.request("HEAD", "submission")
    assert reply.status == 204
    assert reply.headers["X-OpenRosa-Accept-Content-Length"] == str(
        app.config["MAX_SUBMISSION_BYTES"])
    assert reply.headers["X-OpenRosa-Version"] == "1.0"


def test_a_new_instance_is_stored_and_acknowledged(form, phone, session):
    reply = phone.submit(meeting(photos=("a.jpg",)), {"a.jpg": PHOTO})

    assert reply.status == 201, reply.body
    assert b"<OpenRosaResponse" in reply.body and b"successful" in reply.body
    assert count(session, Submission) == 1
    (definition,) = session.scalars(sa.select(SubmissionDef)).all()
    assert (definition.attachments_present, definition.attachments_expected) == (1, 1)
    assert definition.normalise_error is None and definition.normalised_at is not None


def test_the_raw_xml_is_kept_byte_for_byte(form, phone, session):
    xml = meeting()
    phone.submit(xml)
    assert session.scalar(sa.select(SubmissionDef.xml)) == xml


def test_an_identical_retry_is_201_and_stores_nothing_twice(form, phone, session):
    xml = meeting()
    assert phone.submit(xml).status == 201
    assert phone.submit(xml).status == 201
    assert count(session, Submission) == 1 and count(session, SubmissionDef) == 1


def test_a_retry_adds_the_attachments_not_yet_held(form, phone, session):
    xml = meeting(photos=("a.jpg", "b.jpg"))
    phone.submit(xml, {"a.jpg": PHOTO}, incomplete=True)
    definition = session.scalar(sa.select(SubmissionDef))
    assert (definition.attachments_present, definition.attachments_expected) == (1, 2)

    assert phone.submit(xml, {"b.jpg": PHOTO_2}).status == 201

    session.rollback()
    definition = session.scalar(sa.select(SubmissionDef))
    assert (definition.attachments_present, definition.attachments_expected) == (2, 2)
    assert count(session, SubmissionDef) == 1


def test_same_instance_id_different_xml_is_409_and_the_original_stays(form, phone, session):
    instance_id = new_id()
    original = meeting(instance_id=instance_id, women="3")
    phone.submit(original)

    reply = phone.submit(meeting(instance_id=instance_id, women="4"))

    assert reply.status == 409
    assert b"same ID" in reply.body and b"supervisor" in reply.body
    assert session.scalar(sa.select(SubmissionDef.xml)) == original


def test_an_edit_of_the_current_version_is_a_new_version(form, phone, session):
    first = new_id()
    phone.submit(meeting(instance_id=first, women="3"))

    reply = phone.submit(meeting(instance_id=new_id(), deprecated_id=first, women="4"))

    assert reply.status == 201
    submission = session.scalar(sa.select(Submission))
    assert submission.review_state == "edited"
    assert submission.instance_id == first  # the submission keeps its first ID (its KEY)
    assert count(session, SubmissionDef) == 2


def test_an_edit_of_an_unknown_instance_is_404_and_stores_nothing(form, phone, session):
    reply = phone.submit(meeting(deprecated_id=new_id()))
    assert reply.status == 404
    assert count(session, Submission) == 0


def test_an_edit_of_a_replaced_version_is_409(form, phone, session):
    first, second = new_id(), new_id()
    phone.submit(meeting(instance_id=first))
    phone.submit(meeting(instance_id=second, deprecated_id=first, women="4"))

    reply = phone.submit(meeting(instance_id=new_id(), deprecated_id=first, women="5"))

    assert reply.status == 409
    assert count(session, SubmissionDef) == 2


def test_without_an_instance_id_an_identical_retry_is_still_recognised(form, phone, session):
    xml = meeting(instance_id="")
    assert phone.submit(xml).status == 201
    assert phone.submit(xml).status == 201
    assert count(session, Submission) == 1
    assert session.scalar(sa.select(Submission.instance_id)).startswith("sha256:")


@pytest.mark.parametrize("xml, status", [
    (meeting().replace(b'id="meeting"', b'id="unknown_form"'), 404),
    (meeting(version="99"), 404),
])
def test_unknown_forms_and_versions_are_404(form, phone, session, xml, status):
    assert phone.submit(xml).status == status
    assert count(session, Submission) == 0


def test_a_closed_form_refuses_and_a_closing_one_accepts(form, phone, admin, session):
    admin.patch(f"/api/v1/forms/{FORM_ID}", json={"state": "closing"})
    assert phone.submit(meeting()).status == 201
    admin.patch(f"/api/v1/forms/{FORM_ID}", json={"state": "closed"})
    reply = phone.submit(meeting())
    assert reply.status == 409 and b"closed" in reply.body
    assert count(session, Submission) == 1


def test_an_older_version_still_accepts_submissions(load, phone, session):
    load(meeting_form("1"))
    load(meeting_form("2", extra_rows="| | text | notes | Notes |"))

    assert phone.submit(meeting(version="1")).status == 201
    assert phone.submit(meeting(version="2", extra="<notes>ok</notes>")).status == 201


def test_the_form_is_identified_by_its_id_not_its_root_element(form, phone, session):
    xml = meeting(root="anything_else", namespace="http://opendatakit.org/submissions")
    assert phone.submit(xml).status == 201


def test_resending_a_deleted_submission_is_refused(form, phone, session):
    from server.database.queries.submissions import mark_deleted

    xml = meeting()
    phone.submit(xml)
    mark_deleted(session, session.scalar(sa.select(Submission)))
    session.commit()

    reply = phone.submit(xml)
    assert reply.status == 409 and b"deleted" in reply.body


def test_files_the_form_cannot_reference_are_discarded(form, phone, session):
    phone.submit(meeting(photos=("a.jpg",)), {"a.jpg": PHOTO, "virus.exe": b"MZ"})
    names = session.scalars(sa.select(SubmissionAttachment.name)).all()
    assert names == ["a.jpg"]


def test_a_file_with_the_same_name_but_other_bytes_is_refused(form, phone, session, app):
    xml = meeting(photos=("a.jpg",))
    phone.submit(xml, {"a.jpg": PHOTO})

    reply = phone.submit(xml, {"a.jpg": PHOTO_2})

    assert reply.status == 409 and b"a.jpg" in reply.body
    sha = session.scalar(sa.select(SubmissionAttachment.blob_sha256))
    assert app.extensions["blobs"].read(sha) == PHOTO


def test_a_form_the_app_user_may_not_fill_is_refused(load, make_phone, session):
    load(meeting_form())
    load(meeting_form().replace(b"| | meeting |", b"| | other |"))
    limited = make_phone("limited", forms=("other",))

    reply = limited.submit(meeting())
    assert reply.status == 403
    assert count(session, Submission) == 0


def test_a_password_app_user_submits_over_digest(form, make_phone, client, session):
    from tests.integration.openrosa.test_authentication import digest_header

    make_phone("amina", password="sulaymaniyah-2016")
    phone = make_phone("scratch")  # only to build the multipart body the way Collect does
    sent = {}
    phone.transport = lambda method, url, headers, body=None: sent.update(
        headers=headers, body=body)
    phone.submit(meeting())
    header = digest_header(client, "/collect/submission", "amina", "sulaymaniyah-2016",
                           base_url="http://localhost", method="POST")

    response = client.post("/collect/submission", data=sent["body"],
                           headers={**sent["headers"], "Authorization": header})

    assert response.status_code == 201
    session.rollback()
    submission = session.scalar(sa.select(Submission))
    # credited to the user who signed in, not to the phone whose token built the body
    assert session.get(AppUser, submission.submitter_id).name == "amina"
    version = session.scalar(sa.select(SubmissionDef))
    assert session.get(AppUser, version.submitter_id).name == "amina"
