"""The supervisors' Cases pages: the cases of their places, filtered by place, status, overdue
follow-up and conflict; each case's history (who changed what, from which submission) and the
updates held or refused; another place's case is not there, not even by its address."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from server.database.models import AppUser, AppUserPlace
from server.kernel import i18n
from server.surfaces.pages import cases as cases_page
from tests.support.cases import (
    FOLLOW_UP,
    REFERRAL,
    case_instance,
    entity,
    follow_up,
    referral,
    with_entities,
)
from tests.support.xlsforms import xlsform

# A form that opens a case anywhere, with the programme's follow-up date property.
OPENING = with_entities(xlsform("""
    | | type | name | label | save_to |
    | | text | reference | Reference | |
    | | text | governorate | Governorate | governorate |
    | | text | forum | Forum | forum |
    | | text | status | Status | status |
    | | date | follow_up_date | Next follow-up | follow_up_date |
""", form_id="case_opening", version="1"), """
    | | list_name | label |
    | | cases | ${reference} |
""")


@pytest.fixture
def forms(load):
    load(REFERRAL)
    load(FOLLOW_UP)
    load(OPENING)


@pytest.fixture
def placed_phone(make_phone, session):
    def _make(name: str, forum: str | None = None):
        phone = make_phone(name)
        if forum is not None:
            app_user = session.scalars(sa.select(AppUser).where(AppUser.name == name)).one()
            session.add(AppUserPlace(app_user_id=app_user.id, kind="forum", value=forum))
            session.commit()
        return phone
    return _make


@pytest.fixture
def opener(forms, placed_phone):
    """A phone tied to no place, which may open a case anywhere."""
    phone = placed_phone("opener")

    def open_case(reference: str, governorate: str, forum: str, *, status: str = "open",
                  follow_up_date: str = "") -> str:
        case_id = str(uuid.uuid4())
        reply = phone.submit(case_instance("case_opening", "1", {
            "reference": reference, "governorate": governorate, "forum": forum,
            "status": status, "follow_up_date": follow_up_date,
        }, entity(case_id, create="1", label=reference)))
        assert reply.status == 201
        return case_id
    return open_case


def listed(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'data-case-id="([^"]+)"', response.get_data(as_text=True))


def today() -> str:
    return datetime.now(i18n.LOCAL_TIME).date().isoformat()


def day(offset: int) -> str:
    return (datetime.now(i18n.LOCAL_TIME).date() + timedelta(days=offset)).isoformat()


@pytest.fixture
def three(opener):
    return {"basra": opener("B-1", "Basra", "F1"),
            "basra_f2": opener("B-2", "Basra", "F2", status="closed"),
            "nineveh": opener("N-1", "Nineveh", "N1")}


def test_a_supervisor_lists_only_the_cases_of_their_places_the_last_changed_first(
        three, browser_for):
    basra = browser_for("supervisor", scopes=[("governorate", "Basra")])
    assert listed(basra.get("/cases")) == [three["basra_f2"], three["basra"]]
    forum = browser_for("supervisor", scopes=[("forum", "N1")])
    assert listed(forum.get("/cases")) == [three["nineveh"]]
    assert listed(browser_for("supervisor").get("/cases")) == []  # no places: nothing
    assert set(listed(browser_for("administrator").get("/cases"))) == set(three.values())


def test_the_list_filters_by_governorate_forum_status_and_text(three, browser_for):
    admin = browser_for("administrator")
    assert listed(admin.get("/cases?governorate=Nineveh")) == [three["nineveh"]]
    assert listed(admin.get("/cases?forum=F2")) == [three["basra_f2"]]
    assert set(listed(admin.get("/cases?status=open"))) == {three["basra"], three["nineveh"]}
    assert listed(admin.get("/cases?q=N-1")) == [three["nineveh"]]
    # a scoped reader's filter never reaches past their places
    basra = browser_for("supervisor", scopes=[("governorate", "Basra")])
    assert listed(basra.get("/cases?governorate=Nineveh")) == []
    menu = basra.get("/cases").get_data(as_text=True)
    assert '<option value="Basra"' in menu and "Nineveh" not in menu


def test_overdue_follow_ups_are_those_before_today_of_cases_not_closed(opener, browser_for):
    late = opener("L-1", "Basra", "F1", follow_up_date=day(-1))
    opener("C-1", "Basra", "F1", status="closed", follow_up_date=day(-3))  # closed: never late
    opener("T-1", "Basra", "F1", follow_up_date=today())  # due today: not yet late
    opener("S-1", "Basra", "F1", follow_up_date=day(7))
    opener("U-1", "Basra", "F1")  # no date at all
    admin = browser_for("administrator")
    response = admin.get("/cases?overdue=1")
    assert listed(response) == [late]
    assert 'class="overdue"' in response.get_data(as_text=True)
    assert 'class="tag overdue"' in admin.get(f"/cases/{late}").get_data(as_text=True)


def test_cases_in_conflict_are_found_by_their_filter(forms, placed_phone, browser_for):
    officer, colleague = placed_phone("officer", "F1"), placed_phone("colleague", "F1")
    quiet, disputed = str(uuid.uuid4()), str(uuid.uuid4())
    officer.submit(referral(quiet))
    officer.submit(referral(disputed, label="R2 theft F1"))
    officer.submit(follow_up(disputed, "in_progress", base=1))
    colleague.submit(follow_up(disputed, "referred_on", base=1))
    supervisor = browser_for("supervisor", scopes=[("forum", "F1")])
    assert listed(supervisor.get("/cases?conflict=1")) == [disputed]
    assert listed(supervisor.get("/cases")) == [disputed, quiet]


def test_the_list_is_paged_newest_change_first(opener, browser_for, monkeypatch):
    monkeypatch.setattr(cases_page, "PAGE", 2)
    made = [opener(f"P-{n}", "Basra", "F1") for n in range(5)]
    admin = browser_for("administrator")
    seen, url = [], "/cases?governorate=Basra"
    while url:
        response = admin.get(url)
        seen += listed(response)
        found = re.search(r'href="(\?[^"]*after=[^"]*)" rel="next"', response.get_data(as_text=True))
        url = "/cases" + found.group(1).replace("&amp;", "&") if found else None
    assert seen == made[::-1]


def test_another_place_s_case_is_not_found_even_by_its_address(three, browser_for):
    basra = browser_for("supervisor", scopes=[("governorate", "Basra")])
    assert basra.get(f"/cases/{three['basra']}").status_code == 200
    missing = basra.get(f"/cases/{uuid.uuid4()}")
    other = basra.get(f"/cases/{three['nineveh']}")
    assert other.status_code == missing.status_code == 404
    assert b"404.31" in other.data and b"404.31" in missing.data
    assert b"N-1" not in other.data


def test_only_reviewers_see_the_cases_and_their_link(three, browser_for):
    analyst = browser_for("analyst")
    assert analyst.get("/cases").status_code == 403
    assert analyst.get(f"/cases/{three['basra']}").status_code == 403
    assert 'href="/cases"' not in analyst.get("/forms").get_data(as_text=True)
    supervisor = browser_for("supervisor", scopes=[("governorate", "Basra")])
    assert 'href="/cases"' in supervisor.get("/forms").get_data(as_text=True)


def history(html: str) -> list[str]:
    """Each version's entry of the history, newest first."""
    return re.findall(r'<li data-version="\d+".*?</li>', html, re.S)


def test_the_history_says_who_changed_what_from_which_submission(forms, placed_phone,
                                                                 browser_for):
    officer = placed_phone("officer", "F1")
    case_id = str(uuid.uuid4())
    opening = referral(case_id)
    update = follow_up(case_id, "in_progress", base=1, next_date="2026-12-24")
    officer.submit(opening)
    officer.submit(update)
    supervisor = browser_for("supervisor", scopes=[("forum", "F1")])
    html = supervisor.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)

    second, first = history(html)
    instance = update.split(b"<instanceID>")[1].split(b"</instanceID>")[0].decode()
    assert 'data-version="2"' in second and "officer" in second
    assert f'href="/forms/referral_follow_up/submissions/{instance}"' in second
    status = re.search(r'<tr data-property="status">.*?</tr>', second, re.S).group(0)
    assert "Open" in status and "In progress" in status  # before, after
    assert 'data-property="next_follow_up"' in second and "2026-12-24" in second
    assert 'data-property="category"' not in second  # unchanged by the follow-up
    opened_by = opening.split(b"<instanceID>")[1].split(b"</instanceID>")[0].decode()
    assert f'href="/forms/incident_referral/submissions/{opened_by}"' in first
    assert 'data-property="category"' in first and "theft" in first
    assert "victim" not in html  # personal details are never case properties
    # and the submission's page names the case it opened
    submission = supervisor.get(f"/forms/incident_referral/submissions/{opened_by}")
    assert f'href="/cases/{case_id}#history"' in submission.get_data(as_text=True)


def test_updates_held_or_refused_are_listed_on_the_case(forms, placed_phone, browser_for):
    officer, stranger = placed_phone("officer", "F1"), placed_phone("stranger", "F2")
    case_id = str(uuid.uuid4())
    officer.submit(referral(case_id))
    stranger.submit(follow_up(case_id, "closed", base=1))  # not its place: refused
    officer.submit(follow_up(case_id, "closed", base=3, trunk=1, branch=str(uuid.uuid4())))
    supervisor = browser_for("supervisor", scopes=[("forum", "F1")])
    html = supervisor.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    unapplied = html.split('id="unapplied"')[1]
    assert unapplied.count('data-outcome="refused"') == 1
    assert unapplied.count('data-outcome="held"') == 1
    assert "stranger" in unapplied and "the phone does not hold this case" in unapplied


def test_the_cases_pages_read_right_to_left_in_arabic(three, forms, placed_phone, browser_for):
    officer = placed_phone("officer", "F1")
    case_id = str(uuid.uuid4())
    officer.submit(referral(case_id))
    supervisor = browser_for("supervisor", scopes=[("governorate", "Basra")])
    for path in ("/cases?lang=ar", f"/cases/{case_id}?lang=ar"):
        html = supervisor.get(path).get_data(as_text=True)
        assert '<html lang="ar" dir="rtl">' in html
        assert i18n.catalogue("ar")["Cases"] in html
    page = supervisor.get(f"/cases/{case_id}?lang=ar").get_data(as_text=True)
    assert i18n.catalogue("ar")["History"] in page and ">History<" not in page
