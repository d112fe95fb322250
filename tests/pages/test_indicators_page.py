"""The Indicators page: the programme's figures for a year in the reader's language, with charts
drawn by the server (SVG, nothing loaded from outside), each figure linking to the submissions
behind it; the same tables as a workbook."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from lxml import html
from openpyxl import load_workbook

from tests.support.indicator_data import Meeting, Referral, meeting_xml, referral_xml

ANBAR = ("anbar", "ramadi", "anb_ramadi_01")
NINEVEH = ("nineveh", "mosul", "nin_qayyarah_01")


@pytest.fixture
def sent(programme, phone):
    meetings = [Meeting(ANBAR, date(2026, 4, 2), {"police": (3, 4)}, []),
                Meeting(ANBAR, date(2026, 5, 9), {"idp": (2, 0)}, []),
                Meeting(NINEVEH, date(2026, 5, 10), {"police": (1, 1)}, [])]
    referrals = [Referral(ANBAR, date(2026, 6, 1), 10, "gbv", "court", None) for _ in range(2)]
    for xml in [meeting_xml(m) for m in meetings] + [referral_xml(r) for r in referrals]:
        assert phone.submit(xml).status == 201
    return meetings, referrals


def section(page: str, indicator: str):
    return html.fromstring(page).get_element_by_id(indicator)


def test_the_page_shows_each_indicator_with_its_chart_and_links(browser_for, sent):
    head = browser_for("administrator", personal_data=True)
    reply = head.get("/indicators?year=2026&by=governorate&lang=en")
    assert reply.status_code == 200
    page = reply.get_data(as_text=True)
    meetings = section(page, "meetings_held")
    assert meetings.find(".//svg") is not None
    rows = {r.findtext("th/bdi"): [c.text_content() for c in r.findall("td")]
            for r in meetings.findall(".//tbody/tr")}
    assert rows == {"Anbar": ["2"], "Nineveh": ["1"], "Total": ["3"]}
    # nothing is loaded from outside the app
    assert not re.search(r'(src|href)="(https?:)?//', page)
    (link,) = [a.get("href") for a in meetings.iterfind(".//tbody/tr/td/a")
               if "governorate=anbar" in a.get("href")]
    behind = head.get(link).get_data(as_text=True)
    listed = set(re.findall(r"uuid:[0-9a-f-]{36}", behind))
    assert listed == {m.instance_id for m in sent[0] if m.place == ANBAR}


def test_arabic_reads_right_to_left_and_the_chart_too(browser_for, sent):
    head = browser_for("administrator")
    page = head.get("/indicators?year=2026&lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page
    assert 'direction="rtl"' in page
    assert "الاجتماعات المنعقدة" in page and "الأنبار" in page


def test_a_withheld_figure_has_no_link_and_its_list_is_refused(browser_for, sent):
    analyst = browser_for("analyst")
    page = analyst.get("/indicators?year=2026&lang=en").get_data(as_text=True)
    referrals = section(page, "referrals_by_category")
    cells = [c.text_content() for c in referrals.findall(".//tbody/tr/td")]
    assert "<5" in cells and "2" not in cells
    assert referrals.find(".//tbody/tr/td/a") is None
    refused = analyst.get("/indicators/referrals_by_category/submissions?year=2026"
                          "&governorate=anbar&split=gbv")
    assert refused.status_code == 403


def test_the_workbook_holds_the_same_tables(browser_for, sent):
    head = browser_for("administrator")
    reply = head.get("/indicators.xlsx?year=2026&by=governorate&lang=en")
    assert reply.status_code == 200
    book = load_workbook(io.BytesIO(reply.data), read_only=True)
    rows = [list(r) for r in book["meetings_held"].iter_rows(values_only=True)]
    assert rows[0] == ["Meetings held"]
    assert rows[2:] == [["Anbar", 2], ["Nineveh", 1], ["Total", 3]]
    sex = [list(r) for r in book["attendance_by_sex"].iter_rows(values_only=True)]
    assert sex[1] == [None, "Women", "Men"] and sex[-1] == ["Total", 6, 5]


def test_bad_options_are_a_clear_error(browser_for, sent):
    head = browser_for("administrator")
    assert head.get("/indicators?year=twenty").status_code == 400
    assert head.get("/indicators?by=street").status_code == 400
    assert head.get("/indicators/nothing/submissions").status_code == 404
