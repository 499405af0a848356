// Page behaviour wired by data-* attributes, so that the pages need no inline
// script or on* handler (the Content-Security-Policy allows script from
// /static/ only): error swaps, dialogs, form placeholders, the app page's
// runtime logs and the deployment log's auto-scroll.
(function () {
  "use strict";

  // Let error responses (4xx/5xx) swap in: forms re-render with their messages.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr.status >= 400) { e.detail.shouldSwap = true; e.detail.isError = false; }
  });

  document.addEventListener("click", function (e) {
    // <button data-dialog-open="id"> opens the <dialog id="id">.
    var open = e.target.closest("[data-dialog-open]");
    if (open) {
      var dlg = document.getElementById(open.dataset.dialogOpen);
      if (dlg) dlg.showModal();
      return;
    }
    // <button data-dialog-close> closes the dialog it is in.
    var close = e.target.closest("[data-dialog-close]");
    if (close) {
      var parent = close.closest("dialog");
      if (parent) parent.close();
      return;
    }
    // <input data-select-on-click> selects its text when clicked.
    var sel = e.target.closest("input[data-select-on-click]");
    if (sel) sel.select();
  });

  // <select data-engine-placeholders>: the form's image and name fields show
  // the chosen engine's default image and name as their placeholders.
  document.addEventListener("change", function (e) {
    var s = e.target;
    if (!s.matches || !s.matches("select[data-engine-placeholders]")) return;
    var o = s.selectedOptions[0];
    if (!o) return;
    s.form.elements.image.placeholder = o.dataset.image || "";
    s.form.elements.name.placeholder = o.value;
  });

  // <input data-slug-placeholder="name" placeholder="Shop">: the form's field
  // "name" shows the DNS label made of what is typed (or of the input's own
  // placeholder when it is empty) as its placeholder.
  document.addEventListener("input", function (e) {
    var el = e.target;
    if (!el.matches || !el.matches("input[data-slug-placeholder]")) return;
    var target = el.form && el.form.elements[el.dataset.slugPlaceholder];
    if (!target) return;
    var slug = function (v) { return v.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, ""); };
    target.placeholder = slug(el.value) || slug(el.placeholder);
  });

  // Every service page's runtime logs (partials/runtime_logs.html): <form data-runtime-logs="/apps/7/runtime-logs"
  // data-box="#logs" data-state-el="#state"> streams the filtered logs into
  // the box on submit (Follow); <a data-logs-download="/…?download=1"> adds
  // the same filter to the download link when clicked.
  var runtimeLogsQuery = function (f) {
    var p = new URLSearchParams();
    ["service", "tail", "since", "q", "replica"].forEach(function (k) { if (f.elements[k] && f.elements[k].value) p.set(k, f.elements[k].value); });
    p.set("timestamps", f.elements.timestamps.checked ? "1" : "0");
    return p.toString();
  };
  var runtimeLogsES = null;
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!f.matches || !f.matches("form[data-runtime-logs]")) return;
    e.preventDefault();
    var box = document.querySelector(f.dataset.box), state = document.querySelector(f.dataset.stateEl);
    var set = function (s, t) { state.dataset.state = s; state.textContent = t; };
    if (runtimeLogsES) runtimeLogsES.close();
    box.innerHTML = "";
    set("connecting", "connecting…");
    var es = new EventSource(f.dataset.runtimeLogs + "?" + runtimeLogsQuery(f));
    runtimeLogsES = es;
    es.onopen = function () { set("connected", "following"); };
    es.onerror = function () { es.close(); set("disconnected", "disconnected — retry"); };
    es.addEventListener("line", function (ev) {
      var stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
      box.insertAdjacentHTML("beforeend", ev.data);
      if (stick) box.scrollTop = box.scrollHeight;
    });
    es.addEventListener("eof", function () { es.close(); set("disconnected", "disconnected — retry"); });
  });
  document.addEventListener("click", function (e) {
    var a = e.target.closest("a[data-logs-download]");
    var f = a && a.closest("form[data-runtime-logs]");
    if (!f) return;
    a.href = a.dataset.logsDownload + "&" + runtimeLogsQuery(f);
  });

  // <div data-stick-bottom>, filled by htmx swaps (the deployment log),
  // follows new lines unless the user scrolled up.
  document.addEventListener("scroll", function (e) {
    var box = e.target;
    if (!box.matches || !box.matches("[data-stick-bottom]")) return;
    box.dataset.stickBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 24 ? "" : "no";
  }, true);
  document.addEventListener("htmx:afterSwap", function (e) {
    var box = e.target;
    if (box.matches && box.matches("[data-stick-bottom]") && box.dataset.stickBottom !== "no") box.scrollTop = box.scrollHeight;
  });
})();
