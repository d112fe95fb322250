"""The programme's indicators in a real browser: the Baghdad supervisor reads them in Arabic,
right to left, with charts the server drew (no remote asset: the watch fails the test on any),
figures for her governorate only; she follows a figure to the meetings behind it. The
administrator reads them in English by district, over every place."""

from __future__ import annotations

import pytest

from tests.e2e.browser.browsing import (
    choose_language,
    goto,
    language,
    path_of,
    screenshot,
    sign_in,
    submit,
    table_rows,
    translated,
)

pytestmark = pytest.mark.e2e

YEAR = 2026  # the seeded meetings are dated November 2026


def figures(page, indicator: str) -> list[list[str]]:
    """The rows of an indicator's table (its lines, then the total), digits read as ASCII."""
    return table_rows(page, f"section#{indicator} table.figures")


def test_a_supervisor_reads_her_governorates_indicators_in_arabic(open_page, site):
    karim = site.person("karim")
    page = open_page()
    sign_in(page, site, karim)
    goto(page, site, f"/indicators?year={YEAR}")
    assert language(page) == ("ar", "rtl")
    assert page.locator("h1").inner_text() == translated("ar", "Indicators")

    meetings = figures(page, "meetings_held")
    baghdad = len(site.instance_ids("baghdad"))
    assert meetings[-1][-1] == str(baghdad)  # the total: none from Nineveh or Anbar
    assert [line[0] for line in meetings[:-1]] == ["بغداد"]  # the choice's Arabic label
    # the chart is the server's own SVG, inline, laid out for a right-to-left reader
    chart = page.locator("section#meetings_held figure svg")
    assert chart.count() == 1 and chart.get_attribute("direction") == "rtl"
    assert page.locator("section#meetings_held figure svg rect").count() >= 1
    screenshot(page, "indicators")

    submit(page, page.locator("section#meetings_held tr.total a").last)
    assert path_of(page) == "/indicators/meetings_held/submissions"
    behind = [row[0] for row in table_rows(page)]
    assert sorted(behind) == sorted(site.instance_ids("baghdad"))


def test_the_administrator_reads_them_in_english_by_district(open_page, site):
    page = open_page()
    sign_in(page, site, site.person("admin"))
    goto(page, site, f"/indicators?year={YEAR}&by=district")
    if language(page)[0] != "en":
        choose_language(page, "en")
    assert language(page) == ("en", "ltr")
    every = sum(len(site.instance_ids(g)) for g in ("baghdad", "nineveh", "anbar"))
    meetings = figures(page, "meetings_held")
    assert meetings[-1][-1] == str(every)
    forums = figures(page, "forums_active")
    sent = {(m.governorate, m.forum) for ms in site.meetings.values() for m in ms}
    assert forums[-1][-1] == str(len(sent))  # Karkh's forum met twice: counted once
    screenshot(page, "indicators-english")

