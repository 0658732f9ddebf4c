// Visit and service forms: the phone's GPS (the browser gives WGS-84) into the hidden lon/lat fields.
(function () {
  const gps = document.getElementById("gps");
  if (!gps) return;
  const lon = document.getElementById("lon"), lat = document.getElementById("lat");
  const where = document.getElementById("where");
  // The button is rendered disabled: until this script runs, a click on it would do nothing.
  gps.disabled = false;
  gps.addEventListener("click", () => {
    if (!navigator.geolocation) { where.textContent = gps.dataset.failed; return; }
    navigator.geolocation.getCurrentPosition((p) => {
      lon.value = p.coords.longitude.toFixed(7); lat.value = p.coords.latitude.toFixed(7);
      where.textContent = `${p.coords.longitude.toFixed(6)}, ${p.coords.latitude.toFixed(6)} (±${Math.round(p.coords.accuracy)} m)`;
    }, () => { where.textContent = gps.dataset.failed; }, { enableHighAccuracy: true, timeout: 15000 });
  });
})();
