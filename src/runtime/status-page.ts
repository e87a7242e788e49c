/**
 * The read-only status page served at `/` (by `serve` and the agent): one self-contained HTML
 * document, no external assets, that fetches `status` (the same JSON as `clusterset-dns status -o
 * json`) every two seconds and draws it: the clusters as a small map coloured by state, every
 * service with the clusters serving it and why the others are not, conflicts, conditions and file
 * problems. Data is inserted with textContent only, never as HTML.
 */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clusterset-dns status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
  h1 { font-size: 1.3em; margin: 0 0 .2em; }
  h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
  #summary { color: #555; }
  #summary.notready { color: #a40; }
  svg text { font-size: 12px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #ddd; vertical-align: top; }
  .chip { display: inline-block; margin: 0 .4em .2em 0; padding: 0 .5em; border-radius: .8em; }
  .serving { background: #d8f0d8; }
  .idle { background: #eee; color: #555; }
  .fresh { fill: #3a3; } .stale { fill: #e90; } .gone { fill: #999; } .unknown, .unreachable { fill: #c33; }
  .reason { color: #666; font-size: .9em; }
  .conflict { color: #a40; }
  .error { color: #b00; }
</style>
</head>
<body>
<h1>clusterset-dns <span id="cluster"></span></h1>
<div id="summary">loading…</div>
<h2>Clusters</h2>
<svg id="map" width="420" height="220" role="img" aria-label="clusters"></svg>
<table id="clusters"><thead><tr><th>cluster</th><th>state</th><th>lease age</th><th>exports</th></tr></thead><tbody></tbody></table>
<h2>Services</h2>
<table id="services"><thead><tr><th>service</th><th>type</th><th>clusters</th><th>conflicts</th><th>local export</th></tr></thead><tbody></tbody></table>
<h2>Problems</h2>
<ul id="problems"></ul>
<script>
"use strict";
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
const svgEl = (tag, attrs) => { const e = document.createElementNS("http://www.w3.org/2000/svg", tag); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; };
function drawMap(clusters, local) {
  const map = document.getElementById("map");
  map.replaceChildren();
  const n = clusters.length, cx = 210, cy = 105, r = n > 1 ? 75 : 0;
  clusters.forEach((c, i) => {
    const a = (2 * Math.PI * i) / Math.max(n, 1) - Math.PI / 2;
    const x = cx + r * Math.cos(a), y = cy + r * Math.sin(a);
    const g = svgEl("g", { "data-cluster": c.id, "data-state": c.state });
    g.appendChild(svgEl("circle", { cx: x, cy: y, r: c.id === local ? 16 : 12, class: c.state }));
    const t = svgEl("text", { x: x, y: y + 30, "text-anchor": "middle" });
    t.textContent = c.id + " (" + c.state + ")";
    g.appendChild(t);
    map.appendChild(g);
  });
}
function render(s) {
  document.getElementById("cluster").textContent = "as seen from " + s.cluster;
  const summary = document.getElementById("summary");
  summary.textContent = (s.ready ? "ready" : "not ready: " + s.notReady.join("; ")) + " · updated " + s.generatedAt;
  summary.className = s.ready ? "" : "notready";
  drawMap(s.clusters, s.cluster);
  const ctb = document.querySelector("#clusters tbody");
  ctb.replaceChildren(...s.clusters.map((c) => {
    const tr = el("tr"); tr.dataset.cluster = c.id;
    tr.append(el("td", c.id), el("td", c.state + (c.reason ? " (" + c.reason + ")" : "")), el("td", c.leaseAgeSeconds === undefined ? "-" : c.leaseAgeSeconds + " s"), el("td", c.exports));
    return tr;
  }));
  const stb = document.querySelector("#services tbody");
  stb.replaceChildren(...s.services.map((svc) => {
    const tr = el("tr"); tr.dataset.service = svc.namespace + "/" + svc.name;
    const clusters = el("td");
    for (const c of svc.clusters) {
      const chip = el("span", c.id + (c.serving ? "" : ": " + c.reason), "chip " + (c.serving ? "serving" : "idle"));
      chip.dataset.cluster = c.id; chip.dataset.serving = String(c.serving); chip.title = c.reason + " (" + c.readyEndpoints + "/" + c.endpoints + " ready)";
      clusters.appendChild(chip);
    }
    const conflicts = el("td", svc.conflicts.map((c) => c.reason + " (winner " + c.winner + ")").join(", "), "conflict");
    const conditions = el("td", svc.exportConditions.map((c) => c.type + "=" + c.status + (c.reason ? " " + c.reason : "")).join(", "));
    tr.append(el("td", svc.namespace + "/" + svc.name), el("td", svc.type + (svc.vips.length ? " " + svc.vips.join(",") : "")), clusters, conflicts, conditions);
    return tr;
  }));
  const pl = document.getElementById("problems");
  pl.replaceChildren(...(s.problems.length ? s.problems.map((p) => el("li", p.text, p.severity)) : [el("li", "none")]));
}
async function refresh() {
  try {
    const res = await fetch("status", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    render(await res.json());
  } catch (err) {
    const summary = document.getElementById("summary");
    summary.textContent = "cannot load status: " + err.message + " (retrying)";
    summary.className = "notready";
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
