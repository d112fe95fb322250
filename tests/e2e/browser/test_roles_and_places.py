"""Who sees what: each supervisor counts only the meetings of their governorate, exactly as the
phone sent them; an administrator creates a user in the browser who can then sign in and sees
their own place; a supervisor is refused the administrators' pages."""

from __future__ import annotations

import pytest

from server.database.models import REVIEW_STATES
from tests.e2e.browser.browsing import (
    goto,
    nav_link,
    screenshot,
    sign_in,
    submit,
    table_rows,
)
from tests.e2e.browser.conftest import Person

pytestmark = pytest.mark.e2e


def counts(page, site) -> dict[str, dict[str, int]]:
    """`/forms` as the reader sees it: form id → review state (and 'all') → count."""
    goto(page, site, "/forms")
    found = {}
    for row in table_rows(page):
        form_id = row[0].rsplit("(", 1)[1].rstrip(")")
        found[form_id] = dict(zip((*REVIEW_STATES, "all"), map(int, row[1:]), strict=True))
    return found


def test_each_reader_counts_the_meetings_of_their_places(open_page, site):
    sent = {g: len(site.instance_ids(g)) for g in ("baghdad", "nineveh", "anbar")}
    assert sent == {"baghdad": 4, "nineveh": 3, "anbar": 1}
    expected = {"karim": sent["baghdad"], "layla": sent["nineveh"],
                "admin": sum(sent.values()), "analyst": sum(sent.values())}

    for username, meetings in expected.items():
        page = open_page()
        sign_in(page, site, site.person(username))
        seen = counts(page, site)
        assert seen.keys() == {"forum_meeting", "incident_referral", "training_attendance",
                               "my_returned_forms"}
        assert seen["forum_meeting"] == {**dict.fromkeys(REVIEW_STATES, 0),
                                         "received": meetings, "all": meetings}, username
        assert seen["incident_referral"]["all"] == seen["training_attendance"]["all"] == 0
        if username == "karim":
            screenshot(page, "forms-index")


def test_an_administrator_creates_a_user_who_can_then_sign_in(open_page, site):
    admin = open_page()
    sign_in(admin, site, site.person("admin"))
    submit(admin, nav_link(admin, "/users"))
    submit(admin, admin.locator("main a[href='/users/new']"))
    form = admin.locator("main form")
    form.locator("input[name=username]").fill("سارة")
    form.locator("input[name=email]").fill("sara@anbar.example")
    form.locator("select[name=role]").select_option("supervisor")
    form.locator("textarea[name=scope_governorate]").fill("anbar")
    form.locator("input[name=password]").fill("ramadi-forums-2026")
    submit(admin, form.locator("button[type=submit]"))
    assert admin.locator("main h1 bdi").inner_text() == "سارة"

    goto(admin, site, "/users")
    rows = {row[0]: row for row in table_rows(admin)}
    assert rows["سارة"][1] == "sara@anbar.example" and "anbar" in rows["سارة"][3]
    assert {"admin", "karim", "layla", "analyst"} <= rows.keys()
    screenshot(admin, "users")

    sara = open_page()
    sign_in(sara, site, Person("سارة", "supervisor", password="ramadi-forums-2026"),
            identifier="SARA@anbar.example")
    assert counts(sara, site)["forum_meeting"]["all"] == len(site.instance_ids("anbar"))
    assert not nav_link(sara, "/users").count() and not nav_link(sara, "/audit").count()


@pytest.mark.parametrize("path", ["/users", "/users/new", "/audit", "/app-users/officer-field"])
def test_a_supervisor_is_refused_the_administrators_pages(page, watch, site, path):
    watch.allow_status(403)
    sign_in(page, site, site.person("layla"))
    assert not nav_link(page, path).count()  # not offered,

    goto(page, site, path, status=403)  # and refused when asked for anyway

    assert "403" in page.locator("h1").inner_text()


def test_the_app_user_page_shows_the_phone_s_qr_code(page, site):
    sign_in(page, site, site.person("admin"))
    goto(page, site, "/app-users/officer-field")
    qr = page.locator("main img.qr")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 100")
    assert page.locator("main code").inner_text() == site.phone_url
