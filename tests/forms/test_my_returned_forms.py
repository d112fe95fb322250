"""`my_returned_forms`: the officer picks one of their submissions a supervisor returned (from the
attachment `feedback.csv`, which the server makes for each phone), reads its form, date, forum,
state and the supervisor's comment, and answers.

Compiled as the server compiles it (`forms.compile_form`, with ODK Validate), once per session;
what the server does with the list and the answer is tested in tests/review/test_feedback.py.
"""

import re

import pytest

from forms.rendering import XLSFORMS_DIR, build_xlsx, render_markdown
from server.services import feedback
from server.services.programme import PROGRAMME_FORMS
from tests.forms.test_programme_forms import (
    ARABIC_ONLY_LETTERS,
    ARABIC_SCRIPT,
    JR,
    LANGUAGES,
    NS,
    SORANI_ONLY_LETTERS,
    XF,
    XForm,
    squash,
)
from tests.support.compiled import compile_once

NAME = "my_returned_forms"
ENTRY = "instance('feedback')/root/item[name= /data/returned ]"


@pytest.fixture(scope="module")
def form() -> XForm:
    compiled = compile_once((XLSFORMS_DIR / f"{NAME}.xlsx").read_bytes(), validate=True)
    return XForm(NAME, compiled.xform.decode("utf-8"), list(compiled.warnings))


def test_it_compiles_and_passes_odk_validate_without_warnings(form):
    assert form.warnings == []
    (data,) = form.xpath("//xf:instance[not(@id)]/*")
    assert data.get("id") == NAME
    assert re.fullmatch(r"20\d{8}", data.get("version"))
    for field in ("start", "end", "today", "deviceid"):
        assert form.bind(field).get(f"{JR}preloadParams") == field
    assert form.bind("instanceID").get(f"{JR}preload") == "uid"


def test_the_officer_picks_one_of_their_returned_submissions_from_feedback_csv(form):
    (instance,) = form.xpath("//xf:instance[@id='feedback']")
    assert instance.get("src") == "jr://file-csv/feedback.csv"  # an external secondary instance
    (itemset,) = form.control("returned").findall("xf:itemset", NS)
    # no filter: the server already sends each phone only its own officer's submissions
    assert itemset.get("nodeset") == "instance('feedback')/root/item"
    assert itemset.find("xf:value", NS).get("ref") == "name"
    assert itemset.find("xf:label", NS).get("ref") == "label"
    assert form.bind("returned").get("required") == "true()"


def test_the_officer_reads_what_the_server_sends_of_the_returned_submission(form):
    read = {"returned_form": "form", "returned_date": "date", "returned_forum": "forum",
            "returned_state": "state", "returned_comment": "comment"}
    for field, column in read.items():
        assert squash(form.bind(field).get("calculate")) == f"{ENTRY}/{column}"
    # every column the form reads is one the server writes
    assert set(read.values()) <= set(feedback.COLUMNS)
    assert feedback.COLUMNS[:3] == ("name", "label", "__version")
    group = form.path("feedback")
    assert form.relevant("feedback") == f"{form.path('returned')} != ''"
    for note, shown in (("form_note", "returned_form"), ("date_note", "returned_date"),
                        ("forum_note", "returned_forum_name"),
                        ("comment_note", "returned_comment")):
        assert form.path(note).startswith(group + "/")
        text_id = f"{form.path(note)}:label"
        outputs = form.xpath(f"//xf:text[@id='{text_id}']/xf:value/xf:output/@value")
        assert [squash(o) for o in outputs] == [form.path(shown)] * len(LANGUAGES), note


def test_the_state_is_shown_in_the_officer_s_language_and_the_forum_by_its_name(form):
    assert form.bind("returned_state").get("readonly") == "true()"
    assert form.control("returned_state").tag == f"{XF}select1"
    assert set(form.choices("review_state")) == set(feedback.RETURNED_STATES)
    (forums,) = form.xpath("//xf:instance[@id='forums']")
    assert forums.get("src") == "jr://file-csv/forums.csv"
    forum = form.path("returned_forum")
    assert f"instance('forums')/root/item[name= {forum} ]/label" in squash(
        form.bind("returned_forum_name").get("calculate"))
    assert form.relevant("forum_note") == f"{forum} != ''"


def test_the_officer_answers_in_their_own_words(form):
    assert form.bind("answer").get("required") == "true()"
    assert form.control("answer").get("appearance") == "multiline"
    assert form.constraint("answer") == "string-length(.) <= 2000"
    assert len(form.path("answer").split("/")) == 3  # a child of the root: the server reads it
    assert form.path("returned").count("/") == 2
    assert (feedback.PICKED, feedback.ANSWER) == ("returned", "answer")


def test_a_saved_answer_is_named_after_the_form_and_day_it_answers(form):
    name = squash(form.bind("instanceName").get("calculate"))
    assert form.path("returned_form") in name and form.path("returned_date") in name


# ------------------------------------------------------------------------ languages


def test_it_speaks_arabic_kurdish_and_english_with_arabic_first(form):
    translations = form.model.findall("xf:itext/xf:translation", NS)
    assert [t.get("lang") for t in translations] == list(LANGUAGES)
    assert [t.get("default") for t in translations] == ["true()", None, None]


def test_every_text_is_in_all_three_languages_each_spelled_its_own_way(form):
    translations = form.translations()
    ids = set(translations["Arabic (ar)"])
    assert len(ids) >= 10  # labels, hints, notes, the message, the two states
    for lang, texts in translations.items():
        assert set(texts) == ids, lang
        assert [i for i, t in texts.items() if t in ("", "-")] == [], lang
    arabic, kurdish = translations["Arabic (ar)"], translations["Kurdish (ckb)"]
    assert all(ARABIC_SCRIPT.search(t) for t in [*arabic.values(), *kurdish.values()])
    assert not any(ARABIC_SCRIPT.search(t) for t in translations["English (en)"].values())
    assert not any(SORANI_ONLY_LETTERS.search(t) for t in arabic.values())
    assert not any(ARABIC_ONLY_LETTERS.search(t) for t in kurdish.values())
    assert [i for i in kurdish if kurdish[i] == arabic[i]] == []  # not copied


def test_every_label_hint_and_message_is_translated_but_the_entries_labels(form):
    for element in form.xpath("//h:body//xf:label | //h:body//xf:hint"):
        itemset = element.getparent()
        from_list = itemset.tag == f"{XF}itemset" and "'feedback'" in itemset.get("nodeset")
        assert element.get("ref", "").startswith("label" if from_list else "jr:itext(")
    message = form.bind("answer").get(f"{JR}constraintMsg")
    (text_id,) = re.fullmatch(r"jr:itext\('(.+)'\)", message).groups()
    assert all(form.translations()[lang][text_id] for lang in LANGUAGES)


# ------------------------------------------------------------------ rendering, programme


def test_the_rendering_is_up_to_date_and_builds_back(tmp_path):
    md = (XLSFORMS_DIR / f"{NAME}.md").read_text(encoding="utf-8")
    assert md == render_markdown(XLSFORMS_DIR / f"{NAME}.xlsx"), \
        "run: python -m forms.rendering --write"
    build_xlsx(md, tmp_path / "form.xlsx")
    assert render_markdown(tmp_path / "form.xlsx") == md


def test_the_programme_loads_it_with_the_forum_list_and_the_server_makes_the_feedback():
    (programme_form,) = [f for f in PROGRAMME_FORMS if f.form_id == NAME]
    assert [m.name for m in programme_form.media] == ["forums.csv"]
    assert feedback.ANSWER_FORM == NAME and feedback.MEDIA_NAME == "feedback.csv"
