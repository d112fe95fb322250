"""Cases made and changed by submissions, in the submission's transaction: offline updates in
order, refusals recorded on the submission (which is always kept), nothing applied twice."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
import sqlalchemy as sa

from server.database.models import (
    AppUserPlace,
    Entity,
    EntityActionRecord,
    EntityDef,
    Submission,
)
from tests.support.cases import case_instance, entity, follow_up, referral


@pytest.fixture
def officer(forms, placed_phone):
    """The phone of an officer of forum F1."""
    return placed_phone("officer", "F1")


def case(session, case_id: str) -> Entity:
    session.rollback()
    return session.scalars(sa.select(Entity).where(Entity.uuid == case_id)).one()


def outcomes(session) -> list[tuple[str, str | None]]:
    session.rollback()
    return [tuple(r) for r in session.execute(sa.select(
        EntityActionRecord.outcome, EntityActionRecord.refusal).order_by(EntityActionRecord.id))]


def test_a_referral_opens_a_case_without_personal_details(officer, session):
    case_id = str(uuid.uuid4())
    assert officer.submit(referral(case_id)).status == 201

    opened = case(session, case_id)
    data = json.loads(opened.data)
    assert (opened.version, opened.label, opened.forum, opened.status) == (1, "R1 theft F1",
                                                                          "F1", "open")
    assert "victim_name" not in data and data["category"] == "theft"
    (version,) = session.scalars(sa.select(EntityDef)).all()
    assert version.submission_id == session.scalar(sa.select(Submission.id))
    assert opened.csv_row.startswith(f"{case_id},R1 theft F1,1,")


def test_offline_updates_arriving_out_of_order_are_applied_in_order(officer, session):
    case_id, branch = str(uuid.uuid4()), str(uuid.uuid4())
    officer.submit(referral(case_id))
    second = follow_up(case_id, "closed", base=2, trunk=1, branch=branch, next_date="2026-12-21")
    first = follow_up(case_id, "in_progress", base=1, trunk=1, branch=branch)

    assert officer.submit(second).status == 201
    assert case(session, case_id).version == 1
    assert outcomes(session)[-1] == ("held", None)
    assert officer.submit(first).status == 201

    settled = case(session, case_id)
    assert (settled.version, settled.status) == (3, "closed")
    assert json.loads(settled.data)["next_follow_up"] == "2026-12-21"
    assert [o for o, _ in outcomes(session)] == ["applied", "applied", "applied"]
    versions = session.scalars(sa.select(EntityDef).order_by(EntityDef.version)).all()
    assert [json.loads(v.data)["status"] for v in versions] == ["open", "in_progress", "closed"]


def test_the_same_update_sent_twice_is_applied_once(officer, session):
    case_id = str(uuid.uuid4())
    officer.submit(referral(case_id))
    update = follow_up(case_id, "in_progress", base=1)
    assert officer.submit(update).status == 201
    assert officer.submit(update).status == 201  # Collect's retry: the same XML

    assert case(session, case_id).version == 2
    assert len(outcomes(session)) == 2


@pytest.mark.parametrize("why, arrange, refusal", [
    ("an unknown case", lambda phone, case_id: None, "unknown"),
    ("a closed case", lambda phone, case_id: phone.submit(
        follow_up(case_id, "closed", base=1)), "closed"),
    ("a version ahead of the server", lambda phone, case_id: None, "version_not_found"),
])
def test_updates_that_cannot_apply_are_refused_and_the_submission_kept(
        officer, session, why, arrange, refusal):
    case_id = str(uuid.uuid4())
    if why != "an unknown case":
        officer.submit(referral(case_id))
    arrange(officer, case_id)
    base = 7 if why == "a version ahead of the server" else 2 if why == "a closed case" else 1
    reply = officer.submit(follow_up(case_id, "in_progress", base=base))

    assert reply.status == 201  # the officer's submission is never lost for its case
    assert outcomes(session)[-1] == ("refused", refusal)
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) >= 1


def test_a_phone_may_not_update_a_case_of_a_place_it_does_not_hold(officer, placed_phone,
                                                                   session):
    case_id = str(uuid.uuid4())
    officer.submit(referral(case_id))
    stranger = placed_phone("stranger", "F2")

    assert stranger.submit(follow_up(case_id, "closed", base=1)).status == 201
    assert case(session, case_id).status == "open"
    assert outcomes(session)[-1] == ("refused", "place")
    # nor open one in another place
    other = str(uuid.uuid4())
    stranger.submit(referral(other, forum="F1"))
    assert session.scalar(sa.select(Entity).where(Entity.uuid == other)) is None


def test_two_officers_updating_from_the_same_version_is_a_hard_conflict(officer,
                                                                        placed_phone, session):
    case_id = str(uuid.uuid4())
    officer.submit(referral(case_id))
    colleague = placed_phone("colleague", "F1")

    officer.submit(follow_up(case_id, "in_progress", base=1))
    colleague.submit(follow_up(case_id, "referred_on", base=1))

    both = case(session, case_id)
    assert (both.version, both.conflict, both.status) == (3, "hard", "referred_on")
    last = session.scalars(sa.select(EntityDef).where(EntityDef.version == 3)).one()
    assert json.loads(last.conflicting_properties) == ["status"]


def test_hostile_labels_and_values_are_kept_as_data(officer, session):
    case_id = str(uuid.uuid4())
    hostile = '=HYPERLINK("http://x","click"),\n"quoted" محفل'
    assert officer.submit(referral(case_id, label=hostile)).status == 201
    kept = case(session, case_id)
    assert kept.label == hostile
    (row,) = list(csv.reader(io.StringIO(kept.csv_row)))
    assert row[:3] == [case_id, hostile, "1"]


def test_entity_data_that_cannot_be_read_is_recorded_and_the_submission_kept(officer,
                                                                             session):
    bad = case_instance("incident_referral", "3", {"reference": "R", "forum": "F1"},
                        entity("not-a-uuid", create="1", label="x"))
    assert officer.submit(bad).status == 201
    assert outcomes(session) == [("refused", "invalid")]
    assert session.scalar(sa.select(sa.func.count()).select_from(Entity)) == 0


def test_an_edit_of_the_referral_corrects_its_case(officer, session):
    case_id = str(uuid.uuid4())
    original = referral(case_id)
    officer.submit(original)
    instance_id = original.split(b"<instanceID>")[1].split(b"</instanceID>")[0].decode()
    corrected = case_instance("incident_referral", "3", {
        "reference": "R1", "category": "threat", "governorate": "Basra", "district": "Zubair",
        "forum": "F1", "urgency": "normal", "victim_name": "x", "status": "open",
    }, entity(case_id, create="1", label="R1 threat F1"))
    corrected = corrected.replace(
        b"<meta>", f"<meta><deprecatedID>{instance_id}</deprecatedID>".encode())
    assert officer.submit(corrected).status == 201

    fixed = case(session, case_id)
    assert (fixed.version, fixed.label, json.loads(fixed.data)["category"]) == (
        2, "R1 threat F1", "threat")


def snapshot(session) -> dict:
    session.rollback()
    cases = session.execute(sa.select(
        Entity.uuid, Entity.label, Entity.version, Entity.data, Entity.conflict, Entity.status,
        Entity.forum, Entity.csv_row, Entity.seq, Entity.created_at, Entity.updated_at)
        .order_by(Entity.uuid)).all()
    versions = session.execute(sa.select(
        Entity.uuid, EntityDef.version, EntityDef.label, EntityDef.data, EntityDef.data_received,
        EntityDef.conflict, EntityDef.conflicting_properties, EntityDef.forced,
        EntityDef.submission_id, EntityDef.submission_def_id, EntityDef.created_at)
        .join(Entity, Entity.id == EntityDef.entity_id)
        .order_by(Entity.uuid, EntityDef.version)).all()
    actions = session.execute(sa.select(
        EntityActionRecord.submission_def_id, EntityActionRecord.position,
        EntityActionRecord.outcome, EntityActionRecord.refusal, EntityActionRecord.message)
        .order_by(EntityActionRecord.submission_def_id, EntityActionRecord.position)).all()
    typed = session.execute(sa.text("SELECT * FROM e_cases ORDER BY _uuid")).all()
    return {"cases": cases, "versions": versions, "actions": actions, "typed": typed}


def test_a_held_update_whose_predecessor_never_comes_is_applied_after_its_time(
        officer, session):
    from server.database.models import utcnow
    from server.services.cases import overdue

    case_id, branch = str(uuid.uuid4()), str(uuid.uuid4())
    officer.submit(referral(case_id))
    officer.submit(follow_up(case_id, "referred_on", base=3, trunk=1, branch=branch))
    later = follow_up(case_id, "closed", base=4, trunk=1, branch=branch)
    officer.submit(later)
    assert [o for o, _ in outcomes(session)] == ["applied", "held", "held"]

    assert overdue.release_overdue(session.connection(), utcnow(), 120) == 0  # not yet
    session.rollback()
    assert overdue.release_overdue(session.connection(), utcnow(), 0) == 1
    session.commit()

    forced = case(session, case_id)  # the first forced, and it released the next
    assert (forced.version, forced.status) == (3, "closed")
    flags = session.scalars(sa.select(EntityDef.forced).order_by(EntityDef.version)).all()
    assert flags == [False, True, False]


def test_renormalise_rebuilds_every_case_identically(officer, placed_phone, session, app):
    from server.database.models import utcnow
    from server.services.cases import overdue, rebuilding

    colleague = placed_phone("colleague", "F1")
    stranger = placed_phone("stranger", "F2")
    first, second, branch = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    officer.submit(referral(first))
    officer.submit(referral(second, label="R2"))
    officer.submit(follow_up(first, "in_progress", base=1))
    colleague.submit(follow_up(first, "referred_on", base=1))  # a conflict
    stranger.submit(follow_up(second, "closed", base=1))  # refused: not its place
    officer.submit(follow_up(second, "in_progress", base=3, trunk=1, branch=branch))  # held
    officer.submit(follow_up(second, "closed", base=4, trunk=1, branch=branch))  # held after it
    overdue.release_overdue(session.connection(), utcnow(), 0)  # forced, and releases the next
    session.commit()
    officer.submit(follow_up(first, "closed", base=3))
    before = snapshot(session)
    assert len(before["cases"]) == 2 and len(before["versions"]) == 7

    # a phone's places changing since must not change what was refused then
    session.execute(sa.delete(AppUserPlace))
    session.commit()
    rebuilding.rebuild(session)
    session.commit()

    assert snapshot(session) == before


def test_the_cli_rebuilds_cases_with_renormalise(officer, session, app):
    from click.testing import CliRunner

    from server.surfaces.cli import main

    case_id = str(uuid.uuid4())
    officer.submit(referral(case_id))
    session.execute(sa.update(Entity).values(label="tampered"))  # the projection damaged
    session.commit()
    env = {"DATABASE_URL": app.config["DATABASE_URL"],
           "MUNTADA_DATA_DIR": app.config["DATA_DIR"],
           "MUNTADA_SECRET_KEY": "test-secret", "MUNTADA_VALIDATE_FORMS": "false"}
    result = CliRunner().invoke(main, ["renormalise"], env=env)
    assert result.exit_code == 0, result.output
    assert "cases\t" in result.output
    assert (case(session, case_id).version, case(session, case_id).label) == (1, "R1 theft F1")
    result = CliRunner().invoke(main, ["cases", "release-held"], env=env)
    assert result.exit_code == 0 and "0 held updates applied" in result.output, result.output
