"""An edit, as the submission path writes it: the files it does not send again are carried over,
and its rows are those that renormalising the submission rebuilds (first sender, first arrival,
edit count), whoever sends the edit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.database.models import Form, Submission, SubmissionAttachment, SubmissionDef
from server.services.normalising import renormalise
from tests.support.instances import new_id
from tests.support.meeting import FORM_ID, meeting, meeting_form
from tests.support.tables import rows

PHOTO = b"\xff\xd8\xff\xe0" + b"photo-bytes" * 100


@pytest.fixture
def form(load):
    return load(meeting_form())


def form_rows(session) -> dict[str, list[dict]]:
    session.rollback()
    return {key: rows(session, FORM_ID, key) for key in ("", "/issue", "/topics")}


def test_an_edit_carries_the_files_it_does_not_send_and_its_rows_are_those_rebuilt(
        form, phone, make_phone, session):
    first, second, third = new_id(), new_id(), new_id()
    assert phone.submit(meeting(instance_id=first, photos=("a.jpg",)),
                        {"a.jpg": PHOTO}).status == 201
    supervisor = make_phone("supervisor")
    assert supervisor.submit(meeting(instance_id=second, deprecated_id=first, women="4",
                                     photos=("a.jpg",))).status == 201
    assert phone.submit(meeting(instance_id=third, deprecated_id=second, women="7",
                                photos=("a.jpg",), issues=())).status == 201

    session.rollback()
    latest = session.scalar(sa.select(SubmissionDef).where(SubmissionDef.instance_id == third))
    assert (latest.attachments_present, latest.attachments_expected) == (1, 1)
    blobs = session.scalars(sa.select(SubmissionAttachment.blob_sha256)).all()
    assert len(blobs) == 3 and len(set(blobs)) == 1 and blobs[0] is not None
    written = form_rows(session)
    (row,) = written[""]
    assert (row["_key"], row["_instance_id"], row["/attendance/women"]) == (first, third, 7)
    assert (row["_submitter"], row["_edits"], row["_review_state"]) == ("officer", 2, "edited")
    assert row["_attachments_present"] == 1 and row["/photo"] == "a.jpg"
    assert written["/issue"] == []

    assert renormalise(session, session.scalar(sa.select(Form))) == (1, 0)
    session.commit()
    assert form_rows(session) == written


def test_an_edit_of_a_deleted_submission_is_refused(form, phone, session):
    first = new_id()
    phone.submit(meeting(instance_id=first))
    session.execute(sa.update(Submission).values(deleted_at=sa.func.now()))
    session.commit()

    reply = phone.submit(meeting(instance_id=new_id(), deprecated_id=first, women="4"))

    assert reply.status == 409 and b"deleted" in reply.body
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(SubmissionDef)) == 1


def test_an_edit_whose_rows_fail_is_kept_with_the_reason_and_the_rows_stay_the_last_ones(
        form, phone, session, monkeypatch):
    first, second = new_id(), new_id()
    phone.submit(meeting(instance_id=first, women="3"))
    before = form_rows(session)

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full while writing rows")

    monkeypatch.setattr("server.database.projection.write", broken)
    assert phone.submit(meeting(instance_id=second, deprecated_id=first, women="4")).status == 201

    session.rollback()
    edit = session.scalar(sa.select(SubmissionDef).where(SubmissionDef.instance_id == second))
    assert "disk full" in edit.normalise_error and edit.normalised_at is None
    submission = session.scalar(sa.select(Submission))
    assert (submission.current_def_id, submission.review_state) == (edit.id, "edited")
    assert form_rows(session) == before
