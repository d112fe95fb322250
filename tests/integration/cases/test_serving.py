"""Cases served to phones as stock Collect understands them: the follow-up form's manifest lists
the `cases` entity list with its integrityUrl; each phone receives only its places' open cases;
the hash changes exactly when what that phone receives changes; 304 for an unchanged list."""

from __future__ import annotations

import csv
import io
import uuid

import sqlalchemy as sa

from server.database.models import AppUser, Entity
from server.services.accounts import set_app_user_places
from tests.support.cases import follow_up, referral


def cases_entry(phone) -> dict[str, str]:
    (entry,) = phone.form_list("referral_follow_up")
    (media,) = phone.manifest(entry)
    return media


def cases_of(phone) -> list[list[str]]:
    media = cases_entry(phone)
    return list(csv.reader(io.StringIO(phone.download_media(media).decode("utf-8"))))


def test_the_follow_up_form_lists_the_cases_as_an_entity_list(forms, placed_phone):
    officer = placed_phone("officer", "F1")
    media = cases_entry(officer)
    assert (media["filename"], media["type"]) == ("cases.csv", "entityList")
    assert media["integrityUrl"].endswith("/lists/cases/integrity")
    header = cases_of(officer)[0]
    assert header[:3] == ["name", "label", "__version"]
    assert {"status", "forum", "category"} <= set(header)


def test_each_phone_receives_only_the_open_cases_of_its_places(forms, placed_phone):
    officer = placed_phone("officer", "F1")
    other = placed_phone("other", "F2")
    mine, theirs, closed = (str(uuid.uuid4()) for _ in range(3))
    officer.submit(referral(mine))
    officer.submit(referral(closed))
    officer.submit(follow_up(closed, "closed", base=1))
    other.submit(referral(theirs, forum="F2", label="R9 threat F2"))

    assert [row[0] for row in cases_of(officer)[1:]] == [mine]
    assert [row[0] for row in cases_of(other)[1:]] == [theirs]
    states = officer.deleted_states(cases_entry(officer), [mine, theirs, closed,
                                                           str(uuid.uuid4())])
    # another place's case is as gone as an unknown one: its existence is not told
    assert states == {mine: False, theirs: True, closed: True, **{
        k: True for k in states if k not in (mine, theirs, closed)}}


def test_the_hash_changes_exactly_when_what_the_phone_receives_changes(forms, placed_phone):
    officer = placed_phone("officer", "F1")
    other = placed_phone("other", "F2")
    mine = str(uuid.uuid4())
    officer.submit(referral(mine))
    first = cases_entry(officer)["hash"]

    other.submit(referral(str(uuid.uuid4()), forum="F2"))  # another place's case
    assert cases_entry(officer)["hash"] == first
    officer.submit(follow_up(mine, "in_progress", base=1))
    changed = cases_entry(officer)
    assert changed["hash"] != first
    assert cases_of(officer)[1][2] == "2"  # version 2, as the hash promised


def test_an_unchanged_list_is_answered_304(forms, placed_phone):
    officer = placed_phone("officer", "F1")
    officer.submit(referral(str(uuid.uuid4())))
    media = cases_entry(officer)
    etag = '"' + media["hash"].removeprefix("md5:") + '"'
    reply = officer.get(media["downloadUrl"], {"If-None-Match": etag})
    assert (reply.status, reply.body) == (304, b"")


def test_a_phone_moved_to_another_forum_drops_the_old_forums_cases(forms, placed_phone,
                                                                   session):
    officer = placed_phone("officer", "F1")
    other = placed_phone("other", "F2")
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    officer.submit(referral(old))
    other.submit(referral(new, forum="F2"))
    entry = cases_entry(officer)  # what the phone holds, made before the move

    app_user = session.scalars(sa.select(AppUser).where(AppUser.name == "officer")).one()
    set_app_user_places(app_user, [("forum", "F2")])
    session.commit()

    assert officer.deleted_states(entry, [old]) == {old: True}
    assert [row[0] for row in cases_of(officer)[1:]] == [new]
    assert cases_entry(officer)["hash"] != entry["hash"]
    refused = officer.submit(follow_up(old, "closed", base=1))  # kept, the case unchanged
    assert refused.status == 201
    session.expire_all()
    assert session.scalars(sa.select(Entity.version).where(Entity.uuid == old)).one() == 1


def test_a_phone_tied_to_no_place_receives_no_case(forms, placed_phone, make_phone):
    opener = placed_phone("opener", "F1")
    opener.submit(referral(str(uuid.uuid4())))
    nowhere = make_phone("nowhere")
    assert cases_of(nowhere)[1:] == []


def test_hostile_values_reach_the_phone_exactly(forms, placed_phone):
    officer = placed_phone("officer", "F1")
    hostile = '=HYPERLINK("http://x","y"),\n"q" محفل'
    case_id = str(uuid.uuid4())
    officer.submit(referral(case_id, label=hostile))
    (row,) = cases_of(officer)[1:]
    assert row[:2] == [case_id, hostile]
