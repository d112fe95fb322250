"""The programme's three XLSForms: forum meetings, incident referrals, trainings.

Each form is compiled from its workbook once per session with ODK Validate
(JavaRosa), then its XForm is checked for what officers, supervisors and
analysts rely on: three languages with Arabic first, places chosen as
governorate -> district -> forum, forums read from forums.csv, constraints that
explain themselves in every language, personal data only after consent.
"""

import csv
import datetime
import functools
import re
import shutil
from pathlib import Path

import openpyxl
import pytest
from lxml import etree
from pyxform.xls2xform import convert

from forms.rendering import XLSFORMS_DIR, build_xlsx, main, render_markdown, stale_renderings

FORMS = ("forum_meeting", "incident_referral", "training_attendance")
LANGUAGES = ("Arabic (ar)", "Kurdish (ckb)", "English (en)")
MUNTADA_NS = "https://muntada.example/xforms"
NS = {
    "h": "http://www.w3.org/1999/xhtml",
    "xf": "http://www.w3.org/2002/xforms",
    "jr": "http://openrosa.org/javarosa",
    "orx": "http://openrosa.org/xforms",
    "muntada": MUNTADA_NS,
}
PERSONAL = f"{{{MUNTADA_NS}}}personal"
GOVERNORATES = {
    "anbar", "babil", "baghdad", "basra", "dhi_qar", "diyala", "dohuk", "erbil", "karbala",
    "kirkuk", "maysan", "muthanna", "najaf", "nineveh", "qadisiyah", "salah_al_din",
    "sulaymaniyah", "wasit",
}  # fmt: skip
ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF]")
SORANI_LETTERS = re.compile(r"[کیەێۆڕڵگچپژڤ]")  # Sorani spelling: keheh and Farsi yeh, not ك ي
ARABIC_ONLY_LETTERS = re.compile(r"[كيةى]")  # Arabic kaf, yeh, teh marbuta, alef maksura


def squash(expression: str | None) -> str:
    """An XPath expression with pyxform's padding spaces collapsed."""
    return " ".join((expression or "").split())


class XForm:
    """A compiled form, with look-ups by field name."""

    def __init__(self, name: str, xform: str, warnings: list[str]):
        self.name, self.warnings = name, warnings
        self.root = etree.fromstring(xform.encode("utf-8"))
        self.model = self.root.find("h:head/xf:model", NS)

    def xpath(self, path: str):
        return self.root.xpath(path, namespaces=NS)

    def path(self, field: str) -> str:
        """The field's path in the main instance, e.g. /data/person/person_name."""
        node, *_ = self.model.xpath(f"xf:instance[not(@id)]//xf:{field}", namespaces=NS)
        ancestors = [etree.QName(n).localname for n in node.iterancestors()]  # nearest first
        return "/" + "/".join([*reversed(ancestors[: ancestors.index("instance")]), field])

    def bind(self, field: str):
        (bind,) = self.model.xpath(f"xf:bind[@nodeset='{self.path(field)}']", namespaces=NS)
        return bind

    def control(self, field: str):
        (control,) = self.xpath(f"//h:body//*[@ref='{self.path(field)}' or @nodeset='{self.path(field)}']")
        return control

    def translations(self) -> dict[str, dict[str, str]]:
        return {
            t.get("lang"): {
                text.get("id"): "".join(text.find("xf:value", NS).itertext()).strip()
                for text in t.findall("xf:text", NS)
            }
            for t in self.model.findall("xf:itext/xf:translation", NS)
        }

    def choices(self, list_name: str) -> dict[str, dict[str, str]]:
        """Choice name -> its other columns (e.g. governorate), from the internal instance."""
        (instance,) = self.model.xpath(f"xf:instance[@id='{list_name}']", namespaces=NS)
        return {
            item.findtext("xf:name", namespaces=NS): {etree.QName(c).localname: c.text for c in item}
            for item in instance.findall("xf:root/xf:item", NS)
        }

    def personal_fields(self) -> set[str]:
        return {b.get("nodeset").split("/")[-1] for b in self.model.findall("xf:bind", NS) if b.get(PERSONAL) == "yes"}


@functools.cache
def compiled(name: str) -> XForm:
    """Compile a form from its workbook with ODK Validate, once per session."""
    result = convert(xlsform=XLSFORMS_DIR / f"{name}.xlsx", validate=True)
    return XForm(name, result.xform, result.warnings)


@pytest.fixture(params=FORMS)
def form(request) -> XForm:
    return compiled(request.param)


@pytest.fixture
def meeting() -> XForm:
    return compiled("forum_meeting")


@pytest.fixture
def incident() -> XForm:
    return compiled("incident_referral")


@pytest.fixture
def training() -> XForm:
    return compiled("training_attendance")


def read_forums() -> list[dict[str, str]]:
    with open(XLSFORMS_DIR / "media" / "forums.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------- renderings


def test_the_programme_has_exactly_three_forms():
    assert sorted(p.stem for p in XLSFORMS_DIR.glob("*.xlsx")) == sorted(FORMS)
    assert sorted(p.stem for p in XLSFORMS_DIR.glob("*.md")) == sorted(FORMS)


@pytest.mark.parametrize("name", FORMS)
def test_each_markdown_rendering_is_up_to_date_with_its_workbook(name):
    md = (XLSFORMS_DIR / f"{name}.md").read_text(encoding="utf-8")
    assert md == render_markdown(XLSFORMS_DIR / f"{name}.xlsx"), "run: python -m forms.rendering --write"


@pytest.mark.parametrize("name", FORMS)
def test_building_a_workbook_from_a_rendering_renders_it_back_unchanged(name, tmp_path):
    md = (XLSFORMS_DIR / f"{name}.md").read_text(encoding="utf-8")
    build_xlsx(md, tmp_path / "form.xlsx")
    assert render_markdown(tmp_path / "form.xlsx") == md


@pytest.mark.parametrize("name", FORMS)
def test_the_rendering_compiles_to_the_same_xform_as_the_workbook(name):
    md = (XLSFORMS_DIR / f"{name}.md").read_text(encoding="utf-8")
    from_md = convert(xlsform=md, file_type=".md").xform
    assert from_md == convert(xlsform=XLSFORMS_DIR / f"{name}.xlsx").xform


def test_rendering_escapes_pipes_drops_blank_rows_and_unheaded_columns(tmp_path):
    wb_path = tmp_path / "w.xlsx"
    build_xlsx("| survey |\n| | type | name | constraint |\n| | text | a | regex(., 'x\\|y') |\n", wb_path)
    wb = openpyxl.load_workbook(wb_path)
    ws = wb["survey"]
    assert [c.value for c in ws[2]] == ["text", "a", "regex(., 'x|y')"]
    ws["A4"], ws["B4"], ws["C4"], ws["E2"] = "=note", "b", "  spaced  ", "no header above me"
    ws["A4"].data_type = "s"  # row 3 stays blank
    wb.save(wb_path)
    assert render_markdown(wb_path) == (
        "| survey |\n"
        "| | type | name | constraint |\n"
        "| | text | a | regex(., 'x\\|y') |\n"
        "| | =note | b | spaced |\n"
    )
    round_trip = tmp_path / "again.xlsx"
    build_xlsx(render_markdown(wb_path), round_trip)
    assert render_markdown(round_trip) == render_markdown(wb_path)


def test_check_lists_a_stale_rendering_and_passes_on_the_repository(tmp_path, capsys):
    shutil.copy(XLSFORMS_DIR / "forum_meeting.xlsx", tmp_path)
    (tmp_path / "forum_meeting.md").write_text("| survey |\n", encoding="utf-8")
    shutil.copy(XLSFORMS_DIR / "training_attendance.xlsx", tmp_path)  # no .md at all
    assert stale_renderings(tmp_path) == [tmp_path / "forum_meeting.md", tmp_path / "training_attendance.md"]
    assert main(["--check"]) == 0
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------- compiling


def test_each_form_passes_odk_validate_without_warnings(form):
    assert form.warnings == []


def test_each_form_has_its_id_and_a_date_based_version(form):
    (data,) = form.xpath("/h:html/h:head/xf:model/xf:instance[not(@id)]/*")
    assert data.get("id") == form.name
    version = data.get("version")
    assert re.fullmatch(r"\d{10}", version), version
    assert datetime.date(int(version[:4]), int(version[4:6]), int(version[6:8])) >= datetime.date(2026, 1, 1)


def test_each_form_records_when_and_on_which_device(form):
    preloads = {b.get("nodeset").split("/")[-1]: b.get("{http://openrosa.org/javarosa}preloadParams") for b in form.model.findall("xf:bind", NS)}
    assert {k: preloads.get(k) for k in ("start", "end", "today", "deviceid")} == {
        "start": "start", "end": "end", "today": "today", "deviceid": "deviceid",
    }  # fmt: skip
    assert form.bind("instanceID").get("{http://openrosa.org/javarosa}preload") == "uid"


# --------------------------------------------------------------------------- languages


def test_each_form_speaks_arabic_kurdish_and_english_with_arabic_first(form):
    translations = form.model.findall("xf:itext/xf:translation", NS)
    assert [t.get("lang") for t in translations] == list(LANGUAGES)
    assert [t.get("default") for t in translations] == ["true()", None, None]


def test_every_text_exists_in_all_three_languages(form):
    """pyxform silently fills a missing translation with "-"."""
    translations = form.translations()
    ids = set(translations["Arabic (ar)"])
    for lang, texts in translations.items():
        assert set(texts) == ids, lang
        assert [i for i, t in texts.items() if t in ("", "-")] == [], lang


def test_every_label_and_hint_is_translated(form):
    """Only the forum list labels come from a file (forums.csv), not from itext."""
    for element in form.xpath("//h:body//xf:label | //h:body//xf:hint"):
        ref = element.get("ref") or ""
        if element.getparent().tag == f"{{{NS['xf']}}}itemset" and "instance('forums')" in element.getparent().get("nodeset"):
            assert ref == "label"
        else:
            assert ref.startswith("jr:itext("), etree.tostring(element)


def test_the_scripts_match_the_languages(form):
    translations = form.translations()
    assert all(ARABIC_SCRIPT.search(t) for t in translations["Arabic (ar)"].values())
    assert not any(ARABIC_SCRIPT.search(t) for t in translations["English (en)"].values())
    kurdish = translations["Kurdish (ckb)"]
    assert all(ARABIC_SCRIPT.search(t) for t in kurdish.values())
    questions = {i: t for i, t in kurdish.items() if i.startswith("/")}
    assert all(t != translations["Arabic (ar)"][i] for i, t in questions.items())  # not copied
    assert not any(SORANI_LETTERS.search(t) for t in translations["Arabic (ar)"].values())
    assert not any(ARABIC_ONLY_LETTERS.search(t) for t in kurdish.values())


def test_every_constraint_explains_itself_in_three_languages(form):
    translations = form.translations()
    constrained = form.model.xpath("xf:bind[@constraint]", namespaces=NS)
    assert constrained
    for bind in constrained:
        message = bind.get("{http://openrosa.org/javarosa}constraintMsg")
        (text_id,) = re.fullmatch(r"jr:itext\('(.+)'\)", message).groups()
        assert all(translations[lang][text_id] for lang in LANGUAGES), bind.get("nodeset")


def test_a_saved_form_is_named_so_an_officer_recognises_it(form):
    expected = {
        "forum_meeting": ("forum_name", "meeting_date"),
        "incident_referral": ("reference", "incident_datetime"),
        "training_attendance": ("title", "start_date"),
    }[form.name]
    name = form.bind("instanceName").get("calculate")
    assert all(form.path(field) in name for field in expected), name
    assert not any(form.path(field) in name for field in form.personal_fields())


# --------------------------------------------------------------------------- places


def test_all_eighteen_governorates_are_offered(form):
    governorates = form.choices("governorate")
    assert set(governorates) == GOVERNORATES
    assert all(re.fullmatch(r"[a-z_]+", name) for name in governorates)


def test_districts_cascade_from_the_governorate(form):
    (itemset,) = form.control("district").findall("xf:itemset", NS)
    assert squash(itemset.get("nodeset")) == f"instance('district')/root/item[governorate= {form.path('governorate')} ]"
    districts = form.choices("district")
    assert {d["governorate"] for d in districts.values()} == GOVERNORATES  # no empty district list
    in_ = lambda gov: {name for name, d in districts.items() if d["governorate"] == gov}  # noqa: E731
    assert in_("anbar") == {"ramadi", "fallujah", "hit", "haditha", "anah", "rawa", "al_qaim", "rutba"}
    assert in_("kirkuk") == {"kirkuk", "hawija", "daquq", "dibis"}
    assert in_("diyala") == {"baqubah", "muqdadiyah", "khalis", "khanaqin", "balad_ruz", "kifri"}
    assert {"mosul", "tel_afar", "sinjar", "hamdaniya", "tel_kaif"} <= in_("nineveh")
    assert {"tikrit", "samarra", "baiji", "shirqat", "tuz_khurmatu"} <= in_("salah_al_din")
    assert {"karkh", "rusafa", "adhamiyah", "kadhimiya", "abu_ghraib", "mahmudiya"} <= in_("baghdad")
    assert {"erbil", "koya", "shaqlawa", "soran", "makhmur"} <= in_("erbil")
    assert {"dohuk", "zakho", "sumel", "amedi"} <= in_("dohuk")
    assert {"sulaymaniyah", "chamchamal", "kalar", "rania", "halabja"} <= in_("sulaymaniyah")


def test_the_place_lists_are_the_same_in_every_form():
    reference = compiled(FORMS[0])
    for name in FORMS[1:]:
        for list_name in ("governorate", "district"):
            assert compiled(name).choices(list_name).keys() == reference.choices(list_name).keys()
        for lang in LANGUAGES:
            place_texts = lambda f: {i: t for i, t in f.translations()[lang].items() if i.startswith(("governorate-", "district-"))}  # noqa: E731
            assert place_texts(compiled(name)) == place_texts(reference)


def test_forums_come_from_forums_csv_filtered_by_governorate_and_district(form):
    (instance,) = form.model.xpath("xf:instance[@id='forums']", namespaces=NS)
    assert instance.get("src") == "jr://file-csv/forums.csv"
    (itemset,) = form.control("forum").findall("xf:itemset", NS)
    assert squash(itemset.get("nodeset")) == (
        f"instance('forums')/root/item[governorate= {form.path('governorate')} and district= {form.path('district')} ]"
    )
    assert itemset.find("xf:value", NS).get("ref") == "name"


def test_a_meeting_needs_a_forum_but_incidents_and_trainings_may_have_none(form):
    assert (form.bind("forum").get("required") == "true()") == (form.name == "forum_meeting")


def test_the_forum_list_is_a_valid_media_file_for_collect():
    """Collect turns CSV headers into XML elements: `label::English (en)` would break the download."""
    forums = read_forums()
    assert list(forums[0]) == ["name", "label", "governorate", "district", "label_ar", "label_ckb", "label_en"]
    assert 30 <= len(forums) <= 45
    assert len({f["name"] for f in forums}) == len(forums)
    for f in forums:
        assert re.fullmatch(r"[a-z]{3}_[a-z_]+_\d{2}", f["name"]), f
        assert f["label"] == f"{f['label_ar']} · {f['label_en']}"  # one label for every language
        assert ARABIC_SCRIPT.search(f["label_ckb"]) and not ARABIC_SCRIPT.search(f["label_en"])


def test_every_forum_sits_in_a_district_of_its_governorate():
    districts = compiled("forum_meeting").choices("district")
    for f in read_forums():
        assert districts[f["district"]]["governorate"] == f["governorate"], f


def test_the_forums_named_in_the_programme_are_listed():
    places = {(f["governorate"], f["district"], f["label_en"].split(" – ")[0]) for f in read_forums()}
    for place in [("anbar", "ramadi", "Ramadi"), ("nineveh", "mosul", "Qayyarah"), ("diyala", "khalis", "Khalis")]:
        assert place in places
    assert {"baghdad", "erbil"} <= {g for g, _, _ in places}


# --------------------------------------------------------------------------- forum meetings

ATTENDEE_GROUPS = ("police", "idp", "host", "returnee", "civil_society", "judiciary", "local_authority")


def test_a_meeting_cannot_be_dated_in_the_future(meeting):
    assert squash(meeting.bind("meeting_date").get("constraint")) == ". <= today()"
    assert meeting.bind("location").get("type") == "geopoint"


def test_attendance_is_counted_by_sex_for_each_group_and_never_negative(meeting):
    for group in ATTENDEE_GROUPS:
        for sex in ("women", "men"):
            bind = meeting.bind(f"{group}_{sex}")
            assert (bind.get("type"), bind.get("required")) == ("int", "true()")
            assert squash(bind.get("constraint")) == ". >= 0"


def test_attendance_totals_add_up_every_group(meeting):
    for sex in ("women", "men"):
        calculation = squash(meeting.bind(f"total_{sex}").get("calculate"))
        terms = re.findall(r"coalesce\( ?(\S+) ?, 0\)", calculation)
        assert sorted(terms) == sorted(meeting.path(f"{g}_{sex}") for g in ATTENDEE_GROUPS)
    total = meeting.bind("total_attendance")
    assert squash(total.get("calculate")) == f"{meeting.path('total_women')} + {meeting.path('total_men')}"
    assert total.get("type") == "int"


def test_topics_allow_several_answers_and_other_is_specified(meeting):
    assert meeting.control("topics").tag == f"{{{NS['xf']}}}select"
    assert squash(meeting.bind("topics_other").get("relevant")) == f"selected( {meeting.path('topics')} , 'other')"


def test_each_issue_raised_has_an_action_someone_responsible_and_a_due_date(meeting):
    (repeat,) = meeting.xpath("//xf:repeat")
    assert repeat.get("nodeset") == meeting.path("issue")
    for field in ("issue_category", "issue_description", "issue_priority", "action_agreed", "responsible", "due_date"):
        assert meeting.path(field) == f"{meeting.path('issue')}/{field}"
        assert meeting.bind(field).get("required") == "true()"
    assert set(meeting.choices("priority")) == {"high", "medium", "low"}
    assert squash(meeting.bind("due_date").get("constraint")) == f". >= {meeting.path('meeting_date')}"


def test_referrals_are_counted_and_not_negative(meeting):
    assert squash(meeting.bind("referrals").get("constraint")) == ". >= 0"


def test_up_to_three_photos_each_asked_only_after_the_previous_one(meeting):
    assert meeting.bind("photo_1").get("relevant") is None
    for previous, photo in (("photo_1", "photo_2"), ("photo_2", "photo_3")):
        assert squash(meeting.bind(photo).get("relevant")) == f"{meeting.path(previous)} != ''"
    for photo in ("photo_1", "photo_2", "photo_3"):
        assert meeting.bind(photo).get("type") == "binary"
        assert meeting.bind(photo).get("{http://openrosa.org/xforms}max-pixels") == "1280"  # slow networks


# --------------------------------------------------------------------------- incident referrals

PERSON_DETAILS = ("person_name", "person_sex", "person_age_group", "displacement_status", "person_phone")


def test_an_incident_cannot_be_in_the_future_and_has_a_reference(incident):
    assert squash(incident.bind("incident_datetime").get("constraint")) == ". <= now()"
    assert incident.bind("incident_datetime").get("type") == "dateTime"
    (setvalue,) = incident.xpath(f"//xf:setvalue[@ref='{incident.path('reference')}']")
    assert setvalue.get("event") == "odk-instance-first-load"
    assert "uuid()" in setvalue.get("value")


def test_incident_categories_and_channels_with_other_specified(incident):
    assert set(incident.choices("incident_category")) == {
        "theft", "domestic_violence", "gbv", "threat", "tribal_dispute", "property_dispute",
        "missing_person", "explosive_hazard", "harassment", "other",
    }  # fmt: skip
    assert set(incident.choices("channel")) == {
        "forum_meeting", "walk_in", "phone_call", "community_member", "police_patrol", "ngo_referral", "other",
    }  # fmt: skip
    for field, other in (("category", "category_other"), ("channel", "channel_other"), ("agency", "agency_other")):
        assert squash(incident.bind(other).get("relevant")) == f"{incident.path(field)} = 'other'"


def test_personal_details_are_asked_only_after_recorded_consent(incident):
    consent = incident.control("consent")
    assert consent.xpath("xf:itemset/@nodeset", namespaces=NS) == ["instance('yes_no')/root/item"]
    assert incident.bind("consent").get("required") == "true()"
    assert consent.getprevious().get("ref") == incident.path("consent_note")
    person = incident.bind("person")
    assert squash(person.get("relevant")) == f"{incident.path('consent')} = 'yes'"
    for field in PERSON_DETAILS:
        assert incident.path(field).startswith(person.get("nodeset") + "/")
    body = list(incident.xpath("//h:body")[0].iter())
    assert body.index(consent) < body.index(incident.control("person_name"))


def test_a_phone_number_may_be_typed_with_arabic_indic_or_western_digits(incident):
    (pattern,) = re.fullmatch(r"regex\(\., '(.+)'\)", incident.bind("person_phone").get("constraint")).groups()
    accepted = ["07701234567", "٠٧٧٠١٢٣٤٥٦٧", "۰۷۷۰۱۲۳۴۵۶۷", "+9647701234567", "٠٠٩٦٤٧٧٠١٢٣٤٥٦٧"]
    refused = ["0770123456", "077012345678", "0770-123-4567", "call me", "+964"]
    assert [bool(re.search(pattern, n)) for n in accepted] == [True] * len(accepted)
    assert [bool(re.search(pattern, n)) for n in refused] == [False] * len(refused)


def test_the_case_is_referred_with_an_urgency_and_follow_up_date_when_needed(incident):
    assert set(incident.choices("agency")) == {
        "police_station", "family_protection", "court", "health", "legal_aid",
        "displacement_authority", "ngo", "other",
    }  # fmt: skip
    assert set(incident.choices("urgency")) == {"immediate", "within_week", "routine"}
    follow_up = incident.bind("follow_up_date")
    assert squash(follow_up.get("relevant")) == f"{incident.path('follow_up')} = 'yes'"
    assert squash(follow_up.get("constraint")) == f". >= {incident.path('today')}"


# --------------------------------------------------------------------------- trainings


def test_a_training_ends_on_or_after_its_start_and_not_in_the_future(training):
    assert squash(training.bind("start_date").get("constraint")) == ". <= today()"
    assert squash(training.bind("end_date").get("constraint")) == f". >= {training.path('start_date')} and . <= today()"
    assert set(training.choices("event_type")) == {"training", "awareness_campaign", "workshop"}


def test_each_participant_is_recorded_with_role_and_scores_between_0_and_100(training):
    participant = training.path("participant")
    assert training.xpath("//xf:repeat/@nodeset") == [participant]
    for field in ("participant_name", "participant_sex", "participant_age_group", "participant_role",
                  "participant_organisation", "participant_phone", "pre_test_score", "post_test_score"):  # fmt: skip
        assert training.path(field) == f"{participant}/{field}"
    assert set(training.choices("role")) == {
        "police_officer", "forum_member", "community_member", "civil_society", "judiciary", "local_authority",
    }  # fmt: skip
    for score in ("pre_test_score", "post_test_score"):
        bind = training.bind(score)
        assert bind.get("required") is None
        assert squash(bind.get("constraint")) == ". >= 0 and . <= 100"


def test_participants_are_counted_by_sex(training):
    participant = training.path("participant")
    expected = {
        "participants_women": f"count( {participant} [participant_sex = 'female'])",
        "participants_men": f"count( {participant} [participant_sex = 'male'])",
        "participants_total": f"count( {participant} )",
    }
    assert {f: squash(training.bind(f).get("calculate")) for f in expected} == {f: squash(e) for f, e in expected.items()}
    assert set(training.choices("sex")) == {"female", "male"}


# --------------------------------------------------------------------------- personal data


def test_personal_data_is_marked_for_de_identified_exports(form):
    assert form.root.nsmap["muntada"] == MUNTADA_NS
    expected = {
        "forum_meeting": {"facilitator", "photo_1", "photo_2", "photo_3"},
        "incident_referral": {*PERSON_DETAILS, "location", "description"},
        "training_attendance": {"trainers", "participant_name", "participant_phone"},
    }[form.name]
    assert form.personal_fields() == expected
