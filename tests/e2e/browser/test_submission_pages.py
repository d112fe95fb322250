"""The rest of the review workspace, each test on meetings of its own district (sent by the phone
for it, so the tests share the server without seeing each other's changes): approving several
from the list at once; personal fields masked for a supervisor without the permission and shown
(and written to the audit log) for one with it; a photo's thumbnail opening the full photo; the
pages at a phone's width; an edit sent by the phone in the history and its differences; an
approval refused because the phone edited the meeting while it was read; an administrator
deleting a submission and restoring it."""

from __future__ import annotations

import pytest

from server.services.answers import MASK
from tests.e2e.browser.browsing import (
    ARABIC_DIGITS,
    answer,
    box,
    comments,
    filter_list,
    goto,
    listed,
    misaligned_text,
    review,
    row_states,
    screenshot,
    scrolls_sideways,
    sign_in,
    state_counts,
    submit,
    table_rows,
    translated,
    wait_for_map,
)
from tests.e2e.browser.conftest import PHONE_VIEWPORT, Person
from tests.e2e.browser.meetings import PHOTO_NAME, Meeting, photo_jpeg

pytestmark = pytest.mark.e2e

FORM = "forum_meeting"
LIST = f"/forms/{FORM}/submissions"
FACILITATOR = "النقيب هدى الجبوري"
HUDA = Person("huda", "supervisor", governorates=("baghdad",), personal_data=True)


def meeting(district: str, forum: str, **more) -> Meeting:
    return Meeting(governorate="baghdad", district=district, forum=forum, day="2026-11-20",
                   **more)


def page_of(meeting_: Meeting) -> str:
    return f"{LIST}/{meeting_.instance_id}"


@pytest.fixture(scope="module")
def photographed(site) -> Meeting:
    """A Mahmudiya meeting with a photo and its facilitator's name; and Huda, a Baghdad
    supervisor who may see personal fields."""
    site.add_person(HUDA)
    (sent,) = site.send_meetings(meeting("mahmudiya", "bgd_mahmudiya_01", women=5, men=9,
                                         facilitator=FACILITATOR, photo=photo_jpeg()))
    return sent


def test_a_supervisor_approves_two_meetings_at_once_from_the_list(open_page, watch, site):
    watch.allow_status(400)
    sent = site.send_meetings(*(meeting("kadhimiya", "bgd_kadhimiya_01", women=n, men=8)
                                for n in (2, 3, 4)))
    ids = [m.instance_id for m in sent]
    page = open_page()
    sign_in(page, site, site.person("karim"))
    goto(page, site, LIST)
    filter_list(page, {"district": "kadhimiya"})
    assert sorted(listed(page)) == sorted(ids)

    # Rejecting several needs a comment too: refused, nothing changed.
    page.locator("#submissions thead input[data-select-all]").check()
    assert page.locator("#bulk input[name=ids]:checked").count() == 3
    submit(page, page.locator("#bulk button[name=state][value=rejected]"), status=400)
    goto(page, site, LIST + "?district=kadhimiya")
    assert set(row_states(page).values()) == {"received"}

    for instance_id in ids[:2]:
        page.locator(f"#bulk input[name=ids][value='{instance_id}']").check()
    submit(page, page.locator("#bulk button[name=state][value=approved]"))
    assert page.url.endswith(LIST + "?district=kadhimiya")  # back on the same filtered list
    assert row_states(page) == {ids[0]: "approved", ids[1]: "approved", ids[2]: "received"}
    assert state_counts(page) == {"received": 1, "edited": 0, "hasIssues": 0, "approved": 2,
                                  "rejected": 0, "": 3}
    goto(page, site, page_of(sent[0]))
    assert comments(page) == [("karim", "approved", "")]


def test_personal_fields_are_masked_without_the_permission(open_page, site, photographed):
    karim = open_page()
    sign_in(karim, site, site.person("karim"))
    goto(karim, site, page_of(photographed))
    for path in ("/facilitator", "/photo_1"):
        value = answer(karim, path).locator(".value")
        assert value.get_attribute("class") == "value masked" and value.inner_text() == MASK
    assert FACILITATOR not in karim.content() and PHOTO_NAME not in karim.content()
    assert karim.locator("img.thumbnail").count() == 0
    assert answer(karim, "/district").locator(".value").inner_text() == "المحمودية"

    huda = open_page()
    sign_in(huda, site, site.person("huda"))
    goto(huda, site, page_of(photographed))
    assert answer(huda, "/facilitator").locator(".value").inner_text() == FACILITATOR

    admin = open_page()
    sign_in(admin, site, site.person("admin"))
    goto(admin, site, "/audit?action=submission.personal_viewed")
    seen = [row for row in table_rows(admin) if photographed.instance_id in row[4]]
    assert seen and {row[1] for row in seen} == {"huda"}, seen  # Karim saw nothing personal
    assert '"/facilitator"' in seen[0][4] and '"/photo_1"' in seen[0][4]


def test_a_thumbnail_opens_the_full_photo(open_page, site, photographed):
    page = open_page()
    sign_in(page, site, site.person("huda"))
    goto(page, site, page_of(photographed))
    thumbnail = answer(page, "/photo_1").locator("img.thumbnail")
    thumbnail.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=thumbnail.element_handle())
    small = thumbnail.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert max(small) == 320 and small[0] > small[1], small  # a 320 px JPEG, landscape kept
    assert thumbnail.get_attribute("alt") == answer(page, "/photo_1").locator(
        ".label").inner_text() == "صورة ١"
    wait_for_map(page)
    page.evaluate("() => window.scrollTo(0, 0)")
    assert misaligned_text(page, "#answers .answer .value") == []  # the photo too
    screenshot(page, "submission")
    photo = answer(page, "/photo_1")
    photo.evaluate("e => e.scrollIntoView({block: 'start'})")
    top, column, bottom = box(page, "#answers .answer[data-path='/photo_1']"), \
        box(page, ".main-column"), box(page, ".map-box")
    screenshot(page, "submission-map", clip={
        "x": column["x"] - 8, "y": top["y"], "width": column["width"] + 16,
        "height": bottom["y"] + bottom["height"] - top["y"] + 8})

    response = submit(page, thumbnail)
    assert response.headers["content-type"] == "image/jpeg"
    assert page.locator("img").evaluate("img => [img.naturalWidth, img.naturalHeight]") == [
        1280, 960]


def test_the_review_pages_fit_a_phone_screen(open_page, site, photographed):
    page = open_page(viewport=PHONE_VIEWPORT)
    sign_in(page, site, site.person("huda"))
    # On the list the table, wider than a phone, scrolls in a box of its own.
    for path, parts in ((LIST, ("main h1", "#state-counts", "div.scroll:has(#submissions)",
                                "#bulk fieldset")),
                        (page_of(photographed), ("main h1", "#answers", "#map", "img.thumbnail",
                                                 "#facts", "#review", "#comments"))):
        goto(page, site, path)
        if path != LIST:
            wait_for_map(page)
        assert not scrolls_sideways(page), f"{path} is wider than a phone's screen"
        for part in parts:
            found = box(page, part)
            assert found["x"] >= 0 and found["x"] + found["width"] <= PHONE_VIEWPORT["width"], (
                path, part, found)
    screenshot(page, "submission-phone")


def test_an_edit_sent_by_the_phone_shows_in_the_history_with_its_changes(open_page, site):
    (original,) = site.send_meetings(meeting("sadr_1", "bgd_sadr_01", women=2, men=7,
                                             issue="انقطاع الماء عن الحي منذ أسبوع"))
    edit = site.edit_meeting(original, women=3, issue="انقطاع الماء عن الحي منذ أسبوعين")
    page = open_page()
    sign_in(page, site, site.person("karim"))
    goto(page, site, LIST)
    filter_list(page, {"district": "sadr_1"})
    assert row_states(page) == {original.instance_id: "edited"}  # one meeting, not two

    goto(page, site, page_of(original))
    assert page.locator("main .state").first.get_attribute("class") == "state state-edited"
    versions = page.locator("#history .versions li")
    assert versions.locator("code").all_inner_texts() == [original.instance_id, edit]
    assert versions.nth(1).locator(".tag").inner_text() == translated("ar", "current")
    assert answer(page, "/issue[1]/issue_description").locator(".value").inner_text() == \
        "انقطاع الماء عن الحي منذ أسبوعين"

    submit(page, versions.nth(1).locator("a"))
    assert page.locator("main h1").inner_text() == translated(
        "ar", "Changes between two versions")
    changed = {row[0].split()[-1]: row[1:] for row in table_rows(page, "#diff")}
    assert changed == {  # (the totals the form calculates are not shown, nor compared)
        "/attendance_police/police_women": ["2", "3"],
        "/issue[1]/issue_description": ["انقطاع الماء عن الحي منذ أسبوع",
                                        "انقطاع الماء عن الحي منذ أسبوعين"],
    }, changed
    screenshot(page, "submission-diff")


def test_approving_a_meeting_the_phone_edited_meanwhile_shows_the_changes(open_page, watch,
                                                                           site):
    watch.allow_status(409)
    (original,) = site.send_meetings(meeting("rusafa", "bgd_rusafa_01", women=4, men=6))
    page = open_page()
    sign_in(page, site, site.person("karim"))
    goto(page, site, page_of(original))
    site.edit_meeting(original, women=5)  # while Karim reads

    review(page, "approved", "الأرقام صحيحة", status=409)
    notice = page.locator("#stale")
    assert notice.locator("h2").inner_text() == translated(
        "ar", "This submission changed after you opened it")
    changed = {row[0].split()[-1]: row[1:] for row in table_rows(page, "#stale-changes")}
    assert changed == {"/attendance_police/police_women": ["4", "5"]}, changed
    assert page.locator("main .state").first.get_attribute("class") == "state state-edited"
    assert page.locator("form#review textarea").input_value() == "الأرقام صحيحة"

    review(page, "approved", "الأرقام صحيحة")  # now on the version just read
    assert page.locator("main .state").first.get_attribute("class") == "state state-approved"


def test_an_administrator_deletes_a_submission_and_restores_it(open_page, watch, site):
    watch.allow_status(404)
    (doomed,) = site.send_meetings(meeting("abu_ghraib", "bgd_abu_ghraib_01"))
    page = open_page()
    sign_in(page, site, site.person("admin"))
    goto(page, site, page_of(doomed))
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    form = page.locator("form#delete")
    form.locator("input[name=comment]").fill("أرسلت مرتين بالخطأ")
    submit(page, form.locator("button[type=submit]"))
    assert asked == [translated("ar", "Delete this submission?")]
    assert page.url.endswith(LIST) and doomed.instance_id not in listed(page)
    goto(page, site, page_of(doomed), status=404)

    karim = open_page()
    sign_in(karim, site, site.person("karim"))
    goto(karim, site, LIST)
    assert doomed.instance_id not in listed(karim)

    goto(page, site, f"/forms/{FORM}/deleted")
    row = page.locator(f"#deleted tr[data-instance-id='{doomed.instance_id}']")
    assert int(row.locator(".days-left").inner_text().translate(ARABIC_DIGITS)) == 30
    submit(page, row.locator("button[type=submit]"))
    assert page.url.endswith(page_of(doomed))
    goto(page, site, f"/forms/{FORM}/deleted")
    assert page.locator(f"#deleted tr[data-instance-id='{doomed.instance_id}']").count() == 0
    goto(karim, site, LIST)
    assert doomed.instance_id in listed(karim)
