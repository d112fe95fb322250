"""Keys of encrypted forms: made by key holders only, the private half stored sealed, and the
passphrase nowhere: not in the database, the audit log, the server's log or any message."""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa

from server.database import per_request
from server.database.models import AuditEvent, EncryptionKey, utcnow
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import access, keys
from sync.keys import public_key_setting, sealed_public_key, unseal
from tests.server.database.test_no_digest_for_web_users import every_value
from tests.support.keys import CHEAP, PASSPHRASE


@pytest.fixture
def holder(session, make_user):
    user = make_user("nadia", "supervisor")
    keys.set_key_holder(session, user, True)
    session.commit()
    return user


def test_a_key_holder_makes_a_key_that_only_the_passphrase_opens(session, holder):
    key = keys.create_key(session, "referrals-2026", PASSPHRASE, holder=holder,
                          hint="the grove", cost=CHEAP)
    session.commit()

    (listed, made_by), = keys.list_keys(session)
    assert (listed.name, listed.hint, made_by) == ("referrals-2026", "the grove", "nadia")
    assert sealed_public_key(key.sealed.encode()) == key.public_key
    assert public_key_setting(unseal(key.sealed.encode(), PASSPHRASE).public_key()) == \
        key.public_key
    assert len(keys.fingerprint(key)) == 64


def test_only_key_holders_make_keys(session, make_user):
    analyst = make_user("omar", "analyst")
    with pytest.raises(Problem) as refused:
        keys.create_key(session, "referrals", PASSPHRASE, holder=analyst, cost=CHEAP)
    assert refused.value.type is problems.NOT_KEY_HOLDER
    assert session.scalar(sa.select(sa.func.count()).select_from(EncryptionKey)) == 0


def test_key_holding_is_granted_per_user_and_ends_with_the_account(session, make_user):
    user = make_user("salma", "analyst")
    assert not access.holds_keys(user)
    keys.set_key_holder(session, user, True)
    assert access.holds_keys(user)
    user.disabled_at = utcnow()
    assert not access.holds_keys(user)
    assert not access.holds_keys(None)


def test_a_short_passphrase_is_refused_without_being_repeated(session, holder):
    with pytest.raises(Problem) as refused:
        keys.create_key(session, "referrals", "short one", holder=holder, cost=CHEAP)
    assert refused.value.type is problems.KEY_PASSPHRASE_TOO_SHORT
    assert "short one" not in refused.value.message
    assert "12" in refused.value.message


@pytest.mark.parametrize("name", ["", "Has Spaces", "-leading", "x" * 65, "a/b", "a:b"])
def test_a_key_name_goes_into_form_versions_so_it_is_plain(session, holder, name):
    with pytest.raises(Problem) as refused:
        keys.create_key(session, name, PASSPHRASE, holder=holder, cost=CHEAP)
    assert refused.value.type is problems.INVALID_FIELD


def test_two_keys_cannot_share_a_name(session, holder):
    keys.create_key(session, "referrals", PASSPHRASE, holder=holder, cost=CHEAP)
    with pytest.raises(Problem) as refused:
        keys.create_key(session, "referrals", PASSPHRASE + " two", holder=holder, cost=CHEAP)
    assert refused.value.type is problems.KEY_EXISTS
    with pytest.raises(Problem) as missing:
        keys.key_named(session, "nothing")
    assert missing.value.type is problems.KEY_NOT_FOUND


def test_the_passphrase_is_in_no_log_no_audit_record_and_no_row(app, session, holder, caplog):
    caplog.set_level(logging.DEBUG)
    key = keys.create_key(session, "referrals-2026", PASSPHRASE, holder=holder, cost=CHEAP)
    session.commit()

    (event,) = session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "key.created")).all()
    assert event.username == "nadia"
    assert json.loads(event.details) == {"key": "referrals-2026",
                                         "fingerprint": keys.fingerprint(key)}
    assert "key.created" in caplog.text  # the log was listening
    assert PASSPHRASE not in caplog.text
    with per_request.of(app).engine.connect() as connection:
        assert PASSPHRASE not in every_value(connection)
