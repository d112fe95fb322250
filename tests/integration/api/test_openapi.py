"""`/api/v1/openapi.json` describes every route of the API, and no route that is not there."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

PREFIX = "/api/v1"
OPERATIONS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def routes(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every rule Flask routes under /api/v1."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            # <int:job_id> → {job_id}, as OpenAPI templates a path
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(PREFIX):])
            found |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def described(document: dict) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items()
            for method in item if method in OPERATIONS}


def test_every_api_route_is_described_and_nothing_else(app, client):
    document = client.get(f"{PREFIX}/openapi.json").get_json()
    validate(document)

    assert document["servers"] == [{"url": PREFIX}]
    assert sorted(routes(app) - described(document)) == [], "routes missing from the spec"
    assert sorted(described(document) - routes(app)) == [], "described routes that do not exist"
    assert {"/forms", "/forms/{xml_form_id}/attachments/{name}", "/app-users/{name}/qr.png",
            "/export-jobs/{job_id}/file"} <= set(document["paths"])


def test_every_path_parameter_is_declared(client):
    document = client.get(f"{PREFIX}/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method in set(item) & OPERATIONS:
            declared = {p["name"] for p in item[method].get("parameters", ()) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (path, method)


def test_described_routes_ask_for_an_api_token(client):
    document = client.get(f"{PREFIX}/openapi.json").get_json()
    assert document["components"]["securitySchemes"] == {
        "token": {"type": "http", "scheme": "bearer"},
        "basic": {"type": "http", "scheme": "basic",
                  "description": "the API token as the password"}}
    for path, item in document["paths"].items():
        for method in set(item) & OPERATIONS:
            expected = [] if path == "/openapi.json" else [{"token": []}, {"basic": []}]
            assert item[method]["security"] == expected, (path, method)
