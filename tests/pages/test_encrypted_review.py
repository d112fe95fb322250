"""Supervisors with the key review encrypted submissions in the browser: a version decrypts on
its page for a key holder who unlocked its key, laid out as a plain one; a photo decrypts into
memory only; what went wrong (signature, key, file, envelope) is flagged and shown; a locked
key, a reader without the permission or an envelope for a key this server does not hold see
why it cannot be read, and nothing crashes. Every decryption is in the audit log."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from sqlalchemy import event
from sqlalchemy.engine import Engine

from forms import compile_form
from server.database.models import AuditEvent, DecryptionCheck, User
from server.services import keys as key_service
from server.services.form_encryption import publish_encrypted
from sync.encryption import read_envelope
from sync.keys import load_public_key
from tests.support.collect_encryption import encrypt_instance
from tests.support.encrypted import publish_referrals, send_referral
from tests.support.incidents import FORM, incident_referral
from tests.support.keys import CHEAP, PASSPHRASE
from tests.support.meeting import meeting, meeting_form
from tests.support.programme_meetings import jpeg
from tests.support.web import Browser

REFERRALS = f"/forms/{FORM}/submissions"
MEETINGS = "/forms/meeting/submissions"
ANSWER = re.compile(r'<div class="answer[^"]*" data-path="([^"]+)">(.*?)</div>', re.S)


# ------------------------------------------------------------------------------ arranging

@pytest.fixture
def key(session, make_user):
    """A key made by nadia: an administrator (she sees every submission, and personal data)
    who holds keys."""
    user = make_user("nadia", "administrator", personal_data=True)
    key_service.set_key_holder(session, user, True)
    made = key_service.create_key(session, "referrals-2026", PASSPHRASE, holder=user,
                                  cost=CHEAP)
    session.commit()
    return made


@pytest.fixture
def nadia(app, key) -> Browser:
    browser = Browser(app)
    assert browser.sign_in("nadia").status_code == 302
    return browser


def unlock(browser: Browser) -> None:
    reply = browser.post("/keys/referrals-2026/unlock", {"passphrase": PASSPHRASE})
    assert reply.status_code == 200, reply.get_data(as_text=True)[:2000]


@pytest.fixture
def referrals(app, session, programme, key):
    return publish_referrals(app, session, programme, key)


@pytest.fixture
def meetings(app, session, load, key):
    """The small meeting form (two photos), published with the key."""
    form = load(meeting_form()).form
    version = publish_encrypted(session, app.extensions["blobs"], form, key,
                                validate=False).version
    session.commit()
    return version


def page_of(browser: Browser, url: str) -> str:
    reply = browser.get(url)
    assert reply.status_code == 200, reply.get_data(as_text=True)[:3000]
    return reply.get_data(as_text=True)


def answers_of(page: str) -> dict[str, str]:
    return {path: " ".join(body.split()) for path, body in ANSWER.findall(page)}


def events(session, action: str) -> list[AuditEvent]:
    session.rollback()
    return session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                           .order_by(AuditEvent.id)).all()


def details(event: AuditEvent) -> dict:
    return json.loads(event.details or "{}")


def checks(session) -> list[DecryptionCheck]:
    session.rollback()
    return session.scalars(sa.select(DecryptionCheck)).all()


def other_key() -> rsa.RSAPublicKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()


def banner(page: str) -> str:
    match = re.search(r'<section id="encrypted"[^>]*>.*?</section>|<p id="encrypted"[^>]*>.*?</p>',
                      page, re.S)
    assert match, "no encryption notice on the page"
    return match.group(0)


# ------------------------------------------------------------------------------ decrypted

def test_a_decrypted_referral_reads_as_the_same_referral_sent_plain(
        programme, app, session, phone, key, nadia):
    plain_id = "uuid:5f1c8a52-0d0e-4c57-9b1e-3c1f8f0a0001"
    assert phone.submit(incident_referral(instance_id=plain_id)).status == 201
    version = publish_referrals(app, session, programme, key)
    instance_id, _sealed, _plain = send_referral(phone, version, key)
    unlock(nadia)

    plain = answers_of(page_of(nadia, f"{REFERRALS}/{plain_id}?lang=en"))
    page = page_of(nadia, f"{REFERRALS}/{instance_id}?lang=en")

    assert answers_of(page) == plain
    assert "Huda Salim" in answers_of(page)["/person/person_name"]
    assert 'data-state="decrypted"' in banner(page) and "signature verified" in banner(page)
    assert '<span class="tag encrypted">' in page
    # the decryption is audited once, with its purpose and key; the personal data it showed
    # as for any submission
    (decrypted,) = events(session, "submission.decrypted")
    assert details(decrypted)["purpose"] == "page"
    assert details(decrypted)["key"] == "referrals-2026"
    assert details(decrypted)["versions"] == [instance_id]
    viewed = [e for e in events(session, "submission.personal_viewed")
              if details(e)["instance_id"] == instance_id]
    assert len(viewed) == 1 and "/person/person_name" in details(viewed[0])["fields"]
    (check,) = checks(session)
    assert check.outcome == "valid"
    # nothing of the plaintext went into the database
    assert not any("Huda" in (e.details or "") for e in events(session, "submission.decrypted"))
    assert "Huda" not in check.detail

    # each view is one more event; the kept verdict is reused
    page_of(nadia, f"{REFERRALS}/{instance_id}")
    assert len(events(session, "submission.decrypted")) == 2
    assert len(checks(session)) == 1
    # the page of changes decrypts too, and says so
    page_of(nadia, f"{REFERRALS}/{instance_id}/diff?from={instance_id}&to={instance_id}")
    assert [details(e)["purpose"] for e in events(session, "submission.decrypted")] == [
        "page", "page", "diff"]


def test_personal_fields_stay_masked_for_a_key_holder_without_the_permission(
        referrals, phone, key, nadia, session):
    instance_id, _sealed, _plain = send_referral(phone, referrals, key)
    session.rollback()
    user = session.get(User, key.created_by)
    user.personal_data = False
    session.commit()
    unlock(nadia)

    page = page_of(nadia, f"{REFERRALS}/{instance_id}?lang=en")

    assert "Huda" not in page
    assert 'class="value masked"' in answers_of(page)["/person/person_name"]
    assert "Ramadi" in page  # the rest decrypted and shown
    assert len(events(session, "submission.decrypted")) == 1
    assert events(session, "submission.personal_viewed") == []


# ------------------------------------------------------------------------------ flagged

def test_a_tampered_xml_file_is_flagged_and_the_page_still_works(referrals, phone, key,
                                                                 nadia, session):
    sealed = encrypt_instance(incident_referral(version=referrals.version), {},
                              load_public_key(key.public_key))
    broken = bytearray(sealed.files["submission.xml.enc"])
    broken[-1] ^= 0x55  # the padding no longer reads
    assert phone.submit(sealed.envelope, {"submission.xml.enc": bytes(broken)}).status == 201
    instance_id = read_envelope(sealed.envelope).instance_id
    unlock(nadia)

    page = page_of(nadia, f"{REFERRALS}/{instance_id}?lang=en")

    notice = banner(page)
    assert 'data-outcome="corrupted"' in notice and "corrupted file" in notice
    assert "Nothing of it could be read" in notice
    assert answers_of(page) == {}
    # the facts, the review thread and the actions are all there
    assert 'id="facts"' in page and 'id="comments"' in page and 'id="review"' in page
    assert checks(session)[0].outcome == "corrupted"
    # and a review of it goes through
    reply = nadia.post(f"{REFERRALS}/{instance_id}/review",
                       {"state": "hasIssues", "comment": "The file did not decrypt."})
    assert reply.status_code == 303
    assert "The file did not decrypt." in page_of(nadia, f"{REFERRALS}/{instance_id}")


def test_a_wrong_key_is_flagged_and_others_see_the_flag_too(referrals, phone, key, nadia,
                                                             session, browser_for):
    sealed = encrypt_instance(incident_referral(version=referrals.version), {}, other_key())
    assert phone.submit(sealed.envelope, sealed.files).status == 201
    instance_id = read_envelope(sealed.envelope).instance_id
    unlock(nadia)

    page = page_of(nadia, f"{REFERRALS}/{instance_id}?lang=en")

    assert 'data-outcome="wrong_key"' in banner(page) and "wrong key" in banner(page)
    assert "Huda" not in page
    # an administrator without keys sees what the key holder's decryption showed
    other = page_of(browser_for("administrator"), f"{REFERRALS}/{instance_id}?lang=en")
    assert 'data-state="locked"' in banner(other) and "wrong key" in banner(other)


def test_a_signature_that_does_not_verify_is_flagged_with_the_answers_shown(
        referrals, phone, key, nadia, session):
    public = load_public_key(key.public_key)
    sealed = encrypt_instance(incident_referral(version=referrals.version), {}, public)
    another = encrypt_instance(incident_referral(version=referrals.version,
                                                 person_name="Someone Else"), {}, public)
    # the signature of another submission: it decrypts with the key, and matches nothing here
    signature = re.compile(rb"<base64EncryptedElementSignature>[^<]+")
    envelope = signature.sub(signature.search(another.envelope).group(0).replace(b"\\", b"\\\\"),
                             sealed.envelope)
    assert phone.submit(envelope, sealed.files).status == 201
    instance_id = read_envelope(envelope).instance_id
    unlock(nadia)

    page = page_of(nadia, f"{REFERRALS}/{instance_id}?lang=en")

    notice = banner(page)
    assert 'data-outcome="invalid"' in notice and "signature does not verify" in notice
    assert "may not be what the phone sent" in notice
    assert "Huda Salim" in answers_of(page)["/person/person_name"]
    (decrypted,) = events(session, "submission.decrypted")
    assert details(decrypted)["outcomes"] == ["invalid"]


def test_a_photo_that_never_came_is_flagged_and_the_rest_reads(meetings, phone, key, nadia):
    sealed = encrypt_instance(meeting(version=meetings.version, photos=("a.jpg",)),
                              {"a.jpg": jpeg()}, load_public_key(key.public_key))
    # the phone sent the XML, and not the photo
    assert phone.submit(sealed.envelope,
                        {"submission.xml.enc": sealed.files["submission.xml.enc"]}).status == 201
    instance_id = read_envelope(sealed.envelope).instance_id
    unlock(nadia)

    page = page_of(nadia, f"{MEETINGS}/{instance_id}?lang=en")

    assert 'data-outcome="missing"' in banner(page) and "a.jpg.enc" in banner(page)
    assert "not received yet" in answers_of(page)["/photo"]
    assert "3" in answers_of(page)["/attendance/women"]
    assert nadia.get(f"{MEETINGS}/{instance_id}/attachments/a.jpg").status_code == 404


def test_a_tampered_photo_breaks_the_signature_and_is_not_served_as_the_photo(
        meetings, phone, key, nadia):
    photo = jpeg()
    sealed = encrypt_instance(meeting(version=meetings.version, photos=("a.jpg",)),
                              {"a.jpg": photo}, load_public_key(key.public_key))
    files = dict(sealed.files)
    broken = bytearray(files["a.jpg.enc"])
    broken[len(broken) // 2] ^= 0x01
    files["a.jpg.enc"] = bytes(broken)
    assert phone.submit(sealed.envelope, files).status == 201
    instance_id = read_envelope(sealed.envelope).instance_id
    unlock(nadia)

    page = page_of(nadia, f"{MEETINGS}/{instance_id}?lang=en")

    assert 'data-outcome="invalid"' in banner(page)
    reply = nadia.get(f"{MEETINGS}/{instance_id}/attachments/a.jpg")
    assert reply.status_code == 200 and reply.get_data() != photo


# ------------------------------------------------------------------------------ photos

def test_a_photo_is_decrypted_into_memory_audited_and_its_thumbnail_never_kept(
        meetings, phone, key, nadia, session, app):
    photo = jpeg("blue", (640, 480))
    sealed = encrypt_instance(meeting(version=meetings.version, photos=("a.jpg",)),
                              {"a.jpg": photo}, load_public_key(key.public_key))
    assert phone.submit(sealed.envelope, sealed.files).status == 201
    instance_id = read_envelope(sealed.envelope).instance_id
    unlock(nadia)
    base = f"{MEETINGS}/{instance_id}/attachments/a.jpg"

    page = page_of(nadia, f"{MEETINGS}/{instance_id}?lang=en")
    assert f'src="{base}?size=thumbnail"' in page

    reply = nadia.get(base)
    assert reply.status_code == 200 and reply.get_data() == photo
    assert reply.mimetype == "image/jpeg" and reply.headers["Cache-Control"] == "no-store"
    small = nadia.get(base + "?size=thumbnail")
    assert small.status_code == 200 and small.mimetype == "image/jpeg"
    assert 0 < len(small.get_data()) < len(photo)

    downloaded = events(session, "attachment.downloaded")
    assert [details(e).get("size") for e in downloaded] == [None, "thumbnail"]
    assert all(details(e)["decrypted"] is True and details(e)["key"] == "referrals-2026"
               for e in downloaded)
    # nothing decrypted reached the data folder: no thumbnail, no file with the photo in it
    data = Path(app.config["DATA_DIR"])
    assert not list((data / "thumbnails").rglob("*.jpg"))
    for path in (p for p in data.rglob("*") if p.is_file()):
        content = path.read_bytes()
        assert photo not in content and small.get_data() not in content, path


def test_a_locked_key_leaves_the_photo_closed(meetings, phone, key, nadia):
    sealed = encrypt_instance(meeting(version=meetings.version, photos=("a.jpg",)),
                              {"a.jpg": jpeg()}, load_public_key(key.public_key))
    assert phone.submit(sealed.envelope, sealed.files).status == 201
    instance_id = read_envelope(sealed.envelope).instance_id
    base = f"{MEETINGS}/{instance_id}/attachments/a.jpg"
    for url in (base, base + "?size=thumbnail", f"{MEETINGS}/{instance_id}/attachments/a.jpg.enc"):
        assert nadia.get(url).status_code == 403, url


# ------------------------------------------------------------------------------ not readable

def test_a_locked_key_shows_where_to_unlock_it_and_the_page_works(referrals, phone, key,
                                                                   nadia, session):
    instance_id, _sealed, _plain = send_referral(phone, referrals, key)

    page = page_of(nadia, f"{REFERRALS}/{instance_id}?lang=en")

    notice = banner(page)
    assert "Encrypted with key referrals-2026:" in notice
    assert 'href="/keys"' in notice and "unlock it on the Keys page" in notice
    assert "The answers are encrypted and cannot be shown here." in page
    assert 'id="review"' in page and 'id="comments"' in page
    diff = nadia.get(f"{REFERRALS}/{instance_id}/diff?from={instance_id}&to={instance_id}")
    assert diff.status_code == 200 and 'id="not-compared"' in diff.get_data(as_text=True)
    reply = nadia.post(f"{REFERRALS}/{instance_id}/review", {"state": "approved"})
    assert reply.status_code == 303
    assert events(session, "submission.decrypted") == []
    assert checks(session) == []


def test_a_reader_who_holds_no_key_is_told_only_a_key_holder_can_read_it(
        referrals, phone, key, browser_for):
    instance_id, _sealed, _plain = send_referral(phone, referrals, key)
    reader = browser_for("administrator")

    page = page_of(reader, f"{REFERRALS}/{instance_id}?lang=en")

    notice = banner(page)
    assert "only a key holder can read it." in notice and "/keys" not in notice
    assert "Huda" not in page
    diff = reader.get(f"{REFERRALS}/{instance_id}/diff?from={instance_id}&to={instance_id}")
    assert diff.status_code == 200
    for lang, words in (("ar", "حامل مفتاح"), ("ckb", "هەڵگری کلیل")):
        assert words in page_of(reader, f"{REFERRALS}/{instance_id}?lang={lang}")


def as_served(xform: bytes, version: str) -> bytes:
    """The corpus form under the version its envelope names (its project's server gave it)."""
    html = etree.fromstring(xform)
    xf = "{http://www.w3.org/2002/xforms}"
    model = html.find(f"{{http://www.w3.org/1999/xhtml}}head/{xf}model")
    primary = next(i for i in model.findall(f"{xf}instance") if i.get("id") is None)
    root = next(c for c in primary if isinstance(c.tag, str))
    root.set("version", version)
    return etree.tostring(html, xml_declaration=True, encoding="UTF-8")


def test_an_envelope_for_a_key_this_server_does_not_hold_says_so(
        shared_corpus, load, make_phone, nadia, session):
    folder = shared_corpus / "onadata/apps/main/tests/fixtures/transportation"
    envelope = (folder / "instances_encrypted/submission.xml").read_bytes()
    version = etree.fromstring(envelope).get("version")
    xform = compile_form((folder / "transportation_encrypted.xlsx").read_bytes()).xform
    load(as_served(xform, version))
    assert make_phone("corpus").submit(envelope).status == 201  # its .enc file never came
    instance_id = read_envelope(envelope).instance_id
    unlock(nadia)  # even a key holder with a key open

    page = page_of(nadia, f"/forms/transportation_encrypted/submissions/{instance_id}?lang=en")

    notice = banner(page)
    assert 'data-state="foreign"' in notice
    assert "encrypted for a key this server does not hold: it cannot be decrypted here" in notice
    assert "a key this server does not hold" in page  # in the facts too
    listing = page_of(nadia, "/forms/transportation_encrypted/submissions?lang=en")
    assert '<span class="tag encrypted">' in listing
    assert nadia.get(f"/forms/transportation_encrypted/submissions/{instance_id}"
                     "/attachments/submission.xml.enc").status_code == 404
    assert events(session, "submission.decrypted") == []


# ------------------------------------------------------------------------------ the list

def count_statements(browser: Browser, url: str) -> tuple[int, str]:
    seen = []

    def counted(_connection, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", counted)
    try:
        page = page_of(browser, url)
    finally:
        event.remove(Engine, "before_cursor_execute", counted)
    return len(seen), page


def test_the_list_tags_encrypted_and_flagged_submissions_in_a_constant_number_of_queries(
        referrals, phone, key, nadia, session):
    send_referral(phone, referrals, key)
    sealed = encrypt_instance(incident_referral(version=referrals.version), {}, other_key())
    assert phone.submit(sealed.envelope, sealed.files).status == 201
    wrong = read_envelope(sealed.envelope).instance_id
    unlock(nadia)
    page_of(nadia, f"{REFERRALS}/{wrong}")  # the decryption shows the wrong key
    plain_id = "uuid:5f1c8a52-0d0e-4c57-9b1e-3c1f8f0a0002"
    session.rollback()

    few, page = count_statements(nadia, f"{REFERRALS}?lang=en")

    rows = dict(re.findall(r'<tr data-instance-id="([^"]+)">(.*?)</tr>', page, re.S))
    assert len(rows) == 2
    assert all('<span class="tag encrypted">' in row for row in rows.values())
    assert 'data-outcome="wrong_key"' in rows[wrong]
    assert sum('data-outcome=' in row for row in rows.values()) == 1

    for _ in range(4):
        send_referral(phone, referrals, key)
    assert phone.submit(incident_referral(instance_id=plain_id,
                                          version=referrals.version)).status == 201
    many, page = count_statements(nadia, f"{REFERRALS}?lang=en")
    rows = dict(re.findall(r'<tr data-instance-id="([^"]+)">(.*?)</tr>', page, re.S))
    assert len(rows) == 7
    assert many == few
    assert 'class="tag encrypted"' not in rows[plain_id]  # sent in the clear: no tag


def test_every_outcome_has_words_in_each_language(referrals, phone, key, nadia):
    sealed = encrypt_instance(incident_referral(version=referrals.version), {}, other_key())
    assert phone.submit(sealed.envelope, sealed.files).status == 201
    instance_id = read_envelope(sealed.envelope).instance_id
    unlock(nadia)
    for lang, words in (("ar", "مفتاح خاطئ"), ("ckb", "کلیلی هەڵە"), ("en", "wrong key")):
        assert words in banner(page_of(nadia, f"{REFERRALS}/{instance_id}?lang={lang}"))
    keys_page = page_of(nadia, "/keys?lang=en")
    assert "wrong key: 1" in keys_page


def test_a_scoped_supervisor_reads_what_the_tables_place_in_their_governorate(
        app, session, programme, make_user, phone):
    """A scoped reader finds a submission by its place, which an envelope does not show: with
    the form's decrypted rows on, unlocking puts the places in the tables, and then the list
    and the page are theirs as for a plain referral."""
    user = make_user("layla", "supervisor", scopes=[("governorate", "anbar")],
                     personal_data=True)
    key_service.set_key_holder(session, user, True)
    key = key_service.create_key(session, "referrals-2026", PASSPHRASE, holder=user,
                                 cost=CHEAP)
    session.commit()
    version = publish_referrals(app, session, programme, key, decrypted_rows=True)
    layla = Browser(app)
    assert layla.sign_in("layla").status_code == 302
    anbar, _sealed, _plain = send_referral(phone, version, key)
    basra, _sealed, _plain = send_referral(phone, version, key, governorate="basra",
                                           district="basra")
    assert layla.get(f"{REFERRALS}/{anbar}").status_code == 404  # no place to scope it by yet

    reply = layla.post("/keys/referrals-2026/unlock", {"passphrase": PASSPHRASE})
    assert reply.status_code == 200

    listing = page_of(layla, f"{REFERRALS}?lang=en")
    assert f'data-instance-id="{anbar}"' in listing and basra not in listing
    page = page_of(layla, f"{REFERRALS}/{anbar}?lang=en")
    assert "Huda Salim" in answers_of(page)["/person/person_name"]
    assert layla.get(f"{REFERRALS}/{basra}").status_code == 404

