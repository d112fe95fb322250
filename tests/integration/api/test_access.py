"""Only administrators may use the form and app-user API; everyone else is told so in JSON."""

from __future__ import annotations

import pytest

from server.accounts import create_user
from tests.conftest import ApiClient

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


@pytest.mark.parametrize("method, path", ROUTES)
def test_anonymous_callers_get_401_with_a_challenge(client, method, path):
    response = client.open(path, method=method, base_url="https://localhost")
    assert response.status_code == 401
    assert response.get_json()["code"] == "401.1"
    assert response.headers.getlist("WWW-Authenticate")


def test_supervisors_and_analysts_may_not_manage_forms(client, session):
    for role in ("supervisor", "analyst"):
        create_user(session, f"{role}1", "long enough password", role)
        session.commit()
        caller = ApiClient(client, f"{role}1", "long enough password")
        for method, path in ROUTES:
            response = caller.open(method, path)
            assert response.status_code == 403, (role, method, path)
            assert response.get_json()["code"] == "403.2"


def test_a_wrong_password_is_401(client, admin):
    caller = ApiClient(client, "admin", "not the password")
    assert caller.get("/api/v1/forms").status_code == 401
