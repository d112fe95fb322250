"""What the indicators count and who sees what: rejected submissions, deleted ones and earlier
versions of edited ones never count; a reader sees only their places; a count under 5 in a
sensitive referral category is withheld from readers without the personal-data permission."""

from __future__ import annotations

from datetime import date

import pytest

from server.database.queries import forms as form_queries
from server.database.queries import submissions as submission_queries
from server.services import deletion, indicators, reviewing
from server.services.indicators import Period
from tests.support.indicator_data import Meeting, Referral, meeting_xml, referral_xml

YEAR = Period.year(2026)
ANBAR = ("anbar", "ramadi", "anb_ramadi_01")
NINEVEH = ("nineveh", "mosul", "nin_qayyarah_01")


def meeting(place=ANBAR, women=2, **options) -> Meeting:
    return Meeting(place, date(2026, 5, 1), {"police": (women, 1)}, [], **options)


def held(session, user, indicator="meetings_held") -> dict:
    session.rollback()
    (result,) = indicators.compute(session, user, YEAR, ("governorate",), only=[indicator])
    return {(f.group["governorate"], f.split): (f.values["value"], f.withheld)
            for f in result.figures}


@pytest.fixture
def head(make_user):
    return make_user("head", "administrator", personal_data=True)


def test_rejected_deleted_and_replaced_versions_never_count(programme, phone, session, head):
    kept, rejected, deleted, edited = (meeting() for _ in range(4))
    for m in (kept, rejected, deleted, edited):
        assert phone.submit(meeting_xml(m)).status == 201
    # the edit replaces its first version: women 2 becomes 5, still one meeting
    second = meeting(women=5, instance_id="uuid:edited-2")
    assert phone.submit(meeting_xml(second).replace(
        b"</instanceID>", f"</instanceID><deprecatedID>{edited.instance_id}</deprecatedID>"
        .encode())).status == 201
    form = form_queries.get_form(session, "forum_meeting")
    view = reviewing.form_view(session, "forum_meeting", head)
    found = submission_queries.by_instance_id(session, form, rejected.instance_id)
    reviewing.review(view, [(found, rejected.instance_id)], "rejected", "A test meeting.", address=None)
    deletion.delete(session, form, submission_queries.by_instance_id(
        session, form, deleted.instance_id), user=head, address=None)
    session.commit()

    assert held(session, head) == {("anbar", None): (2, set())}
    (attendance,) = indicators.compute(session, head, YEAR, (), only=["attendance_by_sex"])
    assert attendance.totals[0].values == {"women": 2 + 5, "men": 2}


def test_a_reader_sees_only_their_places(programme, phone, session, head, make_user):
    for place in (ANBAR, ANBAR, NINEVEH):
        assert phone.submit(meeting_xml(meeting(place))).status == 201
    nineveh = make_user("sup", "supervisor", scopes=[("governorate", "nineveh")])
    assert held(session, nineveh) == {("nineveh", None): (1, set())}
    assert held(session, head) == {("anbar", None): (2, set()), ("nineveh", None): (1, set())}
    nobody = make_user("lost", "supervisor")  # a supervisor with no places sees nothing
    assert held(session, nobody) == {}


def test_small_counts_of_sensitive_categories_are_withheld_without_the_permission(
        programme, phone, session, head, make_user):
    """gbv is a category the referral form marks sensitive, theft is not."""
    for n in range(10):
        place = NINEVEH if n in (0, 9) else ANBAR
        category = "gbv" if n < 3 else "theft"
        assert phone.submit(referral_xml(Referral(place, date(2026, 3, 3), 10, category,
                                                  "court" if n < 8 else "ngo", None))
                            ).status == 201
    analyst = make_user("ana", "analyst")
    assert held(session, analyst, "referrals_by_category") == {
        ("anbar", "gbv"): (None, {"value"}), ("nineveh", "gbv"): (None, {"value"}),
        ("anbar", "theft"): (6, set()), ("nineveh", "theft"): (1, set())}
    assert held(session, head, "referrals_by_category") == {
        ("anbar", "gbv"): (2, set()), ("nineveh", "gbv"): (1, set()),
        ("anbar", "theft"): (6, set()), ("nineveh", "theft"): (1, set())}
    (result,) = indicators.compute(session, analyst, YEAR, ("governorate",),
                                   only=["referrals_by_category"])
    totals = {f.split: (f.values["value"], f.text("value")) for f in result.totals}
    assert totals == {"gbv": (None, "<5"), "theft": (7, None)}
    # by agency, any referral may be a sensitive one: every small count is withheld, and the
    # total does not give one back by subtraction
    (agency,) = indicators.compute(session, analyst, YEAR, ("governorate",),
                                   only=["referrals_by_agency"])
    cells = {(f.group["governorate"], f.split): (f.values["value"], f.text("value"))
             for f in agency.figures}
    assert cells == {("anbar", "court"): (7, None), ("nineveh", "court"): (None, "<5"),
                     ("anbar", "ngo"): (None, "<5"), ("nineveh", "ngo"): (None, "<5")}
    assert {f.split: f.text("value") or f.values["value"] for f in agency.totals} == {
        "court": "7+", "ngo": "<5"}
    # meetings are not sensitive: small counts show
    assert phone.submit(meeting_xml(meeting())).status == 201
    assert held(session, analyst) == {("anbar", None): (1, set())}
