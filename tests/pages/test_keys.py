"""A key holder unlocks a key for their session with its passphrase, on the Keys page: the
private key is then held encrypted under a secret only their cookie carries, for a while, and
locks again with a button, at logout, or when the permission goes. Every step is audited; the
passphrase never is."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from server.database.models import AuditEvent, KeyUnlock, SyncPeer, User
from server.services import key_unlocks, throttle
from server.services import keys as key_service
from sync.keys import unseal
from tests.support.keys import PASSPHRASE, make_key
from tests.support.web import Browser


@pytest.fixture
def key(session, make_user):
    return make_key(session, make_user)  # made by nadia, a supervisor and key holder


@pytest.fixture
def nadia(app, key) -> Browser:
    browser = Browser(app)
    assert browser.sign_in("nadia").status_code == 302
    return browser


def actions(session) -> list[AuditEvent]:
    session.rollback()
    return session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()


def test_a_key_holder_unlocks_a_key_and_locks_it_again(nadia, session, key):
    page = nadia.get("/keys").get_data(as_text=True)
    assert "referrals-2026" in page and 'name="passphrase"' in page

    reply = nadia.post("/keys/referrals-2026/unlock", {"passphrase": PASSPHRASE})

    assert reply.status_code == 200
    assert 'id="unlocked"' in reply.get_data(as_text=True)
    session.rollback()
    (row,) = session.scalars(sa.select(KeyUnlock)).all()
    # what the database holds does not contain the private key in the clear
    assert private_der(key) not in base64.b64decode(row.wrapped)
    assert row.expires_at is not None
    events = [e for e in actions(session) if e.action.startswith("key.")]
    assert events[-1].action == "key.unlocked"

    assert nadia.post("/keys/referrals-2026/lock").status_code == 303
    session.rollback()
    assert session.scalars(sa.select(KeyUnlock)).all() == []
    assert actions(session)[-1].action == "key.locked"
    assert 'name="passphrase"' in nadia.get("/keys").get_data(as_text=True)


def private_der(key) -> bytes:
    return unseal(key.sealed.encode(), PASSPHRASE).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def test_a_wrong_passphrase_is_refused_audited_and_slows_the_key(nadia, session, key):
    for _ in range(throttle.FREE_FAILURES):
        reply = nadia.post("/keys/referrals-2026/unlock", {"passphrase": "not the passphrase"})
        assert reply.status_code == 403
        assert 'id="unlock-error"' in reply.get_data(as_text=True)

    # now even the right passphrase waits
    reply = nadia.post("/keys/referrals-2026/unlock", {"passphrase": PASSPHRASE})
    assert reply.status_code == 429
    failures = [e for e in actions(session) if e.action == "key.unlock_failed"]
    assert len(failures) == throttle.FREE_FAILURES
    # the passphrase, right or wrong, is in no audit event
    assert not any("not the passphrase" in (e.details or "") or PASSPHRASE in (e.details or "")
                   for e in actions(session))
    assert session.scalars(sa.select(KeyUnlock)).all() == []


def test_logging_out_locks_every_key(nadia, session):
    nadia.post("/keys/referrals-2026/unlock", {"passphrase": PASSPHRASE})
    nadia.post("/logout")
    session.rollback()
    assert session.scalars(sa.select(KeyUnlock)).all() == []
    assert actions(session)[-2].action == "key.locked"


def test_an_unlock_ends_when_the_permission_goes(nadia, session, key, make_user):
    nadia.post("/keys/referrals-2026/unlock", {"passphrase": PASSPHRASE})
    session.rollback()
    user = session.get(User, key.created_by)
    key_service.set_key_holder(session, user, False)
    session.commit()
    assert session.scalars(sa.select(KeyUnlock)).all() == []
    assert nadia.get("/keys").status_code == 403


def test_an_expired_unlock_opens_nothing(nadia, session):
    nadia.post("/keys/referrals-2026/unlock", {"passphrase": PASSPHRASE})
    session.rollback()
    row = session.scalars(sa.select(KeyUnlock)).one()
    row.expires_at = row.created_at  # already over
    session.commit()
    page = nadia.get("/keys").get_data(as_text=True)
    assert 'name="passphrase"' in page  # shown as locked again


def test_somebody_without_the_permission_has_no_keys_page(browser_for, key):
    analyst = browser_for("analyst")
    assert analyst.get("/keys").status_code == 403
    assert analyst.post("/keys/referrals-2026/unlock",
                        {"passphrase": PASSPHRASE}).status_code == 403


def test_a_field_office_never_unlocks_a_key(nadia, session):
    session.add(SyncPeer(name="headquarters", role="headquarters", url="http://hq.example",
                         token_sha256="0" * 64))
    session.commit()
    assert "never unlocks a key" in nadia.get("/keys?lang=en").get_data(as_text=True)
    reply = nadia.post("/keys/referrals-2026/unlock", {"passphrase": PASSPHRASE})
    assert reply.status_code == 403
    session.rollback()
    assert session.scalars(sa.select(KeyUnlock)).all() == []


def test_the_passphrase_is_in_no_log(nadia, caplog):
    caplog.set_level("DEBUG")
    nadia.post("/keys/referrals-2026/unlock", {"passphrase": "a wrong guess at the grove"})
    nadia.post("/keys/referrals-2026/unlock", {"passphrase": PASSPHRASE})
    assert "grove" not in caplog.text and "river bend" not in caplog.text


def test_a_token_opens_nothing_for_another_user_or_with_another_secret(app, nadia, session,
                                                                       key, make_user):
    nadia.post("/keys/referrals-2026/unlock", {"passphrase": PASSPHRASE})
    with nadia.client.session_transaction() as cookie:
        token = cookie["keys"][str(key.id)]
    session.rollback()
    holder = session.get(User, key.created_by)
    assert key_unlocks.opened(session, holder, token) is not None
    other = make_user("omar", "supervisor")
    assert key_unlocks.opened(session, other, token) is None
    number, _, _secret = token.partition(".")
    forged = f"{number}.{base64.urlsafe_b64encode(bytes(32)).decode()}"
    assert key_unlocks.opened(session, holder, forged) is None
    assert key_unlocks.opened(session, holder, "not a token") is None
