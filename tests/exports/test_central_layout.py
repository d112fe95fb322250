"""The CSV zip and the workbook in the layout ODK Central and Briefcase write (what analysts'
scripts made for those tools expect): file names of nested repeats, every digit of a decimal,
the offset of a time, select-multiples split as Central splits them, headers that never
repeat, and no empty row."""

from __future__ import annotations

import csv
import io
import zipfile

from openpyxl import load_workbook

from server.services.exports import layout
from server.services.exports.layout import Table
from tests.support.instances import instance, new_id
from tests.support.xlsforms import xlsform

FORM_ID = "visits"


def visits_form() -> bytes:
    return xlsform("""
        | | type | name | label |
        | | decimal | weight | Weight |
        | | time | met_at | Met at |
        | | select_multiple topic | topics | Topics |
        | | select_one reason | reason | Reason |
        | | text | reason_other | Please specify |
        | | select_one reason | second_reason | Second reason |
        | | text | second_other | Please specify |
        | | begin_group | household | Household |
        | | begin_repeat | member | Member |
        | | text | name | Name |
        | | begin_repeat | visit | Visit |
        | | date | day | Day |
        | | end_repeat | | |
        | | end_repeat | | |
        | | end_group | | |
        | | begin_group | office | Office |
        | | begin_repeat | errand | Errand |
        | | text | purpose | Purpose |
        | | end_repeat | | |
        | | end_group | | |
    """, form_id=FORM_ID, choices="""
        | | list_name | name | label |
        | | topic | security | Security |
        | | topic | services | Services |
        | | topic | women | Women |
        | | reason | work | Work |
        | | reason | other | Other |
    """)


def visit(*, weight="71.80000305175781", met_at="08:56:00.000Z", topics="women security",
          members=(("Ali", ("2026-11-01", "2026-11-02")),), purposes=("Papers",)) -> tuple:
    key = new_id()
    body = (f"<weight>{weight}</weight><met_at>{met_at}</met_at><topics>{topics}</topics>"
            "<reason>other</reason><reason_other>Family</reason_other>"
            "<second_reason>other</second_reason><second_other>Health</second_other>"
            "<household>" + "".join(
                f"<member><name>{name}</name>"
                + "".join(f"<visit><day>{day}</day></visit>" for day in days) + "</member>"
                for name, days in members) + "</household>"
            "<office>" + "".join(f"<errand><purpose>{p}</purpose></errand>" for p in purposes)
            + "</office>")
    return key, instance(FORM_ID, "1", body, instance_id=key)


def export(analyst, suffix="csv.zip", **query) -> bytes:
    response = analyst.get(f"/api/v1/forms/{FORM_ID}/export.{suffix}", query_string=query)
    try:
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.data
    finally:
        response.close()


def files(data: bytes) -> dict[str, list[list[str]]]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {name: list(csv.reader(io.TextIOWrapper(archive.open(name), "utf-8", newline="")))
            for name in archive.namelist()}


def records(table: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(table[0], row, strict=True)) for row in table[1:]]


def sent(load, phone, *visits) -> list[str]:
    load(visits_form())
    keys = []
    for answers in visits:
        key, xml = visit(**answers)
        reply = phone.submit(xml)
        assert reply.status == 201, reply.body
        keys.append(key)
    return keys


def test_a_nested_repeat_has_a_file_named_after_it_alone(load, phone, analyst):
    (key,) = sent(load, phone, {})

    found = files(export(analyst))

    # Central and Briefcase: <form>-<repeat>.csv at any depth, never the groups around it
    assert set(found) == {f"{FORM_ID}.csv", f"{FORM_ID}-member.csv", f"{FORM_ID}-visit.csv",
                          f"{FORM_ID}-errand.csv", "codebook.csv", "export.csv"}
    (member,) = records(found[f"{FORM_ID}-member.csv"])
    assert (member["PARENT_KEY"], member["KEY"]) == (key, f"{key}/household/member[1]")
    days = records(found[f"{FORM_ID}-visit.csv"])
    assert [(d["day"], d["PARENT_KEY"]) for d in days] == [
        ("2026-11-01", member["KEY"]), ("2026-11-02", member["KEY"])]
    assert [p["purpose"] for p in records(found[f"{FORM_ID}-errand.csv"])] == ["Papers"]


def test_repeats_sharing_a_name_are_numbered_in_the_forms_order():
    # an XForm (not an XLSForm: pyxform refuses it) may give two repeats one name
    tables = [Table(key, FORM_ID, key.rsplit("/", 1)[-1] or FORM_ID, None, ())
              for key in ("", "/a/visit", "/member", "/b/visit", "/member/visit")]

    named = layout._file_names(FORM_ID, tables)

    assert [t.name for t in named] == [FORM_ID, f"{FORM_ID}-visit~1", f"{FORM_ID}-member",
                                       f"{FORM_ID}-visit~2", f"{FORM_ID}-visit~3"]


def test_decimals_have_every_digit_and_times_their_offset(load, phone, analyst):
    keys = sent(load, phone, {}, {"weight": "82", "met_at": "10:15:00.000+03:00"},
                {"weight": "0.1", "met_at": "23:05:30.250-04:30"})

    rows = records(files(export(analyst))[f"{FORM_ID}.csv"])

    assert [r["weight"] for r in rows] == ["71.80000305175781", "82", "0.1"]
    assert [r["met_at"] for r in rows] == ["08:56:00.000Z", "10:15:00.000+03:00",
                                           "23:05:30.250-04:30"]
    page = analyst.get(f"/api/v1/forms/{FORM_ID}/submissions").get_json()["value"]
    by_key = {r["KEY"]: (r["weight"], r["met_at"]) for r in page}  # pages go by KEY
    assert [by_key[k] for k in keys] == [(71.80000305175781, "08:56:00.000Z"),
                                         (82, "10:15:00.000+03:00"),
                                         (0.1, "23:05:30.250-04:30")]
    book = load_workbook(io.BytesIO(export(analyst, "xlsx")))
    sheet = list(book[FORM_ID].iter_rows(values_only=True))
    weights = [row[sheet[0].index("weight")] for row in sheet[1:]]
    assert weights == [71.80000305175781, 82, 0.1]


def test_select_multiples_split_only_into_values_chosen_as_central_splits_them(
        load, phone, analyst):
    sent(load, phone, {"topics": "women security"}, {"topics": "women"}, {"topics": ""})

    (header, *rows) = files(export(analyst, splitSelectMultiples="true"))[f"{FORM_ID}.csv"]

    # no topics/services: nobody chose it, its column could only hold zeros
    at = header.index("topics")
    assert header[at:at + 3] == ["topics", "topics/security", "topics/women"]
    assert [row[at:at + 3] for row in rows] == [
        ["women security", "1", "1"], ["women", "0", "1"], ["", "", ""]]
    filtered = files(export(analyst, splitSelectMultiples="true", where="topics=women"))
    assert "topics/security" not in filtered[f"{FORM_ID}.csv"][0]


def test_export_csv_starts_with_its_header_not_an_empty_row(load, phone, analyst):
    sent(load, phone, {})

    about = files(export(analyst))["export.csv"]

    assert all(cell.strip() for cell in about[0])
    assert dict(about[1:])["form"] == FORM_ID


def test_two_columns_never_share_a_header_in_the_workbook_with_labels(load, phone, analyst):
    sent(load, phone, {})

    book = load_workbook(io.BytesIO(export(analyst, "xlsx", headers="labels",
                                           splitSelectMultiples="true")))
    csv_header = files(export(analyst, headers="labels"))[f"{FORM_ID}.csv"][0]

    for sheet in book.worksheets:
        header = next(sheet.iter_rows(max_row=1, values_only=True))
        assert len(set(header)) == len(header), (sheet.title, header)
    header = next(book[FORM_ID].iter_rows(max_row=1, values_only=True))
    assert {"Please specify (reason_other)", "Please specify (second_other)"} <= set(header)
    assert len(set(csv_header)) == len(csv_header)
