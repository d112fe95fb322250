"""Cleaning, pseudonyms and spreadsheet safety, with hostile values: first the rules, then what
an analyst finds in the files."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from openpyxl import load_workbook

from server.services.exports.cleaning import (
    CUT_MARK,
    Pseudonyms,
    clean_text,
    cut,
    neutralise,
    phone_number,
)
from tests.exports.conftest import FORM_ID

ROOT = f"{FORM_ID}.csv"


@pytest.mark.parametrize("typed, cleaned", [
    ("  Ali\t\n", "Ali"),
    ("\u200fعلي\u200e", "علي"),  # direction marks pasted from a message
    ("\u202eevil\u202c", "evil"),  # a right-to-left override hiding what a cell says
    ("cafe\u0301", "café"),  # decomposed accents composed (NFC)
    ("bell\x07 and nul\x00", "bell and nul"),
    ("نەوزاد\u200cی", "نەوزاد\u200cی"),  # Kurdish needs its zero-width non-joiner
])
def test_text_is_trimmed_normalised_and_stripped_of_invisible_characters(typed, cleaned):
    assert clean_text(typed) == cleaned


@pytest.mark.parametrize("typed, international", [
    ("07701234567", "+9647701234567"),
    ("٠٧٧٠١٢٣٤٥٦٧", "+9647701234567"),  # Arabic-Indic digits, as phones type them
    ("۰۷۵۰ ۱۲۳ ۴۵۶۷", "+9647501234567"),  # Persian digits with spaces
    ("0770-123-4567", "+9647701234567"),
    ("7701234567", "+9647701234567"),
    ("009647701234567", "+9647701234567"),
    ("+964 770 123 4567", "+9647701234567"),
    ("+964 0770 123 4567", "+9647701234567"),
    ("9647701234567", "+9647701234567"),
    ("00441632960961", "+441632960961"),
    ("call me", "call me"),  # not a number: kept, never guessed at
    ("12", "12"),
])
def test_phone_numbers_in_one_international_form(typed, international):
    assert phone_number(typed) == international


@pytest.mark.parametrize("hostile, safe", [
    ("=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("＝1+1", "'＝1+1"),  # the full-width equals sign some spreadsheets also accept
    ("-1.5", "-1.5"),  # a real number stays a number
    ("+9647701234567", "+9647701234567"),
    ("1-2", "1-2"),
    ("plain", "plain"),
])
def test_formula_injection_is_neutralised_but_numbers_stay_numbers(hostile, safe):
    assert neutralise(hostile) == safe


def test_an_over_long_cell_is_cut_with_a_visible_mark():
    text = cut("x" * 40000)
    assert len(text) == 32767 and text.endswith(CUT_MARK)
    assert cut("short") == "short"


def test_pseudonyms_are_stable_keyed_and_blind_to_case_and_spacing():
    ours, again, other = Pseudonyms("key one"), Pseudonyms("key one"), Pseudonyms("key two")
    assert ours("Ali Hassan") == again(" ali hassan ") == ours("ALI HASSAN")
    assert ours("Ali Hassan") != ours("Ali Hussein")
    assert ours("Ali Hassan") != other("Ali Hassan")  # without the key, no way to compute it
    assert "ali" not in ours("Ali Hassan").lower() and ours("Ali Hassan").startswith("P-")
    assert ours(None) is None and ours("") is None


def test_hostile_values_arrive_neutralised_in_csv_and_excel(form, send, analyst):
    send(notes="=HYPERLINK(&quot;http://evil.example&quot;,&quot;open&quot;)",
         issues=(("@SUM(1+1)*cmd", "2"),), score="-1.5", women="-1")

    (row,) = analyst.csv_zip()[ROOT]
    (issue,) = analyst.csv_zip()[f"{FORM_ID}-issue.csv"]
    assert row["notes"] == "'=HYPERLINK(\"http://evil.example\",\"open\")"
    assert issue["description"] == "'@SUM(1+1)*cmd"
    assert (row["score"], row["police-women"]) == ("-1.5", "-1")

    sheet = load_workbook(io.BytesIO(analyst.export("xlsx")))[FORM_ID]
    cells = {h.value: c for h, c in zip(sheet[1], sheet[2], strict=True)}
    assert cells["notes"].value.startswith("'=") and cells["notes"].data_type == "s"
    assert cells["score"].value == -1.5 and cells["police-women"].value == -1


def test_hostile_labels_are_neutralised_in_headers_and_codebook(load, phone, analyst):
    from tests.support.xlsforms import xlsform

    load(xlsform("""
        | | type | name | label::English (en) |
        | | text | remark | =HYPERLINK("http://evil.example") |
    """, form_id=FORM_ID))
    archive = zipfile.ZipFile(io.BytesIO(analyst.export(headers="labels", language="en")))
    csv_header = next(csv.reader(io.StringIO(archive.read(ROOT).decode())))
    assert "'=HYPERLINK(\"http://evil.example\")" in csv_header
    workbook = load_workbook(io.BytesIO(analyst.export("xlsx", headers="labels",
                                                       language="en")))
    headers = [c.value for c in workbook[FORM_ID][1]]
    assert "'=HYPERLINK(\"http://evil.example\")" in headers
    labels = [row[4] for row in workbook["codebook"].iter_rows(values_only=True)]
    assert "'=HYPERLINK(\"http://evil.example\")" in labels


def test_arabic_indic_digits_and_phone_numbers_are_cleaned_in_the_files(form, send, analyst):
    send(person_phone="٠٧٧٠١٢٣٤٥٦٧", women="١٢", notes="  كلمات  ")

    (row,) = analyst.csv_zip()[ROOT]

    assert row["person_phone"] == "+9647701234567"
    assert row["police-women"] == "12" and row["notes"] == "كلمات"
