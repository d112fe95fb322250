"""A NUL character (`%00`) anywhere a caller can put one is 400.9 in the caller's format, on every
route of the app: never a 500 (PostgreSQL refuses it in text) nor a lookup that finds nothing."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from server.services.accounts import create_app_user

BAD = "a\x00b"
# a path value as written in the URL: `<int:job_id>` gets 1, any other one x; a NUL is %00
VARIABLE = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
HEADERS = {"X-OpenRosa-Version": "1.0"}


def routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"OPTIONS", "HEAD"}):
            yield rule, method


def requests_with_nul(app, token: str):
    """(method, path, body options) with a NUL in each place a caller can put one."""
    for rule, method in routes(app):
        path = _path(rule.rule, token)
        yield method, path + "?q=a%00b", {}
        yield method, path + "?a%00b=1", {}
        for _converter, name in VARIABLE.findall(rule.rule):  # each in turn, the others valid
            yield method, _path(rule.rule, token, nul_in=name), {}
        if method in ("POST", "PUT", "PATCH"):
            yield method, path, {"data": {"value": BAD}}
            if rule.rule.startswith("/api/"):
                yield method, path, {"json": {"state": BAD, "forms": [BAD]}}


def _path(rule: str, token: str, nul_in: str | None = None) -> str:
    def value(match: re.Match) -> str:
        converter, name = match.groups()
        clean = token if name == "token" else "1" if converter == "int" else "x"
        return clean + "%00" if name == nul_in else clean
    return VARIABLE.sub(value, rule)


def test_every_route_refuses_a_nul_character_with_400(app, client, session):
    token = create_app_user(session, "officer").token
    session.commit()
    asked, wrong = 0, []
    for method, path, body in requests_with_nul(app, token):
        response = client.open(path, method=method, headers=HEADERS,
                               base_url="https://localhost", **body)
        asked += 1
        problem = _problem_code(path, response)
        if response.status_code != 400 or problem != "400.9":
            wrong.append(f"{method} {path} {body}: {response.status_code} {problem}")
        response.close()
    assert asked > 100  # every route was walked, each several ways
    assert not wrong, "\n".join(wrong)


def _problem_code(path: str, response) -> str | None:
    """The problem's code as the caller's format carries it; None when the format is wrong."""
    if path.startswith("/collect"):
        if response.mimetype != "text/xml":
            return None
        root = ET.fromstring(response.data)
        text = "".join(root.itertext())
        return "400.9" if "NUL character" in text else text
    if path.startswith(("/api", "/sync")):  # scripts and field offices' servers: JSON
        return (response.get_json(silent=True) or {}).get("code") \
            if response.mimetype == "application/json" else None
    if response.mimetype != "text/html":
        return None
    return "400.9" if b"400.9" in response.data else response.data[:200]


@pytest.mark.parametrize("path", [
    "/login?next=%00",
    "/collect/formList?formID=a%00b",
    "/api/v1/data/forms?since=%00",
])
def test_a_nul_in_a_query_value_is_refused_before_authentication(client, path):
    response = client.get(path, headers=HEADERS, base_url="https://localhost")
    assert response.status_code == 400


def test_a_nul_in_a_sign_in_form_is_refused(client):
    response = client.post("/login", data={"username": "admin\x00", "password": "x"},
                           base_url="https://localhost")
    assert response.status_code == 400 and b"400.9" in response.data
