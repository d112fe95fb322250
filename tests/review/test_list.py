"""The list of a form's submissions: filters, counts per state, sorting and keyset paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from server.database.models import Submission
from server.kernel.i18n import LOCAL_TIME
from tests.review.conftest import LIST, counts, listed


def test_every_filter_keeps_what_it_names(send, browser_for, backdate):
    mosul = send(governorate="nineveh", district="mosul", forum="nin_mosul_01",
                 notes="Water tanker late")
    ramadi = send(governorate="anbar", district="ramadi", forum="anb_ramadi_01",
                  attachments={}, photos=("meeting.jpg",))
    karkh = send(governorate="baghdad", district="karkh", forum="bgd_karkh_01")
    backdate(karkh, 10)
    admin = browser_for("administrator")

    assert set(listed(admin.get(LIST))) == {mosul, ramadi, karkh}
    assert listed(admin.get(LIST + "?governorate=nineveh")) == [mosul]
    assert listed(admin.get(LIST + "?district=ramadi")) == [ramadi]
    assert listed(admin.get(LIST + "?forum=bgd_karkh_01")) == [karkh]
    assert listed(admin.get(LIST + "?incomplete=1")) == [ramadi]
    assert listed(admin.get(LIST + "?q=tanker")) == [mosul]
    assert listed(admin.get(LIST + "?q=TANKER")) == [mosul]
    assert listed(admin.get(LIST + "?q=100%25")) == []
    assert set(listed(admin.get(LIST + "?submitter=officer"))) == {mosul, ramadi, karkh}
    assert listed(admin.get(LIST + "?submitter=someone-else")) == []
    assert len(listed(admin.get(LIST + "?version=2026120201"))) == 3
    assert listed(admin.get(LIST + "?version=1")) == []
    today = datetime.now(UTC).astimezone(LOCAL_TIME).date()
    old = today - timedelta(days=10)
    assert set(listed(admin.get(f"{LIST}?from={today}"))) == {mosul, ramadi}
    assert listed(admin.get(f"{LIST}?to={old}")) == [karkh]
    assert listed(admin.get(f"{LIST}?from={old}&to={old}")) == [karkh]
    assert listed(admin.get(f"{LIST}?from=not-a-date")) != []


def test_dates_are_baghdad_days(send, browser_for, session):
    """Submitted at 22:30 UTC is the next day in Baghdad (UTC+3)."""
    late = send()
    moment = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
    submission = session.scalar(sa.select(Submission).where(Submission.instance_id == late))
    from server.database import projection
    from server.database.queries import forms as form_queries

    root = projection.load(session, form_queries.get_form(session, "forum_meeting")).root
    session.execute(sa.update(root).values(_submitted_at=moment))
    submission.created_at = moment
    session.commit()
    admin = browser_for("administrator")
    assert listed(admin.get(f"{LIST}?from=2026-11-21&to=2026-11-21")) == [late]
    assert listed(admin.get(f"{LIST}?to=2026-11-20")) == []


def test_counts_per_state_follow_the_other_filters_but_not_the_state(send, browser_for):
    ids = [send(governorate="nineveh", district="mosul", forum="nin_mosul_01")
           for _ in range(3)]
    send(governorate="anbar", district="ramadi", forum="anb_ramadi_01")
    admin = browser_for("administrator")
    admin.post(f"{LIST}/{ids[0]}/review", {"state": "approved"})
    admin.post(f"{LIST}/{ids[1]}/review", {"state": "rejected", "comment": "duplicate"})

    page = admin.get(LIST + "?governorate=nineveh&state=approved")
    assert listed(page) == [ids[0]]
    assert counts(page) == {"received": 1, "edited": 0, "hasIssues": 0, "approved": 1,
                            "rejected": 1}
    assert counts(admin.get(LIST))["received"] == 2
    assert 'data-state="approved"' in page.get_data(as_text=True)


def test_newest_first_by_default_and_oldest_on_request(send, browser_for, backdate):
    ids = [send() for _ in range(3)]
    for age, instance_id in enumerate(reversed(ids)):
        backdate(instance_id, age)
    admin = browser_for("administrator")
    assert listed(admin.get(LIST)) == list(reversed(ids))
    assert listed(admin.get(LIST + "?sort=newest")) == list(reversed(ids))
    assert listed(admin.get(LIST + "?sort=oldest")) == ids


def test_keyset_pages_have_no_duplicates_and_no_gaps(send, browser_for, backdate,
                                                      monkeypatch):
    from server.surfaces.pages import review_list

    monkeypatch.setattr(review_list, "PAGE", 4)
    ids = [send() for _ in range(11)]
    backdate(ids[3], 1)  # one out of arrival order
    admin = browser_for("administrator")
    for sort in ("newest", "oldest"):
        seen, url = [], f"{LIST}?sort={sort}&governorate=anbar"
        while url:
            page = admin.get(url if url.startswith("/") else LIST + url)
            seen += listed(page)
            assert "OFFSET" not in page.get_data(as_text=True)
            url = _next(page)
        assert sorted(seen) == sorted(ids) and len(seen) == 11
        assert seen == listed(admin.get(f"{LIST}?sort={sort}&governorate=anbar")) + seen[4:]
        assert (seen[-1] == ids[3]) == (sort == "newest")


def _next(page) -> str | None:
    import html
    import re

    match = re.search(r'<a href="([^"]+)" rel="next">', page.get_data(as_text=True))
    return html.unescape(match.group(1)) if match else None


def test_the_filter_form_and_bulk_form_are_as_the_browser_tests_expect(send, browser_for):
    one = send()
    page = browser_for("supervisor", scopes=[("governorate", "anbar")]).get(
        LIST + "?lang=ar").get_data(as_text=True)
    assert '<form id="filters" method="get"' in page
    for name in ("state", "governorate", "district", "forum"):
        assert f'<select name="{name}">' in page
    for name in ("from", "to", "submitter", "q"):
        assert f'name="{name}"' in page
    assert "الأنبار" in page  # governorate's choice label in Arabic
    assert f'<form id="bulk" method="post" action="{LIST}/review">' in page
    assert f'<input type="checkbox" name="ids" value="{one}"' in page
    assert '<span class="state state-received">' in page
    assert 'name="state" value="approved"' in page and 'name="state" value="rejected"' in page
    assert 'dir="rtl"' in page


def test_an_unknown_form_is_404(browser_for):
    assert browser_for("administrator").get("/forms/nothing/submissions").status_code == 404


def test_the_lists_indexes_come_with_the_tables_and_a_list_only_reads(
        programme, send, browser_for, app, session):
    """Loading a form gives its table the list's indexes (order, state, each place with the
    state); opening the list adds none: a GET only reads."""
    from server.database import per_request, projection
    from server.database.queries import forms as form_queries

    root = projection.load(session, form_queries.get_form(session, "forum_meeting")).root.name
    session.rollback()

    def indexes() -> set[str]:
        return {i["name"] for i in sa.inspect(per_request.of(app).engine).get_indexes(root)}
    made = indexes()
    assert {n for n in made if "_review_" in n} == {f"ix_{root}_review_{suffix}" for suffix in (
        "order", "state", "place_governorate", "place_district", "place_forum")}
    send()
    assert browser_for("administrator").get(LIST).status_code == 200
    assert indexes() == made
