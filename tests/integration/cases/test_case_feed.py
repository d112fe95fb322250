"""The cases as JSON for our own clients (a field office's server, a script): the whole list of
the caller's places, 304 while nothing changed, a delta since a token with what left, 412 for a
token this server does not know, and one case's history."""

from __future__ import annotations

import uuid

import pytest

from server.services.cases.rebuilding import rebuild
from tests.conftest import ApiClient, api_token
from tests.support.cases import case_instance, entity, follow_up, referral


@pytest.fixture
def reader(client, session, make_user):
    """reader(name, forum=None) → an analyst's API client, of one forum or of everywhere."""
    def _make(name: str, forum: str | None = None) -> ApiClient:
        user = make_user(name, "analyst", scopes=[("forum", forum)] if forum else ())
        return ApiClient(client, name, api_token(session, user))
    return _make


def feed(reader: ApiClient, since: str | None = None, etag: str | None = None):
    headers = {"If-None-Match": etag} if etag else {}
    return reader.get("/api/v1/lists/cases/entities",
                      query_string={"since": since} if since else {}, headers=headers)


def uuids(answer) -> list[str]:
    return [case["uuid"] for case in answer.get_json()["entities"]]


def test_the_whole_list_holds_the_callers_places_cases(forms, placed_phone, reader):
    officer, other = placed_phone("officer", "F1"), placed_phone("other", "F2")
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    officer.submit(referral(mine, label="R1 سرقة F1"))
    other.submit(referral(theirs, forum="F2"))

    answer = feed(reader("basra-f1", forum="F1"))

    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["list"], body["delta"], body["count"], body["removed"]) == ("cases", False, 1, [])
    (case,) = body["entities"]
    assert (case["uuid"], case["label"], case["version"]) == (mine, "R1 سرقة F1", 1)
    assert case["properties"]["forum"] == "F1" and "victim_name" not in case["properties"]
    assert {"category", "status", "forum"} <= set(body["properties"])
    assert sorted(uuids(feed(reader("everywhere")))) == sorted([mine, theirs])


def test_an_unchanged_list_is_answered_304_and_a_change_gives_a_new_etag(forms, placed_phone,
                                                                         reader):
    officer = placed_phone("officer", "F1")
    case_id = str(uuid.uuid4())
    officer.submit(referral(case_id))
    script = reader("script")
    first = feed(script)

    again = feed(script, etag=first.headers["ETag"])
    assert (again.status_code, again.data) == (304, b"")
    officer.submit(follow_up(case_id, "in_progress", base=1))
    changed = feed(script, etag=first.headers["ETag"])
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]


def test_a_delta_answers_only_what_changed_since_the_token(forms, placed_phone, reader):
    officer = placed_phone("officer", "F1")
    kept, changed = str(uuid.uuid4()), str(uuid.uuid4())
    officer.submit(referral(kept))
    officer.submit(referral(changed))
    script = reader("script")
    token = feed(script).get_json()["token"]

    nothing = feed(script, since=token).get_json()
    assert (nothing["delta"], nothing["entities"], nothing["removed"], nothing["token"]) == (
        True, [], [], token)
    officer.submit(follow_up(changed, "closed", base=1))
    delta = feed(script, since=token).get_json()
    assert [(c["uuid"], c["version"], c["properties"]["status"]) for c in delta["entities"]] == [
        (changed, 2, "closed")]  # a closed case is still a case for a server or a script
    assert delta["token"] != token
    assert feed(script, since=delta["token"]).get_json()["entities"] == []


def test_a_case_moved_to_another_forum_is_removed_for_the_old_forums_reader(
        forms, placed_phone, reader):
    officer = placed_phone("officer", "F1")
    case_id = str(uuid.uuid4())
    original = referral(case_id)
    officer.submit(original)
    f1, f2, stranger = reader("f1", forum="F1"), reader("f2", forum="F2"), reader("f3", "F3")
    tokens = {who: feed(who).get_json()["token"] for who in (f1, f2, stranger)}

    instance_id = original.split(b"<instanceID>")[1].split(b"</instanceID>")[0].decode()
    moved = case_instance("incident_referral", "3", {
        "reference": "R1", "category": "theft", "governorate": "Basra", "district": "Zubair",
        "forum": "F2", "urgency": "high", "victim_name": "x", "status": "open",
    }, entity(case_id, create="1", label="R1 theft F2")).replace(
        b"<meta>", f"<meta><deprecatedID>{instance_id}</deprecatedID>".encode())
    assert officer.submit(moved).status == 201

    old = feed(f1, since=tokens[f1]).get_json()
    assert (old["entities"], old["removed"]) == ([], [case_id])
    assert uuids(feed(f2, since=tokens[f2])) == [case_id]
    # a reader whose places never held it learns nothing of it
    assert feed(stranger, since=tokens[stranger]).get_json()["removed"] == []


@pytest.mark.parametrize("token", ["nonsense", "0.0", "abc", ".1", "{epoch}.999", "{epoch}.x"])
def test_an_unknown_token_asks_for_a_full_reload(forms, placed_phone, reader, token):
    placed_phone("officer", "F1").submit(referral(str(uuid.uuid4())))
    script = reader("script")
    epoch = feed(script).get_json()["token"].split(".")[0]

    answer = feed(script, since=token.format(epoch=epoch))

    assert answer.status_code == 412
    assert answer.get_json()["code"] == "412.1"


def test_a_rebuild_makes_every_earlier_token_unknown(forms, placed_phone, reader, session):
    placed_phone("officer", "F1").submit(referral(str(uuid.uuid4())))
    script = reader("script")
    before = feed(script).get_json()

    rebuild(session)
    session.commit()

    assert feed(script, since=before["token"]).status_code == 412
    assert uuids(feed(script)) == [c["uuid"] for c in before["entities"]]


def test_one_cases_history_says_who_changed_what_from_which_submission(
        forms, placed_phone, reader):
    officer = placed_phone("officer", "F1")
    case_id = str(uuid.uuid4())
    first = referral(case_id)
    officer.submit(first)
    officer.submit(follow_up(case_id, "in_progress", base=1, next_date="2026-12-24"))

    answer = reader("script").get(f"/api/v1/lists/cases/entities/{case_id.upper()}")

    assert answer.status_code == 200
    case = answer.get_json()
    assert (case["uuid"], case["version"], case["properties"]["status"]) == (
        case_id, 2, "in_progress")
    made, followed = case["versions"]
    assert (made["version"], made["appUser"], made["properties"]["status"]) == (
        1, "officer", "open")
    assert made["instanceId"] == first.split(b"<instanceID>")[1].split(b"<")[0].decode()
    assert followed["received"] == {"status": "in_progress", "next_follow_up": "2026-12-24"}


def test_another_places_case_and_unknown_lists_are_not_found(forms, placed_phone, reader):
    case_id = str(uuid.uuid4())
    placed_phone("officer", "F1").submit(referral(case_id))
    f2 = reader("f2", forum="F2")
    assert f2.get(f"/api/v1/lists/cases/entities/{case_id}").get_json()["code"] == "404.31"
    assert f2.get("/api/v1/lists/people/entities").get_json()["code"] == "404.30"
    assert [entry["name"] for entry in f2.get("/api/v1/lists").get_json()] == ["cases"]


def test_supervisors_do_not_read_the_lists_through_the_api(forms, client, session, make_user):
    user = make_user("sup", "supervisor", scopes=[("forum", "F1")])
    supervisor = ApiClient(client, "sup", api_token(session, user))
    assert feed(supervisor).status_code == 403
