// Metrics charts: every .metrics panel reads its API (data-metrics-url)
// for the chosen range and draws one uPlot chart per metric, one line per
// replica (or node), refreshing every data-interval seconds while the
// panel is on the page. No inline script: the panels are plain markup.
(function () {
  "use strict";

  var palette = ["#2f6fed", "#1f8a4c", "#c9372c", "#b7791f", "#7c3aed", "#0e7490", "#be185d", "#4b5563"];

  function fmtBytes(v, digits) {
    if (v == null || isNaN(v)) return "–";
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0, n = Math.abs(v);
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    var d = digits == null ? (n >= 100 || i === 0 ? 0 : 1) : digits;
    return (v < 0 ? "-" : "") + n.toFixed(d) + " " + units[i];
  }
  // Rates read as KB/s, MB/s (decimal, like docker stats).
  function fmtRate(v) {
    if (v == null || isNaN(v)) return "–";
    var units = ["B/s", "KB/s", "MB/s", "GB/s"], i = 0, n = Math.abs(v);
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return n.toFixed(n >= 100 || i === 0 ? 0 : 1) + " " + units[i];
  }
  function fmtPct(v) { return v == null || isNaN(v) ? "–" : (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + " %"; }
  function fmtLoad(v) { return v == null || isNaN(v) ? "–" : v.toFixed(2); }
  var fmt = { pct: fmtPct, bytes: function (v) { return fmtBytes(v); }, rate: fmtRate, load: fmtLoad };
  // Axis labels: whole numbers where they are whole.
  var axisFmt = {
    pct: function (v) { return (v % 1 ? v.toFixed(1) : v.toFixed(0)) + " %"; },
    bytes: function (v) { return fmtBytes(v).replace(".0 ", " "); },
    rate: fmtRate,
    load: function (v) { return v % 1 ? v.toFixed(1) : v.toFixed(0); }
  };

  // Byte axes step in powers of two (256 MiB, 1 GiB…), so ticks read round.
  var byteIncrs = [];
  for (var k = 0; k < 5; k++) {
    [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].forEach(function (m) { byteIncrs.push(m * Math.pow(1024, k)); });
  }

  // Chart definitions: lines(entity) gives [label, values, dashed] per line.
  var serviceCharts = {
    cpu: { unit: "pct", lines: function (s) { return [[s.label, s.cpu]]; },
      now: function (c) { return fmtPct(c.cpu); } },
    mem: { unit: "bytes", lines: function (s) { return [[s.label, s.mem]]; },
      now: function (c) { return fmtBytes(c.mem) + (c.mem_limit > 0 ? " / " + fmtBytes(c.mem_limit, 0) : ""); } },
    net: { unit: "rate", lines: function (s) { return [[s.label + " in", s.net_rx], [s.label + " out", s.net_tx, true]]; },
      now: function (c) { return "in " + fmtRate(c.net_rx) + " · out " + fmtRate(c.net_tx); } },
    blk: { unit: "rate", lines: function (s) { return [[s.label + " read", s.blk_read], [s.label + " write", s.blk_write, true]]; },
      now: function (c) { return "read " + fmtRate(c.blk_read) + " · write " + fmtRate(c.blk_write); } }
  };
  var serverCharts = {
    cpu: { unit: "pct", lines: function (n) { return [[n.hostname, n.cpu]]; },
      now: function (c) { return fmtPct(c.cpu) + " of " + c.cpus + " CPUs"; } },
    mem: { unit: "bytes", lines: function (n) { return [[n.hostname + " used", n.mem_used]]; },
      now: function (c) { return fmtBytes(c.mem_used) + " / " + fmtBytes(c.mem_total); } },
    disk: { unit: "bytes", lines: function (n) { return [[n.hostname + " used", n.disk_used]]; },
      now: function (c) { return fmtBytes(c.disk_used) + " / " + fmtBytes(c.disk_total); } },
    load: { unit: "load", lines: function (n) { return [[n.hostname + " 1 min", n.load1], [n.hostname + " 5 min", n.load5, true], [n.hostname + " 15 min", n.load15, true]]; },
      now: function (c) { return fmtLoad(c.load1) + " · " + fmtLoad(c.load5) + " · " + fmtLoad(c.load15); } }
  };

  // align puts every entity's points on the union of their timestamps,
  // with nulls where one has no bucket, as uPlot wants one x array.
  function align(entities) {
    var seen = {}, xs = [];
    entities.forEach(function (e) { (e.ts || []).forEach(function (t) { if (!seen[t]) { seen[t] = true; xs.push(t); } }); });
    xs.sort(function (a, b) { return a - b; });
    var pos = {};
    xs.forEach(function (t, i) { pos[t] = i; });
    return { xs: xs, at: function (e, values) {
      var out = new Array(xs.length).fill(null);
      (e.ts || []).forEach(function (t, i) { out[pos[t]] = values[i]; });
      return out;
    } };
  }

  // sparse shows the points of a line with few of them (a new service on
  // the 7-day range), which would otherwise draw nothing.
  function sparse(u, i) {
    var n = 0;
    (u.data[i] || []).forEach(function (v) { if (v != null) n++; });
    return n < 20;
  }

  function fmtStep(s) {
    if (s < 120) return s + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    return (s / 3600).toFixed(1) + " h";
  }

  function sumCurrent(entities, key) {
    var total = 0, any = false;
    entities.forEach(function (e) { if (e.current) { total += e.current[key] || 0; any = true; } });
    return any ? total : null;
  }

  function Panel(el) {
    this.el = el;
    this.url = el.dataset.metricsUrl;
    this.interval = Math.max(5, parseInt(el.dataset.interval, 10) || 10);
    this.defs = el.dataset.scope === "server" ? serverCharts : serviceCharts;
    this.range = "1h";
    this.plots = {};
    this.shape = "";
    var self = this;
    el.querySelectorAll("[data-range]").forEach(function (b) {
      b.addEventListener("click", function () { self.setRange(b.dataset.range); });
    });
    this.onResize = function () { self.resize(); };
    window.addEventListener("resize", this.onResize);
    this.setRange("1h");
    this.timer = setInterval(function () {
      if (!document.body.contains(el)) { self.stop(); return; }
      if (!document.hidden) self.load();
    }, this.interval * 1000);
  }

  Panel.prototype.stop = function () {
    clearInterval(this.timer);
    window.removeEventListener("resize", this.onResize);
    for (var k in this.plots) this.plots[k].destroy();
    this.plots = {};
  };

  Panel.prototype.setRange = function (r) {
    this.range = r;
    this.el.querySelectorAll("[data-range]").forEach(function (b) {
      var on = b.dataset.range === r;
      b.classList.toggle("secondary", !on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    this.load();
  };

  Panel.prototype.load = function () {
    var self = this, state = this.el.querySelector(".metrics-state");
    fetch(this.url + "?range=" + encodeURIComponent(this.range), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (data) {
        state.textContent = "updated " + new Date().toLocaleTimeString();
        self.render(data);
      })
      .catch(function (err) { state.textContent = "could not load metrics (" + err.message + ")"; });
  };

  Panel.prototype.render = function (data) {
    var entities = data.series || data.nodes || [];
    var empty = entities.length === 0;
    this.el.querySelector(".metrics-empty").hidden = !empty;
    this.el.querySelector(".metrics-grid").hidden = empty;
    this.facts(data, entities);
    if (empty) return;
    var a = align(entities), self = this;
    // The x axis spans the whole range, so 1 h of a new service reads as
    // a few minutes of data, not a stretched line.
    this.from = Date.parse(data.from) / 1000;
    this.to = Date.parse(data.to) / 1000;
    var shape = this.range + "|" + entities.map(function (e) { return e.label || e.node; }).join(",");
    if (shape !== this.shape) {
      for (var k in this.plots) this.plots[k].destroy();
      this.plots = {};
      this.shape = shape;
    }
    Object.keys(this.defs).forEach(function (name) {
      var box = self.el.querySelector('[data-chart="' + name + '"]');
      if (!box) return;
      var def = self.defs[name], series = [{}], values = [a.xs];
      entities.forEach(function (e, i) {
        def.lines(e).forEach(function (l) {
          series.push({ label: l[0], stroke: palette[i % palette.length], width: 1.5, dash: l[2] ? [5, 4] : undefined,
            value: function (u, v) { return fmt[def.unit](v); }, spanGaps: false,
            points: { show: sparse, size: 5, fill: palette[i % palette.length] } });
          values.push(a.at(e, l[1]));
        });
      });
      self.now(box, def, entities);
      var plot = self.plots[name];
      if (plot) { plot.setData(values); return; }
      var target = box.querySelector(".chart-plot");
      target.textContent = "";
      self.plots[name] = new uPlot({
        width: Math.max(240, target.clientWidth || 480), height: 170,
        series: series,
        scales: { x: { time: true, range: function () { return [self.from, self.to]; } }, y: { range: function (u, min, max) {
          var top = def.unit === "pct" ? Math.max(max || 0, 5) : Math.max(max || 0, def.unit === "load" ? 1 : 1024);
          return [0, top * 1.1];
        } } },
        axes: [
          { stroke: "#5d6878", grid: { stroke: "#eef1f5" }, ticks: { stroke: "#e2e6ec" } },
          { stroke: "#5d6878", size: 72, grid: { stroke: "#eef1f5" }, ticks: { stroke: "#e2e6ec" },
            incrs: def.unit === "bytes" ? byteIncrs : undefined,
            values: function (u, vals) { return vals.map(function (v) { return axisFmt[def.unit](v); }); } }
        ],
        legend: { live: true },
        cursor: { points: { size: 6 } }
      }, values, target);
    });
    // The grid may have settled after the first draw: fit the boxes.
    requestAnimationFrame(function () { self.resize(); });
  };

  // now writes the current value next to a chart's title: the sum of the
  // replicas' newest samples (for the server, the first node's).
  Panel.prototype.now = function (box, def, entities) {
    var span = box.querySelector(".chart-now"), cur = null;
    var live = entities.filter(function (e) { return e.current; });
    if (live.length === 1 || (live.length > 1 && this.defs === serverCharts)) {
      cur = live[0].current;
    } else if (live.length > 1) {
      cur = {};
      ["cpu", "mem", "net_rx", "net_tx", "blk_read", "blk_write"].forEach(function (k) { cur[k] = sumCurrent(live, k); });
      cur.mem_limit = 0;
    }
    span.textContent = cur ? def.now(cur) + (live.length > 1 && this.defs !== serverCharts ? " (" + live.length + " replicas)" : "") : "no current sample";
    span.classList.toggle("muted", !cur);
  };

  Panel.prototype.facts = function (data, entities) {
    var box = this.el.querySelector(".metrics-facts"), parts = [];
    if (this.defs === serviceCharts) {
      entities.forEach(function (s) {
        if (!s.current) return;
        parts.push(s.label + ": " + s.current.restarts + " restart" + (s.current.restarts === 1 ? "" : "s") +
          ", " + s.current.oom + " OOM kill" + (s.current.oom === 1 ? "" : "s"));
      });
    } else {
      entities.forEach(function (n) { if (n.current) parts.push(n.hostname + " (" + n.node.slice(0, 12) + ")"); });
    }
    parts.push("one point per " + fmtStep(data.step_seconds) + (data.range === "7d" ? " (from 5-minute averages)" : ""));
    box.textContent = parts.join(" · ");
  };

  Panel.prototype.resize = function () {
    for (var name in this.plots) {
      var target = this.el.querySelector('[data-chart="' + name + '"] .chart-plot');
      if (target && target.clientWidth) this.plots[name].setSize({ width: target.clientWidth, height: 170 });
    }
  };

  function init(root) { // root: where to look for new panels
    if (typeof uPlot === "undefined") return;
    (root || document).querySelectorAll(".metrics:not([data-ready])").forEach(function (el) {
      el.dataset.ready = "1";
      new Panel(el);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function () { init(document); });
  init(document);
})();
