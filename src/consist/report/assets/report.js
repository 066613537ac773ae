// consist report: draws the lineage graph (laid out by dagre), the charts and the runs table
// from the JSON in #consist-data. Plain DOM and SVG, no network.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var timings = { start: performance.now() };
  var DATA = JSON.parse(document.getElementById("consist-data").textContent);
  timings.parsed = performance.now();
  // Run details, links and artifacts are only needed once something is clicked.
  var MORE = null;
  function more() {
    if (!MORE) { MORE = JSON.parse(document.getElementById("consist-details").textContent); }
    return MORE;
  }
  var PAGE = 100;
  var TITLE = 18;
  var COLORS = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d",
    "#dc2626", "#4b5563", "#c026d3"];
  var rowsById = {};
  DATA.runs.forEach(function (r) { rowsById[r.id] = r; });
  var nodeOfRun = {};
  var nodeEls = {};
  var selected = null;
  var zoom = 1;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) { node.setAttribute(k, attrs[k]); }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    for (var k in attrs || {}) { node.setAttribute(k, attrs[k]); }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
  function secs(s) { return s === null || s === undefined ? "-" : (s < 10 ? s.toFixed(2) : s.toFixed(1)) + " s"; }
  function yearsText(node) {
    if (!node.years) { return ""; }
    return node.years[0] === node.years[1] ? String(node.years[0]) : node.years[0] + "\u2013" + node.years[1];
  }

  // ------------------------------------------------------------------ graph
  function labelOf(node) {
    if (node.kind === "artifact") {
      var detail = node.hash ? "#" + node.hash : (node.versions > 1 ? node.versions + " versions" : "");
      var lines = [node.key, detail];
      if (node.count > 1) { lines[0] += " \u00d7" + node.count; }
      return lines;
    }
    var status = Object.keys(node.status).map(function (s) {
      return node.count > 1 ? node.status[s] + " " + s : s;
    }).join(", ");
    if (node.kind === "run") {
      var cache = node.hit ? "hit" : (node.miss ? "miss" : "");
      return [node.step, [yearsText(node), status, cache].filter(Boolean).join(" \u00b7 ")];
    }
    return [node.step + " \u00d7" + node.count,
      [yearsText(node), status].filter(Boolean).join(" \u00b7 "),
      node.hit + " hit \u00b7 " + node.miss + " miss"];
  }
  function fillOf(node) {
    if (node.kind === "artifact") { return "#ffffff"; }
    if ((node.status.failed || 0) * 2 >= node.count) { return "var(--fail)"; }
    if (node.hit && node.hit >= node.miss) { return "var(--hit)"; }
    if (node.miss) { return "var(--miss)"; }
    return "var(--run)";
  }

  function drawGraph() {
    var G = DATA.graph;
    var host = document.getElementById("graph");
    var note = document.getElementById("graph-note");
    var levels = { "run": "one box per run", "scenario-step": "one box per step and scenario (repeated runs collapsed)",
      "step": "one box per step (repeated runs collapsed across scenarios)" };
    note.textContent = plural(G.nodes.length, "node") + ", " + levels[G.level];
    if (!G.nodes.length) { host.appendChild(el("p", { "class": "note" }, "No runs to draw.")); return; }
    var g = new dagre.graphlib.Graph({ compound: true, multigraph: false });
    g.setGraph({ rankdir: "LR", nodesep: 16, ranksep: 46, edgesep: 8, marginx: 16, marginy: 16 });
    g.setDefaultEdgeLabel(function () { return {}; });
    G.clusters.forEach(function (c) {
      g.setNode("c:" + c.id, { label: c.label });
    });
    var labels = {};
    G.nodes.forEach(function (n) {
      var lines = labelOf(n);
      labels[n.id] = lines;
      var longest = lines.reduce(function (m, l, i) { return Math.max(m, l.length * (i ? 6.2 : 7.4)); }, 0);
      // In a scenario box every node keeps a band free above it, where the box's title fits.
      g.setNode(n.id, { width: Math.ceil(18 + longest), height: 10 + lines.length * 15 + (n.cluster ? TITLE : 0) });
      if (n.cluster) { g.setParent(n.id, "c:" + n.cluster); }
      if (n.runs) { n.runs.forEach(function (id) { nodeOfRun[id] = n.id; }); }
    });
    G.edges.forEach(function (e) { g.setEdge(e.source, e.target, { count: e.count }); });
    dagre.layout(g);
    timings.layout = performance.now();

    var info = g.graph();
    var root = svg("svg", { width: info.width, height: info.height, viewBox: "0 0 " + info.width + " " + info.height,
      id: "graph-svg", role: "img", "aria-label": "lineage graph" });
    var defs = svg("defs");
    var marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
    marker.appendChild(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#9ca3af" }));
    defs.appendChild(marker);
    root.appendChild(defs);
    var byId = {};
    G.nodes.forEach(function (n) { byId[n.id] = n; });

    G.clusters.forEach(function (c) {
      var box = g.node("c:" + c.id);
      var group = svg("g", { "class": "cluster", "data-cluster": c.id });
      var top = box.y - box.height / 2;
      group.appendChild(svg("rect", { x: box.x - box.width / 2, y: top, width: box.width, height: box.height, rx: 6 }));
      group.appendChild(svg("text", { x: box.x - box.width / 2 + 8, y: top + 15 }, c.label));
      root.appendChild(group);
    });
    var edgeLayer = svg("g");
    g.edges().forEach(function (e) {
      var pts = g.edge(e).points;
      var d = "M" + pts.map(function (p) { return p.x.toFixed(1) + "," + p.y.toFixed(1); }).join(" L");
      edgeLayer.appendChild(svg("path", { d: d, "class": "edge", "marker-end": "url(#arrow)" }));
    });
    root.appendChild(edgeLayer);
    G.nodes.forEach(function (n) {
      var box = g.node(n.id);
      var pad = n.cluster ? TITLE : 0;
      var group = svg("g", { "class": "node " + n.kind, "data-node": n.id, "data-kind": n.kind,
        transform: "translate(" + (box.x - box.width / 2) + "," + (box.y - box.height / 2 + pad) + ")" });
      group.appendChild(svg("rect", { width: box.width, height: box.height - pad, rx: n.kind === "artifact" ? 2 : 9,
        fill: fillOf(n), stroke: n.kind === "artifact" ? "#6b7280" : (n.status.failed ? "var(--bad)" : "#374151") }));
      labels[n.id].forEach(function (line, i) {
        group.appendChild(svg("text", { x: 8, y: 17 + i * 15, "class": i === 0 ? "name" : "sub" }, line));
      });
      group.appendChild(svg("title", {}, labels[n.id].join("\n")));
      group.addEventListener("click", function () { select(n.id); showNode(byId[n.id]); });
      nodeEls[n.id] = group;
      root.appendChild(group);
    });
    host.appendChild(root);
    var swatches = [["var(--miss)", "executed (cache miss)"], ["var(--hit)", "served from the cache"],
      ["var(--fail)", "failed"], ["#ffffff", "artifact (key, short hash)"], ["#f5f3ff", "scenario (its id on top)"]];
    var legend = document.getElementById("legend");
    swatches.forEach(function (s) {
      var item = el("span");
      var sw = el("span", { "class": "swatch" });
      sw.style.background = s[0];
      item.appendChild(sw);
      item.appendChild(document.createTextNode(s[1]));
      legend.appendChild(item);
    });
  }

  function setZoom(z) {
    var root = document.getElementById("graph-svg");
    if (!root) { return; }
    var w = +root.getAttribute("viewBox").split(" ")[2], h = +root.getAttribute("viewBox").split(" ")[3];
    zoom = Math.max(0.05, Math.min(4, z));
    root.setAttribute("width", w * zoom);
    root.setAttribute("height", h * zoom);
  }
  function fitZoom() {
    var root = document.getElementById("graph-svg");
    if (!root) { return; }
    var w = +root.getAttribute("viewBox").split(" ")[2];
    setZoom(Math.max(0.45, Math.min(1, (document.getElementById("graph").clientWidth - 4) / w)));
  }

  function select(nodeId) {
    if (selected && nodeEls[selected]) { nodeEls[selected].classList.remove("selected"); }
    selected = nodeId;
    if (nodeId && nodeEls[nodeId]) { nodeEls[nodeId].classList.add("selected"); }
  }

  // ------------------------------------------------------------------ side panel
  function panel() {
    var p = document.getElementById("panel");
    p.textContent = "";
    return p;
  }
  function dl(parent, pairs) {
    var list = el("dl");
    pairs.forEach(function (pair) {
      if (pair[1] === null || pair[1] === undefined || pair[1] === "") { return; }
      list.appendChild(el("dt", {}, pair[0]));
      list.appendChild(el("dd", {}, pair[1]));
    });
    parent.appendChild(list);
  }
  function runLink(id) {
    var a = el("a", { "class": "run-link", "data-run": id }, id);
    a.addEventListener("click", function () { showRun(id); });
    return a;
  }
  function runList(parent, ids) {
    var ul = el("ul");
    ids.slice(0, 200).forEach(function (id) {
      var li = el("li");
      var row = rowsById[id];
      li.appendChild(runLink(id));
      if (row) {
        li.appendChild(document.createTextNode(" " + [row.year, row.status, row.cache, secs(row.seconds)]
          .filter(function (v) { return v !== null && v !== undefined; }).join(" \u00b7 ")));
      }
      ul.appendChild(li);
    });
    parent.appendChild(ul);
    if (ids.length > 200) {
      parent.appendChild(el("p", { "class": "note" }, "\u2026 and " + (ids.length - 200) + " more: filter the runs table below."));
    }
  }

  function showNode(node) {
    var p = panel();
    if (node.kind === "artifact") {
      p.appendChild(el("h3", {}, "artifact " + node.key));
      dl(p, [["uri", node.uri], ["versions", node.count > 1 ? node.count + " artifacts, " + node.versions + " distinct hashes" : null],
        ["hash", node.hash], ["producer", node.producer ? (DATA.graph.nodes.filter(function (n) { return n.id === node.producer; })[0] || {}).step : "not produced by a run in this report"]]);
      p.appendChild(el("h4", {}, "artifact ids"));
      var ul = el("ul");
      node.artifacts.slice(0, 50).forEach(function (id) {
        var a = more().artifacts[id] || {};
        var li = el("li", {}, id + (a.hash ? "  #" + a.hash : ""));
        if (a.producer) { li.appendChild(document.createTextNode(" from ")); li.appendChild(runLink(a.producer)); }
        ul.appendChild(li);
      });
      p.appendChild(ul);
      return;
    }
    if (node.kind === "run") { showRun(node.runs[0]); return; }
    p.appendChild(el("h3", {}, node.step + " \u00d7" + node.count));
    dl(p, [["scenario", node.cluster || "(several or none)"], ["years", yearsText(node) + (node.year_count > 1 ? " (" + node.year_count + " years)" : "")],
      ["status", Object.keys(node.status).map(function (s) { return node.status[s] + " " + s; }).join(", ")],
      ["cache", node.hit + " hit, " + node.miss + " miss"]]);
    p.appendChild(el("h4", {}, "runs (oldest first)"));
    runList(p, node.runs);
  }

  function artifactList(parent, title, items) {
    parent.appendChild(el("h4", {}, title));
    if (!items.length) { parent.appendChild(el("p", { "class": "note" }, "none")); return; }
    var ul = el("ul");
    items.forEach(function (link) {
      var a = more().artifacts[link[2]] || {};
      var li = el("li", {}, link[1] + ": " + (a.uri || link[2]) + (a.hash ? "  #" + a.hash.slice(0, 10) : ""));
      if (a.producer && title === "inputs") { li.appendChild(document.createTextNode(" from ")); li.appendChild(runLink(a.producer)); }
      ul.appendChild(li);
    });
    parent.appendChild(ul);
  }

  function showRun(id) {
    var row = rowsById[id];
    var d = more().details[id];
    var p = panel();
    if (!row || !d) { p.appendChild(el("p", {}, "run " + id + " is not in this report")); return; }
    if (nodeOfRun[id]) { select(nodeOfRun[id]); }
    p.appendChild(el("h3", {}, row.step + " " + (row.year !== null ? row.year : "")));
    dl(p, [["run", row.id], ["status", row.status], ["cache", row.cache + (d.cached_from ? " (reused " + d.cached_from + ")" : "")],
      ["scenario", row.scenario], ["iteration", row.iteration], ["started", d.started], ["ended", d.ended],
      ["duration", secs(row.seconds)], ["tags", (d.tags || []).join(", ")], ["error", d.error]]);
    p.appendChild(el("h4", {}, "signature"));
    dl(p, [["signature", d.signature], ["code", d.code_hash], ["config", d.config_hash], ["inputs", d.input_hash]]);
    var links = more().links[id] || [];
    artifactList(p, "inputs", links.filter(function (l) { return l[0] === "input"; }));
    artifactList(p, "outputs", links.filter(function (l) { return l[0] === "output"; }));
    p.appendChild(el("h4", {}, "config"));
    p.appendChild(el("pre", {}, JSON.stringify(d.config, null, 2)));
    if (row.cache === "miss") {
      p.appendChild(el("h4", {}, "why it missed the cache"));
      p.appendChild(el("pre", { "class": "explain" }, d.explain ? d.explain.join("\n")
        : "not included in this report (only the newest misses are explained); run: consist why " + id));
    }
    if (row.kind === "scenario") {
      p.appendChild(el("h4", {}, "steps of this scenario"));
      runList(p, DATA.runs.filter(function (r) { return r.scenario === id; }).map(function (r) { return r.id; }));
    }
  }

  // ------------------------------------------------------------------ charts
  function lineChart(hostId, bins, series, yMax, format) {
    var host = document.getElementById(hostId);
    var names = Object.keys(series);
    if (!bins.length || !names.length) { host.appendChild(el("p", { "class": "note" }, "No completed runs.")); return; }
    var W = 520, H = 210, L = 46, R = 10, T = 10, B = 30;
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img", "class": "chart" });
    var x = function (i) { return L + (bins.length === 1 ? (W - L - R) / 2 : i * (W - L - R) / (bins.length - 1)); };
    var y = function (v) { return T + (H - T - B) * (1 - v / yMax); };
    for (var k = 0; k <= 4; k++) {
      var v = yMax * k / 4;
      root.appendChild(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#eef0f3" }));
      root.appendChild(svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 10, fill: "#6b7280" }, format(v)));
    }
    [0, bins.length - 1].forEach(function (i) {
      root.appendChild(svg("text", { x: x(i), y: H - 10, "text-anchor": i ? "end" : "start", "font-size": 10, fill: "#6b7280" },
        bins[i].replace("T", " ").slice(0, 19)));
    });
    var legend = el("div", { "class": "chart-legend" });
    names.forEach(function (name, s) {
      var color = COLORS[s % COLORS.length];
      var d = "", pen = "M";
      series[name].forEach(function (v, i) {
        if (v === null) { pen = "M"; return; }
        d += pen + x(i).toFixed(1) + "," + y(v).toFixed(1) + " ";
        pen = "L";
        root.appendChild(svg("circle", { cx: x(i), cy: y(v), r: 2.2, fill: color }));
      });
      root.appendChild(svg("path", { d: d, fill: "none", stroke: color, "stroke-width": 1.6, "data-series": name }));
      var item = el("span");
      var sw = el("span", { "class": "swatch" });
      sw.style.background = color;
      item.appendChild(sw);
      item.appendChild(document.createTextNode(name));
      legend.appendChild(item);
    });
    host.appendChild(root);
    host.appendChild(legend);
  }
  function drawCharts() {
    var C = DATA.charts;
    var max = 0;
    Object.keys(C.runtime).forEach(function (k) { C.runtime[k].forEach(function (v) { if (v !== null && v > max) { max = v; } }); });
    lineChart("chart-runtime", C.bins, C.runtime, max > 0 ? max * 1.1 : 1, function (v) { return v < 10 ? v.toFixed(2) : v.toFixed(0); });
    lineChart("chart-hits", C.bins, { "cache-hit rate": C.hit_rate }, 1, function (v) { return Math.round(v * 100) + "%"; });
  }

  // ------------------------------------------------------------------ runs table
  var COLUMNS = [["id", "run"], ["step", "step"], ["status", "status"], ["scenario", "scenario"], ["year", "year"],
    ["iteration", "iter."], ["cache", "cache"], ["started", "started"], ["seconds", "duration"]];
  var view = { sort: "started", desc: true, page: 0, rows: DATA.runs };

  function compare(key, desc) {
    return function (a, b) {
      var x = a[key], y = b[key];
      if (x === y) { return 0; }
      if (x === null || x === undefined) { return 1; }
      if (y === null || y === undefined) { return -1; }
      var out = x < y ? -1 : 1;
      return desc ? -out : out;
    };
  }
  function applyFilters() {
    var text = document.getElementById("filter").value.trim().toLowerCase();
    var status = document.getElementById("filter-status").value;
    var cache = document.getElementById("filter-cache").value;
    var words = text ? text.split(/\s+/) : [];
    view.rows = DATA.runs.filter(function (r) {
      if (status && r.status !== status) { return false; }
      if (cache && r.cache !== cache) { return false; }
      if (!words.length) { return true; }
      var hay = [r.id, r.step, r.status, r.scenario, r.year, r.iteration, r.cache, r.started].join(" ").toLowerCase();
      return words.every(function (w) { return hay.indexOf(w) >= 0; });
    });
    view.rows.sort(compare(view.sort, view.desc));
    view.page = 0;
    drawTable();
  }
  function drawTable() {
    var tbody = document.querySelector("#runs tbody");
    var start = view.page * PAGE;
    var frag = document.createDocumentFragment();
    view.rows.slice(start, start + PAGE).forEach(function (r) {
      var tr = el("tr", { "data-run": r.id });
      COLUMNS.forEach(function (c) {
        var value = c[0] === "seconds" ? secs(r.seconds) : (c[0] === "started" ? r.started.replace("T", " ").slice(0, 19) : r[c[0]]);
        var td = el("td", { "class": c[0] === "id" ? "id" : (c[0] === "status" ? "status-" + r.status : (c[0] === "cache" ? "cache-" + r.cache : "")) },
          value === null || value === undefined ? "-" : value);
        tr.appendChild(td);
      });
      tr.addEventListener("click", function () { showRun(r.id); document.getElementById("lineage-section").scrollIntoView(); });
      frag.appendChild(tr);
    });
    tbody.textContent = "";
    tbody.appendChild(frag);
    document.querySelectorAll("#runs th").forEach(function (th) {
      th.className = th.dataset.key === view.sort ? (view.desc ? "sorted-desc" : "sorted-asc") : "";
    });
    var pages = Math.max(1, Math.ceil(view.rows.length / PAGE));
    document.getElementById("table-count").textContent = view.rows.length + " of " + plural(DATA.runs.length, "run");
    var pager = document.getElementById("pager");
    pager.textContent = "";
    var prev = el("button", { type: "button" }, "\u2039 previous");
    var next = el("button", { type: "button" }, "next \u203a");
    prev.disabled = view.page === 0;
    next.disabled = view.page >= pages - 1;
    prev.addEventListener("click", function () { view.page--; drawTable(); });
    next.addEventListener("click", function () { view.page++; drawTable(); });
    pager.appendChild(prev);
    pager.appendChild(el("span", {}, "page " + (view.page + 1) + " of " + pages));
    pager.appendChild(next);
  }
  function setupTable() {
    var head = document.querySelector("#runs thead tr");
    COLUMNS.forEach(function (c) {
      var th = el("th", { "data-key": c[0], title: "sort" }, c[1]);
      th.addEventListener("click", function () {
        view.desc = view.sort === c[0] ? !view.desc : false;
        view.sort = c[0];
        view.rows.sort(compare(view.sort, view.desc));
        view.page = 0;
        drawTable();
      });
      head.appendChild(th);
    });
    var statuses = {};
    DATA.runs.forEach(function (r) { statuses[r.status] = true; });
    var select = document.getElementById("filter-status");
    Object.keys(statuses).sort().forEach(function (s) { select.appendChild(el("option", {}, s)); });
    var timer = null;
    document.getElementById("filter").addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(applyFilters, 150); });
    document.getElementById("filter").addEventListener("change", function () { clearTimeout(timer); applyFilters(); });
    select.addEventListener("change", applyFilters);
    document.getElementById("filter-cache").addEventListener("change", applyFilters);
    view.rows = DATA.runs.slice().sort(compare(view.sort, view.desc));
    drawTable();
  }

  // ------------------------------------------------------------------ page
  function summary() {
    document.getElementById("title").textContent = DATA.title;
    var steps = DATA.runs.filter(function (r) { return r.kind === "step"; });
    var hits = steps.filter(function (r) { return r.cache === "hit"; }).length;
    var failed = steps.filter(function (r) { return r.status === "failed"; }).length;
    var scope = DATA.scope.scenario ? "scenario " + DATA.scope.scenario : "whole catalog";
    if (DATA.scope.since) { scope += ", runs since " + DATA.scope.since; }
    document.getElementById("summary").textContent = [scope, plural(steps.length, "step run"),
      plural(DATA.graph.clusters.length, "scenario"), hits + " cache hits", failed + " failed",
      (DATA.source ? "from " + DATA.source : ""), "generated " + DATA.generated_at].filter(Boolean).join(" \u00b7 ");
  }

  try {
    summary();
    drawGraph();
    drawCharts();
    setupTable();
    document.getElementById("zoom-in").addEventListener("click", function () { setZoom(zoom * 1.25); });
    document.getElementById("zoom-out").addEventListener("click", function () { setZoom(zoom / 1.25); });
    document.getElementById("zoom-fit").addEventListener("click", fitZoom);
    fitZoom();
    document.body.dataset.nodes = String(DATA.graph.nodes.length);
    timings.rendered = performance.now();
    document.body.dataset.timings = JSON.stringify(timings);
    document.body.dataset.rendered = timings.rendered.toFixed(1);
  } catch (err) {
    var box = el("p", { id: "error" }, "This report could not be drawn: " + err);
    document.body.insertBefore(box, document.body.firstChild);
    console.error(err);
  }
})();
