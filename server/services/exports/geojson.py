"""GeoJSON of every geopoint, for incident and meeting maps: one Feature per answered geopoint,
with its submission's key fields (KEY, date, review state, version, governorate, district,
forum). An identifying geopoint is drawn, for readers who may not see personal data, at the
point the form gives its submission's district (marked `"precision": "district"`), and left out
when the district gives none: no pseudonym can stand in for a place on a map."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from server.database.projection import place_columns
from server.database.queries import form_tables as table_queries
from server.services import access
from server.services.exports import Prepared, Progress
from server.services.exports.cells import datetime_text, row_maker
from server.services.exports.layout import Table

ROOT_FIELDS = ("_key", "_submitted_at", "_review_state", "_form_version")
PROGRESS_EVERY = 5000


def write(session: Session, prepared: Prepared, target, progress: Progress) -> dict[str, int]:
    layout = prepared.layout
    places = {name: column.name for name, column in
              place_columns(layout.projection, access.PLACE_FIELDS).items()}
    place_labels = _place_cells(prepared, places)
    written: dict[str, int] = {}
    done = 0
    with open(target, "w", encoding="utf-8") as out:
        out.write('{"type": "FeatureCollection", "features": [')
        first = True
        for table in layout.tables:
            for field_header, parts, coarse in _points(table, prepared):
                own = [parts[p] for p in ("latitude", "longitude", "altitude", "accuracy")] \
                    if coarse is None else [parts["latitude"]]  # the district's column
                if not table.root:
                    own.append("_key")
                from_root = [*ROOT_FIELDS, *places.values()]
                query = table_queries.select_points(table.sql, layout.root.sql, own, from_root,
                                              prepared.where)
                # a coarsened row is read as if it held the four parts of a geopoint
                shape = own if coarse is None else [None, None, None, *own]
                count = 0
                for row in table_queries.stream(session, query):
                    if coarse is not None:
                        row = _coarsened(row, coarse)
                    feature = _feature(row, shape, from_root, field_header, table, places,
                                       place_labels)
                    if feature is None:
                        continue
                    if coarse is not None:
                        feature["properties"]["precision"] = "district"
                    out.write(("\n" if first else ",\n") + json.dumps(feature, ensure_ascii=False))
                    first = False
                    count += 1
                    if count % PROGRESS_EVERY == 0:
                        progress(done + count)
                done += count
                written[f"{table.name}:{field_header}"] = count
                progress(done)
        out.write("\n]}\n")
    return written


def _points(table: Table, prepared: Prepared):
    """(header, {part: SQL column}, coarse points or None) of each geopoint the reader may see,
    exactly or as its district's point."""
    found: dict[str, dict[str, str]] = {}
    coarse: dict[str, dict | None] = {}
    for column in table.columns:
        if column.part is None:
            continue
        name = column.header.rsplit("-", 1)[0]
        if column.personal and not prepared.choices.reveal_personal:
            if column.part == "latitude" and column.coarse is not None:
                found[name], coarse[name] = {"latitude": column.source}, column.coarse
            continue
        found.setdefault(name, {})[column.part] = column.source
        coarse[name] = None
    return [(name, parts, coarse[name]) for name, parts in found.items()]


def _coarsened(row, points: dict[str, tuple[float, float]]):
    """A row whose first value is the district: as if it held the district's point, without
    altitude or accuracy."""
    point = points.get(row[0])
    latitude, longitude = point if point is not None else (None, None)
    return (latitude, longitude, None, None, *row[1:])


def _place_cells(prepared: Prepared, places: dict[str, str]):
    """Cleaned (and, if asked, labelled) values of the place fields."""
    root = prepared.layout.root
    cells = {}
    for name, source in places.items():
        column = next(c for c in root.columns if c.source == source and c.choice is None)
        single = Table(root.key, root.name, root.short, root.sql, (column,))
        make = row_maker(prepared.layout, single, prepared.choices, prepared.pseudonyms,
                         "json")
        cells[name] = lambda value, make=make: make([value])[0]
    return cells


def _feature(row, own, from_root, field_header, table, places, place_labels):
    latitude, longitude, altitude, accuracy = row[0], row[1], row[2], row[3]
    if latitude is None or longitude is None:
        return None
    coordinates = [float(longitude), float(latitude)]
    if altitude is not None:
        coordinates.append(float(altitude))
    values = dict(zip(from_root, row[len(own):], strict=True))
    properties = {
        "KEY": values["_key"],
        "field": field_header,
        "SubmissionDate": datetime_text(values["_submitted_at"]),
        "ReviewState": values["_review_state"],
        "FormVersion": values["_form_version"],
        "accuracy": float(accuracy) if accuracy is not None else None,
    }
    if not table.root:
        properties["SubmissionKEY"], properties["KEY"] = values["_key"], row[4]
    for name, source in places.items():
        properties[name] = place_labels[name](values[source])
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": coordinates},
            "properties": properties}
