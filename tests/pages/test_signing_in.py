"""Supervisors sign in with a form; sessions, throttling and the audit log around it."""

from __future__ import annotations

import sqlalchemy as sa

from server.database.models import AuditEvent, LoginThrottle
from tests.support.web import PASSWORD, Browser


def audit_actions(session, username=None) -> list[str]:
    session.rollback()
    query = sa.select(AuditEvent.action).order_by(AuditEvent.id)
    if username:
        query = query.where(AuditEvent.username == username)
    return list(session.scalars(query))


def test_a_supervisor_signs_in_and_lands_on_the_submissions(app, make_user, session):
    make_user("layla", "supervisor")
    browser = Browser(app)

    response = browser.sign_in("layla")

    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert browser.get("/forms").status_code == 200
    assert audit_actions(session, "layla") == ["login"]


def test_the_name_is_read_whatever_its_case_and_the_email_whatever_its_tag(app, make_user):
    make_user("Layla", "supervisor", email="Layla.H@Example.org")
    for identifier in ("LAYLA", " layla ", "layla.h@example.org", "LAYLA.H+work@EXAMPLE.ORG"):
        assert Browser(app).sign_in(identifier).status_code == 302, identifier


def test_a_wrong_password_is_refused_and_audited(app, make_user, session):
    make_user("layla", "supervisor")
    browser = Browser(app)

    response = browser.sign_in("layla", "not the password")

    assert response.status_code == 401
    assert "not correct" in response.get_data(as_text=True) or \
        "غير صحيحة" in response.get_data(as_text=True)
    assert browser.get("/forms").status_code == 302  # still signed out
    assert audit_actions(session, "layla") == ["login.failed"]


def test_an_unknown_name_is_refused_the_same_way(app, session):
    response = Browser(app).sign_in("nobody", "whatever password")
    assert response.status_code == 401
    assert audit_actions(session, "nobody") == ["login.failed"]


def test_failed_logins_block_the_account_not_the_office(app, make_user, session):
    make_user("layla", "supervisor", email="layla@example.org")
    make_user("omar", "supervisor")
    office = Browser(app)  # one browser, one address: the field office's
    # every spelling of the account counts against the same account
    for identifier in ("layla", "LAYLA", "layla@example.org", "Layla+x@Example.org", "layla"):
        assert office.sign_in(identifier, "wrong password").status_code == 401

    refused = office.sign_in("layla")  # the right password, too late

    assert refused.status_code == 429
    assert office.get("/forms").status_code == 302
    assert Browser(app).sign_in("omar").status_code == 302  # a colleague is not locked out
    assert audit_actions(session, "layla")[-1] == "login.throttled"
    assert session.get(LoginThrottle, "layla").failures == 5


def test_a_success_clears_earlier_failures(app, make_user, session):
    make_user("layla", "supervisor")
    for _ in range(4):
        Browser(app).sign_in("layla", "wrong password")
    assert Browser(app).sign_in("layla").status_code == 302
    session.rollback()
    assert session.get(LoginThrottle, "layla") is None


def test_the_session_cookie_is_httponly_samesite_and_secure_over_https(app, make_user):
    make_user("layla", "supervisor")
    plain, secure = Browser(app), Browser(app, base_url="https://localhost")

    plain_cookie = plain.sign_in("layla").headers["Set-Cookie"]
    secure_cookie = secure.sign_in("layla").headers["Set-Cookie"]

    assert "HttpOnly" in plain_cookie and "SameSite=Lax" in plain_cookie
    assert "Secure" not in plain_cookie  # a field office's laptop on plain HTTP still works
    assert "Secure" in secure_cookie


def test_signing_out_ends_the_session_even_for_a_copied_cookie(app, make_user, session):
    make_user("layla", "supervisor")
    browser = Browser(app)
    browser.sign_in("layla")
    copied = browser.cookie("muntada_session").value

    assert browser.post("/logout").status_code == 302

    assert browser.get("/forms").status_code == 302
    thief = Browser(app)
    thief.client.set_cookie("muntada_session", copied, domain="localhost")
    assert thief.get("/forms").status_code == 302
    assert audit_actions(session, "layla") == ["login", "logout"]


def test_a_password_change_signs_out_other_browsers(app, make_user, session):
    make_user("layla", "supervisor")
    desk, tablet = Browser(app), Browser(app)
    desk.sign_in("layla")
    tablet.sign_in("layla")
    new = "a brand new passphrase"

    desk.get("/password")
    response = desk.post("/password", {"current": PASSWORD, "new": new, "repeat": new})

    assert response.status_code == 200
    assert desk.get("/forms").status_code == 200
    assert tablet.get("/forms").status_code == 302
    assert Browser(app).sign_in("layla", PASSWORD).status_code == 401
    assert Browser(app).sign_in("layla", new).status_code == 302
    assert "password.changed" in audit_actions(session, "layla")


def test_a_password_change_needs_the_current_one(app, make_user):
    make_user("layla", "supervisor")
    browser = Browser(app)
    browser.sign_in("layla")
    response = browser.post("/password", {"current": "guess", "new": "x" * 12,
                                          "repeat": "x" * 12})
    assert response.status_code == 400
    assert Browser(app).sign_in("layla").status_code == 302


def test_a_disabled_user_is_signed_out_and_cannot_sign_in(app, make_user, session):
    user = make_user("layla", "supervisor")
    browser = Browser(app)
    browser.sign_in("layla")
    admin = Browser(app)
    make_user("chief", "administrator")
    admin.sign_in("chief")

    admin.post(f"/users/{user.id}", {"role": "supervisor", "disabled": "on"})

    assert browser.get("/forms").status_code == 302
    assert Browser(app).sign_in("layla").status_code == 401


def test_sign_in_sends_back_only_to_pages_of_this_site(app, make_user):
    make_user("layla", "supervisor")
    for target, expected in (("/audit?x=1", "/audit?x=1"), ("https://evil.example/", "/"),
                             ("//evil.example/", "/"), ("/\\evil.example", "/")):
        browser = Browser(app)
        browser.get("/login")
        response = browser.post("/login", {"username": "layla", "password": PASSWORD,
                                           "next": target})
        assert response.headers["Location"] == expected, target


def test_forms_without_their_token_are_refused(app, make_user):
    make_user("layla", "supervisor")
    browser = Browser(app)
    browser.get("/login")

    refused = browser.post("/login", {"username": "layla", "password": PASSWORD}, csrf=False)
    forged = browser.post("/login", {"username": "layla", "password": PASSWORD,
                                     "csrf_token": "forged"}, csrf=False)

    assert refused.status_code == 403 and forged.status_code == 403
    assert "403.4" in refused.get_data(as_text=True)
    assert browser.get("/forms").status_code == 302


def test_signed_in_forms_need_the_token_too(app, make_user):
    make_user("layla", "supervisor")
    browser = Browser(app)
    browser.sign_in("layla")
    assert browser.post("/logout", csrf=False).status_code == 403
    assert browser.get("/forms").status_code == 200  # still signed in


def test_pages_say_they_load_nothing_from_elsewhere(client):
    response = client.get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "http" not in policy
