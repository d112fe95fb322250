"""Publishing a form encrypted: a new current version carrying the key, re-keyed from the plain
form's own version, never over a public key the server has no private half of."""

from __future__ import annotations

import pytest

from forms.public_key import public_key_of
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import keys
from server.services.form_encryption import publish_encrypted
from tests.support.keys import CHEAP, PASSPHRASE, make_key
from tests.support.xlsforms import simple_form, xlsform


def test_another_key_replaces_the_first_in_a_version_of_its_own(load, app, session, make_user):
    first = make_key(session, make_user, "first")
    holder = make_user("salma", "analyst")
    keys.set_key_holder(session, holder, True)
    second = keys.create_key(session, "second", PASSPHRASE, holder=holder, cost=CHEAP)
    form = load(simple_form("household", "4")).form
    store = app.extensions["blobs"]

    one = publish_encrypted(session, store, form, first, validate=False).version
    two = publish_encrypted(session, store, form, second, validate=False).version
    session.commit()

    assert (one.version, two.version) == ("4[encrypted:first]", "4[encrypted:second]")
    assert public_key_of(two.xform) == second.public_key != first.public_key
    assert (form.current_version_id, two.encryption_key_id) == (two.id, second.id)
    back = publish_encrypted(session, store, form, first, validate=False)
    assert (back.created, form.current_version_id) == (False, one.id)  # the same XForm again


def test_a_form_with_a_public_key_of_its_own_is_left_alone(load, app, session, make_user):
    key = make_key(session, make_user)
    own = load(xlsform("""
        | | type | name | label |
        | | text | head | Head |
    """, extra_settings=f"public_key={key.public_key}")).form

    with pytest.raises(Problem) as refused:
        publish_encrypted(session, app.extensions["blobs"], own, key, validate=False)
    assert refused.value.type is problems.FORM_HAS_OWN_KEY
