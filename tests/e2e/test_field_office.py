"""A field office's own server syncing with headquarters, both real `muntada serve` processes set
up with the commands the README gives: headquarters (PostgreSQL when TEST_DATABASE_URL is set,
as in the field; else SQLite) registers the office, the office (SQLite) joins, phones send to the
office, and everything reaches headquarters: every version's XML, every attachment's SHA-256,
reviews both ways, with nothing doubled when a sync is run again."""

from __future__ import annotations

import re
import subprocess
import uuid

import pytest
import sqlalchemy as sa

from server.database.models import (
    AppUser,
    EncryptionKey,
    Entity,
    Form,
    ProjectionTable,
    ReviewComment,
    Submission,
    SubmissionDef,
    SyncConflict,
    SyncPeer,
)
from sync.encryption import read_envelope
from sync.keys import load_public_key
from tests.e2e.conftest import CLI_TIMEOUT, MUNTADA, REPO
from tests.support import field_office
from tests.support.cases import programme_referral
from tests.support.collect_encryption import encrypt_instance
from tests.support.field_office import PASSWORD, nineveh_meeting, review
from tests.support.incidents import incident_referral
from tests.support.instances import new_id
from tests.support.programme_meetings import jpeg

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sites(programmes, tmp_path_factory):
    """Headquarters with the programme, an officer of Nineveh and a supervisor, and the
    Qayyarah office registered; the office's server joined to it."""
    with field_office.pair(tmp_path_factory.mktemp("field-office"), programmes) as pair:
        yield pair.hq, pair.office, pair.officer_token, pair.joined


def phone_of(site, token):
    return field_office.phone_of(site, token)


def test_joining_brings_the_forms_and_the_office_s_app_users_only(sites):
    hq, office, token, joined = sites
    assert "Joined headquarters" in joined
    phone = phone_of(office, token)
    listed = {entry["formID"] for entry in phone.form_list()}
    assert {"forum_meeting", "incident_referral", "training_attendance"} <= listed
    names = {row[0] for row in office.rows(sa.select(AppUser.name))}
    assert "officer-q" in names and "officer-basra" not in names
    # and headquarters knows how far the office has taken its changes
    taken = office.scalar(sa.select(SyncPeer.down_seq).where(SyncPeer.role == "headquarters"))
    assert hq.scalar(sa.select(SyncPeer.down_seq).where(SyncPeer.name == "qayyarah")) == taken > 0


def test_what_phones_send_to_the_office_reaches_headquarters_exactly(sites):
    hq, office, token, _ = sites
    phone = phone_of(office, token)
    photo = jpeg("blue", (1600, 1200))
    ids = [new_id() for _ in range(3)]
    for n, instance_id in enumerate(ids):
        reply = phone.submit(nineveh_meeting(instance_id=instance_id, photos=("p.jpg",),
                                            notes=f"meeting {n}"), {"p.jpg": photo})
        assert reply.status == 201, reply.body
    office.cli("field-office", "sync")
    held_here = office.holdings()
    at_hq = hq.holdings()
    assert {k: v for k, v in at_hq.items() if k in held_here} == held_here
    for instance_id in ids:
        assert ("forum_meeting", instance_id) in at_hq
    # sent by the officer headquarters gave the office, at the time the office took it
    office_times = dict(office.rows(sa.select(SubmissionDef.instance_id,
                                              SubmissionDef.created_at)))
    hq_rows = hq.rows(sa.select(SubmissionDef.instance_id, SubmissionDef.created_at,
                                AppUser.name).join(AppUser,
                                                   AppUser.id == SubmissionDef.submitter_id)
                      .where(SubmissionDef.instance_id.in_(ids)))
    assert {name for _i, _t, name in hq_rows} == {"officer-q"}
    for instance_id, created_at, _name in hq_rows:
        assert abs((created_at.replace(tzinfo=None)
                    - office_times[instance_id].replace(tzinfo=None)).total_seconds()) < 0.001

    # where it stands, as each end says it
    here = office.cli("field-office", "status")
    assert "this office (qayyarah) with headquarters" in here and "0 changes waiting to go up" in here
    there = hq.cli("field-office", "status", "--json")
    assert '"name": "qayyarah"' in there and '"joined": true' in there

    # again: nothing new, nothing doubled
    before = hq.scalar(sa.select(sa.func.count()).select_from(SubmissionDef))
    again = office.cli("field-office", "sync")
    assert "up: 0 applied" in again
    assert hq.scalar(sa.select(sa.func.count()).select_from(SubmissionDef)) == before


def test_reviews_travel_both_ways_and_crossing_reviews_are_a_conflict(sites):
    hq, office, token, _ = sites
    phone = phone_of(office, token)
    reviewed_at_hq, reviewed_here, crossed = new_id(), new_id(), new_id()
    for instance_id in (reviewed_at_hq, reviewed_here, crossed):
        assert phone.submit(nineveh_meeting(instance_id=instance_id)).status == 201
    office.cli("field-office", "sync")

    review(hq, "hq-sup", reviewed_at_hq, "approved")
    review(office, "office-sup", reviewed_here, "hasIssues", "the date is wrong")
    review(hq, "hq-sup", crossed, "approved")
    review(office, "office-sup", crossed, "rejected", "a duplicate")
    office.cli("field-office", "sync")

    def state(site, instance_id):
        return site.scalar(sa.select(Submission.review_state).where(
            Submission.instance_id == instance_id))
    assert state(office, reviewed_at_hq) == "approved"
    assert state(hq, reviewed_here) == "hasIssues"
    # neither end overwrote what its own supervisor decided: both comments kept, a conflict
    assert state(hq, crossed) == "approved" and state(office, crossed) == "rejected"
    for site in (hq, office):
        crossed_id = site.scalar(sa.select(Submission.id).where(
            Submission.instance_id == crossed))
        assert site.scalar(sa.select(sa.func.count()).select_from(SyncConflict).where(
            SyncConflict.submission_id == crossed_id)) == 1
        assert site.scalar(sa.select(sa.func.count()).select_from(ReviewComment).where(
            ReviewComment.submission_id == crossed_id)) == 2
    # a supervisor settles it at headquarters: the office takes the decision
    review(hq, "hq-sup", crossed, "rejected", "agreed: a duplicate")
    office.cli("field-office", "sync")
    assert state(office, crossed) == "rejected" and state(hq, crossed) == "rejected"


def test_a_referral_reaches_headquarters_and_opens_its_case_there(sites):
    hq, office, token, _ = sites
    phone = phone_of(office, token)
    case_id = str(uuid.uuid4())
    xml = programme_referral(case_id, governorate="nineveh")
    instance_id = re.search(rb"<instanceID>([^<]+)</instanceID>", xml).group(1).decode()
    assert phone.submit(xml).status == 201
    office.cli("field-office", "sync")
    assert hq.holdings()[("incident_referral", instance_id)] \
        == office.holdings()[("incident_referral", instance_id)]
    cases = sa.select(sa.func.count()).select_from(Entity).where(Entity.uuid == case_id)
    assert hq.scalar(cases) == 1
    assert office.scalar(cases) == 1


def test_a_case_opened_at_headquarters_follows_its_officer_to_the_office(sites):
    """A phone that sent straight to headquarters opened a Nineveh case: the office's phones
    follow it too (Basra's stays at headquarters); deleted at headquarters, it leaves the
    office as well."""
    hq, office, token, _ = sites
    nineveh, basra = str(uuid.uuid4()), str(uuid.uuid4())
    at_hq = phone_of(hq, token)
    assert at_hq.submit(programme_referral(nineveh, governorate="nineveh")).status == 201
    basra_token = re.search(r"/collect/key/(\S+)", hq.cli("app-users", "show", "officer-basra")
                            ).group(1)
    assert phone_of(hq, basra_token).submit(
        programme_referral(basra, governorate="basra")).status == 201
    office.cli("field-office", "sync")

    def case(site, case_id):
        return site.rows(sa.select(Entity.uuid, Entity.deleted_at).where(Entity.uuid == case_id))
    assert len(case(office, nineveh)) == 1 and case(office, basra) == []
    assert case(office, nineveh)[0].deleted_at is None
    hq.cli("cases", "delete", nineveh)
    office.cli("field-office", "sync")
    assert case(office, nineveh)[0].deleted_at is not None
    # nothing came back up that headquarters already had
    assert "up: 0 applied" in office.cli("field-office", "sync")


def test_an_encrypted_referral_crosses_the_office_as_ciphertext_and_is_read_at_headquarters(
        sites):
    """Last in this module: it publishes the referral encrypted. The office serves the encrypted
    version to its phones without ever holding the key, keeps what they send as ciphertext, and
    headquarters, where the key holder unlocks the key, reads it."""
    hq, office, token, _ = sites
    passphrase = "olive grove at the river bend 1987"
    hq.cli("users", "create", "nadia", "--role", "supervisor", "--key-holder",
           "--password-stdin", input=f"{PASSWORD}\n")
    hq.cli("keys", "create", "referrals-2026", "--holder", "nadia",
           input=f"{passphrase}\n{passphrase}\n")
    hq.cli("forms", "encrypt", "incident_referral", "--key", "referrals-2026",
           "--decrypted-rows")
    office.cli("field-office", "sync")

    phone = phone_of(office, token)
    (entry,) = phone.form_list("incident_referral")
    assert entry["version"].endswith("[encrypted:referrals-2026]")
    public_key = re.search(rb'base64RsaPublicKey="([^"]+)"', phone.download_form(entry)).group(1)
    assert office.scalar(sa.select(sa.func.count()).select_from(EncryptionKey)) == 0
    assert office.cli("keys", "list") == ""

    plain = incident_referral(governorate="nineveh", district="mosul", version=entry["version"],
                              person_name="Samira Younis")
    sealed = encrypt_instance(plain, {}, load_public_key(public_key.decode()))
    assert phone.submit(sealed.envelope, sealed.files).status == 201
    instance_id = read_envelope(sealed.envelope).instance_id
    # nothing the office holds reads in the clear, in its database or its data folder
    office_db = (office.root / "data" / "muntada.sqlite").read_bytes()
    assert b"Samira" not in office_db
    assert not any(b"Samira" in path.read_bytes()
                   for path in (office.root / "data").rglob("*") if path.is_file())

    office.cli("field-office", "sync")
    assert hq.holdings()[("incident_referral", instance_id)] \
        == office.holdings()[("incident_referral", instance_id)]
    # the office never unlocks a key, even one it was given
    refused = run_cli_failing(office, "keys", "decrypt", "referrals-2026", "--holder", "nadia",
                              input=f"{passphrase}\n")
    assert "There is no key named 'referrals-2026'" in refused

    done = hq.cli("keys", "decrypt", "referrals-2026", "--holder", "nadia",
                  input=f"{passphrase}\n")
    assert "1 decrypted into the tables" in done
    names = hq.rows(sa.text("SELECT * FROM " + hq_table(hq, "incident_referral")))
    assert any("Samira Younis" in [str(v) for v in row] for row in names)


def run_cli_failing(site, *args: str, input: str) -> str:
    result = subprocess.run([*MUNTADA, *args], env=site.env, cwd=REPO, input=input,
                            capture_output=True, text=True, timeout=CLI_TIMEOUT)
    assert result.returncode != 0, result.stdout
    return result.stderr


def hq_table(site, form_id: str) -> str:
    return site.scalar(sa.select(ProjectionTable.table_name).join(
        Form, Form.id == ProjectionTable.form_id).where(
        Form.xml_form_id == form_id, ProjectionTable.key == ""))
