// Forms marked data-api send their fields as JSON to the API (with the page's CSRF token),
// then reload or show each field's error beside it. "details.x" fields nest under "details".
// data-omit-empty leaves out fields left blank (the API's defaults apply); data-go="/x/{id}"
// goes to the new record instead of reloading.
(function () {
  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]; } catch (e) { return ""; }
  }
  function body(form) {
    const out = {};
    new FormData(form).forEach(function (value, key) {
      if (key === "csrf_token") return;
      if (key.startsWith("details.")) { (out.details = out.details || {})[key.slice(8)] = value; return; }
      if (form.querySelector('[name="' + key + '"]').type === "checkbox") { out[key] = true; return; }
      if (value === "" && form.hasAttribute("data-omit-empty")) return;
      out[key] = value;
    });
    form.querySelectorAll("[data-json-bool]").forEach(function (el) { out[el.name] = el.value === "true"; });
    return out;
  }
  async function send(form, event) {
    event.preventDefault();
    form.querySelectorAll(".field-error, .alert").forEach(function (el) { el.remove(); });
    const method = (form.dataset.method || "POST").toUpperCase();
    const res = await fetch(form.dataset.api, {
      method: method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf(), "Accept": "application/json"},
      body: JSON.stringify(body(form)),
    });
    const data = await res.json().catch(function () { return {}; });
    if (res.ok) {
      if (form.dataset.show) { document.getElementById(form.dataset.show).dispatchEvent(new CustomEvent("shown", {detail: data})); return; }
      if (form.dataset.go) { window.location.assign(form.dataset.go.replace("{id}", data.id)); return; }
      window.location.reload(); return;
    }
    const error = data.error || {message: res.statusText, fields: {}};
    let placed = false;
    Object.entries(error.fields || {}).forEach(function ([field, message]) {
      const input = form.querySelector('[name="' + field + '"]');
      const note = document.createElement("span"); note.className = "field-error"; note.textContent = message;
      if (input) { input.insertAdjacentElement("afterend", note); placed = true; }
    });
    if (!placed) {
      const alert = document.createElement("p"); alert.className = "alert"; alert.setAttribute("role", "alert");
      alert.textContent = error.message + (error.fields ? " " + Object.values(error.fields).join("；") : "");
      form.prepend(alert);
    }
  }
  document.addEventListener("submit", function (event) {
    if (event.target.matches("form[data-api]")) send(event.target, event);
  });
})();
