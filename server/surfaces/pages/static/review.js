// The submission's map, drawn with the vendored Leaflet and no tile server: Iraq's outline (a
// GeoJSON file served by the app) and the point; the coordinates are also printed in text.
"use strict";
(function () {
  const box = document.getElementById("map");
  if (!box || typeof L === "undefined") return;
  const latitude = parseFloat(box.dataset.latitude);
  const longitude = parseFloat(box.dataset.longitude);
  if (!Number.isFinite(latitude) || !Number.isFinite(longitude)) return;
  const map = L.map(box, { attributionControl: false, zoomSnap: 0.25 });
  const point = L.circleMarker([latitude, longitude], {
    radius: 7, color: "#a4262c", weight: 2, fillColor: "#a4262c", fillOpacity: 0.8,
  }).addTo(map);
  map.setView([latitude, longitude], 6);
  fetch(box.dataset.outline, { credentials: "same-origin" })
    .then((response) => response.json())
    .then((outline) => {
      const layer = L.geoJSON(outline, {
        style: { color: "#0b6e4f", weight: 1.5, fillColor: "#ffffff", fillOpacity: 0.9 },
        interactive: false,
      }).addTo(map);
      layer.bringToBack();
      point.bringToFront();
      map.fitBounds(layer.getBounds().extend(point.getLatLng()), { padding: [12, 12] });
    })
    .catch(() => {});
}());
