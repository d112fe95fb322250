"""Row-level scope: a supervisor sees and reviews only their places; other roles' limits."""

from __future__ import annotations

import re

import pytest

from tests.review.conftest import LIST, counts, listed


@pytest.fixture
def two(send):
    return {"anbar": send(governorate="anbar", district="ramadi", forum="anb_ramadi_01"),
            "nineveh": send(governorate="nineveh", district="mosul", forum="nin_mosul_01")}


def test_a_supervisor_lists_and_counts_only_their_governorates(two, browser_for):
    supervisor = browser_for("supervisor", scopes=[("governorate", "anbar")])
    page = supervisor.get(LIST)
    assert listed(page) == [two["anbar"]]
    assert counts(page)["received"] == 1
    assert listed(supervisor.get(LIST + "?governorate=nineveh")) == []


def test_a_forum_scope_works_like_a_governorate(two, browser_for):
    supervisor = browser_for("supervisor", scopes=[("forum", "nin_mosul_01")])
    assert listed(supervisor.get(LIST)) == [two["nineveh"]]


def test_another_governorates_submission_is_404_like_a_missing_one(two, browser_for):
    supervisor = browser_for("supervisor", scopes=[("governorate", "anbar")])
    other = f"{LIST}/{two['nineveh']}"
    missing = supervisor.get(f"{LIST}/uuid:00000000-0000-0000-0000-000000000000")
    assert supervisor.get(f"{LIST}/{two['anbar']}").status_code == 200
    for response in (supervisor.get(other), supervisor.get(other + "/diff?from=a&to=b"),
                     supervisor.post(other + "/review", {"state": "approved"}),
                     supervisor.post(other + "/comments", {"comment": "hello"}),
                     supervisor.get(other + "/attachments/x.jpg")):
        assert response.status_code == 404
        assert response.get_data() .count(b"404.10") == missing.get_data().count(b"404.10") == 1


def test_bulk_review_with_an_out_of_scope_id_changes_nothing(two, browser_for, session):
    supervisor = browser_for("supervisor", scopes=[("governorate", "anbar")])
    response = supervisor.post(f"{LIST}/review", {"ids": [two["anbar"], two["nineveh"]],
                                                  "state": "approved"})
    assert response.status_code == 404
    admin = browser_for("administrator")
    assert counts(admin.get(LIST))["approved"] == 0


def test_a_supervisor_without_places_sees_nothing(two, browser_for):
    assert listed(browser_for("supervisor").get(LIST)) == []


def test_an_analyst_reads_but_cannot_review_comment_or_delete(two, browser_for):
    analyst = browser_for("analyst")
    page = analyst.get(f"{LIST}/{two['anbar']}")
    assert page.status_code == 200
    assert b'id="review"' not in page.data and b'name="ids"' not in analyst.get(LIST).data
    base = f"{LIST}/{two['anbar']}"
    for path, data in ((base + "/review", {"state": "approved"}),
                       (base + "/comments", {"comment": "x"}),
                       (base + "/delete", {}), (base + "/restore", {}),
                       (f"{LIST}/review", {"ids": two["anbar"], "state": "approved"})):
        assert analyst.post(path, data).status_code == 403, path
    assert analyst.get("/forms/forum_meeting/deleted").status_code == 403


def test_a_supervisor_cannot_delete(two, browser_for):
    supervisor = browser_for("supervisor", scopes=[("governorate", "anbar")])
    assert supervisor.post(f"{LIST}/{two['anbar']}/delete").status_code == 403
    assert b'id="delete"' not in supervisor.get(f"{LIST}/{two['anbar']}").data


def test_signed_out_readers_are_sent_to_log_in(two, client):
    response = client.get(f"{LIST}/{two['anbar']}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _offered(response, name: str) -> list[str]:
    page = response.get_data(as_text=True)
    menu = re.search(rf'<select name="{name}">(.*?)</select>', page, re.S)
    return [value for value in re.findall(r'<option value="([^"]*)"', menu.group(1)) if value]


def test_a_supervisors_filter_menus_offer_only_their_places(two, send, browser_for):
    send(governorate="anbar", district="fallujah", forum="anb_fallujah_01")
    anbar_side = browser_for("supervisor", scopes=[("governorate", "anbar")]).get(LIST)
    assert _offered(anbar_side, "governorate") == ["anbar"]
    assert sorted(_offered(anbar_side, "district")) == ["fallujah", "ramadi"]
    assert sorted(_offered(anbar_side, "forum")) == ["anb_fallujah_01", "anb_ramadi_01"]
    assert "nin_mosul_01" not in anbar_side.get_data(as_text=True)


def test_a_forum_supervisors_menus_offer_their_forum_and_its_places(two, browser_for):
    page = browser_for("supervisor", username="salim", scopes=[("forum", "nin_mosul_01")]).get(
        LIST)
    assert _offered(page, "governorate") == ["nineveh"]
    assert _offered(page, "district") == ["mosul"]
    assert _offered(page, "forum") == ["nin_mosul_01"]


def test_an_administrators_menus_offer_every_place(two, browser_for):
    page = browser_for("administrator").get(LIST)
    assert {"anbar", "basra", "nineveh"} <= set(_offered(page, "governorate"))
    assert {"anb_ramadi_01", "nin_mosul_01"} <= set(_offered(page, "forum"))
