"""A person in a browser, through Flask's test client: signs in with the login form, and sends
each form's CSRF token back as a browser would."""

from __future__ import annotations

import re

PASSWORD = "a long enough password"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    def __init__(self, app, *, base_url: str = "http://localhost"):
        self.client = app.test_client()
        self.base_url = base_url
        self.csrf_token: str | None = None

    def get(self, path: str, **kwargs):
        response = self.client.get(path, base_url=self.base_url, **kwargs)
        match = _TOKEN.search(response.get_data(as_text=True)) \
            if response.mimetype == "text/html" else None
        if match:
            self.csrf_token = match.group(1)
        return response

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            if self.csrf_token is None:
                self.get("/login")
            data.setdefault("csrf_token", self.csrf_token)
        return self.client.post(path, data=data, base_url=self.base_url, **kwargs)

    def sign_in(self, username: str, password: str = PASSWORD):
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password})
        self.get("/password")  # the session's own CSRF token, for the forms that follow
        return response

    def cookie(self, name: str):
        return self.client.get_cookie(name)
