"""The review scenario of the issue, end to end: a Baghdad supervisor filters her list, opens a
meeting in Arabic (laid out right to left, choices in Arabic, the map drawn from the app's own
outline of Iraq with no tile server), approves one with a comment, is refused a rejection without
one and then rejects with one; the list, its counts and the comment thread follow; the
administrator reads both reviews in the audit log; the Nineveh supervisor sees neither."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest

from server.kernel.i18n import LOCAL_TIME
from tests.e2e.browser.browsing import (
    MAP_OUTLINE_COLOUR,
    MAP_POINT_COLOUR,
    answer,
    box,
    comments,
    filter_list,
    goto,
    language,
    listed,
    misaligned_text,
    review,
    row_states,
    screenshot,
    sign_in,
    state_counts,
    submit,
    table_rows,
    translated,
    wait_for_map,
)

pytestmark = pytest.mark.e2e

FORM = "forum_meeting"
LIST = f"/forms/{FORM}/submissions"


def map_drawing(page) -> dict:
    """What Leaflet drew in #map: its SVG paths (stroke colour, box) and any tiles or images."""
    wait_for_map(page)
    return page.locator("#map").evaluate("""map => ({
        paths: [...map.querySelectorAll('.leaflet-overlay-pane svg path')].map(p => {
            const r = p.getBoundingClientRect();
            return {stroke: p.getAttribute('stroke'), d: p.getAttribute('d').length,
                    x: r.x, y: r.y, width: r.width, height: r.height};
        }),
        tiles: map.querySelectorAll('.leaflet-tile, img').length,
    })""")


def test_a_supervisor_reviews_the_meetings_of_her_governorate(open_page, watch, site):
    watch.allow_status(400, 404)
    baghdad = {m.instance_id: m for m in site.meetings["baghdad"]}
    karkh = [i for i, m in baghdad.items() if m.district == "karkh"]
    assert len(baghdad) == 4 and len(karkh) == 2
    page = open_page()
    sign_in(page, site, site.person("karim"))

    # The list: her four meetings, all received.
    goto(page, site, LIST)
    assert language(page) == ("ar", "rtl")
    assert sorted(listed(page)) == sorted(baghdad)
    assert state_counts(page) == {"received": 4, "edited": 0, "hasIssues": 0, "approved": 0,
                                  "rejected": 0, "": 4}

    # Filtered by district (the choice's Arabic label in the filter and in the rows) and date.
    today = datetime.now(LOCAL_TIME).date()
    filter_list(page, {"district": "karkh", "to": today.isoformat()})
    assert sorted(listed(page)) == sorted(karkh)
    assert state_counts(page)[""] == 2
    assert {row[3] for row in table_rows(page, "#submissions")} == {"الكرخ"}
    filter_list(page, {"from": (today + timedelta(days=1)).isoformat()})
    assert listed(page) == [] and state_counts(page)[""] == 0
    assert table_rows(page, "#submissions") == [
        [translated("ar", "No submissions match these filters.")]]

    # One meeting, in Arabic, right to left.
    first, second = karkh[0], next(i for i, m in baghdad.items() if m.district == "rusafa")
    goto(page, site, f"{LIST}/{first}")
    assert language(page) == ("ar", "rtl")
    assert page.locator("#answers").evaluate("e => getComputedStyle(e).direction") == "rtl"
    row, label, value = (box(page, f"#answers .answer[data-path='/facilitator'] {part}")
                         for part in ("", ".label", ".value"))
    assert abs((label["x"] + label["width"]) - (row["x"] + row["width"])) < 2, "label not at the right"
    assert value["x"] + value["width"] <= label["x"] + 1, "answer not to the label's left"
    assert misaligned_text(page, "#answers .answer .value") == []
    assert misaligned_text(page, "#facts dd") == []
    assert misaligned_text(page, ".map-box .coordinates") == []
    aside, main = box(page, ".side-column"), box(page, ".main-column")
    assert main["x"] > aside["x"], "the answers should be on the right, the facts on the left"
    # Choices shown by their Arabic labels, not their names.
    assert answer(page, "/governorate").locator(".label").inner_text() == "المحافظة"
    assert answer(page, "/governorate").locator(".value").inner_text() == "بغداد"
    assert answer(page, "/district").locator(".value").inner_text() == "الكرخ"
    assert answer(page, "/topics").locator(".value li").all_inner_texts() == [
        "الأمن والجريمة", "الخدمات العامة (ماء، كهرباء، طرق)"]
    assert answer(page, "/issue[1]/issue_priority").locator(".value").inner_text() == "عالية"
    # The map: Iraq's outline and the meeting's point, inside the map's box; no tiles.
    drawn = map_drawing(page)
    where = box(page, "#map")
    outline = [p for p in drawn["paths"] if p["stroke"] == MAP_OUTLINE_COLOUR]
    point = [p for p in drawn["paths"] if p["stroke"] == MAP_POINT_COLOUR]
    assert len(outline) == 1 and outline[0]["d"] > 200 and len(point) == 1, drawn
    assert outline[0]["width"] > where["width"] / 3 and drawn["tiles"] == 0, drawn
    centre = (point[0]["x"] + point[0]["width"] / 2, point[0]["y"] + point[0]["height"] / 2)
    assert where["x"] < centre[0] < where["x"] + where["width"]
    assert where["y"] < centre[1] < where["y"] + where["height"]
    assert outline[0]["x"] < centre[0] < outline[0]["x"] + outline[0]["width"]  # Baghdad is in
    assert outline[0]["y"] < centre[1] < outline[0]["y"] + outline[0]["height"]  # Iraq
    assert {urlsplit(url).path for url in watch.requests
            if "/static/" in url and "leaflet" in url} >= {
        "/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css"}
    assert not [url for url in watch.requests if "tile" in url]

    # Approved, with a comment.
    review(page, "approved", "الأرقام مطابقة لسجل الحضور. شكراً.")
    assert page.locator("main .state").first.get_attribute("class") == "state state-approved"
    assert page.locator("main .state").first.inner_text() == translated("ar", "approved")
    assert comments(page) == [("karim", "approved", "الأرقام مطابقة لسجل الحضور. شكراً.")]
    comment_form = page.locator("form#comment")
    comment_form.locator("textarea").fill("أرسلت نسخة إلى مدير الشرطة المجتمعية.")
    submit(page, comment_form.locator("button[type=submit]"))
    assert comments(page) == [("karim", "approved", "الأرقام مطابقة لسجل الحضور. شكراً."),
                              ("karim", "", "أرسلت نسخة إلى مدير الشرطة المجتمعية.")]

    # Rejecting without saying why is refused, in Arabic, and changes nothing.
    goto(page, site, f"{LIST}/{second}")
    review(page, "rejected", "   ", status=400)
    assert language(page) == ("ar", "rtl")
    refusal = translated(
        "ar", "A comment is required to mark a submission as having issues or to reject it: "
              "say what is wrong. Nothing was changed.")
    assert page.locator(".problem").inner_text() == refusal
    goto(page, site, f"{LIST}/{second}")
    assert page.locator("main .state").first.get_attribute("class") == "state state-received"
    assert comments(page) == []
    review(page, "rejected", "التاريخ لا يطابق محضر الاجتماع، يرجى إعادة الإرسال.")
    assert page.locator("main .state").first.get_attribute("class") == "state state-rejected"
    assert comments(page) == [
        ("karim", "rejected", "التاريخ لا يطابق محضر الاجتماع، يرجى إعادة الإرسال.")]

    # The list and its counts follow.
    goto(page, site, LIST)
    assert row_states(page) == {**dict.fromkeys(baghdad, "received"),
                                first: "approved", second: "rejected"}
    assert state_counts(page) == {"received": 2, "edited": 0, "hasIssues": 0, "approved": 1,
                                  "rejected": 1, "": 4}
    submit(page, page.locator("#state-counts li[data-state=approved] a"))
    assert listed(page) == [first]
    filter_list(page, {"state": "rejected"})
    assert listed(page) == [second]
    assert page.locator("#state-counts li.current").get_attribute("data-state") == "rejected"
    goto(page, site, LIST)
    screenshot(page, "submissions-list")

    # The administrator reads both reviews, and no trace of the refused one, in the audit log.
    admin = open_page()
    sign_in(admin, site, site.person("admin"))
    goto(admin, site, "/audit?action=submission.reviewed&user=karim")
    reviewed = {}
    for _when, who, action, _submission, details, _address in table_rows(admin):
        assert (who, action) == ("karim", "submission.reviewed")
        for instance_id in (first, second):
            if instance_id in details:
                reviewed.setdefault(instance_id, []).append(details)
    assert [len(reviewed[first]), len(reviewed[second])] == [1, 1], reviewed
    assert '"after": "approved"' in reviewed[first][0]
    assert '"after": "rejected"' in reviewed[second][0]
    assert '"before": "received"' in reviewed[second][0]

    # The Nineveh supervisor sees neither: not listed, and their pages are "not found".
    layla = open_page()
    sign_in(layla, site, site.person("layla"))
    goto(layla, site, LIST)
    assert sorted(listed(layla)) == sorted(site.instance_ids("nineveh"))
    assert state_counts(layla) == {"received": 3, "edited": 0, "hasIssues": 0, "approved": 0,
                                   "rejected": 0, "": 3}
    for instance_id in (first, second):
        goto(layla, site, f"{LIST}/{instance_id}", status=404)
        assert layla.locator("h1").inner_text() == "404"
        assert layla.locator(".problem").inner_text() == translated(
            "ar", "There is no such submission, or it is not available to you.")
        goto(layla, site, f"{LIST}/{instance_id}/diff?from={instance_id}&to={instance_id}",
             status=404)
    goto(layla, site, LIST)
    filter_list(layla, {"q": "officer"})  # a search (the sender's name) stays in her places
    assert sorted(listed(layla)) == sorted(site.instance_ids("nineveh"))
