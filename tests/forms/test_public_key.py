"""An XForm published encrypted: the public key on `<submission>`, as pyxform writes the
`public_key` setting, and a version of its own."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from forms import FormError, read_structure
from forms.public_key import encrypted_version, public_key_of, with_public_key
from server.services.programme import PROGRAMME_FORMS
from sync.keys import public_key_setting
from tests.support.compiled import compile_once
from tests.support.xlsforms import xlsform

XF = {"xf": "http://www.w3.org/2002/xforms", "h": "http://www.w3.org/1999/xhtml"}


@pytest.fixture(scope="module")
def public_key() -> str:
    return public_key_setting(rsa.generate_private_key(public_exponent=65537,
                                                       key_size=2048).public_key())


def incident_referral_xform() -> bytes:
    (form,) = [f for f in PROGRAMME_FORMS if f.form_id == "incident_referral"]
    return compile_once(form.source.read_bytes()).xform


def test_the_incident_referral_gets_the_key_and_a_version_of_its_own(public_key):
    plain = incident_referral_xform()
    before = read_structure(plain)
    version = encrypted_version(before.version, "referrals-2026")

    encrypted = with_public_key(plain, public_key, version)

    after = read_structure(encrypted)
    assert not before.encrypted and after.encrypted
    assert after.version == f"{before.version}[encrypted:referrals-2026]"
    assert public_key_of(encrypted) == public_key
    assert (after.form_id, after.fields, after.media) == (before.form_id, before.fields,
                                                          before.media)
    (submission,) = etree.fromstring(encrypted).findall("h:head/xf:model/xf:submission", XF)
    assert submission.getparent().index(submission) == 0  # where pyxform puts it


def test_the_same_as_pyxform_makes_from_the_public_key_setting(public_key):
    survey = """
        | | type | name | label |
        | | text | head | Head of household |
    """
    by_pyxform = compile_once(xlsform(survey, version="4",
                                      extra_settings=f"public_key={public_key}"))
    ours = with_public_key(compile_once(xlsform(survey, version="4")).xform, public_key, "4")

    assert public_key_of(by_pyxform.xform) == public_key_of(ours) == public_key
    assert read_structure(ours) == read_structure(by_pyxform.xform)


def test_a_submission_element_already_there_keeps_its_other_attributes(public_key):
    source = xlsform("""
        | | type | name | label |
        | | text | head | Head |
    """, extra_settings="submission_url=https://example.org/submission")
    xform = with_public_key(compile_once(source).xform, public_key, "2")

    (submission,) = etree.fromstring(xform).findall("h:head/xf:model/xf:submission", XF)
    assert submission.get("action") == "https://example.org/submission"
    assert submission.get("method") == "post"
    assert submission.get("base64RsaPublicKey") == public_key


def test_a_key_replaces_the_last_ones_name_in_the_version():
    assert encrypted_version("2026120301", "a") == "2026120301[encrypted:a]"
    assert encrypted_version("2026120301[encrypted:a]", "b") == "2026120301[encrypted:b]"
    assert encrypted_version("", "a") == "[encrypted:a]"


def test_what_is_not_an_xform_is_a_form_error(public_key):
    with pytest.raises(FormError):
        with_public_key(b"<data id='x'/>", public_key, "1")
    with pytest.raises(FormError):
        with_public_key(b"<not xml", public_key, "1")
