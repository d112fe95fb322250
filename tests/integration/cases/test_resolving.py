"""A supervisor resolves a conflict on the case page, property by property: two officers
updated the same case from the same version; the supervisor keeps one value of each conflicting
property; the case gets a version of theirs, leaves its conflict, and reaches the phones again.
A resolution made on a version the case has since left changes nothing; a rebuild replays it."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid

import pytest
import sqlalchemy as sa

from server.database.models import AuditEvent, CaseEvent, Entity, EntityDef, User
from server.services.cases import rebuilding
from tests.support.cases import case_instance, entity, follow_up, referral


@pytest.fixture
def officers(forms, placed_phone):
    """Two officers of forum F1 and the case they both updated from its first version."""
    officer, colleague = placed_phone("officer", "F1"), placed_phone("colleague", "F1")
    case_id = str(uuid.uuid4())
    officer.submit(referral(case_id))
    officer.submit(follow_up(case_id, "in_progress", base=1, next_date="2026-12-20"))
    colleague.submit(follow_up(case_id, "referred_on", base=1, next_date="2026-12-28"))
    return officer, colleague, case_id


@pytest.fixture
def supervisor(browser_for):
    return browser_for("supervisor", username="basra_supervisor",
                       scopes=[("governorate", "Basra")])


def case(session, case_id: str) -> Entity:
    session.rollback()
    return session.scalars(sa.select(Entity).where(Entity.uuid == case_id)).one()


def page(browser, case_id: str) -> str:
    response = browser.get(f"/cases/{case_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def offered(html: str) -> dict[str, list[str]]:
    """Property → the values the resolution form offers for it."""
    found: dict[str, list[str]] = {}
    for name, value in re.findall(r'type="radio" name="choice:([^"]+)" value="([^"]*)"', html):
        found.setdefault(name, []).append(value)
    return found


def test_the_case_page_offers_each_conflicting_property_s_competing_values(officers,
                                                                            supervisor, session):
    _officer, _colleague, case_id = officers
    assert case(session, case_id).conflict == "hard"
    html = page(supervisor, case_id)
    assert 'id="resolve"' in html and 'name="version" value="3"' in html
    assert offered(html) == {"status": ["in_progress", "referred_on"],
                             "next_follow_up": ["2026-12-20", "2026-12-28"]}


def test_a_resolution_keeps_the_chosen_value_of_each_property_as_a_supervisor_s_version(
        officers, supervisor, session):
    _officer, _colleague, case_id = officers
    response = supervisor.post(f"/cases/{case_id}/resolve", {
        "version": "3", "choice:status": "in_progress", "choice:next_follow_up": "2026-12-28"})
    assert response.status_code == 303

    resolved = case(session, case_id)
    assert (resolved.version, resolved.conflict, resolved.status) == (4, None, "in_progress")
    assert json.loads(resolved.data)["next_follow_up"] == "2026-12-28"
    assert resolved.csv_row.startswith(f"{case_id},R1 theft F1,4,")
    version = session.scalars(sa.select(EntityDef).where(EntityDef.version == 4)).one()
    user_id = session.scalar(sa.select(User.id).where(User.username == "basra_supervisor"))
    assert (version.user_id, version.submission_id, version.app_user_id, version.base_version
            ) == (user_id, None, None, 3)
    assert json.loads(version.data_received) == {"status": "in_progress",
                                                 "next_follow_up": "2026-12-28"}
    (event,) = session.scalars(sa.select(CaseEvent).where(CaseEvent.kind == "resolve")).all()
    assert json.loads(event.body) == {"version": 3, "values": {
        "status": "in_progress", "next_follow_up": "2026-12-28"}}
    assert (event.uuid, event.user_id) == (case_id, user_id)
    typed = session.execute(sa.text("SELECT _version, _conflict, status FROM e_cases")).one()
    assert tuple(typed) == (4, None, "in_progress")
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "case.resolved")) == 1

    html = page(supervisor, case_id)  # the history says who resolved it; no form is left
    assert 'id="resolve"' not in html
    assert re.search(r'data-version="4" class="resolution".*?basra_supervisor', html, re.S)


def test_a_resolution_on_a_version_the_case_has_left_changes_nothing(officers, supervisor,
                                                                    session):
    officer, _colleague, case_id = officers
    page(supervisor, case_id)  # read at version 3
    officer.submit(follow_up(case_id, "in_progress", base=3, next_date="2026-12-30"))
    assert case(session, case_id).version == 4

    response = supervisor.post(f"/cases/{case_id}/resolve", {
        "version": "3", "choice:status": "referred_on", "choice:next_follow_up": "2026-12-28"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'id="stale"' in html and 'name="version" value="4"' in html
    kept = case(session, case_id)
    assert (kept.version, kept.conflict, kept.status) == (4, "hard", "in_progress")
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseEvent)) == 0


@pytest.mark.parametrize("form, code", [
    ({"version": "3", "choice:status": "closed", "choice:next_follow_up": "2026-12-28"},
     "400.30"),  # a value no version set
    ({"version": "3", "choice:status": "in_progress"}, "400.30"),  # a property left out
    ({"choice:status": "in_progress", "choice:next_follow_up": "2026-12-28"}, "400.30"),
])
def test_a_resolution_that_does_not_choose_among_the_offered_values_changes_nothing(
        officers, supervisor, session, form, code):
    _officer, _colleague, case_id = officers
    response = supervisor.post(f"/cases/{case_id}/resolve", form)
    assert response.status_code == 400 and code.encode() in response.data
    assert (case(session, case_id).version, case(session, case_id).conflict) == (3, "hard")


def relabelled(case_id: str, label: str) -> bytes:
    """A follow-up that also renames the case (Collect sends the label when the form sets it)."""
    return case_instance("referral_follow_up", "1", {
        "case": case_id, "outcome": "renamed", "status": "in_progress",
        "next_follow_up": "2026-12-20"}, entity(case_id, update="1", base_version="1",
                                                label=label))


def test_a_label_two_phones_changed_differently_is_resolved_as_the_case_s_label(
        forms, placed_phone, supervisor, session):
    officer, colleague = placed_phone("officer", "F1"), placed_phone("colleague", "F1")
    case_id = str(uuid.uuid4())
    officer.submit(referral(case_id))
    officer.submit(relabelled(case_id, "R1 theft F1 (Zubair)"))
    colleague.submit(relabelled(case_id, "R1 theft F1 (Basra)"))
    html = page(supervisor, case_id)
    assert offered(html) == {"label": ["R1 theft F1 (Zubair)", "R1 theft F1 (Basra)"]}

    supervisor.post(f"/cases/{case_id}/resolve",
                    {"version": "3", "choice:label": "R1 theft F1 (Zubair)"})
    resolved = case(session, case_id)
    assert (resolved.version, resolved.label, resolved.conflict) == (
        4, "R1 theft F1 (Zubair)", None)
    assert "label" not in json.loads(resolved.data)
    assert resolved.csv_row.startswith(f"{case_id},R1 theft F1 (Zubair),4,")


def test_a_soft_conflict_is_marked_resolved_keeping_both_updates(forms, placed_phone,
                                                                  supervisor, session):
    officer, colleague = placed_phone("officer", "F1"), placed_phone("colleague", "F1")
    case_id = str(uuid.uuid4())
    officer.submit(referral(case_id))
    officer.submit(follow_up(case_id, "in_progress", base=1))
    colleague.submit(follow_up(case_id, "in_progress", base=1))  # the same values: soft
    assert case(session, case_id).conflict == "soft"
    html = page(supervisor, case_id)
    assert offered(html) == {} and 'id="resolve"' in html  # nothing to choose, only to confirm

    assert supervisor.post(f"/cases/{case_id}/resolve", {"version": "3"}).status_code == 303
    resolved = case(session, case_id)
    assert (resolved.version, resolved.conflict, resolved.status) == (4, None, "in_progress")


def test_a_case_out_of_conflict_has_nothing_to_resolve(forms, placed_phone, supervisor,
                                                       session):
    case_id = str(uuid.uuid4())
    placed_phone("officer", "F1").submit(referral(case_id))
    response = supervisor.post(f"/cases/{case_id}/resolve", {"version": "1"})
    assert response.status_code == 409 and b"409.30" in response.data
    assert 'id="resolve"' not in page(supervisor, case_id)


def test_another_place_s_supervisor_and_an_analyst_cannot_resolve(officers, browser_for,
                                                                  session):
    _officer, _colleague, case_id = officers
    nineveh = browser_for("supervisor", scopes=[("governorate", "Nineveh")])
    form = {"version": "3", "choice:status": "in_progress", "choice:next_follow_up": "2026-12-28"}
    assert nineveh.post(f"/cases/{case_id}/resolve", form).status_code == 404
    assert browser_for("analyst").post(f"/cases/{case_id}/resolve", form).status_code == 403
    assert case(session, case_id).version == 3


def test_a_resolution_waits_for_an_update_of_the_case_under_way_and_then_sees_it(
        officers, supervisor, session, app):
    import threading
    import time

    from server.database import per_request

    _officer, _colleague, case_id = officers
    update = per_request.of(app).session(writing=True)  # a phone's update, being applied
    update.execute(sa.update(Entity).where(Entity.uuid == case_id).values(version=4))
    answers = []
    resolving = threading.Thread(target=lambda: answers.append(supervisor.post(
        f"/cases/{case_id}/resolve", {"version": "3", "choice:status": "in_progress",
                                      "choice:next_follow_up": "2026-12-28"}).status_code))
    resolving.start()
    time.sleep(0.5)
    assert answers == []  # it waits for the update's commit
    update.commit()
    update.close()
    resolving.join(timeout=30)
    assert answers == [409]  # and then finds the case moved on: nothing written
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseEvent)) == 0


def cases_media(phone) -> dict[str, str]:
    (entry,) = phone.form_list("referral_follow_up")
    (media,) = phone.manifest(entry)
    return media


def test_the_phones_receive_the_resolved_case_under_a_new_hash(officers, supervisor):
    officer, _colleague, case_id = officers
    before = cases_media(officer)
    supervisor.post(f"/cases/{case_id}/resolve", {
        "version": "3", "choice:status": "in_progress", "choice:next_follow_up": "2026-12-28"})

    after = cases_media(officer)
    assert after["hash"] != before["hash"]
    table = list(csv.DictReader(io.StringIO(officer.download_media(after).decode("utf-8"))))
    (row,) = [r for r in table if r["name"] == case_id]
    assert (row["__version"], row["status"], row["next_follow_up"]) == (
        "4", "in_progress", "2026-12-28")


def snapshot(session) -> dict:
    session.rollback()
    cases = session.execute(sa.select(
        Entity.uuid, Entity.label, Entity.version, Entity.data, Entity.conflict, Entity.status,
        Entity.forum, Entity.csv_row, Entity.seq, Entity.created_at, Entity.updated_at)
        .order_by(Entity.uuid)).all()
    versions = session.execute(sa.select(
        Entity.uuid, EntityDef.version, EntityDef.label, EntityDef.data, EntityDef.data_received,
        EntityDef.base_version, EntityDef.conflict, EntityDef.conflicting_properties,
        EntityDef.forced, EntityDef.submission_id, EntityDef.app_user_id, EntityDef.user_id,
        EntityDef.created_at)
        .join(Entity, Entity.id == EntityDef.entity_id)
        .order_by(Entity.uuid, EntityDef.version)).all()
    typed = session.execute(sa.text("SELECT * FROM e_cases ORDER BY _uuid")).all()
    return {"cases": cases, "versions": versions, "typed": typed}


def test_a_rebuild_replays_the_resolution_among_the_submissions(officers, supervisor, session,
                                                                 app):
    from click.testing import CliRunner

    from server.surfaces.cli import main

    officer, colleague, case_id = officers
    supervisor.post(f"/cases/{case_id}/resolve", {
        "version": "3", "choice:status": "referred_on", "choice:next_follow_up": "2026-12-20"})
    colleague.submit(follow_up(case_id, "in_progress", base=3))  # made before it: a conflict
    officer.submit(follow_up(case_id, "closed", base=5))
    before = snapshot(session)
    assert [v.version for v in before["versions"]] == [1, 2, 3, 4, 5, 6]
    assert (before["cases"][0].conflict, before["cases"][0].status) == ("soft", "closed")

    rebuilding.rebuild(session)
    session.commit()
    assert snapshot(session) == before

    session.execute(sa.update(Entity).values(label="tampered"))  # the projection damaged
    session.commit()
    env = {"DATABASE_URL": app.config["DATABASE_URL"],
           "MUNTADA_DATA_DIR": app.config["DATA_DIR"],
           "MUNTADA_SECRET_KEY": "test-secret", "MUNTADA_VALIDATE_FORMS": "false"}
    result = CliRunner().invoke(main, ["renormalise"], env=env)
    assert result.exit_code == 0, result.output
    assert snapshot(session) == before
