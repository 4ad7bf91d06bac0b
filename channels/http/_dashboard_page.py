"""The dashboard's page: plain HTML, CSS and a little JavaScript, nothing fetched from elsewhere.

The script polls ``<page>/state`` every second and draws it with DOM calls (``textContent``,
never ``innerHTML``): what a registry holds is shown, never run.
"""

from __future__ import annotations

PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>servicewire dashboard</title>
<style>
  :root { --ok: #1a7f37; --warning: #9a6700; --error: #cf222e; --muted: #57606a; --line: #d0d7de; }
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
  header { background: #24292f; color: #fff; padding: 12px 24px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header span { color: #d0d7de; }
  main { padding: 16px 24px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin-bottom: 16px; }
  section h2 { font-size: 15px; margin: 0; padding: 10px 14px; border-bottom: 1px solid var(--line); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 6px 14px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
  th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-weight: 600; font-size: 12px; color: #fff; background: var(--muted); }
  .OK { background: var(--ok); } .WARNING { background: var(--warning); } .ERROR, .UNREACHABLE { background: var(--error); }
  .muted { color: var(--muted); }
  .banner { background: #ffebe9; border: 1px solid var(--error); color: var(--error); padding: 8px 14px; border-radius: 6px; margin-bottom: 16px; }
  .empty { padding: 10px 14px; color: var(--muted); }
</style>
</head>
<body>
<header><h1>servicewire</h1><span id="registry">connecting...</span><span id="updated"></span></header>
<main>
  <div id="error" class="banner" hidden></div>
  <div id="components"></div>
  <section><h2>Calls per method <span id="window" class="muted"></span></h2><div id="methods"></div></section>
  <section><h2>Failovers and cool-downs seen here</h2><div id="events"></div></section>
</main>
<script>
"use strict";
const STATE = location.pathname.replace(/\\/?$/, "/state");

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function table(headers, rows) {
  const t = el("table"), head = el("tr");
  headers.forEach(h => head.appendChild(el("th", h)));
  t.appendChild(head);
  rows.forEach(r => t.appendChild(r));
  return t;
}

function ms(seconds) {
  return seconds === null || seconds === undefined ? "-" : (seconds * 1000).toFixed(1) + " ms";
}

function drawComponents(state) {
  const holder = document.getElementById("components");
  holder.replaceChildren();
  if (state.components.length === 0) {
    const s = el("section"); s.appendChild(el("h2", "Components")); s.appendChild(el("div", "No instance is registered.", "empty"));
    holder.appendChild(s);
  }
  state.components.forEach(component => {
    const s = el("section");
    s.dataset.component = component.name;
    s.appendChild(el("h2", component.name + " (" + component.instances.length + " instance" + (component.instances.length === 1 ? "" : "s") + ")"));
    const rows = component.instances.map(i => {
      const tr = el("tr", null, "instance");
      tr.dataset.component = component.name;
      tr.dataset.url = i.url;
      tr.dataset.health = i.health;
      tr.appendChild(el("td", i.url));
      tr.appendChild(el("td", i.channels.join(", ")));
      const health = el("td"); health.appendChild(el("span", i.health, "badge " + i.health)); tr.appendChild(health);
      tr.appendChild(el("td", i.detail || "", "muted"));
      tr.appendChild(el("td", i.cooling_down > 0 ? i.cooling_down + " s left" : "-"));
      tr.appendChild(el("td", i.failovers, "num"));
      return tr;
    });
    s.appendChild(table(["Instance", "Channels", "Health", "Details", "Cool-down", "Failovers"], rows));
    holder.appendChild(s);
  });
}

function drawMethods(metrics) {
  const holder = document.getElementById("methods");
  document.getElementById("window").textContent =
    "(last " + metrics.window + " s; metrics read from " + metrics.instances_read + " of " + metrics.instances + " instances)";
  if (metrics.methods.length === 0) {
    holder.replaceChildren(el("div", "No call figures: turn on observability.metrics and let this dashboard read /metrics (auth.expose.metrics).", "empty"));
    return;
  }
  const rows = metrics.methods.map(m => {
    const tr = el("tr", null, "method");
    [m.side, m.component, m.service, m.method].forEach(v => tr.appendChild(el("td", v)));
    tr.appendChild(el("td", m.calls_per_second.toFixed(2), "num"));
    tr.appendChild(el("td", (m.error_rate * 100).toFixed(1) + " %", "num"));
    [m.p50, m.p90, m.p99].forEach(v => tr.appendChild(el("td", ms(v), "num")));
    return tr;
  });
  holder.replaceChildren(table(["Side", "Component", "Service", "Method", "Calls/s", "Errors", "p50", "p90", "p99"], rows));
}

function drawEvents(events) {
  const shown = events.filter(e => e.kind !== "addresses");
  const holder = document.getElementById("events");
  if (shown.length === 0) { holder.replaceChildren(el("div", "None so far.", "empty")); return; }
  const rows = shown.slice(0, 20).map(e => {
    const tr = el("tr", null, "event");
    tr.appendChild(el("td", new Date(e.time * 1000).toLocaleTimeString()));
    [e.kind, e.component, e.channel, e.url, e.detail].forEach(v => tr.appendChild(el("td", v)));
    return tr;
  });
  holder.replaceChildren(table(["Time", "Event", "Component", "Channel", "URL", "Details"], rows));
}

async function refresh() {
  const banner = document.getElementById("error");
  try {
    const answer = await fetch(STATE, {cache: "no-store"});
    if (!answer.ok) throw new Error(STATE + " answered " + answer.status);
    const state = await answer.json();
    document.getElementById("registry").textContent = "registry: " + state.registry;
    document.getElementById("updated").textContent = "updated " + new Date(state.time * 1000).toLocaleTimeString();
    banner.hidden = !state.error;
    banner.textContent = state.error || "";
    drawComponents(state);
    drawMethods(state.metrics);
    drawEvents(state.events);
    document.body.dataset.updated = String(state.time);
  } catch (failure) {
    banner.hidden = false;
    banner.textContent = "cannot read the state: " + failure.message;
  }
}

refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
"""
