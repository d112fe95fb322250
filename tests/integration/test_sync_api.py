"""Headquarters' side of a field office's sync (`/sync/v1`), through the Flask test client on both
databases: who may call it, what an office's changes come to when applied (the arrival rules of
phones' submissions, review conflicts, refusals that do not stop the rest), what goes down to
an office and what does not, and files that resume and are checked."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from server.database.models import (
    AppUser,
    ReviewComment,
    Submission,
    SubmissionDef,
    SyncConflict,
    SyncRefusal,
)
from server.services import accounts
from server.services.field_office import registry
from sync import field_sync
from sync.field_sync import Item
from tests.support.instances import new_id
from tests.support.programme_meetings import forum_meeting, jpeg

WHEN = datetime(2026, 11, 20, 8, 30, 0, 123456, tzinfo=UTC)


@pytest.fixture
def office(session, programme):
    peer, token = registry.register(session, "qayyarah", [("governorate", "nineveh")])
    session.commit()
    return Office(peer.id, token)


class Office:
    def __init__(self, peer_id: int, token: str):
        self.peer_id, self.token = peer_id, token
        self.headers = {"Authorization": f"Bearer {token}"}
        self.seq = 0

    def item(self, kind: str, body: dict, blobs=()) -> dict:
        self.seq += 1
        return Item(self.seq, kind, body, tuple(blobs)).as_json()


def meeting_item(office: Office, instance_id: str, *, sender="officer-q", from_hq=True,
                 files=None, xml=None) -> dict:
    xml = xml or forum_meeting(governorate="nineveh", district="mosul",
                               forum="nin_qayyarah_01", instance_id=instance_id,
                               photos=tuple(files or ()))
    return office.item("submission", {
        "form": "forum_meeting", "version": "2026120201", "instance_id": instance_id,
        "xml": base64.b64encode(xml).decode(), "xml_sha256": hashlib.sha256(xml).hexdigest(),
        "sender": sender, "sender_from_headquarters": from_hq, "device_id": "collect:x",
        "user_agent": "Collect", "received_at": field_sync.timestamp(WHEN),
        "files": dict(files or {})}, blobs=[s for s in (files or {}).values() if s])


def send(client, office: Office, items: list[dict], through: int | None = None):
    return client.post("/sync/v1/changes", headers=office.headers,
                       json={"items": items, "through": through or office.seq})


def upload(client, office: Office, data: bytes, *, offset: int = 0, part: bytes | None = None):
    sha = hashlib.sha256(data).hexdigest()
    body = data[offset:] if part is None else part
    return sha, client.put(f"/sync/v1/blobs/{sha}?offset={offset}", data=body,
                           headers={**office.headers, "X-Blob-Size": str(len(data))})


def test_only_a_registered_office_s_token_opens_it(client, office, session):
    for headers in ({}, {"Authorization": "Bearer nope"}):
        reply = client.get("/sync/v1/hello", headers=headers)
        assert reply.status_code == 401 and reply.get_json()["code"] == "401.40"
    hello = client.get("/sync/v1/hello", headers=office.headers).get_json()
    assert hello["office"] == "qayyarah" and hello["places"] == [["governorate", "nineveh"]]
    assert hello["protocol"] == field_sync.PROTOCOL and hello["up_seq"] == 0


def test_a_submission_keeps_its_time_and_sender_and_is_never_doubled(client, office, session):
    officer = accounts.create_app_user(session, "officer-q", places=[("governorate", "nineveh")])
    session.commit()
    instance_id = new_id()
    photo = jpeg()
    sha, reply = upload(client, office, photo)
    assert reply.status_code == 201
    item = meeting_item(office, instance_id, files={"p.jpg": sha})
    answer = send(client, office, [item]).get_json()
    assert answer == {"cursor": 1, "applied": 1, "held": 0, "refused": [], "conflicts": 0,
                      "missing": []}
    again = client.post("/sync/v1/changes", headers=office.headers,
                        json={"items": [item], "through": 1}).get_json()
    assert again["applied"] == 0 and again["cursor"] == 1  # already past it
    session.rollback()
    version = session.scalar(sa.select(SubmissionDef).where(
        SubmissionDef.instance_id == instance_id))
    assert version.submitter_id == officer.id and version.attachments_present == 1
    assert version.created_at.replace(tzinfo=UTC) == WHEN
    assert session.scalar(sa.select(sa.func.count()).select_from(SubmissionDef)) == 1


def test_a_sender_revoked_since_the_office_took_it_does_not_lose_it(client, office, session):
    """The office took it while the officer could send; headquarters revoked the phone later."""
    accounts.create_app_user(session, "officer-q")
    accounts.revoke_app_user(session, "officer-q")
    session.commit()
    instance_id = new_id()
    answer = send(client, office, [meeting_item(office, instance_id)]).get_json()
    assert answer["applied"] == 1
    # an app user the office made itself is that office's at headquarters: it cannot sign in
    other = new_id()
    assert send(client, office, [meeting_item(office, other, sender="laptop",
                                              from_hq=False)]).get_json()["applied"] == 1
    session.rollback()
    own = session.scalar(sa.select(AppUser).where(AppUser.name == "laptop@qayyarah"))
    assert own is not None and own.token is None and own.peer_id == office.peer_id


def test_an_item_changed_on_the_way_is_refused_and_nothing_applied(client, office, session):
    item = meeting_item(office, new_id())
    item["body"]["device_id"] = "changed"
    reply = send(client, office, [item])
    assert reply.status_code == 400 and reply.get_json()["code"] == "400.40"
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(SubmissionDef)) == 0


def test_what_cannot_be_applied_is_recorded_and_the_rest_goes_on(client, office, session):
    unknown = office.item("submission", {**meeting_item(Office(0, ""), new_id())["body"],
                                         "xml": base64.b64encode(b"<data id='nope'/>").decode()})
    fine = meeting_item(office, new_id())
    answer = send(client, office, [unknown, fine]).get_json()
    assert answer["applied"] == 1 and answer["cursor"] == 2
    assert [r["seq"] for r in answer["refused"]] == [1]
    session.rollback()
    refusal = session.scalar(sa.select(SyncRefusal))
    assert refusal.seq == 1 and "nope" in refusal.reason


def test_a_page_is_applied_together_and_one_bad_item_in_it_costs_only_itself(
        client, office, session):
    """Submissions that follow one another are applied in one transaction; one refused in the
    middle undoes that transaction, and each is applied alone: the rest once, itself refused."""
    accounts.create_app_user(session, "officer-q", places=[("governorate", "nineveh")])
    session.commit()
    ids = [new_id() for _ in range(7)]
    items = [meeting_item(office, i) for i in ids[:3]]
    taken = ids[1]  # the same instanceID again with other answers: a conflict, refused
    items.append(meeting_item(office, taken, xml=forum_meeting(
        governorate="nineveh", district="mosul", forum="nin_qayyarah_02", instance_id=taken)))
    items.append(meeting_item(office, ids[0]))  # sent again under another number: held
    items += [meeting_item(office, i) for i in ids[3:]]
    answer = send(client, office, items).get_json()
    assert (answer["applied"], answer["held"], answer["cursor"]) == (7, 1, 9)
    assert [r["seq"] for r in answer["refused"]] == [4]
    session.rollback()
    held = session.scalars(sa.select(SubmissionDef.instance_id)).all()
    assert sorted(held) == sorted(ids)  # each once
    assert session.scalar(sa.select(sa.func.count()).select_from(SyncRefusal)) == 1


def test_an_edit_in_the_same_page_as_its_first_version_replaces_it(client, office, session):
    accounts.create_app_user(session, "officer-q", places=[("governorate", "nineveh")])
    session.commit()
    first, edit = new_id(), new_id()
    items = [meeting_item(office, first), meeting_item(office, edit, xml=forum_meeting(
        governorate="nineveh", district="mosul", forum="nin_qayyarah_01", instance_id=edit,
        deprecated_id=first))]
    answer = send(client, office, items).get_json()
    assert (answer["applied"], answer["refused"]) == (2, [])
    session.rollback()
    submission = session.scalar(sa.select(Submission))
    assert session.get(SubmissionDef, submission.current_def_id).instance_id == edit
    assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 1


def test_an_item_whose_file_is_missing_stops_there_until_it_comes(client, office, session):
    photo = jpeg("green")
    sha = hashlib.sha256(photo).hexdigest()
    item = meeting_item(office, new_id(), files={"p.jpg": sha})
    answer = send(client, office, [item]).get_json()
    assert answer["missing"] == [sha] and answer["cursor"] == 0 and answer["applied"] == 0
    upload(client, office, photo)
    assert send(client, office, [item]).get_json()["applied"] == 1


def test_a_file_resumes_where_it_stopped_and_must_be_what_its_name_says(client, office):
    photo = jpeg("yellow", (1000, 800))
    sha = hashlib.sha256(photo).hexdigest()
    half = len(photo) // 2
    _sha, first = upload(client, office, photo, part=photo[:half])
    assert first.status_code == 200 and first.get_json() == {"held": half}
    state = client.head(f"/sync/v1/blobs/{sha}", headers=office.headers)
    assert state.status_code == 404 and state.headers["X-Partial-Offset"] == str(half)
    _sha, wrong = upload(client, office, photo, offset=0)
    assert wrong.status_code == 409 and wrong.get_json()["code"] == "409.41"
    _sha, rest = upload(client, office, photo, offset=half)
    assert rest.status_code == 201
    assert client.head(f"/sync/v1/blobs/{sha}", headers=office.headers).status_code == 200
    # bytes that are not the file named
    liar = hashlib.sha256(b"something else").hexdigest()
    reply = client.put(f"/sync/v1/blobs/{liar}?offset=0", data=b"not that",
                       headers={**office.headers, "X-Blob-Size": "8"})
    assert reply.status_code == 409 and reply.get_json()["code"] == "409.42"
    assert client.head(f"/sync/v1/blobs/{liar}", headers=office.headers).status_code == 404


def review_item(office: Office, instance_id: str, state, text: str, seen: list[str],
                author: str = "office-sup") -> dict:
    at = datetime.now(UTC)
    return office.item("review", {
        "form": "forum_meeting", "instance_id": instance_id,
        "key": field_sync.review_key(instance_id, at, author, state, text), "author": author,
        "review_state": state, "body": text, "version_id": instance_id,
        "created_at": field_sync.timestamp(at), "seen": seen})


def test_reviews_from_the_office_apply_unless_they_cross_one_made_here(client, office, session,
                                                                       make_user, browser_for):
    instance_id = new_id()
    send(client, office, [meeting_item(office, instance_id)])
    first = review_item(office, instance_id, "hasIssues", "the date is wrong", [])
    assert send(client, office, [first]).get_json()["applied"] == 1
    session.rollback()
    submission = session.scalar(sa.select(Submission).where(
        Submission.instance_id == instance_id))
    assert submission.review_state == "hasIssues"
    # made here by a supervisor who had seen the office's review: the latest word
    session.add(ReviewComment(submission_id=submission.id, user_id=make_user(
        "hq-sup", "supervisor").id, body="", review_state="approved", created_at=WHEN))
    submission.review_state = "approved"
    session.commit()
    # the office's next review had not seen it: kept, not applied, a conflict
    crossing = review_item(office, instance_id, "rejected", "a duplicate",
                           [first["body"]["key"]])
    assert send(client, office, [crossing]).get_json()["conflicts"] == 1
    session.rollback()
    session.refresh(submission)
    assert submission.review_state == "approved"
    assert session.scalar(sa.select(sa.func.count()).select_from(SyncConflict)) == 1
    # a plain comment decides nothing and never conflicts
    note = review_item(office, instance_id, None, "called the facilitator", [])
    noted = send(client, office, [note]).get_json()
    assert noted["applied"] == 1 and noted["conflicts"] == 0
    # the submission's page says who wrote each, where, and that it was reviewed at both ends
    session.rollback()
    page = browser_for("administrator").get(
        f"/forms/forum_meeting/submissions/{instance_id}?lang=en").get_data(as_text=True)
    assert "Reviewed at both ends" in page
    assert page.count("<bdi>office-sup</bdi> · <span class=\"tag\"><bdi>qayyarah</bdi>") == 3
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(ReviewComment).where(
        ReviewComment.submission_id == submission.id)) == 4


def test_down_go_the_forms_and_only_the_office_s_own_app_users(client, office, session):
    accounts.create_app_user(session, "officer-q", places=[("governorate", "nineveh")])
    accounts.create_app_user(session, "officer-mosul", places=[("forum", "nin_mosul_01")])
    accounts.create_app_user(session, "officer-basra", places=[("governorate", "basra")])
    accounts.create_app_user(session, "headquarters-phone")
    session.commit()
    page = client.get("/sync/v1/changes?after=0", headers=office.headers).get_json()
    kinds = [item["kind"] for item in page["items"]]
    forms = {item["body"]["form"] for item in page["items"] if item["kind"] == "form"}
    assert {"forum_meeting", "incident_referral", "training_attendance"} <= forms
    users = {item["body"]["name"]: item["body"] for item in page["items"]
             if item["kind"] == "app_user"}
    assert users["officer-q"]["token"] and not users["officer-q"]["gone"]
    assert not users["officer-mosul"]["gone"]  # a forum of the office's governorate
    assert users["officer-basra"] == {"name": "officer-basra", "gone": True}
    assert users["headquarters-phone"]["gone"]
    assert "submission" not in kinds
    assert json.dumps(page["items"])  # all of it JSON
    # asking after the last says the office has it all
    client.get(f"/sync/v1/changes?after={page['last_seq']}&limit=0", headers=office.headers)
    session.rollback()
    hello = client.get("/sync/v1/hello", headers=office.headers).get_json()
    assert hello["down_seq"] == page["last_seq"]
