"""Copy the vendored map assets from npm packages into this folder (run once, by hand; the copies
are committed so the server needs no internet and no Node.js).

    cd server/surfaces/pages/static/vendor
    npm ci && python build_vendor.py && rm -rf node_modules

Leaflet's script, style sheet, images and licence are copied as published. Iraq's outline is cut
from world-atlas's countries-50m.json (TopoJSON of Natural Earth, public domain): the arcs of the
country with ISO numeric code 368 are decoded into one small GeoJSON file, rounded to 0.001°.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = HERE / "node_modules"
IRAQ = "368"


def copy_leaflet() -> None:
    source, target = MODULES / "leaflet", HERE / "leaflet"
    target.mkdir(exist_ok=True)
    for name in ("leaflet.js", "leaflet.css"):
        shutil.copy(source / "dist" / name, target / name)
    shutil.copy(source / "LICENSE", target / "LICENSE.txt")
    shutil.copytree(source / "dist" / "images", target / "images", dirs_exist_ok=True)


def iraq_outline() -> dict:
    topology = json.loads((MODULES / "world-atlas" / "countries-50m.json").read_text())
    scale, translate = topology["transform"]["scale"], topology["transform"]["translate"]

    def decode(arc: list[list[int]]) -> list[list[float]]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append([round(x * scale[0] + translate[0], 3),
                           round(y * scale[1] + translate[1], 3)])
        return points

    arcs = [decode(arc) for arc in topology["arcs"]]

    def ring(indexes: list[int]) -> list[list[float]]:
        points: list[list[float]] = []
        for index in indexes:
            arc = arcs[index] if index >= 0 else arcs[~index][::-1]
            points.extend(arc if not points else arc[1:])
        return points

    (country,) = [g for g in topology["objects"]["countries"]["geometries"] if g.get("id") == IRAQ]
    polygons = country["arcs"] if country["type"] == "MultiPolygon" else [country["arcs"]]
    return {"type": "Feature", "properties": {"name": "Iraq", "source": "world-atlas 2.0.2"},
            "geometry": {"type": "MultiPolygon",
                         "coordinates": [[ring(r) for r in polygon] for polygon in polygons]}}


if __name__ == "__main__":
    copy_leaflet()
    (HERE / "iraq.geojson").write_text(json.dumps(iraq_outline(), separators=(",", ":")))
