"""How phones prove who they are: a token in the URL, or a name and password over Digest
(plain HTTP in a field office) or Basic (HTTPS only). Wrong credentials reveal nothing."""

from __future__ import annotations

import base64
import hashlib

import pytest
from werkzeug.datastructures import WWWAuthenticate

from tests.support.xlsforms import simple_form

HEADERS = {"X-OpenRosa-Version": "1.0"}


def digest_header(client, path: str, username: str, password: str, *, base_url: str,
                  method: str = "GET", challenge_from: str | None = None) -> str:
    """Answer the server's Digest challenge exactly as RFC 2617 (qop=auth) says."""
    # the challenge comes from an unauthenticated request (HEAD for the submission address)
    challenge = client.open(challenge_from or path, method="HEAD" if method == "POST" else "GET",
                            headers=HEADERS, base_url=base_url)
    assert challenge.status_code == 401
    params = challenges(challenge)[0].parameters
    ha1 = hashlib.md5(f"{username}:{params['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{path}".encode()).hexdigest()
    nc, cnonce = "00000001", "0a4f113b"
    response = hashlib.md5(
        f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
    return (f'Digest username="{username}", realm="{params["realm"]}", '
            f'nonce="{params["nonce"]}", uri="{path}", qop=auth, nc={nc}, '
            f'cnonce="{cnonce}", response="{response}", opaque="{params["opaque"]}"')


def challenges(response) -> list[WWWAuthenticate]:
    return [WWWAuthenticate.from_header(h) for h in response.headers.getlist("WWW-Authenticate")]


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def officer_with_password(load, make_phone):
    load(simple_form("household"))
    make_phone("Amina", password="sulaymaniyah-2016")


def test_no_credentials_get_a_digest_challenge_in_openrosa_xml(client):
    response = client.get("/collect/formList", headers=HEADERS)

    assert response.status_code == 401
    (challenge,) = challenges(response)
    assert challenge.type == "digest"
    assert challenge.parameters["qop"] == "auth"
    assert b"<OpenRosaResponse" in response.data


def test_digest_login_over_plain_http_lists_the_forms(client, officer_with_password):
    header = digest_header(client, "/collect/formList", "amina", "sulaymaniyah-2016",
                           base_url="http://localhost")

    response = client.get("/collect/formList", headers={**HEADERS, "Authorization": header})

    assert response.status_code == 200
    assert b"<formID>household</formID>" in response.data


def test_the_user_name_is_not_case_sensitive(client, officer_with_password):
    header = digest_header(client, "/collect/formList", "amina", "sulaymaniyah-2016",
                           base_url="http://localhost").replace('username="amina"',
                                                               'username="Amina"')
    response = client.get("/collect/formList", headers={**HEADERS, "Authorization": header})
    assert response.status_code == 200


def test_a_wrong_digest_password_gets_401_and_no_detail(client, officer_with_password):
    header = digest_header(client, "/collect/formList", "amina", "wrong-password",
                           base_url="http://localhost")

    response = client.get("/collect/formList", headers={**HEADERS, "Authorization": header})

    assert response.status_code == 401
    unknown = client.get("/collect/formList", headers={**HEADERS, "Authorization": digest_header(
        client, "/collect/formList", "nobody", "wrong-password", base_url="http://localhost")})
    assert unknown.status_code == 401
    assert response.data == unknown.data  # an unknown user looks exactly like a wrong password


def test_a_forged_nonce_is_refused(client, officer_with_password):
    header = digest_header(client, "/collect/formList", "amina", "sulaymaniyah-2016",
                           base_url="http://localhost")
    forged = header.replace('nonce="', 'nonce="1-')
    response = client.get("/collect/formList", headers={**HEADERS, "Authorization": forged})
    assert response.status_code == 401


def test_basic_is_accepted_over_https(client, officer_with_password):
    response = client.get("/collect/formList", base_url="https://localhost", headers={
        **HEADERS, "Authorization": basic_header("amina", "sulaymaniyah-2016")})

    assert response.status_code == 200
    challenge_kinds = {c.type for c in challenges(client.get(
        "/collect/formList", base_url="https://localhost", headers=HEADERS))}
    assert challenge_kinds == {"digest", "basic"}


def test_basic_is_refused_over_plain_http_so_no_password_crosses_in_clear(
        client, officer_with_password):
    response = client.get("/collect/formList", base_url="http://localhost", headers={
        **HEADERS, "Authorization": basic_header("amina", "sulaymaniyah-2016")})

    assert response.status_code == 401
    assert {c.type for c in challenges(response)} == {"digest"}


def test_a_bad_or_revoked_token_gets_403_so_collect_does_not_ask_for_a_password(
        client, phone, admin):
    assert phone.get("formList").status == 200
    assert admin.delete("/api/v1/app-users/officer").status_code == 200

    revoked = phone.get("formList")
    invented = client.get("/collect/key/" + "x" * 64 + "/formList", headers=HEADERS)

    for response_status, body in ((revoked.status, revoked.body),
                                  (invented.status_code, invented.data)):
        assert response_status == 403
        assert b"<OpenRosaResponse" in body and b"QR code" in body


def test_a_revoked_password_user_can_no_longer_log_in(client, officer_with_password, admin):
    admin.delete("/api/v1/app-users/amina")
    response = client.get("/collect/formList", base_url="https://localhost", headers={
        **HEADERS, "Authorization": basic_header("amina", "sulaymaniyah-2016")})
    assert response.status_code == 401


def test_a_web_users_password_opens_nothing_here(client, load, admin):
    """Web users have no Digest hash at all (only app users do): Digest cannot sign them in."""
    load(simple_form("household"))
    for base_url in ("http://localhost", "https://localhost"):
        header = digest_header(client, "/collect/formList", "admin",
                               "correct horse battery staple", base_url=base_url)
        response = client.get("/collect/formList", base_url=base_url,
                              headers={**HEADERS, "Authorization": header})
        assert response.status_code == 401, base_url
    response = client.get("/collect/formList", base_url="https://localhost", headers={
        **HEADERS, "Authorization": basic_header("admin", "correct horse battery staple")})
    assert response.status_code == 401
