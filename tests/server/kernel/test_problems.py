"""One numbered catalogue of problems; the JSON error shape is locked here."""

from __future__ import annotations

import re

from server.kernel import problems


def test_codes_are_unique_and_start_with_their_http_status():
    codes = [p.code for p in problems.CATALOGUE]
    assert len(codes) == len(set(codes))
    for problem_type in problems.CATALOGUE:
        assert re.fullmatch(r"[45]\d\d\.\d+", problem_type.code)
        assert 400 <= problem_type.status < 600


def test_the_json_error_shape(client):
    response = client.get("/api/v1/nothing-here", base_url="https://localhost")
    body = response.get_json()
    assert response.status_code in (401, 404)
    assert set(body) <= {"code", "message", "details"} and {"code", "message"} <= set(body)


def test_pages_get_html_and_phones_get_openrosa_xml(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert b"404.1" in page.data
    phone = client.get("/collect/key/nothing/formList", headers={"X-OpenRosa-Version": "1.0"})
    assert phone.mimetype == "text/xml" and b"<OpenRosaResponse" in phone.data


def test_an_unexpected_error_is_500_without_any_detail(app, client, caplog):
    @app.get("/api/v1/boom-for-test")
    def boom():
        raise RuntimeError("SELECT secret FROM /var/lib/muntada")

    response = client.get("/api/v1/boom-for-test", base_url="https://localhost")
    assert response.status_code == 500
    assert response.get_json()["code"] == "500.1"
    assert b"SELECT" not in response.data and b"/var/lib" not in response.data
    assert "RuntimeError" in caplog.text
