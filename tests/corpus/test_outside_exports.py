"""The exports another project expected of its own submissions (`expected_exports` in
`../shared/corpus/PAIRS.json`: onadata's CSV exports) hold the values our CSV zip holds, once
their layout is read as ODK Central lays the same data out.

onadata writes one wide row per submission: `kids/kids_details[2]/kids_immunization[1]/x` is a
nested repeat's field, `web_browsers/firefox` a select-multiple's choice (True/False),
`_gps_latitude` a geopoint's part, `n/a` no answer. The same cell in our export is column `x` of
`<form>-kids_immunization.csv` (a nested repeat's file is named after it alone), in the row whose
KEY is `<instanceID>/kids/kids_details[2]/kids_immunization[1]`; `web_browsers/firefox` of the
form's file, split as Central splits (a column for each value someone chose, so none that only
holds zeros); `gps-Latitude`. Numbers must be the same number exactly: every digit kept.

An expected row names its submission by `meta/instanceID`; where the pair holds several files
with that instanceID (variants of one fixture), the row must be the export of one of them, each
posted alone to an empty server holding the form as its project served it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile

from forms import compile_form, read_structure
from server.services.accounts import create_user
from tests.conftest import api_token
from tests.corpus.test_outside_submissions import (
    as_a_phone_sends_them,
    as_served,
    empty_the_server,
    read_pairs,
)
from tests.support import web

SYSTEM = {"_uuid", "_submission_time", "_tags", "_notes", "_version", "_duration",
          "_submitted_by", "_total_media", "_media_count", "_media_all_received", "_id",
          "_attachments", "_status", "_geolocation", "_xform_id_string", "_edited"}
GEOPOINT_PART = re.compile(r"_(.+)_(latitude|longitude|altitude|precision)")
PARTS = {"latitude": "Latitude", "longitude": "Longitude", "altitude": "Altitude",
         "precision": "Accuracy"}
STEP = re.compile(r"(.+)\[(\d+)\]")


def expected_exports(corpus):
    for pair in json.loads((corpus / "PAIRS.json").read_text(encoding="utf-8"))["pairs"]:
        for name in pair["expected_exports"]:
            if not name.endswith("_import.csv"):  # what onadata imports, not what it exported
                yield pair["form"], name


def wide(text: str) -> list[dict[str, str]] | None:
    """The rows of a wide export (one per submission, keyed by meta/instanceID), or None for
    another layout (onadata's "flattened" one row per repeat instance, or truncated titles)."""
    table = list(csv.reader(io.StringIO(text)))
    header = table[0]
    if "meta/instanceID" not in header or len(set(header)) != len(header):
        return None
    rows = [dict(zip(header, row, strict=True)) for row in table[1:]]
    keys = [r["meta/instanceID"] for r in rows]
    return rows if len(set(keys)) == len(keys) else None


def cell_of(column: str, key: str, form_id: str, multiples: set[str], geopoints: set[str]):
    """Where onadata's column lives in our zip: (file, row KEY, column), or None (its own
    metadata); a geopoint's whole text is its four parts, as Central splits it."""
    if column in SYSTEM:
        return None
    if "/" + column in geopoints:
        return f"{form_id}.csv", key, tuple(f"{column}-{p}" for p in PARTS.values())
    part = GEOPOINT_PART.fullmatch(column)
    if part:
        return f"{form_id}.csv", key, f"{part.group(1)}-{PARTS[part.group(2)]}"
    steps = column.split("/")
    last = max((i for i, s in enumerate(steps) if STEP.fullmatch(s)), default=None)
    if last is None:
        file, row_key, inner = f"{form_id}.csv", key, steps
    else:
        file = f"{form_id}-{STEP.fullmatch(steps[last]).group(1)}.csv"
        row_key = "/".join([key, *steps[:last + 1]])
        inner = steps[last + 1:]
    path = "/" + "/".join(STEP.sub(r"\1", s) for s in steps)
    if "/".join(path.split("/")[:-1]) in multiples:  # a choice of a select-multiple
        return file, row_key, "-".join(inner[:-1]) + "/" + inner[-1]
    return file, row_key, "-".join(inner)


def same(expected: str, ours: str | None, split_choice: bool) -> bool:
    if split_choice:  # onadata: True/False; Central's split: 1/0, no column for a value unchosen
        return {"True": "1", "False": "0", "n/a": ""}[expected] == (ours or "") or (
            ours is None and expected != "True")
    if expected == "n/a":
        return ours in (None, "")
    if ours is None:
        return False
    try:  # the same numbers, exactly (a geopoint's four too)
        return [float(n) for n in expected.split()] == [float(n) for n in ours.split()]
    except ValueError:
        return expected == ours


def our_zip(client, form_id: str, token: str) -> dict[str, dict[str, dict[str, str]]]:
    """Each table file of our CSV zip (split select-multiples), its rows by KEY, as an analyst's
    script downloads it with its API token."""
    response = client.get(f"/api/v1/forms/{form_id}/export.csv.zip",
                          query_string={"splitSelectMultiples": "true"},
                          headers={"Authorization": f"Bearer {token}"},
                          base_url="https://localhost")
    try:
        assert response.status_code == 200, response.get_data(as_text=True)
        archive = zipfile.ZipFile(io.BytesIO(response.data))
    finally:
        response.close()
    out = {}
    for name in archive.namelist():
        rows = list(csv.DictReader(io.TextIOWrapper(archive.open(name), "utf-8", newline="")))
        if rows and "KEY" in rows[0]:
            out[name] = {r["KEY"]: r for r in rows}
    return out


def always_zero(files) -> list[str]:
    found = []
    for name, rows in files.items():
        columns = {c for r in rows.values() for c in r if "/" in c}
        found += [f"{name}: {c}" for c in sorted(columns)
                  if all(r[c] in ("0", "") for r in rows.values())]
    return found


def test_onadata_expected_exports_are_what_our_csv_zip_holds(
        app, client, session, load, make_phone, shared_corpus):
    pairs = {p.form: p for p in read_pairs(shared_corpus)}
    failures, checked, compared = [], 0, 0
    for form_file, export_file in expected_exports(shared_corpus):
        rows = wide((shared_corpus / export_file).read_text(encoding="utf-8-sig"))
        if rows is None:
            continue
        pair = pairs[form_file]
        xform = compile_form(pair.form_path.read_bytes()).xform
        structure = read_structure(xform)
        multiples = {f.path for f in structure.fields if f.select_multiple}
        geopoints = {f.path for f in structure.fields if f.type == "geopoint"}
        for row in rows:
            key = row["meta/instanceID"]
            candidates = [s for s in pair.submissions if s.instance_id == key]
            if not candidates:
                continue
            checked += 1
            tried = []
            for candidate in candidates:
                empty_the_server(app, session)
                token = api_token(session, create_user(session, "analyst", web.PASSWORD,
                                                       "analyst"))
                load(as_served(xform, candidate.form_id, candidate.version))
                phone = make_phone()
                before = [s for s in as_a_phone_sends_them(pair.submissions)
                          if candidate.deprecated_id and s.instance_id == candidate.deprecated_id]
                for s in [*before, candidate]:
                    assert phone.submit(s.xml).status == 201, s.name
                root = (before or [candidate])[0].instance_id
                files = our_zip(client, candidate.form_id, token)
                wrong = always_zero(files)
                for column, value in row.items():
                    place = cell_of(column, root, candidate.form_id, multiples, geopoints)
                    if place is None:
                        continue
                    file, row_key, header = place
                    found = files.get(file, {}).get(row_key, {})
                    if isinstance(header, tuple):  # a geopoint: its parts, number by number
                        ours = " ".join(found.get(h) or "" for h in header).strip() or None
                        value = " ".join(value.split()[:len(header)])
                    else:
                        ours = found.get(header)
                    compared += 1
                    if not same(value, ours, "/" in header):
                        wrong.append(f"{column} = {value!r}: {file} row {row_key} column "
                                     f"{header} holds {ours!r}")
                if not wrong:
                    break
                tried.append(f"{candidate.name}: " + "; ".join(wrong[:6]))
            else:
                failures.append(f"{export_file} row {key}: no submission exports as it:\n    "
                                + "\n    ".join(tried))
    print(f"\nexpected exports: {checked} rows of onadata's exports, {compared} cells compared; "
          f"failures {len(failures)}")
    assert checked >= 7  # tutorial_w_repeats 1 + transportation 4 + nested_repeats 2
    assert not failures, "\n".join(failures)

