"""The programme's XLSForms: forum meetings, incident referrals, the follow-up of a
referred case, trainings.

Each form is compiled from its workbook once per session with ODK Validate
(JavaRosa), then its XForm is checked for what officers, supervisors and
analysts rely on: three languages with Arabic first, places chosen as
governorate -> district -> forum, forums read from forums.csv, constraints that
explain themselves in every language, personal data only after consent. What
makes the referral and its follow-up a case is tested in test_case_forms.py.
"""

import csv
import datetime
import functools
import re
import shutil

import openpyxl
import pytest
from lxml import etree
from pyxform.xls2xform import convert

from forms.rendering import (
    XLSFORMS_DIR,
    build_xlsx,
    main,
    render_markdown,
    stale_renderings,
)

FORMS = ("forum_meeting", "incident_referral", "referral_follow_up", "training_attendance")
LANGUAGES = ("Arabic (ar)", "Kurdish (ckb)", "English (en)")
MUNTADA_NS = "https://muntada.example/xforms"
NS = {
    "h": "http://www.w3.org/1999/xhtml",
    "xf": "http://www.w3.org/2002/xforms",
    "jr": "http://openrosa.org/javarosa",
    "orx": "http://openrosa.org/xforms",
    "muntada": MUNTADA_NS,
}
JR, ORX, XF = (f"{{{NS[p]}}}" for p in ("jr", "orx", "xf"))


def names(text: str) -> set[str]:
    """A set of choice or field names written as one string, for short tests."""
    return set(text.split())


GOVERNORATES = names(
    "anbar babil baghdad basra dhi_qar diyala dohuk erbil karbala kirkuk maysan"
    " muthanna najaf nineveh qadisiyah salah_al_din sulaymaniyah wasit"
)
ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF]")
# Sorani is written with keheh and Farsi yeh (ک ی), Arabic with kaf and yeh (ك ي).
SORANI_ONLY_LETTERS = re.compile(r"[کیەێۆڕڵگچپژڤ]")
ARABIC_ONLY_LETTERS = re.compile(r"[كيةى]")


def squash(expression: str | None) -> str:
    """An XPath expression with pyxform's padding spaces collapsed."""
    return " ".join((expression or "").split())


class XForm:
    """A compiled form, with look-ups by field name."""

    def __init__(self, name: str, xform: str, warnings: list[str]):
        self.name, self.warnings = name, warnings
        self.root = etree.fromstring(xform.encode("utf-8"))
        self.model = self.root.find("h:head/xf:model", NS)

    def xpath(self, path: str) -> list:
        return self.root.xpath(path, namespaces=NS)

    def path(self, field: str) -> str:
        """The field's path in the main instance, e.g. /data/person/person_name."""
        node, *_ = self.model.xpath(f"xf:instance[not(@id)]//xf:{field}", namespaces=NS)
        ancestors = [etree.QName(n).localname for n in node.iterancestors()]
        return "/" + "/".join(
            [*reversed(ancestors[: ancestors.index("instance")]), field]
        )

    def bind(self, field: str):
        (bind,) = self.xpath(f"//xf:bind[@nodeset='{self.path(field)}']")
        return bind

    def constraint(self, field: str) -> str:
        return squash(self.bind(field).get("constraint"))

    def relevant(self, field: str) -> str:
        return squash(self.bind(field).get("relevant"))

    def control(self, field: str):
        path = self.path(field)
        (control,) = self.xpath(f"//h:body//*[@ref='{path}' or @nodeset='{path}']")
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
        """Choice name -> its columns (e.g. governorate), from the form's instance."""
        (instance,) = self.xpath(f"//xf:instance[@id='{list_name}']")
        return {
            item.findtext("xf:name", namespaces=NS): {
                etree.QName(c).localname: c.text for c in item
            }
            for item in instance.findall("xf:root/xf:item", NS)
        }

    def districts_in(self, governorate: str) -> set[str]:
        districts = self.choices("district").items()
        return {name for name, d in districts if d["governorate"] == governorate}

    def place_texts(self, lang: str) -> dict[str, str]:
        texts = self.translations()[lang].items()
        return {i: t for i, t in texts if i.startswith(("governorate-", "district-"))}

    def classification(self) -> dict[str, str]:
        """Field name -> its `muntada:personal` level, for the fields that have one."""
        marked = self.xpath("//xf:bind[@muntada:personal]")
        return {
            b.get("nodeset").split("/")[-1]: b.get(f"{{{MUNTADA_NS}}}personal")
            for b in marked
        }

    def personal_fields(self) -> set[str]:
        """Identifying or quasi-identifying: kept out of what a phone lists."""
        return set(self.classification())


@pytest.fixture(scope="session")
def compile_form():
    """Compile a form from its workbook with ODK Validate, at most once per session."""

    @functools.cache
    def compile_(name: str) -> XForm:
        result = convert(xlsform=XLSFORMS_DIR / f"{name}.xlsx", validate=True)
        return XForm(name, result.xform, result.warnings)

    return compile_


@pytest.fixture(params=FORMS)
def form(request, compile_form) -> XForm:
    return compile_form(request.param)


@pytest.fixture
def meeting(compile_form) -> XForm:
    return compile_form("forum_meeting")


@pytest.fixture
def incident(compile_form) -> XForm:
    return compile_form("incident_referral")


@pytest.fixture
def training(compile_form) -> XForm:
    return compile_form("training_attendance")


def read_forums() -> list[dict[str, str]]:
    with open(XLSFORMS_DIR / "media" / "forums.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------- renderings


def test_the_programme_has_exactly_its_forms():
    """These four, and `my_returned_forms` (tests/forms/test_my_returned_forms.py), which asks
    no place: the officer answers a supervisor about a submission already sent."""
    expected = sorted((*FORMS, "my_returned_forms"))
    assert sorted(p.stem for p in XLSFORMS_DIR.glob("*.xlsx")) == expected
    assert sorted(p.stem for p in XLSFORMS_DIR.glob("*.md")) == expected


@pytest.mark.parametrize("name", FORMS)
def test_each_markdown_rendering_is_up_to_date_with_its_workbook(name):
    md = (XLSFORMS_DIR / f"{name}.md").read_text(encoding="utf-8")
    rendered = render_markdown(XLSFORMS_DIR / f"{name}.xlsx")
    assert md == rendered, "run: python -m forms.rendering --write"


@pytest.mark.parametrize("name", FORMS)
def test_a_workbook_built_from_a_rendering_renders_back_unchanged(name, tmp_path):
    md = (XLSFORMS_DIR / f"{name}.md").read_text(encoding="utf-8")
    build_xlsx(md, tmp_path / "form.xlsx")
    assert render_markdown(tmp_path / "form.xlsx") == md


@pytest.mark.parametrize("name", FORMS)
def test_the_rendering_compiles_to_the_same_xform_as_the_workbook(name):
    md = (XLSFORMS_DIR / f"{name}.md").read_text(encoding="utf-8")
    from_md = convert(xlsform=md, file_type=".md").xform
    assert from_md == convert(xlsform=XLSFORMS_DIR / f"{name}.xlsx").xform


def test_rendering_escapes_pipes_and_drops_blank_rows_and_unheaded_columns(tmp_path):
    workbook = tmp_path / "w.xlsx"
    build_xlsx(
        "| survey |\n| | type | name | constraint |\n| | text | a | regex(., 'x\\|y') |\n",
        workbook,
    )
    wb = openpyxl.load_workbook(workbook)
    ws = wb["survey"]
    assert [c.value for c in ws[2]] == ["text", "a", "regex(., 'x|y')"]
    ws["A4"], ws["B4"], ws["C4"], ws["E2"] = "=note", "b", "  spaced  ", "no header"
    ws["A4"].data_type = "s"  # a text cell, not a formula; row 3 stays blank
    wb.save(workbook)
    assert render_markdown(workbook) == (
        "| survey |\n"
        "| | type | name | constraint |\n"
        "| | text | a | regex(., 'x\\|y') |\n"
        "| | =note | b | spaced |\n"
    )
    build_xlsx(render_markdown(workbook), tmp_path / "again.xlsx")
    assert render_markdown(tmp_path / "again.xlsx") == render_markdown(workbook)


def test_an_entities_sheet_is_rendered_and_sheets_not_rendered_are_refused(tmp_path):
    """The entities sheet makes a form create or update cases: it is reviewed like the
    rest. A sheet pyxform reads but the rendering cannot show must not vanish silently."""
    md = (
        "| survey |\n| | type | name | label | save_to |\n| | text | a | A | a |\n\n"
        "| entities |\n| | list_name | label |\n| | things | concat('T-', ${a}) |\n"
    )
    build_xlsx(md, tmp_path / "w.xlsx")
    assert render_markdown(tmp_path / "w.xlsx") == md
    wb = openpyxl.load_workbook(tmp_path / "w.xlsx")
    wb.create_sheet("external_choices")
    wb.save(tmp_path / "w.xlsx")
    with pytest.raises(ValueError, match=r"sheets not rendered: \['external_choices'\]"):
        render_markdown(tmp_path / "w.xlsx")


def test_check_lists_stale_renderings_and_passes_on_the_repository(tmp_path, capsys):
    shutil.copy(XLSFORMS_DIR / "forum_meeting.xlsx", tmp_path)
    (tmp_path / "forum_meeting.md").write_text("| survey |\n", encoding="utf-8")
    shutil.copy(XLSFORMS_DIR / "training_attendance.xlsx", tmp_path)  # and no .md
    assert stale_renderings(tmp_path) == [
        tmp_path / "forum_meeting.md",
        tmp_path / "training_attendance.md",
    ]
    assert main(["--check"]) == 0
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------------ compiling


def test_each_form_passes_odk_validate_without_warnings(form):
    assert form.warnings == []


def test_each_form_has_its_id_and_a_date_based_version(form):
    (data,) = form.xpath("/h:html/h:head/xf:model/xf:instance[not(@id)]/*")
    assert data.get("id") == form.name
    version = data.get("version")
    assert re.fullmatch(r"20\d{8}", version), version
    year, month, day = int(version[:4]), int(version[4:6]), int(version[6:8])
    assert datetime.date(year, month, day) >= datetime.date(2026, 1, 1)


def test_each_form_records_when_and_on_which_device(form):
    for field in ("start", "end", "today", "deviceid"):
        assert form.bind(field).get(f"{JR}preloadParams") == field
    assert form.bind("instanceID").get(f"{JR}preload") == "uid"


# ------------------------------------------------------------------------ languages


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


def test_every_label_and_hint_is_translated_except_forum_and_case_names(form):
    """Forum names come from forums.csv and case labels from the `cases` list: one
    `label` column each (see the forum list test and test_case_forms.py)."""
    for element in form.xpath("//h:body//xf:label | //h:body//xf:hint"):
        itemset = element.getparent()
        from_csv = itemset.tag == f"{XF}itemset" and any(
            f"'{media}'" in itemset.get("nodeset") for media in ("forums", "cases")
        )
        expected = "label" if from_csv else "jr:itext("
        assert element.get("ref", "").startswith(expected), etree.tostring(itemset)


def test_arabic_and_kurdish_are_each_spelled_in_their_own_way(form):
    translations = form.translations()
    arabic, kurdish = translations["Arabic (ar)"], translations["Kurdish (ckb)"]
    assert all(ARABIC_SCRIPT.search(t) for t in [*arabic.values(), *kurdish.values()])
    assert not any(
        ARABIC_SCRIPT.search(t) for t in translations["English (en)"].values()
    )
    assert not any(SORANI_ONLY_LETTERS.search(t) for t in arabic.values())
    assert not any(ARABIC_ONLY_LETTERS.search(t) for t in kurdish.values())
    questions = [i for i in kurdish if i.startswith("/")]  # labels, hints, messages
    assert [i for i in questions if kurdish[i] == arabic[i]] == []  # not copied


def test_every_constraint_explains_itself_in_three_languages(form):
    translations = form.translations()
    constrained = form.xpath("//xf:bind[@constraint]")
    assert constrained
    for bind in constrained:
        message = bind.get(f"{JR}constraintMsg")
        (text_id,) = re.fullmatch(r"jr:itext\('(.+)'\)", message).groups()
        assert all(translations[lang][text_id] for lang in LANGUAGES), text_id


def test_a_saved_form_is_named_so_an_officer_recognises_it(form):
    named_after = {
        "forum_meeting": ("forum_name", "meeting_date"),
        "incident_referral": ("reference", "incident_datetime"),
        "referral_follow_up": ("case_label", "action_date"),
        "training_attendance": ("title", "start_date"),
    }[form.name]
    instance_name = form.bind("instanceName").get("calculate")
    assert all(form.path(field) in instance_name for field in named_after)
    # The list of saved forms on a phone shows no personal data.
    assert not any(form.path(f) in instance_name for f in form.personal_fields())


# --------------------------------------------------------------------------- places

# Every district of the governorates where the programme works (OCHA / Kurdistan
# Region lists; Makhmur as administered from Erbil, Akre from Dohuk).
DISTRICTS_OF = {
    "anbar": "ramadi fallujah hit haditha anah rawa al_qaim rutba",
    "baghdad": "rusafa adhamiyah sadr_1 sadr_2 karkh kadhimiya mahmudiya abu_ghraib"
    " tarmiyah madain",
    "diyala": "baqubah muqdadiyah khalis khanaqin balad_ruz kifri",
    "dohuk": "dohuk zakho sumel amedi akre",
    "erbil": "erbil dashti_hawler khabat koya shaqlawa soran rawanduz mergasur choman"
    " makhmur",
    "kirkuk": "kirkuk hawija daquq dibis",
    "nineveh": "mosul tel_afar sinjar baaj hatra hamdaniya tel_kaif shekhan",
    "salah_al_din": "tikrit samarra balad baiji tuz_khurmatu daur shirqat faris",
    "sulaymaniyah": "sulaymaniyah chamchamal darbandikhan dokan kalar penjwen pshdar"
    " rania sharbazher halabja",
}


def test_all_eighteen_governorates_are_offered(form):
    governorates = form.choices("governorate")
    assert set(governorates) == GOVERNORATES


def test_districts_cascade_from_the_governorate(form):
    (itemset,) = form.control("district").findall("xf:itemset", NS)
    governorate = form.path("governorate")
    assert squash(itemset.get("nodeset")) == (
        f"instance('district')/root/item[governorate= {governorate} ]"
    )
    assert all(form.districts_in(g) for g in GOVERNORATES)  # never an empty list
    for governorate, districts in DISTRICTS_OF.items():
        assert form.districts_in(governorate) == names(districts), governorate


def test_the_place_lists_are_the_same_in_every_form(compile_form):
    first, *others = (compile_form(name) for name in FORMS)
    for form in others:
        assert form.choices("district") == first.choices("district")
        for lang in LANGUAGES:
            assert form.place_texts(lang) == first.place_texts(lang)


def test_forums_come_from_forums_csv_filtered_by_governorate_and_district(form):
    (instance,) = form.xpath("//xf:instance[@id='forums']")
    assert instance.get("src") == "jr://file-csv/forums.csv"
    (itemset,) = form.control("forum").findall("xf:itemset", NS)
    governorate, district = form.path("governorate"), form.path("district")
    assert squash(itemset.get("nodeset")) == (
        "instance('forums')/root/item"
        f"[governorate= {governorate} and district= {district} ]"
    )
    assert itemset.find("xf:value", NS).get("ref") == "name"
    assert itemset.find("xf:label", NS).get("ref") == "label"


def test_meetings_and_follow_ups_need_a_forum_but_incidents_and_trainings_may_not(form):
    """A follow-up lists the cases of the forum chosen, so it cannot go without one."""
    required = form.bind("forum").get("required") == "true()"
    assert required == (form.name in ("forum_meeting", "referral_follow_up"))


def test_the_forum_list_is_a_media_file_collect_can_read():
    """Collect makes XML elements of the CSV headers and shows one label whatever
    the language: so `label` is bilingual and per-language names sit beside it
    (a `label::English (en)` header would make the form fail to download)."""
    forums = read_forums()
    assert list(forums[0]) == [
        "name",
        "label",
        "governorate",
        "district",
        "label_ar",
        "label_ckb",
        "label_en",
    ]
    assert 30 <= len(forums) <= 45
    assert len({f["name"] for f in forums}) == len(forums)
    for forum in forums:
        assert re.fullmatch(r"[a-z]{3}_[a-z_]+_\d\d", forum["name"]), forum
        assert forum["label"] == f"{forum['label_ar']} · {forum['label_en']}"
        assert ARABIC_SCRIPT.search(forum["label_ckb"])
        assert not ARABIC_SCRIPT.search(forum["label_en"])


def test_every_forum_sits_in_a_district_of_its_governorate(meeting):
    districts = meeting.choices("district")
    for forum in read_forums():
        assert districts[forum["district"]]["governorate"] == forum["governorate"]


def test_the_forums_named_in_the_programme_are_listed():
    forums = read_forums()
    places = {(f["governorate"], f["district"], f["label_en"]) for f in forums}
    for governorate, district, town in [
        ("anbar", "ramadi", "Ramadi"),
        ("nineveh", "mosul", "Qayyarah"),
        ("diyala", "khalis", "Khalis"),
    ]:
        assert any(p[:2] == (governorate, district) and town in p[2] for p in places)
    assert {"baghdad", "erbil"} <= {f["governorate"] for f in forums}


# ------------------------------------------------------------------- forum meetings

ATTENDEES = names("police idp host returnee civil_society judiciary local_authority")


def test_a_meeting_cannot_be_dated_in_the_future(meeting):
    assert meeting.constraint("meeting_date") == ". <= today()"
    assert meeting.bind("location").get("type") == "geopoint"


def test_attendance_is_counted_by_sex_for_each_group_and_never_negative(meeting):
    for group in ATTENDEES:
        for sex in ("women", "men"):
            bind = meeting.bind(f"{group}_{sex}")
            assert (bind.get("type"), bind.get("required")) == ("int", "true()")
            assert meeting.constraint(f"{group}_{sex}") == ". >= 0"


def test_attendance_totals_add_up_every_group(meeting):
    for sex in ("women", "men"):
        total = squash(meeting.bind(f"total_{sex}").get("calculate"))
        terms = re.findall(r"coalesce\( ?(\S+) ?, 0\)", total)
        assert sorted(terms) == sorted(meeting.path(f"{g}_{sex}") for g in ATTENDEES)
    total = meeting.bind("total_attendance")
    women, men = meeting.path("total_women"), meeting.path("total_men")
    assert squash(total.get("calculate")) == f"{women} + {men}"
    assert total.get("type") == "int"


def test_several_topics_may_be_chosen_and_other_is_specified(meeting):
    assert meeting.control("topics").tag == f"{XF}select"
    topics = meeting.path("topics")
    assert meeting.relevant("topics_other") == f"selected( {topics} , 'other')"


def test_each_issue_raised_has_an_action_someone_responsible_and_a_due_date(meeting):
    (repeat,) = meeting.xpath("//xf:repeat")
    issue = meeting.path("issue")
    assert repeat.get("nodeset") == issue
    for field in (
        "issue_category",
        "issue_description",
        "issue_priority",
        "action_agreed",
        "responsible",
        "due_date",
    ):
        assert meeting.path(field) == f"{issue}/{field}"
        assert meeting.bind(field).get("required") == "true()"
    assert set(meeting.choices("priority")) == {"high", "medium", "low"}
    meeting_date = meeting.path("meeting_date")
    assert meeting.constraint("due_date") == f". >= {meeting_date}"


def test_referrals_are_counted_and_not_negative(meeting):
    assert meeting.constraint("referrals") == ". >= 0"


def test_up_to_three_photos_each_asked_only_after_the_previous_one(meeting):
    assert meeting.bind("photo_1").get("relevant") is None
    for previous, photo in (("photo_1", "photo_2"), ("photo_2", "photo_3")):
        assert meeting.relevant(photo) == f"{meeting.path(previous)} != ''"
    for photo in ("photo_1", "photo_2", "photo_3"):
        assert meeting.bind(photo).get("type") == "binary"
        # Photos are shrunk on the phone: the networks are slow.
        assert meeting.bind(photo).get(f"{ORX}max-pixels") == "1280"


# ---------------------------------------------------------------- incident referrals

PERSON_DETAILS = (
    "person_name",
    "person_sex",
    "person_age_group",
    "displacement_status",
    "person_phone",
)


def test_an_incident_cannot_be_in_the_future(incident):
    assert incident.bind("incident_datetime").get("type") == "dateTime"
    assert incident.constraint("incident_datetime") == ". <= now()"


def test_an_incident_gets_a_reference_when_the_form_is_opened(incident):
    (setvalue,) = incident.xpath(f"//xf:setvalue[@ref='{incident.path('reference')}']")
    assert setvalue.get("event") == "odk-instance-first-load"
    assert "uuid()" in setvalue.get("value")
    assert incident.bind("reference").get("required") == "true()"


def test_categories_and_channels_and_agencies_offer_other_to_specify(incident):
    assert set(incident.choices("incident_category")) == names(
        "theft domestic_violence gbv threat tribal_dispute property_dispute"
        " missing_person explosive_hazard harassment other"
    )
    assert set(incident.choices("channel")) == names(
        "forum_meeting walk_in phone_call community_member police_patrol"
        " ngo_referral other"
    )
    assert set(incident.choices("agency")) == names(
        "police_station family_protection court health legal_aid"
        " displacement_authority ngo other"
    )
    for field in ("category", "channel", "agency"):
        path = incident.path(field)
        assert incident.relevant(f"{field}_other") == f"{path} = 'other'"


def test_personal_details_are_asked_only_after_recorded_consent(incident):
    consent = incident.control("consent")
    assert consent.xpath("xf:itemset/@nodeset", namespaces=NS) == [
        "instance('yes_no')/root/item"
    ]
    assert incident.bind("consent").get("required") == "true()"
    assert consent.getprevious().get("ref") == incident.path("consent_note")
    assert incident.relevant("person") == f"{incident.path('consent')} = 'yes'"
    for field in PERSON_DETAILS:
        assert incident.path(field).startswith(incident.path("person") + "/")
    body = list(incident.xpath("//h:body")[0].iter())
    assert body.index(consent) < body.index(incident.control("person_name"))


def test_a_phone_number_may_be_typed_with_arabic_indic_or_western_digits(
    incident, training
):
    constraint = incident.bind("person_phone").get("constraint")
    assert training.bind("participant_phone").get("constraint") == constraint
    (pattern,) = re.fullmatch(r"regex\(\., '(.+)'\)", constraint).groups()
    accepted = [
        "07701234567",
        "٠٧٧٠١٢٣٤٥٦٧",  # Arabic-Indic digits
        "۰۷۷۰۱۲۳۴۵۶۷",  # Eastern Arabic-Indic, from a Persian-layout keyboard
        "7701234567",
        "+9647701234567",
        "٠٠٩٦٤٧٧٠١٢٣٤٥٦٧",
    ]
    refused = ["0770123456", "077012345678", "0770-123-4567", "call me", "+964"]
    assert [n for n in accepted if not re.search(pattern, n)] == []
    assert [n for n in refused if re.search(pattern, n)] == []


def test_the_case_is_referred_with_an_urgency_and_a_follow_up_date_if_needed(
    incident,
):
    assert set(incident.choices("urgency")) == {"immediate", "within_week", "routine"}
    follow_up, today = incident.path("follow_up"), incident.path("today")
    assert incident.relevant("follow_up_date") == f"{follow_up} = 'yes'"
    assert incident.constraint("follow_up_date") == f". >= {today}"


# ------------------------------------------------------------------------- trainings


def test_a_training_ends_on_or_after_its_start_and_not_in_the_future(training):
    start = training.path("start_date")
    assert training.constraint("start_date") == ". <= today()"
    assert training.constraint("end_date") == f". >= {start} and . <= today()"
    assert set(training.choices("event_type")) == names(
        "training awareness_campaign workshop"
    )


def test_each_participant_has_a_role_and_optional_scores_from_0_to_100(training):
    participant = training.path("participant")
    assert training.xpath("//xf:repeat/@nodeset") == [participant]
    for field in (
        "participant_name",
        "participant_sex",
        "participant_age_group",
        "participant_role",
        "participant_organisation",
        "participant_phone",
        "pre_test_score",
        "post_test_score",
    ):
        assert training.path(field) == f"{participant}/{field}"
    assert set(training.choices("role")) == names(
        "police_officer forum_member community_member civil_society judiciary"
        " local_authority"
    )
    for score in ("pre_test_score", "post_test_score"):
        assert training.bind(score).get("required") is None
        assert training.constraint(score) == ". >= 0 and . <= 100"


def test_participants_are_counted_by_sex(training):
    participant = training.path("participant")
    counts = {
        "participants_women": f"count( {participant} [participant_sex = 'female'])",
        "participants_men": f"count( {participant} [participant_sex = 'male'])",
        "participants_total": f"count( {participant} )",
    }
    for field, count in counts.items():
        assert squash(training.bind(field).get("calculate")) == squash(count)
        assert training.bind(field).get("type") == "int"
    assert set(training.choices("sex")) == {"female", "male"}


# --------------------------------------------------------------------- personal data


def test_fields_about_people_are_classified_for_de_identified_exports(form):
    """Identifying fields are hidden from readers without the personal-data
    permission (pseudonymised, withheld or coarsened); quasi-identifying ones stay
    readable, so referrals and participants can be counted by sex and age group."""
    assert form.root.nsmap["muntada"] == MUNTADA_NS
    identifying, quasi = "identifying", "quasi"
    expected = {
        "forum_meeting": {
            "facilitator": identifying,
            **dict.fromkeys(("photo_1", "photo_2", "photo_3"), identifying),
        },
        "incident_referral": {
            "person_name": identifying,
            "person_phone": identifying,
            "location": identifying,
            "description": identifying,
            "person_sex": quasi,
            "person_age_group": quasi,
            "displacement_status": quasi,
        },
        "referral_follow_up": {"outcome": identifying},
        "training_attendance": {
            "trainers": identifying,
            "participant_name": identifying,
            "participant_phone": identifying,
            "participant_sex": quasi,
            "participant_age_group": quasi,
            "participant_role": quasi,
            "participant_organisation": quasi,
        },
    }[form.name]
    assert form.classification() == expected


def test_the_incident_narrative_is_free_text_withheld_rather_than_pseudonymised(
    incident,
):
    assert incident.control("description").get("appearance") == "multiline"


def test_sensitive_incident_categories_are_declared_in_the_form(incident):
    categories = incident.choices("incident_category")
    sensitive = {n for n, c in categories.items() if c.get("muntada_sensitive") == "yes"}
    assert sensitive == names("domestic_violence gbv threat harassment")


def _inside(longitude: float, latitude: float, ring: list) -> bool:
    """Ray casting: is the point inside the polygon's ring?"""
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > latitude) != (y2 > latitude) and longitude < x1 + (latitude - y1) * (
            x2 - x1
        ) / (y2 - y1):
            inside = not inside
    return inside


def test_every_district_has_a_point_in_iraq_to_coarsen_incident_locations_to(form):
    """An incident's exact GPS is shown to readers without the permission as its
    district's point (the district's main town)."""
    import json

    # the outline of Iraq the pages' maps draw
    outline = json.loads(
        (XLSFORMS_DIR.parents[1] / "server/surfaces/pages/static/vendor/iraq.geojson").read_text()
    )
    polygons = outline["geometry"]["coordinates"]
    districts = form.choices("district")
    for name, district in districts.items():
        latitude, longitude = map(float, district["muntada_point"].split())
        assert any(_inside(longitude, latitude, p[0]) for p in polygons), name
