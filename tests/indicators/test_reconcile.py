"""Every indicator of the programme, computed in SQL, against the same figures counted by hand
from a generated year of data (tests.support.indicator_data): by governorate, by forum and by
month, for 2026 only (the data spill into 2025 and 2027), with dates in Iraq's time."""

from __future__ import annotations

from collections import Counter, defaultdict
from statistics import mean

import pytest
import sqlalchemy as sa

from server.database.models import AppUser, User
from server.services import indicators
from server.services.accounts import set_app_user_places
from server.services.indicators import Period
from tests.support.indicator_data import (
    GROUPS,
    PLACES,
    closing_xml,
    meeting_xml,
    referral_xml,
    training_xml,
    year_of_data,
)

YEAR = Period.year(2026)


@pytest.fixture
def phone(make_phone, session):
    """An officer's phone tied to every governorate of the data: it may update their cases."""
    phone = make_phone("officer")
    app_user = session.scalars(sa.select(AppUser).where(AppUser.name == "officer")).one()
    set_app_user_places(app_user, [("governorate", g) for g in {p[0] for p in PLACES}])
    session.commit()
    return phone


@pytest.fixture
def data(programme, phone):
    meetings, trainings, referrals = year_of_data()
    for xml in ([meeting_xml(m) for m in meetings] + [training_xml(t) for t in trainings]
                + [referral_xml(r) for r in referrals]
                + [closing_xml(r) for r in referrals if r.closed_on]):
        reply = phone.submit(xml)
        assert reply.status == 201, reply.body
    return ([m for m in meetings if m.day.year == 2026],
            [t for t in trainings if t.day.year == 2026],
            [r for r in referrals if r.day.year == 2026])


@pytest.fixture
def admin_user(session, make_user) -> User:
    return make_user("head", "administrator", personal_data=True)


def computed(session, user, by=("governorate",)) -> dict[str, indicators.Result]:
    session.rollback()
    return {r.indicator.id: r for r in indicators.compute(session, user, YEAR, by)}


def table(result: indicators.Result, dimension: str) -> dict:
    """{(place, split): {series: value}}"""
    return {(f.group[dimension], f.split): f.values for f in result.figures}


def test_every_indicator_reconciles_by_governorate(session, data, admin_user):
    meetings, trainings, referrals = data
    results = computed(session, admin_user)
    assert not [r.indicator.id for r in results.values() if r.unavailable]

    by_gov = defaultdict(list)
    for m in meetings:
        by_gov[m.place[0]].append(m)
    assert table(results["meetings_held"], "governorate") == {
        (g, None): {"value": len(ms)} for g, ms in by_gov.items()}
    assert table(results["forums_active"], "governorate") == {
        (g, None): {"value": len({m.place[2] for m in ms})} for g, ms in by_gov.items()}
    women = {g: sum(w for m in ms for w, _ in m.attendance.values()) for g, ms in by_gov.items()}
    men = {g: sum(n for m in ms for _, n in m.attendance.values()) for g, ms in by_gov.items()}
    assert table(results["attendance_by_sex"], "governorate") == {
        (g, None): {"women": women[g], "men": men[g]} for g in by_gov}
    assert table(results["attendance_by_group"], "governorate") == {
        (g, None): {group: sum(sum(m.attendance[group]) for m in ms) for group in GROUPS}
        for g, ms in by_gov.items()}
    shares = table(results["women_share"], "governorate")
    for g in by_gov:
        assert shares[(g, None)]["value"] == pytest.approx(
            100 * women[g] / (women[g] + men[g]))
    (total_share,) = results["women_share"].totals
    assert total_share.values["value"] == pytest.approx(
        100 * sum(women.values()) / (sum(women.values()) + sum(men.values())))

    issues = Counter((m.place[0], category) for m in meetings for category, *_ in m.issues)
    assert table(results["issues_by_category"], "governorate") == {
        key: {"value": n} for key, n in issues.items()}
    priorities = Counter((m.place[0], p) for m in meetings for _, p, _, _ in m.issues)
    assert table(results["issues_by_priority"], "governorate") == {
        key: {"value": n} for key, n in priorities.items()}
    cut = min(indicators.date.today(), YEAR.end)
    actions = {g: {"agreed": sum(1 for m in ms for _, _, agreed, _ in m.issues if agreed),
                   "overdue": sum(1 for m in ms for _, _, agreed, due in m.issues
                                  if agreed and due < cut)}
               for g, ms in by_gov.items() if any(m.issues for m in ms)}
    assert {k[0]: v for k, v in table(results["actions"], "governorate").items()} == actions

    assert table(results["referrals_by_category"], "governorate") == {
        key: {"value": n} for key, n in Counter((r.place[0], r.category)
                                                for r in referrals).items()}
    assert table(results["referrals_by_agency"], "governorate") == {
        key: {"value": n} for key, n in Counter((r.place[0], r.agency)
                                                for r in referrals).items()}
    assert table(results["referrals_by_status"], "governorate") == {
        key: {"value": n} for key, n in Counter(
            (r.place[0], "closed" if r.closed_on else "open") for r in referrals).items()}
    closed = defaultdict(list)
    for r in referrals:
        if r.closed_on:
            closed[r.place[0]].append((r.closed_on - r.day).days)
    days = table(results["days_to_close"], "governorate")
    assert set(days) == {(g, None) for g in closed}
    for g, spans in closed.items():
        assert days[(g, None)]["value"] == pytest.approx(mean(spans))

    assert table(results["trainings_held"], "governorate") == {
        key: {"value": n} for key, n in Counter((t.place[0], t.event) for t in trainings).items()}
    assert table(results["participants_by_sex"], "governorate") == {
        key: {"value": n} for key, n in Counter(
            (t.place[0], sex) for t in trainings for sex, *_ in t.participants).items()}
    assert table(results["participants_by_role"], "governorate") == {
        key: {"value": n} for key, n in Counter(
            (t.place[0], role) for t in trainings for _, role, _, _ in t.participants).items()}
    scores = table(results["test_scores"], "governorate")
    for g in {t.place[0] for t in trainings}:
        people = [p for t in trainings if t.place[0] == g for p in t.participants]
        assert scores[(g, None)]["pre"] == pytest.approx(mean(p[2] for p in people))
        assert scores[(g, None)]["post"] == pytest.approx(mean(p[3] for p in people))


def test_the_totals_over_every_place(session, data, admin_user):
    meetings, trainings, referrals = data
    results = computed(session, admin_user, by=("month",))

    def total(indicator: str, series: str = "value"):
        (only,) = results[indicator].totals
        return only.values[series]
    assert total("meetings_held") == len(meetings)
    # a forum meets in many months: the forums active in the year are counted once each
    assert total("forums_active") == len({m.place[2] for m in meetings})
    assert total("attendance_by_group", "police") == sum(sum(m.attendance["police"])
                                                         for m in meetings)
    people = [p for t in trainings for p in t.participants]
    assert total("test_scores", "post") == pytest.approx(mean(p[3] for p in people))
    spans = [(r.closed_on - r.day).days for r in referrals if r.closed_on]
    assert total("days_to_close") == pytest.approx(mean(spans))
    assert {f.split: f.values["value"] for f in results["participants_by_sex"].totals} == \
        Counter(sex for sex, *_ in people)


def test_by_month_and_by_forum_in_iraq_s_time(session, data, admin_user):
    meetings, _trainings, referrals = data
    results = computed(session, admin_user, by=("forum", "month"))
    held = Counter((m.place[2], m.day.strftime("%Y-%m")) for m in meetings)
    assert {(f.group["forum"], f.group["month"]): f.values["value"]
            for f in results["meetings_held"].figures} == held
    # a referral at 01:30 in Iraq on the 1st is still the previous day in UTC: it counts here
    by_month = Counter((r.place[2], r.day.strftime("%Y-%m"), r.category) for r in referrals)
    assert {(f.group["forum"], f.group["month"], f.split): f.values["value"]
            for f in results["referrals_by_category"].figures} == by_month
