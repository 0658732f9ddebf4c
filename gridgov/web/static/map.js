// The region browser's map: the grids under the chosen region, a click shows a grid's facts.
(function () {
  const el = document.getElementById("map");
  if (!el) return;
  const labels = JSON.parse(el.dataset.labels);
  const highlight = el.dataset.highlight;
  const map = L.map(el, { zoomSnap: 0.25 });
  map.attributionControl.setPrefix(false);  // the default prefix links to an outside site
  if (el.dataset.tiles) {
    L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution || "", maxZoom: 19 }).addTo(map);
  }
  map.setView([27.8, 113.15], 12);
  const palette = ["#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#4e342e", "#558b2f", "#283593"];
  const streetColour = {};
  const colourOf = (code) => {
    if (!(code in streetColour)) streetColour[code] = palette[Object.keys(streetColour).length % palette.length];
    return streetColour[code];
  };
  const info = document.getElementById("grid-info");
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const describe = (p) => `
    <dl class="facts" data-code="${esc(p.code)}">
      <dt>${esc(labels.code)}</dt><dd><code>${esc(p.code)}</code></dd>
      <dt>${esc(labels.name)}</dt><dd>${esc(p.name)}</dd>
      <dt>${esc(labels.community)}</dt><dd>${esc(p.community_name)}</dd>
      <dt>${esc(labels.street)}</dt><dd>${esc(p.street_name)}</dd>
      <dt>${esc(labels.worker)}</dt><dd>${p.grid_workers.length ? esc(p.grid_workers.join("、")) : esc(labels.none)}</dd>
      ${p.area_m2 ? `<dt>${esc(labels.area)}</dt><dd>${Math.round(p.area_m2).toLocaleString()} ${esc(labels.m2)}</dd>` : ""}
    </dl>`;
  fetch(el.dataset.geojson, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
    .then((r) => r.json())
    .then((fc) => {
      if (!fc.features || !fc.features.length) { info.innerHTML = `<p class="empty">${esc(labels.empty)}</p>`; return; }
      let mine = null;
      const layer = L.geoJSON(fc, {
        style: (f) => {
          const own = f.properties.code === highlight;
          return { color: own ? "#b71c1c" : colourOf(f.properties.street_code), weight: own ? 4 : 1.2,
                   fillOpacity: own ? 0.35 : 0.12, className: own ? "grid own" : "grid" };
        },
        onEachFeature: (f, l) => {
          if (f.properties.code === highlight) mine = l;
          l.on("click", () => {
            info.innerHTML = describe(f.properties);
            l.bindPopup(describe(f.properties)).openPopup();
          });
        },
      }).addTo(map);
      map.fitBounds((mine || layer).getBounds(), { padding: [16, 16] });
      el.dataset.loaded = String(fc.features.length);
      if (mine) { info.innerHTML = describe(mine.feature.properties); }
    });
  window.gridgovMap = map;
})();
