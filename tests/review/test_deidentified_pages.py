"""Pages for readers without the personal-data permission, on incident referrals: what the form
classifies quasi-identifying (sex, age group, displacement) is readable, what it classifies
identifying is masked, the exact location shows as its district's point; and counts that may
concern sensitive cases (gender-based violence, threats...) are suppressed under 5."""

from __future__ import annotations

import re

import pytest

from tests.support.incidents import FORM, incident_referral

LIST = f"/forms/{FORM}/submissions"


@pytest.fixture
def incident(programme, phone):
    """incident(**answers) → the instanceID of a new incident referral, sent by the phone."""
    def _send(**answers) -> str:
        xml = incident_referral(**answers)
        reply = phone.submit(xml)
        assert reply.status == 201, reply.body
        return re.search(rb"<instanceID>(.*?)</instanceID>", xml).group(1).decode()
    return _send


def answer(page: str, path: str) -> str:
    match = re.search(rf'<div class="answer[^"]*" data-path="{re.escape(path)}">(.*?)</div>',
                      page, re.S)
    assert match, path
    return match.group(1)


def figures(page: str) -> dict[str, str]:
    """The counts per review state of a submissions list, as shown ("<5" when suppressed)."""
    return {state: re.sub(r"<[^>]+>", "", text).replace("&lt;", "<").strip()
            for state, text in re.findall(
                r'<li data-state="(\w*)"[^>]*>.*?<span class="count">(.*?)</span>', page, re.S)}


def index_row(page: str, form_id: str) -> list[str]:
    """The cells of a form's row on /forms: a count per state, then all."""
    row = re.search(rf'<tr>\s*<td><a href="/forms/{form_id}/submissions">.*?</tr>', page,
                    re.S).group(0)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)[1:]
    return [re.sub(r"<[^>]+>", "", c).replace("&lt;", "<").strip() for c in cells]


def test_sex_age_and_displacement_are_readable_and_names_masked(incident, browser_for):
    one = incident(person_name="Huda Salim", person_sex="female", age_group="age_18_24",
                   displacement="idp", description="Huda was threatened.")
    page = browser_for("supervisor", scopes=[("governorate", "anbar")]).get(
        f"{LIST}/{one}?lang=en").get_data(as_text=True)

    assert "Female" in answer(page, "/person/person_sex")
    assert "18–24" in answer(page, "/person/person_age_group")
    assert "Internally displaced" in answer(page, "/person/displacement_status")
    for path in ("/person/person_name", "/person/person_phone", "/description"):
        assert '<span class="value masked"' in answer(page, path)
    assert "Huda" not in page


def test_the_exact_location_shows_as_the_districts_point_without_the_permission(
        incident, browser_for):
    one = incident(district="ramadi", location="33.4211 43.3075 50.0 4.0")
    plain = browser_for("supervisor", scopes=[("governorate", "anbar")]).get(
        f"{LIST}/{one}?lang=en").get_data(as_text=True)
    trusted = browser_for("administrator", personal_data=True).get(
        f"{LIST}/{one}?lang=en").get_data(as_text=True)

    assert "33.420000, 43.300000" in answer(plain, "/location")
    assert "The district&#39;s point, not the exact location." in answer(plain, "/location")
    assert 'data-latitude="33.42" data-longitude="43.3"' in plain
    assert "33.4211" not in plain and "43.3075" not in plain
    assert "33.421100, 43.307500" in answer(trusted, "/location")
    assert 'data-latitude="33.4211"' in trusted and "district&#39;s point" not in trusted


def test_counts_of_a_form_with_sensitive_categories_are_suppressed_on_the_forms_page(
        incident, browser_for):
    for _ in range(3):
        incident()
    plain = browser_for("analyst").get("/forms?lang=en").get_data(as_text=True)
    trusted = browser_for("administrator", personal_data=True).get(
        "/forms?lang=en").get_data(as_text=True)

    assert index_row(plain, FORM)[0] == "<5" and index_row(plain, FORM)[-1] == "<5"
    assert index_row(trusted, FORM)[0] == "3" and index_row(trusted, FORM)[-1] == "3"
    assert index_row(plain, "forum_meeting")[-1] == "0"  # no sensitive categories: as counted


def test_a_list_filtered_on_a_sensitive_category_suppresses_its_small_counts(
        incident, browser_for):
    gbv = [incident(category="gbv") for _ in range(2)]
    for _ in range(6):
        incident(category="theft")
    analyst = browser_for("analyst")
    trusted = browser_for("administrator", personal_data=True)

    filtered = analyst.get(f"{LIST}?category=gbv&lang=en").get_data(as_text=True)
    assert figures(filtered)["received"] == "<5" and figures(filtered)[""] == "<5"
    assert "Counts under 5 are not shown" in filtered
    assert sorted(re.findall(r'<tr data-instance-id="([^"]+)"', filtered)) == sorted(gbv)
    assert '<option value="gbv" selected>Gender-based violence</option>' in filtered

    theft = analyst.get(f"{LIST}?category=theft").get_data(as_text=True)
    assert figures(theft)["received"] == "6" and "Counts under 5" not in theft
    everything = analyst.get(LIST).get_data(as_text=True)  # gbv among them
    assert figures(everything)["received"] == "8" and figures(everything)["approved"] == "0"
    assert figures(trusted.get(f"{LIST}?category=gbv").get_data(as_text=True))[
        "received"] == "2"
