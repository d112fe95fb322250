"""An administrator deletes a case opened by mistake: it leaves the phones and the lists, an
update sent afterwards is refused and kept, its history stays, and a rebuild deletes it again."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from server.database.models import Entity
from server.services.cases.rebuilding import rebuild
from tests.integration.cases.test_case_feed import feed
from tests.integration.cases.test_case_updates import outcomes, snapshot
from tests.integration.cases.test_serving import cases_entry, cases_of
from tests.support.cases import follow_up, referral


def test_a_deleted_case_leaves_the_phone_and_the_lists(forms, placed_phone, admin, session):
    officer = placed_phone("officer", "F1")
    gone, kept = str(uuid.uuid4()), str(uuid.uuid4())
    officer.submit(referral(gone))
    officer.submit(referral(kept))
    held = cases_entry(officer)
    token = feed(admin).get_json()["token"]

    answer = admin.delete(f"/api/v1/lists/cases/entities/{gone}")

    assert answer.status_code == 200 and answer.get_json()["uuid"] == gone
    assert officer.deleted_states(held, [gone, kept]) == {gone: True, kept: False}
    assert [row[0] for row in cases_of(officer)[1:]] == [kept]
    assert cases_entry(officer)["hash"] != held["hash"]
    delta = feed(admin, since=token).get_json()
    assert (delta["entities"], delta["removed"]) == ([], [gone])
    assert [c["uuid"] for c in feed(admin).get_json()["entities"]] == [kept]
    history = admin.get(f"/api/v1/lists/cases/entities/{gone}").get_json()
    assert history["deletedAt"] and [v["version"] for v in history["versions"]] == [1]
    typed = session.execute(sa.text("SELECT _deleted_at FROM e_cases WHERE _uuid = :u"),
                            {"u": gone}).scalar_one()
    assert typed is not None


def test_an_update_of_a_deleted_case_is_refused_and_kept(forms, placed_phone, admin, session):
    officer = placed_phone("officer", "F1")
    case_id = str(uuid.uuid4())
    officer.submit(referral(case_id))
    admin.delete(f"/api/v1/lists/cases/entities/{case_id}")

    assert officer.submit(follow_up(case_id, "closed", base=1)).status == 201

    assert outcomes(session)[-1] == ("refused", "deleted")
    assert session.scalars(sa.select(Entity.version).where(Entity.uuid == case_id)).one() == 1


def test_deleting_twice_changes_nothing_and_an_unknown_case_is_not_found(forms, placed_phone,
                                                                         admin):
    case_id = str(uuid.uuid4())
    placed_phone("officer", "F1").submit(referral(case_id))
    first = admin.delete(f"/api/v1/lists/cases/entities/{case_id}").get_json()
    token = feed(admin).get_json()["token"]

    assert admin.delete(f"/api/v1/lists/cases/entities/{case_id}").get_json() == first
    assert feed(admin).get_json()["token"] == token
    unknown = admin.delete(f"/api/v1/lists/cases/entities/{uuid.uuid4()}")
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "404.31"


def test_a_rebuild_deletes_the_case_again_where_it_was_deleted(forms, placed_phone, admin,
                                                               session):
    officer = placed_phone("officer", "F1")
    case_id = str(uuid.uuid4())
    officer.submit(referral(case_id))
    admin.delete(f"/api/v1/lists/cases/entities/{case_id}")
    officer.submit(follow_up(case_id, "closed", base=1))  # after the deletion: refused
    before = snapshot(session)
    deleted_at = session.scalars(sa.select(Entity.deleted_at)).one()

    rebuild(session)
    session.commit()

    after = snapshot(session)
    assert after["actions"] == before["actions"] and after["versions"] == before["versions"]
    assert session.scalars(sa.select(Entity.deleted_at)).one() == deleted_at

