// Behaviour shared by the service pages (views/templates/partials/service.html):
// Copy buttons, and runtime logs that follow over SSE with a visible state.
(function () {
  "use strict";

  // <button data-copy="#id"> copies the text of #id (the value of an input).
  document.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-copy]");
    if (!btn) return;
    var src = document.querySelector(btn.dataset.copy);
    if (!src) return;
    var text = (src.matches("input, textarea") ? src.value : src.textContent).trim();
    var done = function () {
      var label = btn.textContent;
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else {
      fallback(text);
      done();
    }
  });

  // fallback copies where the Clipboard API is missing (plain http).
  function fallback(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    try { document.execCommand("copy"); } catch (err) { /* nothing more to try */ }
    ta.remove();
  }

  // <div data-follow="/…/runtime-logs" data-state-el="#el"> streams "line"
  // events into itself; #el says connecting…, waiting for output,
  // connected or disconnected — reconnecting. The stream closes once the
  // box leaves the page (another tab was opened).
  function follow(box) {
    if (box.dataset.following) return;
    box.dataset.following = "yes";
    var stateEl = document.querySelector(box.dataset.stateEl);
    var set = function (state, text) {
      if (!stateEl) return;
      stateEl.dataset.state = state;
      stateEl.textContent = text;
    };
    var stick = true;
    box.addEventListener("scroll", function () {
      stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 24;
    });
    active.push({ box: box, close: function () { if (current) current.close(); } });
    var current = null;
    var connect = function (again) {
      if (!box.isConnected) return;
      set("connecting", again ? "disconnected — reconnecting" : "connecting…");
      var es = new EventSource(box.dataset.follow), lines = 0;
      current = es;
      var gone = function () {
        if (box.isConnected) return false;
        es.close();
        return true;
      };
      es.onopen = function () { if (!gone() && lines === 0) set("waiting", "waiting for output"); };
      es.addEventListener("line", function (e) {
        if (gone()) return;
        if (lines++ === 0) {
          box.innerHTML = ""; // a reconnect sends the recent lines again
          set("connected", "connected");
        }
        box.insertAdjacentHTML("beforeend", e.data);
        if (stick) box.scrollTop = box.scrollHeight;
      });
      var lost = function () {
        es.close();
        if (!box.isConnected) return;
        set("disconnected", "disconnected — reconnecting");
        setTimeout(function () { connect(true); }, 3000);
      };
      es.addEventListener("eof", lost);
      es.onerror = lost;
    };
    connect(false);
  }

  // Streams of boxes that left the page are closed after every swap.
  var active = [];
  document.addEventListener("htmx:afterSettle", function () {
    active = active.filter(function (a) {
      if (a.box.isConnected) return true;
      a.close();
      return false;
    });
  });

  var scan = function (root) {
    var el = root.querySelectorAll ? root : document;
    el.querySelectorAll("[data-follow]").forEach(follow);
    // On a phone the tab bar scrolls: keep the active tab in sight.
    el.querySelectorAll(".service-tabs a.active").forEach(function (a) {
      var bar = a.parentElement;
      if (a.offsetLeft + a.offsetWidth > bar.scrollLeft + bar.clientWidth || a.offsetLeft < bar.scrollLeft) {
        bar.scrollLeft = a.offsetLeft - 12;
      }
    });
  };
  if (window.htmx) window.htmx.onLoad(scan);
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
})();

// <button data-busy="Queuing…"> is disabled (hx-disabled-elt) and says
// what it is doing while its request runs; a form's submit button does
// the same for the form's request.
(function () {
  "use strict";
  var busyButton = function (elt) {
    if (!elt || !elt.matches) return null;
    if (elt.matches("button[data-busy]")) return elt;
    if (elt.matches("form")) return elt.querySelector("button[type=submit][data-busy]");
    return null;
  };
  document.addEventListener("htmx:beforeRequest", function (e) {
    var btn = busyButton(e.detail.elt);
    if (!btn || btn.dataset.idleLabel) return;
    btn.dataset.idleLabel = btn.textContent;
    btn.textContent = btn.dataset.busy;
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var btn = busyButton(e.detail.elt);
    if (!btn || !btn.dataset.idleLabel) return;
    btn.textContent = btn.dataset.idleLabel;
    delete btn.dataset.idleLabel;
  });
  // A swap into a <dialog> opens it (Restore… loads its confirm step).
  document.addEventListener("htmx:afterSwap", function (e) {
    var dlg = e.detail.target && e.detail.target.closest && e.detail.target.closest("dialog");
    if (dlg && !dlg.open && typeof dlg.showModal === "function") dlg.showModal();
  });
})();
