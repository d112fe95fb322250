"""ODK Collect's 'Get blank forms' against a real `muntada serve` over a real socket: the programme
loaded and the phones set up with the command line, as an operator does (see conftest.py)."""

from __future__ import annotations

import re

import pytest
import requests
from lxml import etree
from requests.auth import HTTPDigestAuth

from server.services.programme import PROGRAMME_FORMS
from tests.e2e.conftest import REPO
from tests.support.phone import Phone, http_transport

pytestmark = pytest.mark.e2e

OPENROSA_RESPONSE = "{http://openrosa.org/http/response}OpenRosaResponse"
XFORMS_NS = "http://www.w3.org/2002/xforms"
PROGRAMME_IDS = {form.form_id for form in PROGRAMME_FORMS}
FORUMS_CSV = REPO / "forms" / "xlsforms" / "media" / "forums.csv"


def _openrosa_error(response: requests.Response) -> str:
    """The message of an OpenRosa error body, after checking it is one."""
    assert response.headers["Content-Type"].startswith("text/xml"), response.headers
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    root = etree.fromstring(response.content)
    assert root.tag == OPENROSA_RESPONSE, response.text
    message = root.findtext("{http://openrosa.org/http/response}message")
    assert message and message.strip(), response.text
    return message


def _xform_version(xform: bytes) -> str | None:
    """The version attribute on the primary instance's root, which Collect compares."""
    root = etree.fromstring(xform)
    instance = root.find(f".//{{{XFORMS_NS}}}model/{{{XFORMS_NS}}}instance")
    return instance[0].get("version")


def test_cli_loaded_the_programme(deployment):
    assert deployment.versions.keys() == PROGRAMME_IDS, deployment.cli_output["load-programme"]
    assert deployment.officer_url.startswith(f"{deployment.base_url}/collect/key/")


def test_collect_downloads_every_form_and_media_file(deployment):
    with requests.Session() as session:
        phone = Phone(http_transport(session), deployment.officer_url)
        listed = {entry["formID"]: entry for entry in phone.form_list()}
        downloaded = phone.download_everything()  # every form and media hash checked on the way

    assert listed.keys() == PROGRAMME_IDS
    assert downloaded.keys() == PROGRAMME_IDS
    expected_csv = FORUMS_CSV.read_bytes()
    for form_id, form in downloaded.items():
        version = deployment.versions[form_id]
        assert listed[form_id]["version"] == version
        assert form.version == version
        assert _xform_version(form.xform) == version
        # Every URL handed to the phone points back at this server, on its real port.
        assert listed[form_id]["downloadUrl"].startswith(deployment.officer_url + "/")
        assert listed[form_id]["manifestUrl"].startswith(deployment.officer_url + "/")
        assert "forums.csv" in form.media, (form_id, sorted(form.media))
        assert form.media["forums.csv"] == expected_csv, form_id


def test_formlist_for_one_form(deployment):
    with requests.Session() as session:
        phone = Phone(http_transport(session), deployment.officer_url)
        entries = phone.form_list("incident_referral")
    assert [e["formID"] for e in entries] == ["incident_referral"]


def test_bad_token_is_refused_with_403_in_openrosa_xml(deployment):
    with requests.Session() as session, \
            session.get(f"{deployment.base_url}/collect/key/not-a-token/formList",
                        headers={"X-OpenRosa-Version": "1.0"}, timeout=30) as response:
        assert response.status_code == 403
        # 403, not 401: Collect must not ask the officer for a password that cannot help.
        assert "WWW-Authenticate" not in response.headers
        _openrosa_error(response)


def test_no_token_and_no_credentials_get_a_digest_challenge(deployment):
    with requests.Session() as session, \
            session.get(f"{deployment.base_url}/collect/formList",
                        headers={"X-OpenRosa-Version": "1.0"}, timeout=30) as response:
        assert response.status_code == 401
        challenges = response.raw.headers.getlist("WWW-Authenticate")
        _openrosa_error(response)
    assert challenges, response.headers
    assert all(c.startswith("Digest ") for c in challenges), challenges
    # Plain HTTP: a password must never be invited to cross the network in clear.
    assert not any(c.lower().startswith("basic") for c in challenges), challenges


@pytest.mark.parametrize("header", [{"X-Forwarded-Proto": "https"}, {"X-Forwarded-Ssl": "on"}])
def test_forwarded_scheme_is_not_trusted_without_trust_proxy(deployment, header):
    url = f"{deployment.base_url}/collect/formList"
    headers = {"X-OpenRosa-Version": "1.0", **header}
    with requests.Session() as session:
        with session.get(url, headers=headers, timeout=30) as response:
            challenges = response.raw.headers.getlist("WWW-Authenticate")
        with session.get(url, headers=headers, timeout=30,
                         auth=(deployment.password_user, deployment.password)) as response:
            basic_status = response.status_code
    assert not any(c.lower().startswith("basic") for c in challenges), challenges
    assert basic_status == 401


def test_digest_login_with_a_password_app_user(deployment):
    url = f"{deployment.base_url}/collect/formList"
    headers = {"X-OpenRosa-Version": "1.0"}
    with requests.Session() as session:
        session.auth = HTTPDigestAuth(deployment.password_user, deployment.password)
        with session.get(url, headers=headers, timeout=30) as response:
            assert response.status_code == 200, response.text
            assert response.headers["X-OpenRosa-Version"] == "1.0"
            ids = {x.findtext("{http://openrosa.org/xforms/xformsList}formID")
                   for x in etree.fromstring(response.content)}
        assert ids == PROGRAMME_IDS
        # The whole download path works under Digest too; each request is challenged afresh.
        phone = Phone(http_transport(session), f"{deployment.base_url}/collect")
        assert phone.download_everything().keys() == PROGRAMME_IDS

    with requests.Session() as session:
        session.auth = HTTPDigestAuth(deployment.password_user, "wrong-password")
        with session.get(url, headers=headers, timeout=30) as response:
            assert response.status_code == 401
            _openrosa_error(response)


def test_the_access_log_never_shows_a_token(deployment):
    with requests.Session() as session:
        Phone(http_transport(session), deployment.officer_url).form_list()
    token = deployment.officer_url.rsplit("/", 1)[-1]
    log = deployment.server.output()
    assert "/collect/key/…/formList" in log
    assert token not in log
    # the rest of the line as gunicorn's default format writes it: address, time, status, size
    assert re.search(r'^127\.0\.0\.1 - - \[[^]]+\] "GET /collect/key/…/formList\?? ?'
                     r'[^"]*HTTP/1\.1" 200 \d+ "-" "[^"]+"$', log, re.MULTILINE), log[-2000:]


def test_an_officers_cases_follow_the_phone_over_a_real_socket(deployment):
    """The officer of Anbar opens a case with the programme's referral, receives it in the
    follow-up form's entity list, updates it, and drops it once it is closed."""
    import csv
    import io
    import uuid

    from tests.support.cases import programme_follow_up, programme_referral

    case_id = str(uuid.uuid4())
    with requests.Session() as session:
        phone = Phone(http_transport(session), deployment.officer_url)
        assert phone.submit(programme_referral(case_id)).status == 201
        (entry,) = phone.form_list("referral_follow_up")
        media = {m["filename"]: m for m in phone.manifest(entry)}
        cases = media["cases.csv"]
        assert cases["type"] == "entityList" and cases["integrityUrl"]

        def held() -> dict[str, dict[str, str]]:
            current = {m["filename"]: m for m in phone.manifest(entry)}["cases.csv"]
            rows = csv.DictReader(io.StringIO(phone.download_media(current).decode("utf-8")))
            return {row["name"]: row for row in rows}

        opened = held()[case_id]
        assert (opened["__version"], opened["status"], opened["governorate"]) == (
            "1", "open", "anbar")
        assert phone.submit(programme_follow_up(case_id, "in_progress", base=1)).status == 201
        followed = held()[case_id]
        assert (followed["__version"], followed["status"], followed["follow_up_date"]) == (
            "2", "in_progress", "2026-12-20")
        assert phone.submit(programme_follow_up(case_id, "closed", base=2)).status == 201
        assert case_id not in held()
        assert phone.deleted_states(cases, [case_id]) == {case_id: True}
