"""The interface in Arabic (the default), Kurdish and English, laid out right to left for the first
two: the choice is a button in the header, remembered by the account and by the browser; and the
pages stay usable on a phone's screen."""

from __future__ import annotations

import pytest

from tests.e2e.browser.browsing import (
    box,
    choose_language,
    goto,
    language,
    nav_link,
    path_of,
    screenshot,
    scrolls_sideways,
    sign_in,
    sign_out,
    submit,
)
from tests.e2e.browser.conftest import PHONE_VIEWPORT, VIEWPORT, Person

pytestmark = pytest.mark.e2e


def header_runs(page) -> str:
    """'rtl' when the brand is at the right edge and the tools at the left, 'ltr' for the
    mirror image, as the browser actually laid them out."""
    brand, tools = box(page, "header .brand"), box(page, "header .tools")
    width = page.viewport_size["width"]
    if brand["x"] + brand["width"] > width * 0.9 and tools["x"] < brand["x"]:
        return "rtl"
    if brand["x"] < width * 0.1 and tools["x"] > brand["x"]:
        return "ltr"
    return f"neither: brand {brand}, tools {tools}"


def test_the_language_is_chosen_in_the_header_and_remembered(open_page, site):
    reader = site.add_person(Person("polyglot", "supervisor", governorates=("baghdad",)))
    page = open_page()
    sign_in(page, site, reader)
    assert language(page) == ("ar", "rtl") and header_runs(page) == "rtl"
    arabic_label = nav_link(page, "/forms").inner_text()

    choose_language(page, "ckb")
    assert language(page) == ("ckb", "rtl") and header_runs(page) == "rtl"
    kurdish_label = nav_link(page, "/forms").inner_text()
    screenshot(page, "forms-kurdish")

    choose_language(page, "en")
    assert language(page) == ("en", "ltr") and header_runs(page) == "ltr"
    assert nav_link(page, "/forms").inner_text() == "Submissions"
    assert len({arabic_label, kurdish_label, "Submissions"}) == 3

    sign_out(page)
    assert language(page) == ("en", "ltr")  # the browser remembers it for the sign-in page
    elsewhere = open_page()  # another browser, asking for Arabic: the account remembers
    sign_in(elsewhere, site, reader)
    assert language(elsewhere) == ("en", "ltr")

    choose_language(elsewhere, "ar")
    assert language(elsewhere) == ("ar", "rtl") and header_runs(elsewhere) == "rtl"
    sign_out(elsewhere)
    again = open_page(locale="en-GB")
    sign_in(again, site, reader)
    assert language(again) == ("ar", "rtl")


def test_a_language_can_be_chosen_before_signing_in(page, site):
    goto(page, site, "/login")
    choose_language(page, "en")
    assert language(page) == ("en", "ltr") and header_runs(page) == "ltr"
    assert page.locator("main h1").inner_text() == "Sign in"
    choose_language(page, "ar")
    assert language(page) == ("ar", "rtl") and header_runs(page) == "rtl"


@pytest.mark.parametrize("path", ["/login", "/forms", "/users", "/users/new", "/audit",
                                  "/password"])
def test_pages_fit_a_phone_screen(open_page, site, path):
    page = open_page(viewport=PHONE_VIEWPORT)
    if path != "/login":
        sign_in(page, site, site.person("admin"))
    goto(page, site, path)

    assert not scrolls_sideways(page), f"{path} is wider than a phone's screen"
    for element in ("header .brand", "header .tools", "main h1"):
        found = box(page, element)
        assert found["x"] >= 0 and found["x"] + found["width"] <= PHONE_VIEWPORT["width"], element
    if path == "/forms":
        screenshot(page, "forms-phone")


def test_the_navigation_works_at_phone_width(open_page, site):
    page = open_page(viewport=PHONE_VIEWPORT)
    sign_in(page, site, site.person("admin"))
    for path in ("/users", "/audit", "/forms"):
        link = nav_link(page, path)
        assert link.is_visible()
        submit(page, link)
        assert path_of(page) == path


def test_pages_in_english_are_laid_out_left_to_right(open_page, site):
    page = open_page(locale="en-GB")  # no choice made anywhere: the browser's language
    sign_in(page, site, site.person("analyst"))
    assert language(page) == ("en", "ltr") and header_runs(page) == "ltr"
    first_column = box(page, "main table th")
    assert first_column["x"] < VIEWPORT["width"] / 2  # the table starts at the left
    assert page.locator("main table th").all_inner_texts() == [
        "Form", "Received", "Edited", "Has issues", "Approved", "Rejected", "All"]
    assert page.locator("header .who").inner_text().endswith("Analyst")
    screenshot(page, "forms-english")
