// The web terminal page: xterm.js on a WebSocket to a shell in the
// service's container. Binary frames are the terminal's bytes both ways;
// text frames are JSON (resize from here; ready and error from the server).
(function () {
  "use strict";
  var box = document.getElementById("terminal");
  if (!box || typeof Terminal === "undefined") return;
  adoptStyleElements();
  var stateEl = document.getElementById("terminal-state");
  var replica = document.getElementById("terminal-replica");
  var again = document.getElementById("terminal-reconnect");
  var term = new Terminal({ cursorBlink: true, scrollback: 5000, fontSize: 14,
    fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" });
  var fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  var ws = null, enc = new TextEncoder();

  function setState(state, text) {
    stateEl.dataset.state = state;
    stateEl.textContent = text;
    again.hidden = state !== "closed";
  }

  function send(data) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(data);
  }

  function connect() {
    if (ws) { var old = ws; ws = null; old.close(); }
    term.reset();
    var q = new URLSearchParams();
    if (replica && replica.value) q.set("replica", replica.value);
    if (box.dataset.service) q.set("service", box.dataset.service);
    q.set("cols", term.cols);
    q.set("rows", term.rows);
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var sock = new WebSocket(scheme + "//" + location.host + box.dataset.socket + "?" + q.toString());
    sock.binaryType = "arraybuffer";
    ws = sock;
    var failed = "";
    setState("connecting", "connecting…");
    sock.addEventListener("message", function (e) {
      if (typeof e.data !== "string") { term.write(new Uint8Array(e.data)); return; }
      var m = {};
      try { m = JSON.parse(e.data); } catch (err) { return; }
      if (m.type === "ready") {
        fit.fit();
        send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
        setState("connected", "connected · " + m.shell + " in replica " + m.replica +
          " (container " + String(m.container_id).slice(0, 12) + (m.node ? " on " + m.node : "") + ")");
        term.focus();
      } else if (m.type === "error") {
        failed = m.message;
      }
    });
    sock.addEventListener("close", function (e) {
      if (ws !== sock) return;
      var why = failed || e.reason || "";
      setState("closed", "closed" + (why ? " · " + why : ""));
    });
  }

  term.onData(function (d) { send(enc.encode(d)); });
  term.onBinary(function (d) {
    var b = new Uint8Array(d.length);
    for (var i = 0; i < d.length; i++) b[i] = d.charCodeAt(i) & 0xff;
    send(b);
  });
  term.onResize(function (s) { send(JSON.stringify({ type: "resize", cols: s.cols, rows: s.rows })); });
  if (typeof ResizeObserver !== "undefined") {
    new ResizeObserver(function () { fit.fit(); }).observe(box);
  } else {
    window.addEventListener("resize", function () { fit.fit(); });
  }
  again.addEventListener("click", connect);
  if (replica) replica.addEventListener("change", connect);
  connect();

  // xterm.js writes its theme and sizes into <style> elements, which a
  // Content-Security-Policy with style-src 'self' refuses. Its style
  // elements become constructed style sheets instead (allowed by CSP): an
  // inert <template> takes the element's place in the DOM, and its text
  // and sheet go to a sheet adopted by the document.
  function adoptStyleElements() {
    if (!("adoptedStyleSheets" in document) || typeof CSSStyleSheet === "undefined") return;
    var create = Document.prototype.createElement;
    document.createElement = function (tag, opts) {
      if (String(tag).toLowerCase() !== "style") return create.call(this, tag, opts);
      var el = create.call(this, "template"), sheet = new CSSStyleSheet(), text = "";
      document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
      var prop = { configurable: true, get: function () { return text; },
        set: function (v) { text = v == null ? "" : String(v); sheet.replaceSync(text); } };
      Object.defineProperty(el, "textContent", prop);
      Object.defineProperty(el, "innerText", prop);
      Object.defineProperty(el, "sheet", { configurable: true, get: function () { return sheet; } });
      el.remove = function () {
        document.adoptedStyleSheets = document.adoptedStyleSheets.filter(function (s) { return s !== sheet; });
        Element.prototype.remove.call(el);
      };
      return el;
    };
  }
})();
