"""Reading a compiled form: the fields, their types and repeats, labels in every language, choices
and media, the way the rest of the system needs them."""

from __future__ import annotations

import pytest

from forms import FormError, compile_form, read_structure
from tests.support.xlsforms import xlsform

MEETING = xlsform("""
    | | type | name | label::Arabic (ar) | label::Kurdish (ckb) | label::English (en) | media::image::English (en) |
    | | date | meeting_date | تاريخ الاجتماع | ڕێکەوتی کۆبوونەوە | Meeting date | |
    | | geopoint | location | الموقع | شوێن | Location | |
    | | begin_group | attendance | الحضور | ئامادەبوون | Attendance | |
    | | integer | police_women | شرطيات | پۆلیسی ئافرەت | Policewomen | |
    | | end_group | | | | | |
    | | select_multiple topic | topics | المواضيع | بابەتەکان | Topics | |
    | | begin_repeat | issue | قضية | کێشە | Issue | |
    | | text | description | الوصف | وەسف | Description | |
    | | begin_repeat | action | إجراء | کردار | Action | |
    | | date | due | الموعد | وادە | Due | |
    | | end_repeat | | | | | |
    | | end_repeat | | | | | |
    | | select_one_from_file forums.csv | forum | المنتدى | مەکۆ | Forum | |
    | | image | photo | صورة | وێنە | Photo | camera.png |
""", form_id="forum_meeting", version="2026112901", title="Forum meeting", choices="""
    | | list_name | name | label::Arabic (ar) | label::Kurdish (ckb) | label::English (en) |
    | | topic | security | الأمن | ئاسایش | Security |
    | | topic | services | الخدمات | خزمەتگوزاری | Services |
""", extra_settings="default_language=Arabic (ar)")


@pytest.fixture(scope="module")
def meeting():
    return read_structure(compile_form(MEETING).xform)


def test_the_form_says_who_it_is(meeting):
    assert (meeting.form_id, meeting.version, meeting.title) == (
        "forum_meeting", "2026112901", "Forum meeting")
    assert [(lang.name, lang.code) for lang in meeting.languages] == [
        ("Arabic (ar)", "ar"), ("Kurdish (ckb)", "ckb"), ("English (en)", "en")]
    assert meeting.default_language == "Arabic (ar)"
    assert not meeting.encrypted


def test_every_field_has_its_path_type_and_repeat_ancestry(meeting):
    summary = {f.path: (f.kind, f.type, f.repeats) for f in meeting.fields}
    assert summary["/meeting_date"] == ("value", "date", ())
    assert summary["/location"] == ("value", "geopoint", ())
    assert summary["/attendance"] == ("group", "structure", ())
    assert summary["/attendance/police_women"] == ("value", "int", ())
    assert summary["/issue"] == ("repeat", "repeat", ())
    assert summary["/issue/description"] == ("value", "string", ("/issue",))
    assert summary["/issue/action"] == ("repeat", "repeat", ("/issue",))
    assert summary["/issue/action/due"] == ("value", "date", ("/issue", "/issue/action"))
    assert summary["/photo"] == ("value", "binary", ())
    assert summary["/meta/instanceID"] == ("value", "string", ())
    assert [f.path for f in meeting.repeats] == ["/issue", "/issue/action"]


def test_labels_in_every_language(meeting):
    date = meeting.field("/meeting_date")
    assert date.labels == {"Arabic (ar)": "تاريخ الاجتماع", "Kurdish (ckb)": "ڕێکەوتی کۆبوونەوە",
                           "English (en)": "Meeting date"}
    assert date.label("ckb") == "ڕێکەوتی کۆبوونەوە"
    assert date.label("fr") == "تاريخ الاجتماع"  # falls back to the default language
    assert meeting.field("/issue").label("en") == "Issue"  # a repeat's label is on its group


def test_choices_with_labels_in_every_language(meeting):
    topics = meeting.field("/topics")
    assert topics.select_multiple
    assert [(c.name, c.labels["English (en)"], c.labels["Kurdish (ckb)"])
            for c in topics.choices] == [("security", "Security", "ئاسایش"),
                                         ("services", "Services", "خزمەتگوزاری")]


def test_choices_from_a_file_and_media_the_phone_must_download(meeting):
    forum = meeting.field("/forum")
    assert forum.choices == () and forum.choices_file == "forums.csv"
    assert [(m.name, m.type) for m in meeting.media] == [("camera.png", "image"),
                                                         ("forums.csv", "file")]


def test_pulldata_and_search_files_are_media_too():
    structure = read_structure(compile_form(xlsform("""
        | | type | name | label | calculation | appearance |
        | | text | code | Code | | |
        | | calculate | price | | pulldata('prices', 'price', 'code', ${code}) | |
        | | select_one fruit | fruit | Fruit | | search('fruits') |
    """, choices="""
        | | list_name | name | label |
        | | fruit | name_key | name |
    """)).xform)
    assert [m.name for m in structure.media] == ["fruits.csv", "prices.csv"]


def test_a_form_without_translations_has_default_labels():
    structure = read_structure(compile_form(xlsform("""
        | | type | name | label |
        | | text | name | Your name |
    """)).xform)
    assert structure.languages == ()
    assert structure.field("/name").labels == {"default": "Your name"}


def test_a_field_marked_personal_is_known_as_such():
    structure = read_structure(compile_form(xlsform("""
        | | type | name | label | bind::muntada:personal |
        | | text | name | Name | yes |
        | | text | district | District | |
    """, extra_settings='namespaces=muntada="https://muntada.example/xforms"')).xform)
    assert structure.field("/name").personal
    assert not structure.field("/district").personal


def xform_with_root(attributes: str) -> bytes:
    """A one-question XForm whose primary instance root carries `attributes`."""
    return (f'<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"'
            f' xmlns:orx="http://openrosa.org/xforms"><h:head><h:title>One</h:title><model>'
            f'<instance><data {attributes}><age/></data></instance>'
            f'<bind nodeset="/data/age" type="int"/></model></h:head><h:body>'
            f'<input ref="/data/age"><label>Age</label></input></h:body></h:html>').encode()


@pytest.mark.parametrize("attributes, version", [
    ('id="one" orx:version="1"', "1"),  # as ODK Collect's own test forms declare it
    ('id="one" version="2"', "2"),
    ('id="one" orx:version="1" version="2"', "2"),  # the plain attribute when there are both
    ('id="one"', ""),
])
def test_the_version_is_read_with_or_without_a_namespace(attributes, version):
    assert read_structure(xform_with_root(attributes)).version == version


def test_the_field_a_phone_fills_with_its_device_id_is_known():
    structure = read_structure(compile_form(xlsform("""
        | | type | name | label |
        | | deviceid | phone_id | |
        | | text | name | Name |
    """)).xform)
    assert structure.field("/phone_id").preload == ("property", "deviceid")
    assert structure.device_id_path == "/phone_id"
    assert read_structure(xform_with_root('id="one"')).device_id_path is None


def test_the_form_classifies_fields_as_identifying_or_quasi_identifying():
    structure = read_structure(compile_form(xlsform("""
        | | type | name | label | appearance | bind::muntada:personal |
        | | text | name | Name | | identifying |
        | | text | phone | Phone | | yes |
        | | select_one sex | sex | Sex | | quasi |
        | | text | story | What happened | multiline | identifying |
        | | text | nickname | Nickname | | identifyng |
        | | text | notes | Notes | | no |
        | | text | district | District | | |
    """, extra_settings='namespaces=muntada="https://muntada.example/xforms"', choices="""
        | | list_name | name | label |
        | | sex | female | Female |
    """)).xform)
    field = structure.field
    assert [field(p).privacy for p in ("/name", "/phone", "/sex", "/story", "/nickname",
                                       "/notes", "/district")] == [
        "identifying", "identifying", "quasi", "identifying", "identifying", None, None]
    assert field("/phone").personal and not field("/sex").personal and field("/sex").quasi
    # a narrative is withheld, a name pseudonymised: the form's multiline appearance tells
    assert field("/story").free_text and not field("/name").free_text


def test_choices_carry_the_forms_sensitive_marks_and_points():
    structure = read_structure(compile_form(xlsform("""
        | | type | name | label |
        | | select_one category | category | Category |
        | | select_one district | district | District |
    """, choices="""
        | | list_name | name | label | muntada_sensitive | muntada_point |
        | | category | gbv | Gender-based violence | yes | |
        | | category | theft | Theft | | |
        | | district | ramadi | Ramadi | | 33.42 43.30 |
        | | district | nowhere | Nowhere | | not a point |
    """)).xform)
    category = {c.name: c for c in structure.field("/category").choices}
    assert category["gbv"].sensitive and not category["theft"].sensitive
    district = {c.name: c for c in structure.field("/district").choices}
    assert district["ramadi"].point == (33.42, 43.30) and district["nowhere"].point is None


@pytest.mark.parametrize("xml, says", [
    (b"<data/>", "h:html"),
    (b'<h:html xmlns:h="http://www.w3.org/1999/xhtml"><h:head/></h:html>', "model"),
    (b"not xml at all", "well-formed"),
])
def test_what_is_not_an_xform_is_refused(xml, says):
    with pytest.raises(FormError, match=says):
        read_structure(xml)
