// Case pages: the pick-a-point map of the report form, the case map, the live console.
(function () {
  const blank = (el) => {
    const map = L.map(el, { zoomSnap: 0.25, maxZoom: 19 });  // clustering needs a maxZoom
    map.attributionControl.setPrefix(false);
    const tiles = document.body.dataset.tiles;
    if (tiles) L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
    return map;
  };
  // The grids of the user's own region drawn under everything: with no map tiles (the default
  // on an intranet) they are what tells a place from another.
  const grids = (map, options) => fetch("/api/v1/me", { credentials: "same-origin" }).then((r) => r.json())
    .then((me) => fetch(`/api/v1/regions/${me.region.code}/grids.geojson`, { credentials: "same-origin" }))
    .then((r) => r.json())
    .then((fc) => L.geoJSON(fc, { style: { color: "#1565c0", weight: 1, fillOpacity: 0.05 }, ...options }).addTo(map));
  const colours = { green: "#2e7d32", yellow: "#f9a825", red: "#c62828" };
  const dot = (light) => L.divIcon({ className: "case-pin", html: `<span class="dot ${light}"></span>`, iconSize: [14, 14] });

  // Report form: click the map or use the phone's GPS (the browser gives WGS-84).
  const pick = document.getElementById("pick-map");
  if (pick) {
    const map = blank(pick);
    const lon = document.getElementById("lon"), lat = document.getElementById("lat");
    const where = document.getElementById("where");
    let marker = null;
    const setPoint = (ll) => {
      lon.value = ll.lng.toFixed(7); lat.value = ll.lat.toFixed(7);
      where.textContent = `${ll.lng.toFixed(6)}, ${ll.lat.toFixed(6)}`;
      marker ? marker.setLatLng(ll) : (marker = L.marker(ll).addTo(map));
      lon.dispatchEvent(new Event("change", { bubbles: true }));
    };
    grids(map).then((layer) => {
      if (layer.getLayers().length) map.fitBounds(layer.getBounds()); else map.setView([27.8, 113.15], 12);
      layer.on("click", (e) => setPoint(e.latlng));
    });
    map.setView([27.8, 113.15], 12);
    map.on("click", (e) => setPoint(e.latlng));
    if (lon.value && lat.value) setPoint(L.latLng(+lat.value, +lon.value));
    // The button is rendered disabled: until this script runs, a click on it would do nothing.
    const gps = document.getElementById("gps");
    gps.disabled = false;
    gps.addEventListener("click", () => {
      if (!navigator.geolocation) { where.textContent = gps.dataset.failed; return; }
      navigator.geolocation.getCurrentPosition(
        (p) => { const ll = L.latLng(p.coords.latitude, p.coords.longitude); setPoint(ll); map.setView(ll, 17); },
        () => { where.textContent = gps.dataset.failed; }, { enableHighAccuracy: true, timeout: 15000 });
    });
    window.gridgovPickMap = { map, setPoint };
  }

  // Case page: the case and its nearby cases.
  const caseMap = document.getElementById("case-map");
  if (caseMap && caseMap.dataset.lon) {
    const map = blank(caseMap);
    const ll = L.latLng(+caseMap.dataset.lat, +caseMap.dataset.lon);
    L.marker(ll).addTo(map);
    JSON.parse(caseMap.dataset.nearby || "[]").forEach((c) =>
      L.circleMarker([c.lat, c.lon], { radius: 6, color: "#6a1b9a" }).bindTooltip(c.number).addTo(map));
    L.circle(ll, { radius: 100, color: "#999", weight: 1, fill: false }).addTo(map);
    map.setView(ll, 17);
    // Its grid outlined among the others: with no tiles, the only way to see where the point lies.
    const own = caseMap.dataset.grid;
    grids(map, {
      interactive: false,
      style: (f) => (f.properties.code === own
        ? { color: "#b71c1c", weight: 3, fillOpacity: 0.12, className: "grid own" }
        : { color: "#1565c0", weight: 1, fillOpacity: 0.05, className: "grid" }),
    }).then((layer) => {
      layer.bringToBack();
      const mine = layer.getLayers().find((l) => l.feature.properties.code === own);
      if (mine) {
        mine.bindTooltip(`${mine.feature.properties.name} ${own}`, { permanent: true, direction: "center", opacity: 0.8 });
        map.fitBounds(mine.getBounds().extend(ll), { padding: [24, 24], maxZoom: 17 });
      }
      caseMap.dataset.grids = String(layer.getLayers().length);
    });
  }

  // Console: open cases clustered on a map, and a live list refreshed by server-sent events.
  if (caseMap && caseMap.dataset.source) {
    const map = blank(caseMap);
    map.setView([27.8, 113.15], 12);
    // A cluster takes the colour of its most urgent case, not the plug-in's colour by count: a
    // yellow circle of fifteen on-time cases would read as fifteen warnings.
    const worst = (markers) => ["red", "yellow"].find((l) => markers.some((m) => m.options.light === l)) || "green";
    const cluster = L.markerClusterGroup({
      iconCreateFunction: (c) => L.divIcon({ html: `<span>${c.getChildCount()}</span>`, iconSize: [36, 36],
                                             className: `case-cluster ${worst(c.getAllChildMarkers())}` }),
    });
    map.addLayer(cluster);
    grids(map, { interactive: false }).then((layer) => {
      layer.bringToBack();
      if (!cluster.getLayers().length && layer.getLayers().length) map.fitBounds(layer.getBounds());
      caseMap.dataset.grids = String(layer.getLayers().length);
    });
    window.gridgovConsole = { map, cluster };
    const load = () => fetch(caseMap.dataset.source, { credentials: "same-origin" }).then((r) => r.json()).then((page) => {
      cluster.clearLayers();
      page.items.forEach((c) => cluster.addLayer(
        L.marker([c.lat, c.lon], { icon: dot(c.light), light: c.light }).bindPopup(`<a href="/cases/${c.id}">${c.number}</a><br>${c.state_label}`)));
      if (page.items.length) map.fitBounds(cluster.getBounds(), { maxZoom: 16 });
      caseMap.dataset.loaded = String(page.items.length);
    });
    load();
    const live = document.getElementById("live");
    const source = new EventSource("/console/stream");
    source.addEventListener("changed", () => {
      htmx.trigger("#case-filters", "submit");
      load();
      live.classList.add("flash"); setTimeout(() => live.classList.remove("flash"), 800);
    });
    source.onerror = () => live.classList.add("offline");
    source.onopen = () => live.classList.remove("offline");
  }
})();
