"""Signing in and out in a real browser: by user name or e-mail in any case, a wrong password
that the audit log shows, an account slowed down after repeated failures while others sign in
from the same browser, a session that ends for good, and forms that need their CSRF token."""

from __future__ import annotations

import pytest

from tests.e2e.browser.browsing import (
    goto,
    path_of,
    screenshot,
    sign_in,
    sign_out,
    signed_in_as,
    submit,
    table_rows,
)
from tests.e2e.browser.conftest import Person

pytestmark = pytest.mark.e2e


def test_sign_in_by_user_name_or_e_mail_in_any_case(open_page, site):
    karim = site.person("karim")

    by_name = open_page()
    sign_in(by_name, site, karim, identifier="  KARIM ")
    assert path_of(by_name) == "/forms"

    by_email = open_page()
    sign_in(by_email, site, karim, identifier="karim.supervisor@BAGHDAD.example")
    assert path_of(by_email) == "/forms"


def test_sign_in_page_in_arabic(page, site):
    goto(page, site, "/forms")  # asks who is there, then comes back here

    assert path_of(page) == "/login"
    assert page.locator("html").get_attribute("dir") == "rtl"
    screenshot(page, "sign-in")
    sign_in(page, site, site.person("layla"), next_path="/forms")
    assert path_of(page) == "/forms"


def test_a_wrong_password_is_refused_and_the_audit_log_shows_it(open_page, watch, site):
    watch.allow_status(401)
    analyst = site.person("analyst")
    page = open_page()

    sign_in(page, site, analyst, password="not-the-password", status=401)

    assert page.locator("main [role=alert]").is_visible()
    assert signed_in_as(page) is None

    admin = open_page()
    sign_in(admin, site, site.person("admin"))
    goto(admin, site, "/audit")
    admin.locator("select[name=action]").select_option("login.failed")
    admin.locator("input[name=user]").fill("analyst")
    submit(admin, admin.locator("form.filters button[type=submit]"))
    rows = table_rows(admin, "table.audit")
    assert rows and all(row[1] == "analyst" and row[2] == "login.failed" for row in rows)
    assert rows[0][5] == "127.0.0.1"
    goto(admin, site, "/audit")
    screenshot(admin, "audit-log")


def test_repeated_wrong_passwords_lock_that_account_only(page, watch, site):
    watch.allow_status(401, 429)
    forgetful = site.add_person(Person("forgetful", "analyst"))

    statuses = [sign_in(page, site, forgetful, password=f"guess-{n}", status=None).status
                for n in range(6)]
    assert statuses == [401] * 5 + [429]

    sign_in(page, site, forgetful, status=429)  # the right password, refused for now
    assert page.locator("main [role=alert]").is_visible()
    assert signed_in_as(page) is None

    # Same browser, same address: another account is not held up.
    sign_in(page, site, site.person("layla"))


def test_signing_out_ends_the_session_for_good(open_page, site):
    page = open_page()
    sign_in(page, site, site.person("layla"))
    goto(page, site, "/password")
    cookies = page.context.cookies()
    assert any(c["name"] == "muntada_session" and c["httpOnly"] and c["sameSite"] == "Lax"
               for c in cookies)

    sign_out(page)

    page.go_back()  # the page was not cached (no-store): the server asks who is there
    assert path_of(page) == "/login" and signed_in_as(page) is None
    copied = open_page(cookies=cookies)  # the cookie from before signing out, copied elsewhere
    goto(copied, site, "/forms")
    assert path_of(copied) == "/login" and signed_in_as(copied) is None


def test_a_form_posted_without_its_csrf_token_is_refused(page, watch, site):
    watch.allow_status(403)
    sign_in(page, site, site.person("admin"))
    goto(page, site, "/users/new")
    form = page.locator("main form")
    form.locator("input[name=username]").fill("forged")
    form.locator("input[name=password]").fill("a-password-of-some-length")
    form.locator("input[name=csrf_token]").evaluate("input => input.remove()")

    submit(page, form.locator("button[type=submit]"), status=403)

    assert "403.4" in page.content()
    goto(page, site, "/users")
    assert "forged" not in [row[0] for row in table_rows(page)]
    assert signed_in_as(page) == "admin"  # refused, not signed out
