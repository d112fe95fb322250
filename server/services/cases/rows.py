"""What a case's state is written as, beside its version: its line in the phones' CSV, its row
in the list's typed table, and the columns the per-place lists and the Cases page filter on."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import datetime

from sqlalchemy.orm import Session

from server.database import case_table
from server.database.models import EntityList
from server.database.queries import entities as entity_queries
from sync import values

log = logging.getLogger(__name__)
STATUS, FOLLOW_UP = "status", "follow_up_date"  # the programme's case properties
PLACES = ("governorate", "forum")  # the properties a phone's places are matched on
RESERVED = ("name", "label", "__version")  # the CSV's first columns, as Central serves them


def property_names(entity_list) -> list[str]:
    return [p["name"] for p in case_table.properties_of(entity_list)]


def header(entity_list) -> str:
    return _line([*RESERVED, *property_names(entity_list)])


def csv_row(entity_list, uuid: str, label: str, version: int, data: dict[str, str]) -> str:
    """The case's line in the list's CSV, properties in the list's order ("" when unset)."""
    names = [p["name"] for p in case_table.properties_of(entity_list)]
    return _line([uuid, label, str(version), *(data.get(name, "") for name in names)])


def _line(cells: list[str]) -> str:
    # Values go to the phone as they are: a label starting with "=" is data there, not a
    # formula (spreadsheets are the exports' business, which neutralise them).
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


def filter_columns(data: dict[str, str]) -> dict[str, str | None]:
    """The entity's copies of its place, status and follow-up date (blank → None)."""
    def value(name: str) -> str | None:
        text = (data.get(name) or "").strip()
        return text[:255] or None
    follow_up = value(FOLLOW_UP)
    return {"governorate": value("governorate"), "forum": value("forum"),
            "status": value(STATUS), "follow_up": follow_up[:32] if follow_up else None}


def typed_row(entity_list, uuid: str, label: str, version: int, data: dict[str, str],
              conflict: str | None, created_at: datetime, updated_at: datetime,
              deleted_at: datetime | None, creator: str | None) -> dict:
    """The case's row of the typed table: each property parsed as its kind; a value that does
    not parse is left empty there (it stays, as sent, in the case's data)."""
    return {"_uuid": uuid, "_label": label, "_version": version, "_conflict": conflict,
            "_created_at": created_at, "_updated_at": updated_at, "_deleted_at": deleted_at,
            "_creator": creator, **typed_properties(case_table.properties_of(entity_list), data)}


def typed_properties(properties: list[dict], data: dict[str, str]) -> dict:
    """Each property's value parsed as its kind, by its column (None: unset or unreadable)."""
    row = {}
    for prop in properties:
        text = data.get(prop["name"])
        parsed = None
        if text is not None and text.strip():
            try:
                parsed = values.parse(prop["kind"], text)
            except values.ValueProblem:
                parsed = None
        row[prop["column"]] = parsed
    return row


def refresh_csv_rows(session: Session, entity_list: EntityList) -> None:
    """Write every case's CSV line again (the list gained a property: a new column)."""
    for entity in entity_queries.entities_of_list(session, entity_list.id):
        entity.csv_row = csv_row(entity_list, entity.uuid, entity.label, entity.version,
                                 json.loads(entity.data))
    session.flush()
