"""Only administrators may use the form and app-user API; everyone else is told so in JSON. The
API takes API tokens only: a web user's password opens nothing, by Digest or Basic."""

from __future__ import annotations

import pytest

from server.services.accounts import create_user
from tests.conftest import ADMIN_PASSWORD, ApiClient, api_token
from tests.integration.openrosa.test_authentication import basic_header, digest_header

ROUTES = [
    ("GET", "/api/v1/forms"),
    ("POST", "/api/v1/forms"),
    ("GET", "/api/v1/forms/household"),
    ("PATCH", "/api/v1/forms/household"),
    ("PUT", "/api/v1/forms/household/attachments/x.csv"),
    ("GET", "/api/v1/app-users"),
    ("POST", "/api/v1/app-users"),
    ("DELETE", "/api/v1/app-users/officer"),
    ("GET", "/api/v1/app-users/officer/qr.png"),
]
# one administrators' route and one of the data API
READS = ["/api/v1/forms", "/api/v1/data/forms"]


@pytest.mark.parametrize("method, path", ROUTES)
def test_anonymous_callers_get_401_with_a_challenge(client, method, path):
    response = client.open(path, method=method, base_url="https://localhost")
    assert response.status_code == 401
    assert response.get_json()["code"] == "401.21"
    assert [h.split()[0] for h in response.headers.getlist("WWW-Authenticate")] == [
        "Bearer", "Basic"]


def test_supervisors_and_analysts_may_not_manage_forms(client, session):
    for role in ("supervisor", "analyst"):
        user = create_user(session, f"{role}1", "long enough password", role)
        caller = ApiClient(client, f"{role}1", api_token(session, user))
        for method, path in ROUTES:
            response = caller.open(method, path)
            assert response.status_code == 403, (role, method, path)
            assert response.get_json()["code"] == "403.2"


def test_a_wrong_token_is_401(client, admin):
    caller = ApiClient(client, "admin", "mnt_not-the-token")
    response = caller.get("/api/v1/forms")
    assert response.status_code == 401 and response.get_json()["code"] == "401.20"


@pytest.mark.parametrize("path", READS)
def test_an_api_token_opens_the_api_as_bearer_or_as_basic_over_https(client, admin, path):
    bearer = {"Authorization": f"Bearer {admin.token}"}
    assert client.get(path, headers=bearer).status_code == 200  # plain HTTP too
    assert client.get(path, headers=bearer, base_url="https://localhost").status_code == 200
    assert admin.get(path).status_code == 200  # Basic, the token as the password

    basic = {"Authorization": basic_header("admin", admin.token)}
    assert client.get(path, headers=basic).status_code == 401  # never Basic over plain HTTP
    someone_else = {"Authorization": basic_header("layla", admin.token)}
    assert client.get(path, headers=someone_else, base_url="https://localhost"
                      ).status_code == 401


@pytest.mark.parametrize("path", READS)
def test_a_web_users_password_opens_no_api_route(client, admin, path):
    password = {"Authorization": basic_header("admin", ADMIN_PASSWORD)}
    response = client.get(path, headers=password, base_url="https://localhost")
    assert response.status_code == 401 and response.get_json()["code"] == "401.20"

    # a nonce the server signed (the phones' challenge) with the right password's digest
    for base_url in ("http://localhost", "https://localhost"):
        digest = digest_header(client, path, "admin", ADMIN_PASSWORD, base_url=base_url,
                               challenge_from="/collect/formList")
        response = client.get(path, headers={"Authorization": digest}, base_url=base_url)
        assert response.status_code == 401 and response.get_json()["code"] == "401.21"
