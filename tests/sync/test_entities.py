"""Reading the case actions an officer's submission carries, checked as ODK Central checks them."""

from __future__ import annotations

import pytest

from forms import read_structure
from sync.entities import EntityDataError, normalise_uuid, read_entities
from sync.instance import read_identity
from tests.support.cases import FOLLOW_UP, REFERRAL, case_instance, entity, with_entities
from tests.support.compiled import compile_once
from tests.support.xlsforms import xlsform

CASE = "6f9c1a2e-3b4d-4e5f-8a6b-7c8d9e0f1a2b"
BRANCH = "0d1e2f3a-4b5c-4d6e-9f70-8192a3b4c5d6"
REFERRAL_ANSWERS = {"reference": "RAM-0042", "category": "threat", "governorate": "Anbar",
                    "district": "Ramadi", "forum": "ramadi-1", "urgency": "high",
                    "victim_name": "Zainab", "status": "open"}


@pytest.fixture(scope="module")
def referral():
    return read_structure(compile_once(REFERRAL).xform)


@pytest.fixture(scope="module")
def follow_up():
    return read_structure(compile_once(FOLLOW_UP).xform)


def actions(structure, xml: bytes):
    _identity, root = read_identity(xml)
    return read_entities(structure, root)


def problems(structure, xml: bytes) -> dict[str, str]:
    with pytest.raises(EntityDataError) as caught:
        actions(structure, xml)
    return {p.field: p.message for p in caught.value.problems}


def referral_xml(case_id: str = CASE, **entity_options) -> bytes:
    options = {"create": "1", "label": "RAM-0042 threat ramadi-1", **entity_options}
    return case_instance("incident_referral", "3", REFERRAL_ANSWERS, entity(case_id, **options))


def follow_up_xml(case_id: str = CASE, answers: dict[str, str] | None = None,
                  **entity_options) -> bytes:
    options = {"update": "1", "base_version": "3", "trunk_version": "3", "branch_id": BRANCH,
               **entity_options}
    answers = answers if answers is not None else {
        "case": case_id, "outcome": "Met the family", "status": "in_progress",
        "next_follow_up": "2026-12-09"}
    return case_instance("referral_follow_up", "1", answers, entity(case_id, **options))


def test_a_referral_opens_a_case_with_its_label_and_properties(referral):
    (case,) = actions(referral, referral_xml())

    assert (case.dataset, case.uuid, case.create, case.update) == ("cases", CASE, True, False)
    assert case.label == "RAM-0042 threat ramadi-1"
    assert case.properties == {"category": "threat", "governorate": "Anbar",
                               "district": "Ramadi", "forum": "ramadi-1", "urgency": "high",
                               "status": "open"}
    assert "Zainab" not in case.properties.values()
    assert (case.base_version, case.trunk_version, case.branch_id) == (None, None, None)
    assert case.path == "/meta/entity"


def test_a_follow_up_made_offline_says_where_the_phone_started(follow_up):
    (case,) = actions(follow_up, follow_up_xml(base_version="4", trunk_version="3"))

    assert (case.uuid, case.create, case.update) == (CASE, False, True)
    assert (case.base_version, case.trunk_version, case.branch_id) == (4, 3, BRANCH)
    assert case.properties == {"status": "in_progress", "next_follow_up": "2026-12-09"}
    assert case.label is None  # an update without a label keeps the case's own
    assert case.data_received == case.properties


@pytest.mark.parametrize("written", [f"uuid:{CASE}", CASE.upper(), f"UUID:{CASE.upper()}"])
def test_an_id_in_another_case_or_with_the_uuid_prefix_is_the_same_case(referral, written):
    (case,) = actions(referral, referral_xml(written))
    assert case.uuid == CASE
    assert normalise_uuid(written) == CASE


def test_true_is_also_yes_but_nothing_else_is(follow_up):
    (case,) = actions(follow_up, follow_up_xml(update="true"))
    assert case.update

    for not_asked in ("0", "", "false", "yes", " 1"):
        assert actions(follow_up, follow_up_xml(update=not_asked)) == ()


def test_a_conditional_update_that_did_not_happen_asks_nothing_and_is_not_checked(follow_up):
    assert actions(follow_up, follow_up_xml("", update="0", base_version="")) == ()


def test_hostile_labels_and_values_are_kept_as_text(referral):
    hostile = {**REFERRAL_ANSWERS, "forum": "<script>alert(1)</script>",
               "district": "=HYPERLINK(\"http://x\")", "governorate": "\u202eraBnA"}
    label = "'; DROP TABLE e_cases; -- & <b>"
    xml = case_instance("incident_referral", "3", hostile,
                        entity(CASE, create="1", label=label))

    (case,) = actions(referral, xml)
    assert case.label == label
    assert case.properties["forum"] == "<script>alert(1)</script>"
    assert case.properties["district"] == "=HYPERLINK(\"http://x\")"
    assert case.properties["governorate"] == "\u202eraBnA"


def test_an_emptied_answer_empties_the_property_and_a_missing_one_leaves_it(follow_up):
    answers = {"case": CASE, "status": "", "outcome": "No answer"}
    (case,) = actions(follow_up, follow_up_xml(answers=answers))
    assert case.properties == {"status": ""}


@pytest.mark.parametrize("case_id, says", [
    ("", "the entity has no id"),
    ("6f9c1a2e-3b4d-1e5f-8a6b-7c8d9e0f1a2b", "is not a version 4 UUID"),  # a v1 UUID
    ("RAM-0042", "'RAM-0042' is not a version 4 UUID"),
    (f"{CASE}\n", "is not a version 4 UUID"),
])
def test_an_id_that_is_not_a_version_4_uuid_is_refused(referral, case_id, says):
    assert says in problems(referral, referral_xml(case_id))["id"]


@pytest.mark.parametrize("label", ["", "   ", None])
def test_a_new_case_needs_a_label(referral, label):
    assert "needs a label" in problems(referral, referral_xml(label=label))["label"]


def test_an_update_must_say_which_version_it_was_made_from(follow_up):
    found = problems(follow_up, follow_up_xml(base_version="", trunk_version="", branch_id=""))
    assert "which version it was made from" in found["baseVersion"]

    for written in ("abc", "-1", "3.0", " 3"):
        found = problems(follow_up, follow_up_xml(base_version=written))
        assert found["baseVersion"] == f"the baseVersion '{written}' is not a whole number"


def test_a_branch_is_a_version_4_uuid_and_a_trunk_version_needs_one(follow_up):
    found = problems(follow_up, follow_up_xml(branch_id="phone-7"))
    assert found["branchId"] == "the branchId 'phone-7' is not a version 4 UUID"

    found = problems(follow_up, follow_up_xml(branch_id=""))
    assert found["trunkVersion"] == "a trunkVersion needs a branchId, and it is blank"

    found = problems(follow_up, follow_up_xml(trunk_version="three"))
    assert found["trunkVersion"] == "the trunkVersion 'three' is not a whole number"


def test_an_action_the_form_does_not_declare_is_refused(referral, follow_up):
    assert "does not update" in problems(referral, referral_xml(update="1", base_version="1"))[
        "update"]
    assert "does not create" in problems(follow_up, follow_up_xml(create="1"))["create"]


def test_an_entity_of_another_list_than_the_form_declares_is_refused(follow_up):
    found = problems(follow_up, follow_up_xml(dataset="feedback"))
    assert found["dataset"] == ("the entity names the list 'feedback' where the form declares "
                                "'cases'")


def test_every_problem_is_told_at_once(follow_up):
    found = problems(follow_up, follow_up_xml("not-a-uuid", base_version="x", branch_id="y"))
    assert set(found) == {"id", "baseVersion", "branchId"}


def test_an_upsert_may_come_without_label_or_base_version(follow_up):
    upsert = read_structure(compile_once(FOLLOW_UP).xform.replace(
        b'update="1"', b'create="1" update="1"'))
    (case,) = actions(upsert, follow_up_xml(create="1", base_version="", trunk_version="",
                                            branch_id=""))
    assert (case.create, case.update, case.base_version, case.label) == (True, True, None, None)


MEMBERS = with_entities(xlsform("""
    | | type | name | label | save_to |
    | | text | reference | Reference | |
    | | begin_repeat | member | Member | |
    | | text | role | Role | role |
    | | end_repeat | | | |
"""), """
    | | list_name | label | repeat |
    | | people | ${role} | ${member} |
""")


def test_each_repeat_entry_carries_its_own_entity():
    structure = read_structure(compile_once(MEMBERS).xform)
    first, second = "1" + CASE[1:], "2" + CASE[1:]
    body = "<reference>R-1</reference>" + "".join(
        f"<member><role>{role}</role><meta>"
        f"{entity(case_id, dataset='people', create='1', label=role)}</meta></member>"
        for case_id, role in ((first, "mukhtar"), (second, "teacher")))

    found = actions(structure, case_instance("household", "1", body))
    assert [(a.uuid, a.label, a.properties, a.path) for a in found] == [
        (first, "mukhtar", {"role": "mukhtar"}, "/member[1]/meta/entity"),
        (second, "teacher", {"role": "teacher"}, "/member[2]/meta/entity")]
