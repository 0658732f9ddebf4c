// Missing-person pages: the alert map (last seen, search radius, home, sightings) and point picking.
(function () {
  const blank = (el) => {
    const map = L.map(el, { zoomSnap: 0.25, maxZoom: 19 });
    map.attributionControl.setPrefix(false);
    const tiles = document.body.dataset.tiles;
    if (tiles) L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
    return map;
  };
  const picker = (map, form) => {
    let marker = null;
    map.on("click", (e) => {
      form.querySelectorAll(".pick-lon").forEach((i) => (i.value = e.latlng.lng.toFixed(7)));
      form.querySelectorAll(".pick-lat").forEach((i) => (i.value = e.latlng.lat.toFixed(7)));
      form.querySelectorAll(".pick-where").forEach((p) => (p.textContent = `${e.latlng.lng.toFixed(6)}, ${e.latlng.lat.toFixed(6)}`));
      marker ? marker.setLatLng(e.latlng) : (marker = L.marker(e.latlng).addTo(map));
    });
  };
  const alertMap = document.getElementById("alert-map");
  if (alertMap) {
    const d = JSON.parse(alertMap.dataset.map);
    const map = blank(alertMap);
    const seen = L.latLng(d.lat, d.lon);
    L.circle(seen, { radius: d.radius, color: "#c62828", weight: 2, fillOpacity: 0.06 }).addTo(map);
    L.circleMarker(seen, { radius: 8, color: "#c62828", fillOpacity: 0.9 }).bindTooltip(d.seen_label).addTo(map);
    if (d.home) L.circleMarker([d.home[1], d.home[0]], { radius: 7, color: "#1565c0" }).bindTooltip(d.home_label).addTo(map);
    d.events.forEach((e) => L.circleMarker([e.lat, e.lon], { radius: 5, color: "#6a1b9a" }).bindTooltip(e.label).addTo(map));
    // Not circle.getBounds(): a circle added before the map has a view is not on it yet, and that threw.
    map.fitBounds(seen.toBounds(2 * d.radius));
    const form = document.querySelector("[data-testid=sighting-form]");
    if (form) picker(map, form);
  }
  document.querySelectorAll(".pick-map").forEach((el) => {
    const map = blank(el);
    if (el.dataset.lon) map.setView([+el.dataset.lat, +el.dataset.lon], 15); else map.setView([27.8, 113.15], 12);
    picker(map, el.closest("form"));
  });
})();
