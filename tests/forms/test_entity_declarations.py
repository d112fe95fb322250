"""Reading what a form says about cases (ODK Entities), and refusing, with a numbered reason,
the forms ODK Central or Collect would refuse."""

from __future__ import annotations

import pytest

from forms import FormError, read_structure
from forms.entity_declarations import (
    ALWAYS,
    CONDITIONAL,
    LIST_NAME_INVALID,
    LIST_NAME_MISSING,
    NO_ACTION,
    PROPERTY_INVALID,
    PROPERTY_TWICE,
    REPEAT_BEFORE_2025,
    SEVERAL_BEFORE_2025,
    VERSION_MISSING,
    VERSION_UNKNOWN,
    offline_updates,
)
from tests.support.cases import FOLLOW_UP, REFERRAL, with_entities
from tests.support.compiled import compile_once
from tests.support.xlsforms import simple_form, xlsform

HOUSEHOLD_MEMBERS = with_entities(xlsform("""
    | | type | name | label | save_to |
    | | text | reference | Reference | cases#reference |
    | | begin_repeat | member | Member | |
    | | text | role | Role | people#role |
    | | end_repeat | | | |
"""), """
    | | list_name | label | repeat |
    | | cases | ${reference} | |
    | | people | ${role} | ${member} |
""")

UPSERT = with_entities(xlsform("""
    | | type | name | label | save_to |
    | | select_one_from_file cases.csv | case | Case | |
    | | text | reference | Reference | |
    | | text | status | Status | status |
"""), """
    | | list_name | entity_id | create_if | update_if | label |
    | | cases | coalesce(${case}, uuid()) | ${case} = '' | ${case} != '' | ${reference} |
""")


def xform(source: bytes) -> bytes:
    return compile_once(source).xform


def refusal(xml: bytes) -> FormError:
    with pytest.raises(FormError) as caught:
        read_structure(xml)
    return caught.value


def test_a_referral_creates_a_case_with_its_properties():
    structure = read_structure(xform(REFERRAL))

    assert structure.entities_version == "2024.1.0"
    (cases,) = structure.entities
    assert (cases.dataset, cases.path, cases.container, cases.repeat) == (
        "cases", "/meta/entity", "", None)
    assert (cases.create, cases.update) == (ALWAYS, None)
    assert cases.creates and not cases.updates
    assert cases.properties == {"category": "/category", "governorate": "/governorate",
                                "district": "/district", "forum": "/forum",
                                "urgency": "/urgency", "status": "/status"}
    assert "victim_name" not in cases.properties  # who is involved is never a case property


def test_a_follow_up_updates_the_case_it_picks():
    (cases,) = read_structure(xform(FOLLOW_UP)).entities

    assert (cases.dataset, cases.create, cases.update) == ("cases", None, ALWAYS)
    assert cases.properties == {"status": "/status", "next_follow_up": "/next_follow_up"}


def test_a_form_that_creates_or_updates_depending_on_the_answers():
    (cases,) = read_structure(xform(UPSERT)).entities
    assert (cases.create, cases.update) == (CONDITIONAL, CONDITIONAL)


def test_entities_from_a_repeat_one_per_entry_with_their_own_properties():
    structure = read_structure(xform(HOUSEHOLD_MEMBERS))

    assert structure.entities_version == "2025.1.0"
    by_list = {d.dataset: d for d in structure.entities}
    assert (by_list["people"].path, by_list["people"].repeat) == ("/member/meta/entity",
                                                                  "/member")
    assert by_list["people"].properties == {"role": "/member/role"}
    assert (by_list["cases"].path, by_list["cases"].repeat) == ("/meta/entity", None)
    assert by_list["cases"].properties == {"reference": "/reference"}


def test_a_form_without_entities_declares_none():
    structure = read_structure(xform(simple_form()))
    assert (structure.entities_version, structure.entities) == (None, ())


@pytest.mark.parametrize("version", ["2022.1.0", "2023.1.3", "2024.1.0", "2025.1.0"])
def test_every_version_central_and_collect_both_know_is_accepted(version):
    xml = xform(REFERRAL).replace(b'entities-version="2024.1.0"',
                                  f'entities-version="{version}"'.encode())
    assert read_structure(xml).entities_version == version


def test_only_forms_of_2024_1_and_later_follow_cases_offline():
    assert [offline_updates(v) for v in ("2022.1.0", "2023.1.0", "2024.1.0", "2025.1.2", None)
            ] == [False, False, True, True, False]


@pytest.mark.parametrize("version", ["2026.1.0", "2021.1.0", "2024.2.0", "2024.1", "v2024.1.0",
                                     "2024.1.0-beta", "2024.10.0"])
def test_an_unknown_entities_version_is_refused(version):
    error = refusal(xform(REFERRAL).replace(b'entities-version="2024.1.0"',
                                            f'entities-version="{version}"'.encode()))
    assert error.code == VERSION_UNKNOWN
    assert f"'{version}' is not supported" in error.message
    assert str(error).startswith(f"[{VERSION_UNKNOWN}] ")


def test_an_entity_without_a_version_is_refused():
    error = refusal(xform(REFERRAL).replace(b' entities:entities-version="2024.1.0"', b""))
    assert error.code == VERSION_MISSING


def test_several_lists_or_entities_from_a_repeat_need_version_2025_1():
    several = xform(HOUSEHOLD_MEMBERS).replace(b"2025.1.0", b"2024.1.0")
    error = refusal(several)
    assert error.code == SEVERAL_BEFORE_2025
    assert "2 entity lists (people, cases)" in error.message

    only_the_repeat = several.replace(
        b'<entity dataset="cases" create="1" id=""><label/></entity>', b"")
    error = refusal(only_the_repeat)
    assert error.code == REPEAT_BEFORE_2025
    assert "inside the repeat '/member'" in error.message


@pytest.mark.parametrize("name", ["__cases", "1cases", "case list", "cases.v2", "-cases"])
def test_an_invalid_list_name_is_refused(name):
    error = refusal(xform(REFERRAL).replace(b'dataset="cases"', f'dataset="{name}"'.encode()))
    assert error.code == LIST_NAME_INVALID
    assert f"'{name}'" in error.message


def test_a_list_name_in_arabic_is_a_name_like_any_other():
    xml = xform(REFERRAL).replace(b'dataset="cases"', 'dataset="حالات"'.encode())
    assert read_structure(xml).entities[0].dataset == "حالات"


def test_an_entity_naming_no_list_is_refused():
    assert refusal(xform(REFERRAL).replace(b'dataset="cases" ', b"")).code == LIST_NAME_MISSING


@pytest.mark.parametrize("name", ["name", "LABEL", "__version", "1st_visit", "next follow-up",
                                  "case:status"])
def test_an_invalid_property_name_is_refused(name):
    error = refusal(xform(FOLLOW_UP).replace(b'entities:saveto="status"',
                                             f'entities:saveto="{name}"'.encode()))
    assert error.code == PROPERTY_INVALID
    assert f"/status saves to the property '{name}'" in error.message


@pytest.mark.parametrize("name", ["next.follow-up", "_status", "الحالة"])
def test_valid_property_names(name):
    xml = xform(FOLLOW_UP).replace(b'entities:saveto="status"',
                                   f'entities:saveto="{name}"'.encode())
    assert name in read_structure(xml).entities[0].properties


def test_two_fields_saving_to_one_property_are_refused():
    xml = xform(FOLLOW_UP).replace(b'entities:saveto="next_follow_up"',
                                   b'entities:saveto="status"')
    error = refusal(xml)
    assert error.code == PROPERTY_TWICE
    assert "/status and /next_follow_up both save to the property 'status'" in error.message


def test_an_entity_that_neither_creates_nor_updates_is_refused():
    xml = xform(REFERRAL).replace(b' create="1"', b"")
    assert refusal(xml).code == NO_ACTION
