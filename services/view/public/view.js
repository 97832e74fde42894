// The view's page: the service map as a Cytoscape graph, kept current from /api/map when /api/events says the live
// folds moved, with a side panel for the element clicked. Plain ES module, no build step; every text from the map
// goes into the page through textContent (never as markup).
/* global window, document, EventSource, Node, getComputedStyle, URLSearchParams */
import cytoscape from "./assets/cytoscape.mjs";
import dagre from "./assets/cytoscape-dagre.mjs";

cytoscape.use(dagre);

/** Node kinds (@adi/mapper's NodeKind, the kinds `adi export mermaid|dot` draw too): [kind, legend name, shape]. */
const KINDS = [
  ["service", "service", "round-rectangle"],
  ["container", "container", "round-rectangle"],
  ["database", "database", "barrel"],
  ["cache", "cache", "diamond"],
  ["message_bus", "message bus", "hexagon"],
  ["external", "external", "ellipse"],
];
/** A window other than live is folded from the stream on the server: refreshed on changes at most this often. */
const RECENT_REFRESH_MS = 30_000;
const LAYOUT = { name: "dagre", rankDir: "LR", nodeSep: 70, rankSep: 220, edgeSep: 30, animate: false, fit: false };
/** A small map fitted to the window would be drawn huge: fitting stops at this zoom. */
const MAX_FIT_ZOOM = 1.3;

const $ = (id) => document.getElementById(id);
const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** An element with attributes and children (strings become text nodes: never parsed as markup). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

function graphStyle() {
  const nodeWidth = (n) => Math.max(70, n.data("label").length * 7.2 + 24);
  const style = [
    {
      selector: "node",
      style: {
        label: "data(label)",
        "font-size": 12,
        color: css("--ink"),
        "text-valign": "bottom",
        "text-margin-y": 5,
        width: 46,
        height: 40,
        "border-width": 0,
      },
    },
    {
      selector: "node.service, node.container",
      style: { shape: "round-rectangle", width: nodeWidth, height: 34, "text-valign": "center", "text-margin-y": 0, color: "#fff", "font-weight": "bold" },
    },
    {
      selector: "edge",
      style: {
        width: 2,
        "curve-style": "bezier",
        "line-color": css("--edge"),
        "target-arrow-color": css("--edge"),
        "target-arrow-shape": "triangle",
        label: "data(label)",
        "font-size": 10,
        color: css("--muted"),
        "text-background-color": "#fff",
        "text-background-opacity": 0.9,
        "text-background-padding": 2,
        // Along the edge: a label across the drawing would lie over the nodes beside it.
        "text-rotation": "autorotate",
      },
    },
    { selector: "edge.connection", style: { "line-style": "dashed" } },
    { selector: "edge.failing", style: { "line-color": css("--edge-failing"), "target-arrow-color": css("--edge-failing"), color: css("--edge-failing") } },
    { selector: ":selected", style: { "border-width": 3, "border-color": css("--selected"), "line-color": css("--selected"), "target-arrow-color": css("--selected") } },
  ];
  for (const [kind, , shape] of KINDS) style.splice(1, 0, { selector: `node.${kind}`, style: { shape, "background-color": css(`--kind-${kind}`) } });
  return style;
}

const cy = cytoscape({ container: $("graph"), style: graphStyle(), minZoom: 0.2, maxZoom: 3, boxSelectionEnabled: false });
// For tests and for the curious: the graph as Cytoscape holds it.
window.cy = cy;

const state = { window: { kind: "live" }, model: null, selected: null, fetching: false, again: false, fetchedAt: 0 };

function mapUrl() {
  const q = new URLSearchParams({ window: state.window.kind });
  if (state.window.since) q.set("since", state.window.since);
  if (state.window.until) q.set("until", state.window.until);
  return `/api/map?${q}`;
}

function setStatus(text, cls = "") {
  const s = $("status");
  s.textContent = text;
  s.className = cls;
}

/**
 * The graph emptied and `message` shown in red: after an error no graph stays on screen that is not the window
 * asked for (the previous window's would pass for it).
 */
function showError(message) {
  state.model = null;
  closePanel();
  cy.elements().remove();
  setStatus(message, "error");
  document.body.dataset.state = "error";
}

/** Fetches the current window's model; calls made while one is in flight become one more fetch after it. */
async function load() {
  if (state.fetching) {
    state.again = true;
    return;
  }
  // A range refused in the page (windowError) is not asked of the server.
  if (state.window.error) return showError(state.window.error);
  state.fetching = true;
  const asked = state.window;
  try {
    if (asked.kind !== "live") setStatus("folding the window from the stream…");
    const res = await fetch(mapUrl(), { headers: { accept: "application/json" } });
    // An answer that is not JSON (a proxy's error page) still has its status to show.
    const body = await res.json().catch(() => ({}));
    if (asked !== state.window) return; // the window changed meanwhile: its own fetch follows
    if (!res.ok) return showError(body.error ?? `error ${res.status}`);
    state.fetchedAt = Date.now();
    render(body);
  } catch (err) {
    if (asked === state.window) showError(`cannot reach adi: ${err.message}`);
  } finally {
    state.fetching = false;
    if (state.again) {
      state.again = false;
      void load();
    }
  }
}

function render(model) {
  state.model = model;
  updateGraph(model);
  if (state.selected && !cy.getElementById(state.selected).nonempty()) closePanel();
  else if (state.selected) showPanel(state.selected, true);
  const services = model.nodes.filter((n) => n.kind === "service" || n.kind === "container").length;
  const when = model.window.kind === "live" ? `updated ${new Date().toLocaleTimeString()}` : describeWindow(model.window, model.computed_ms);
  setStatus(`${services} services · ${model.nodes.length} nodes · ${model.edges.length} edges · ${when}`, model.window.kind === "live" ? "live" : "");
  document.body.dataset.state = "ready";
  document.body.dataset.version = String(model.version ?? "");
}

function describeWindow(w, ms) {
  const t = (iso, open) => (iso ? new Date(iso).toLocaleString() : open);
  return `${w.kind === "5m" ? "last 5 minutes" : "window"} ${t(w.since, "the start")} → ${t(w.until, "now")} · folded in ${ms} ms`;
}

/** Elements updated in place (positions kept); the layout runs again only when nodes came or went. */
function updateGraph(model) {
  const nodes = model.nodes.map((n) => ({ group: "nodes", data: { id: n.id, label: n.label, kind: n.kind }, classes: n.kind }));
  const edges = model.edges.map((e) => ({
    group: "edges",
    data: { id: e.id, source: e.source, target: e.target, label: e.label, protocol: e.protocol, count: e.count },
    classes: [e.kind, e.errors ? "failing" : ""].join(" ").trim(),
  }));
  const wanted = new Set([...nodes, ...edges].map((e) => e.data.id));
  let topologyChanged = cy.nodes().length === 0;
  cy.batch(() => {
    cy.elements().forEach((ele) => {
      if (wanted.has(ele.id())) return;
      if (ele.isNode()) topologyChanged = true;
      ele.remove();
    });
    for (const e of [...nodes, ...edges]) {
      const known = cy.getElementById(e.data.id);
      if (known.nonempty()) {
        known.data(e.data);
        known.classes(e.classes);
      } else {
        cy.add(e);
        if (e.group === "nodes") topologyChanged = true;
      }
    }
  });
  if (topologyChanged && cy.nodes().length > 0) {
    cy.layout(LAYOUT).run();
    fitGraph();
  }
}

/** The whole graph in view, no larger than MAX_FIT_ZOOM. */
function fitGraph() {
  cy.fit(undefined, 40);
  if (cy.zoom() > MAX_FIT_ZOOM) {
    cy.zoom(MAX_FIT_ZOOM);
    cy.center();
  }
}

/** The graph's box changed (the panel opened or closed, the window was resized). */
function resized() {
  cy.resize();
  fitGraph();
}

// ---- the side panel ----

function closePanel() {
  state.selected = null;
  const wasShown = !$("panel").hidden;
  $("panel").hidden = true;
  cy.elements().unselect();
  if (wasShown) resized();
}

function showPanel(id, keepScroll = false) {
  const m = state.model;
  const detail = m?.details[id];
  if (!detail) return closePanel();
  const panel = $("panel");
  const scroll = panel.scrollTop;
  const wasHidden = panel.hidden;
  state.selected = id;
  const node = m.nodes.find((n) => n.id === id);
  const edge = node ? null : m.edges.find((e) => e.id === id);
  const body = node ? nodePanel(node, detail, m) : edgePanel(edge, detail, m);
  $("panel-body").replaceChildren(...body);
  panel.hidden = false;
  panel.dataset.selected = id;
  if (keepScroll) panel.scrollTop = scroll;
  if (wasHidden) resized();
}

function nodePanel(node, detail, m) {
  const endpoints = detail.endpoints.map((i) => m.endpoints[i]);
  const connections = detail.connections.map((i) => m.connections[i]);
  const made = endpoints.filter((e) => e.source === node.label);
  const received = endpoints.filter((e) => e.destination === node.label);
  return [
    el("h2", {}, node.label),
    el("p", { class: "meta" }, el("span", { class: `badge kind-${node.kind}` }, kindName(node.kind)), node.image ? `image ${node.image}` : null),
    section("Calls made", made.map((e) => endpointBlock(e, "to")), "no HTTP calls made"),
    section("Calls received", received.map((e) => endpointBlock(e, "from")), "no HTTP calls received"),
    section(
      "Connections",
      connections.map((c) => connectionBlock(c, node.label)),
      "no classified connections",
    ),
    section("Environment", detail.processes.map((i) => processBlock(m.processes[i])), "no process of the environment inventory carries this name"),
  ];
}

function edgePanel(edge, detail, m) {
  const name = (id) => m.nodes.find((n) => n.id === id)?.label ?? id;
  const figures = edge.kind === "http"
    ? figureList([
        ["calls", edge.count],
        ["errors", `${edge.errors} (${percent(edge.error_rate)})`, edge.errors > 0],
        ["status codes", statusCodes(edge.status_codes)],
        ["p50 / p99", latency(edge.p50_ms, edge.p99_ms)],
      ])
    : figureList([["connections", edge.count]]);
  return [
    el("h2", {}, `${name(edge.source)} → ${name(edge.target)}`),
    el("p", { class: "meta" }, el("span", { class: "badge protocol" }, edge.protocol)),
    figures,
    edge.kind === "http" ? section("Calls", detail.endpoints.map((i) => endpointBlock(m.endpoints[i], null)), "no calls") : null,
    edge.kind === "connection" ? section("Connections", detail.connections.map((i) => connectionBlock(m.connections[i], null)), "none") : null,
    section(`Environment of ${name(edge.source)}`, detail.processes.map((i) => processBlock(m.processes[i])), "no process of the environment inventory carries this name"),
  ].filter(Boolean);
}

function section(title, blocks, empty) {
  return el("section", { class: "group" }, el("h3", {}, `${title} (${blocks.length})`), blocks.length ? blocks : el("p", { class: "none" }, empty));
}

function endpointBlock(e, peerSide) {
  const peer = peerSide === "to" ? `→ ${e.destination}` : peerSide === "from" ? `← ${e.source}` : `${e.source} → ${e.destination}`;
  const failing = e.errors > 0;
  return el(
    "div",
    { class: "endpoint", "data-method": e.method, "data-path": e.path, "data-source": e.source, "data-destination": e.destination },
    el("h4", {}, el("span", { class: "method" }, e.method), el("span", { class: "path" }, e.path), " ", el("span", { class: "peer" }, peer)),
    figureList([
      ["calls", e.count],
      ["errors", e.errors, failing],
      ["status codes", statusCodes(e.status_codes)],
      ["p50 / p99", latency(e.p50_ms, e.p99_ms)],
      ["seen", seen(e.first_seen, e.last_seen)],
    ]),
    el(
      "div",
      { class: "schemas" },
      el("div", {}, el("h5", {}, "request schema"), schemaBlock(e.request_schema, "request-schema")),
      el("div", {}, el("h5", {}, "response schema"), schemaBlock(e.response_schema, "response-schema")),
    ),
    e.example ? exampleBlock(e.example) : null,
  );
}

function schemaBlock(schema, cls) {
  if (schema === null) return el("pre", { class: `schema ${cls}`, "data-empty": "true" }, "(no body)");
  return el("pre", { class: `schema ${cls}` }, JSON.stringify(schema, null, 2));
}

function exampleBlock(x) {
  return el(
    "details",
    { class: "example" },
    el("summary", {}, `example: ${x.path} → ${x.status ?? "no response"} (redacted)`),
    el("h5", {}, "request body"),
    el("pre", {}, x.request_body ?? "(none)"),
    el("h5", {}, "response body"),
    el("pre", {}, x.response_body ?? "(none)"),
  );
}

function connectionBlock(c, self) {
  const peer = self === null ? `${c.source} → ${c.destination}` : c.source === self ? `→ ${c.destination}` : `← ${c.source}`;
  return el(
    "div",
    { class: "connection", "data-protocol": c.protocol, "data-source": c.source, "data-destination": c.destination },
    el("h4", {}, el("span", { class: "badge protocol" }, c.protocol), el("span", { class: "peer" }, peer)),
    figureList([
      ["category", c.category],
      ["port", c.port],
      ["confidence", c.confidence],
      ["reason", c.reason],
      ["connections", c.count],
      ["destination type", c.destination_type],
      ["seen", seen(c.first_seen, c.last_seen)],
    ]),
  );
}

function processBlock(p) {
  const env = Object.entries(p.env);
  return el(
    "div",
    { class: "process", "data-pid": p.pid },
    el("h4", {}, `pid ${p.pid} · ${p.comm}`, p.adi_profile_name ? ` · ${p.adi_profile_name}` : null),
    el("p", { class: "meta" }, `host ${p.host}`, p.container_id ? ` · container ${p.container_id.slice(0, 12)}` : null, ` · ADI_PROFILE=${p.adi_profile_match ?? ""}`),
    el("h5", {}, "command line (redacted)"),
    el("pre", {}, p.cmdline),
    p.error ? el("p", { class: "failing" }, p.error) : null,
    el("h5", {}, `environment (redacted, ${env.length})`),
    el("table", { class: "env" }, el("tbody", {}, env.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v))))),
  );
}

function figureList(rows) {
  return el("dl", { class: "figures" }, rows.flatMap(([k, v, bad]) => [el("dt", {}, k), el("dd", bad ? { class: "failing" } : {}, String(v))]));
}

const seen = (first, last) => `${new Date(first).toLocaleString()} → ${new Date(last).toLocaleString()}`;
const statusCodes = (codes) => Object.entries(codes ?? {}).map(([code, n]) => `${code} ×${n}`).join(", ") || "–";
const latency = (p50, p99) => (p50 === null ? "not timed" : `${ms(p50)} / ${ms(p99)}`);
const ms = (v) => (v >= 1000 ? `${Number((v / 1000).toPrecision(3))} s` : `${Number(v.toPrecision(3))} ms`);
const percent = (r) => `${Math.round(r * 1000) / 10}%`;
const kindName = (kind) => KINDS.find(([k]) => k === kind)?.[1] ?? kind;

// ---- events ----

cy.on("tap", "node, edge", (ev) => {
  cy.elements().unselect();
  ev.target.select();
  showPanel(ev.target.id());
});
cy.on("tap", (ev) => {
  if (ev.target === cy) closePanel();
});
$("panel-close").addEventListener("click", closePanel);

$("window").addEventListener("change", () => {
  $("range-inputs").hidden = $("window").value !== "range";
});
/**
 * Why a range cannot be asked for, or null: the server's own rules (services/view/src/core/window.ts
 * parseWindow), checked here so that a range it would refuse is not sent (and the browser logs no failed request).
 */
function windowError(w) {
  if (w.kind !== "range") return null;
  if (!w.since && !w.until) return "a range needs since, until or both";
  if (w.since && w.until && w.since > w.until) return `since ${new Date(w.since).toLocaleString()} is after until ${new Date(w.until).toLocaleString()}`;
  return null;
}

$("window-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const kind = $("window").value;
  // datetime-local gives local time without a zone (or "" when empty or incomplete): read as local, sent as UTC.
  const iso = (v) => (v && !Number.isNaN(new Date(v).getTime()) ? new Date(v).toISOString() : null);
  const w = kind === "range" ? { kind, since: iso($("since").value), until: iso($("until").value) } : { kind };
  state.window = { ...w, error: windowError(w) };
  void load();
});

// The live folds moved: fetch again (the server sends at most one event a second).
const events = new EventSource("/api/events");
events.addEventListener("map", (ev) => {
  const { version } = JSON.parse(ev.data);
  const w = state.window.kind;
  if (w === "live" && version !== state.model?.version) void load();
  else if (w === "5m" && Date.now() - state.fetchedAt >= RECENT_REFRESH_MS) void load();
});
events.addEventListener("error", () => {
  if (state.window.kind === "live") setStatus("connection to adi lost; retrying…", "error");
});
events.addEventListener("open", () => {
  if (state.window.kind === "live" && state.model) void load();
});

$("legend").replaceChildren(
  ...KINDS.map(([kind, name]) => el("span", {}, el("span", { class: `swatch kind-${kind}` }), name)),
  el("span", {}, el("span", { class: "swatch edge-http" }), "HTTP calls"),
  el("span", {}, el("span", { class: "swatch edge-connection" }), "classified connection"),
  el("span", {}, el("span", { class: "swatch edge-failing" }), "with errors (5xx or no answer)"),
);
window.addEventListener("resize", resized);
void load();
