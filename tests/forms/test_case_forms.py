"""Cases: an incident referral opens a case in the entity list `cases`; a follow-up updates it.

ODK Entities in XLSForm: the `entities` sheet declares the list and `save_to` names the case
property a field sets. pyxform puts the declaration in the instance's meta
(`<entity dataset="cases" ...>`) and marks each such field's bind `entities:saveto`; Collect keeps
the cases on the phone and, from entities-version 2024.1, applies updates made offline at once,
sending the case's version (`baseVersion`, `trunkVersion`, `branchId`) with each one.

Both forms are compiled as the server compiles them (`forms.compile_form`, with ODK Validate),
once per session.
"""

import openpyxl
import pytest

from forms.rendering import XLSFORMS_DIR, build_xlsx, render_markdown
from tests.forms.test_programme_forms import LANGUAGES, NS, XForm, names, squash
from tests.support.compiled import compile_once

ENTITIES_NS = "http://www.opendatakit.org/xforms/entities"
ENTITIES = f"{{{ENTITIES_NS}}}"
CASE_NS = {**NS, "entities": ENTITIES_NS}
CASE_FORMS = ("incident_referral", "referral_follow_up")
CASE = "instance('cases')/root/item[name= /data/case ]"

# case property -> the referral's field that sets it
OPENED_WITH = {
    "category": "category",
    "governorate": "governorate",
    "district": "district",
    "forum": "forum",
    "urgency": "urgency",
    "agency": "agency",
    "status": "status",
    "follow_up_date": "follow_up_date",
}
# case property -> the follow-up's field that changes it
UPDATED_WITH = {"status": "status", "follow_up_date": "next_follow_up_date"}


def _compiled(name: str) -> XForm:
    compiled = compile_once((XLSFORMS_DIR / f"{name}.xlsx").read_bytes(), validate=True)
    return XForm(name, compiled.xform.decode("utf-8"), list(compiled.warnings))


@pytest.fixture(params=CASE_FORMS)
def case_form(request) -> XForm:
    return _compiled(request.param)


@pytest.fixture
def referral() -> XForm:
    return _compiled("incident_referral")


@pytest.fixture
def follow_up() -> XForm:
    return _compiled("referral_follow_up")


def entity(form: XForm):
    """The form's entity declaration, in the meta of its primary instance."""
    (declaration,) = form.xpath("//xf:instance[not(@id)]/*/xf:meta/xf:entity")
    return declaration


def entity_bind(form: XForm, attribute: str):
    (bind,) = form.xpath(f"//xf:bind[@nodeset='/data/meta/entity/{attribute}']")
    return bind


def saved(form: XForm) -> dict[str, str]:
    """Case property -> the name of the field whose answer it takes."""
    binds = form.root.xpath("//xf:bind[@entities:saveto]", namespaces=CASE_NS)
    properties = {b.get(f"{ENTITIES}saveto"): b.get("nodeset").rsplit("/", 1)[-1] for b in binds}
    assert len(properties) == len(binds)  # pyxform refuses a property saved twice; so do we
    return properties


# ------------------------------------------------------------------------ both forms


def test_both_case_forms_compile_and_pass_odk_validate_without_warnings(case_form):
    assert case_form.warnings == []
    (data,) = case_form.xpath("//xf:instance[not(@id)]/*")
    assert (data.get("id"), data.get("version")) == (case_form.name, "2026120301")


def test_both_declare_the_cases_list_in_the_version_collect_updates_offline(case_form):
    assert case_form.model.get(f"{ENTITIES}entities-version") == "2024.1.0"
    assert case_form.root.nsmap["entities"] == ENTITIES_NS
    assert entity(case_form).get("dataset") == "cases"


def test_personal_details_never_become_case_properties(case_form):
    """A case travels to every phone of its forum: nothing in it may say who the person is."""
    personal = case_form.personal_fields()
    assert personal  # each form has some (the person, a narrative)
    assert set(saved(case_form).values()) & personal == set()
    label = entity(case_form).find("xf:label", NS)
    if label is not None:
        expression = entity_bind(case_form, "label").get("calculate")
        assert [f for f in personal if case_form.path(f) in expression] == []


# ------------------------------------------------------------------ the referral opens it


def test_a_referral_opens_a_new_case_with_its_own_id(referral):
    declaration = entity(referral)
    assert (declaration.get("create"), declaration.get("update")) == ("1", None)
    (setvalue,) = referral.xpath("//xf:setvalue[@ref='/data/meta/entity/@id']")
    assert (setvalue.get("event"), setvalue.get("value")) == ("odk-instance-first-load", "uuid()")
    assert referral.xpath("//xf:bind[@nodeset='/data/meta/entity/@baseVersion']") == []


def test_a_case_is_labelled_with_the_reference_category_and_forum(referral):
    """`INC-20261120-ABC12 · Theft · Ramadi – Al-Andalus`: what the officer reads in the list
    of cases (the category in the officer's language, the forum as forums.csv names it)."""
    label = squash(entity_bind(referral, "label").get("calculate"))
    reference, category, forum = (referral.path(f) for f in ("reference", "category", "forum"))
    assert label.startswith(f"concat( {reference} , ' · ', jr:choice-name( {category} ,")
    assert f"instance('forums')/root/item[name= {forum} ]/label" in label
    assert f"if( {forum} = ''" in label  # a case that came through no forum


def test_a_new_case_takes_its_place_category_urgency_agency_and_follow_up_date(referral):
    assert saved(referral) == OPENED_WITH
    assert referral.bind("status").get("calculate") == "'open'"
    assert referral.control("category").tag == f"{{{NS['xf']}}}select1"


# -------------------------------------------------------------- the follow-up updates it


def test_a_follow_up_picks_an_open_case_of_the_officer_s_forum(follow_up):
    (instance,) = follow_up.xpath("//xf:instance[@id='cases']")
    assert instance.get("src") == "jr://file-csv/cases.csv"
    (itemset,) = follow_up.control("case").findall("xf:itemset", NS)
    forum = follow_up.path("forum")
    assert squash(itemset.get("nodeset")) == (
        f"instance('cases')/root/item[forum= {forum} and status != 'closed']"
    )
    assert itemset.find("xf:value", NS).get("ref") == "name"
    assert itemset.find("xf:label", NS).get("ref") == "label"
    assert follow_up.bind("case").get("required") == "true()"
    body = list(follow_up.xpath("//h:body")[0].iter())
    assert body.index(follow_up.control("forum")) < body.index(follow_up.control("case"))


def test_the_officer_sees_the_case_as_it_stands_before_recording_anything(follow_up):
    shown = {
        "case_label": "label",
        "case_status": "status",
        "case_category": "category",
        "case_urgency": "urgency",
        "case_agency": "agency",
        "case_follow_up_date": "follow_up_date",
    }
    for field, case_property in shown.items():
        assert squash(follow_up.bind(field).get("calculate")) == f"{CASE}/{case_property}"
    # coded properties as read-only questions, so each shows in the officer's language
    for field in ("case_status", "case_category", "case_urgency", "case_agency"):
        assert follow_up.bind(field).get("readonly") == "true()"
        assert follow_up.path(field).startswith(follow_up.path("current_state") + "/")
    summary = f"{follow_up.path('case_summary')}:label"
    outputs = follow_up.xpath(f"//xf:text[@id='{summary}']/xf:value/xf:output/@value")
    assert [squash(o) for o in outputs] == [follow_up.path("case_label")] * len(LANGUAGES)
    due = follow_up.path("case_follow_up_date")
    assert follow_up.relevant("case_follow_up_note") == f"{due} != ''"
    assert follow_up.relevant("current_state") == f"{follow_up.path('case')} != ''"
    body = list(follow_up.xpath("//h:body")[0].iter())
    assert body.index(follow_up.control("current_state")) < body.index(
        follow_up.control("action_date")
    )


def test_the_case_is_shown_with_the_referral_s_own_lists(referral, follow_up):
    def texts(form: XForm, list_name: str, lang: str) -> dict[str, str]:
        return {i: t for i, t in form.translations()[lang].items()
                if i.startswith(f"{list_name}-")}

    for list_name in ("incident_category", "urgency", "agency"):
        assert follow_up.choices(list_name) == referral.choices(list_name), list_name
        for lang in LANGUAGES:
            assert texts(follow_up, list_name, lang) == texts(referral, list_name, lang)


def test_the_officer_records_what_was_done(follow_up):
    assert follow_up.constraint("action_date") == ". <= today()"
    (itemset,) = follow_up.control("agency_contacted").findall("xf:itemset", NS)
    assert itemset.get("nodeset") == "instance('agency')/root/item"
    contacted = follow_up.path("agency_contacted")
    assert follow_up.relevant("agency_contacted_other") == f"{contacted} = 'other'"
    assert follow_up.control("outcome").get("appearance") == "multiline"
    status = follow_up.path("status")
    assert follow_up.relevant("next_step") == f"{status} != 'closed'"
    for field in ("action_date", "agency_contacted", "outcome", "status", "next_step",
                  "next_follow_up_date"):
        assert follow_up.bind(field).get("required") == "true()", field


def test_a_follow_up_updates_the_case_it_picked_from_the_version_on_the_phone(follow_up):
    declaration = entity(follow_up)
    assert (declaration.get("update"), declaration.get("create")) == ("1", None)
    assert squash(entity_bind(follow_up, "@id").get("calculate")) == follow_up.path("case")
    assert follow_up.xpath("//xf:setvalue[@ref='/data/meta/entity/@id']") == []
    for attribute, column in (("baseVersion", "__version"), ("trunkVersion", "__trunkVersion"),
                              ("branchId", "__branchId")):
        assert declaration.get(attribute) == ""
        bind = entity_bind(follow_up, f"@{attribute}")
        assert squash(bind.get("calculate")) == f"{CASE}/{column}"
        assert bind.get("readonly") == "true()"
    assert declaration.find("xf:label", NS) is None  # the case keeps its label


def test_a_follow_up_changes_only_the_status_and_the_next_follow_up_date(follow_up):
    assert saved(follow_up) == UPDATED_WITH
    assert set(follow_up.choices("case_status")) == names("open in_progress referred_on closed")
    status, today = follow_up.path("status"), follow_up.path("today")
    assert follow_up.relevant("next_follow_up_date") == f"{status} != 'closed'"
    assert follow_up.constraint("next_follow_up_date") == f". >= {today}"


def test_both_forms_speak_of_a_case_in_the_same_properties(referral, follow_up):
    assert set(saved(follow_up)) <= set(saved(referral))
    assert "open" in follow_up.choices("case_status")  # the referral's `status`
    assert follow_up.bind("next_follow_up_date").get("type") == referral.bind(
        "follow_up_date"
    ).get("type") == "date"


def test_every_question_and_choice_of_the_follow_up_is_in_arabic_kurdish_and_english(
    follow_up,
):
    translations = follow_up.translations()
    questions = follow_up.xpath("//h:body//*[@ref or @nodeset][xf:label]")
    assert len(questions) >= 15
    for question in questions:
        if question.tag == f"{{{NS['xf']}}}itemset":
            continue
        text_id = question.find("xf:label", NS).get("ref")[len("jr:itext('"):-2]
        for lang in LANGUAGES:
            assert translations[lang].get(text_id, "-") != "-", (text_id, lang)
    for list_name in ("governorate", "district", "case_status", "incident_category",
                      "urgency", "agency"):
        (instance,) = follow_up.xpath(f"//xf:instance[@id='{list_name}']")
        for text_id in instance.xpath(".//xf:itextId/text()", namespaces=NS):
            for lang in LANGUAGES:
                assert translations[lang].get(text_id, "-") != "-", (text_id, lang)


# ------------------------------------------------------------------------- renderings


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("incident_referral", ["list_name", "label"]),
        ("referral_follow_up", ["list_name", "entity_id"]),
    ],
)
def test_the_entities_sheet_is_in_the_rendering_and_builds_back(name, rows, tmp_path):
    md = (XLSFORMS_DIR / f"{name}.md").read_text(encoding="utf-8")
    assert md == render_markdown(XLSFORMS_DIR / f"{name}.xlsx")
    build_xlsx(md, tmp_path / "form.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "form.xlsx")["entities"]
    header, declaration = ([c.value for c in row] for row in sheet.iter_rows())
    assert header == rows
    assert declaration[0] == "cases"
    if name == "referral_follow_up":
        assert declaration[1] == "${case}"


def test_what_a_form_does_to_a_case_is_no_column_of_its_table(case_form):
    """The `<entity>` under meta is case data, read by `forms.entity_declarations`: no field of
    the form's own table, so exports gain no `meta-entity` columns."""
    from lxml import etree

    from forms import read_structure

    structure = read_structure(etree.tostring(case_form.root))
    assert [f.path for f in structure.fields if f.path.startswith("/meta/entity")] == []
    assert [d.dataset for d in structure.entities] == ["cases"]
