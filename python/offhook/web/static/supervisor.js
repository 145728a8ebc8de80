// The supervisor view: campaign statistics from /api/report, refreshed every 5 seconds.
// Numbers go in as text; the charts are the report's own SVG (offhook.report.svg), parsed
// as XML and imported, so nothing from the store is ever interpreted as HTML.
const REFRESH_MS = 5000;
const params = new URLSearchParams(location.search);
if (params.has("token")) { params.delete("token"); history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : "")); }

const $ = (id) => document.getElementById(id);
const COLUMNS = ["calls", "live", "connected", "abandoned", "answer_rate", "abandon_rate", "average_wait",
  "average_talk", "average_handle", "talk_total", "mos"];

function fmt(col, v) {
  if (v === null || v === undefined) return "–";
  if (col.endsWith("_rate")) return (v * 100).toFixed(2) + " %";
  if (col === "mos") return v.toFixed(2);
  if (typeof v === "number" && !Number.isInteger(v)) return v.toFixed(1);
  return String(v);
}

function node(tag, text, cls) {
  const n = document.createElement(tag);
  if (text !== undefined) n.textContent = text;
  if (cls) n.className = cls;
  return n;
}

function tile(label, value, over) {
  const t = node("div", undefined, "tile" + (over ? " over" : ""));
  t.append(node("div", label, "label"), node("div", value, "value"));
  t.dataset.tile = label;
  return t;
}

function table(id, rows, target) {
  const t = node("table"); t.id = id;
  const head = node("tr");
  for (const c of ["key", ...COLUMNS]) head.append(node("th", c.replace(/_/g, " ")));
  t.append(head);
  for (const g of rows) {
    const tr = node("tr"); tr.dataset.key = g.key;
    tr.append(node("td", g.key));
    for (const c of COLUMNS) {
      const td = node("td", fmt(c, g[c]), c === "abandon_rate" && g[c] > target ? "over" : "");
      td.dataset.col = c;
      tr.append(td);
    }
    t.append(tr);
  }
  return t;
}

function render(data) {
  const notice = $("notice");
  notice.hidden = true;
  notice.className = "notice";
  document.body.dataset.configured = String(data.configured);
  if (!data.configured) {
    $("meta").textContent = "";
    notice.hidden = false;
    notice.textContent = data.message;
    $("tiles").replaceChildren(); $("charts").replaceChildren(); $("tables").replaceChildren();
    return;
  }
  if (data.error) {
    notice.hidden = false; notice.classList.add("error");
    notice.textContent = "Cannot read the campaign store: " + data.error;
    return;
  }
  const r = data.report, o = r.overall;
  $("title").textContent = r.title;
  $("meta").textContent = `Store ${data.store} · updated ${new Date(r.generated * 1000).toLocaleTimeString()} · ` +
    `abandon-rate target ${(r.abandon_target * 100).toFixed(1)} %`;
  $("tiles").replaceChildren(
    tile("calls", String(o.calls)), tile("answer rate", fmt("answer_rate", o.answer_rate)),
    tile("abandon rate", fmt("abandon_rate", o.abandon_rate), o.abandon_rate > r.abandon_target),
    tile("avg wait s", fmt("average_wait", o.average_wait)), tile("avg handle s", fmt("average_handle", o.average_handle)),
    tile("MOS", fmt("mos", o.mos)));
  const charts = [];
  for (const [id, svg] of Object.entries(data.charts)) {
    const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
    if (doc.documentElement.nodeName !== "svg") continue;
    const fig = node("figure"); fig.id = "fig-" + id;
    fig.append(document.importNode(doc.documentElement, true));
    charts.push(fig);
  }
  $("charts").replaceChildren(...charts);
  const tables = [];
  for (const [grouping, rows] of Object.entries(r.groups)) {
    tables.push(node("h2", "Per " + grouping), table("by-" + grouping, rows, r.abandon_target));
  }
  $("tables").replaceChildren(...tables);
}

async function refresh() {
  try {
    const res = await fetch("/api/report", { credentials: "same-origin", cache: "no-store" });
    if (res.status === 401) { $("meta").textContent = "Not logged in: open the handset's address with its token."; return; }
    render(await res.json());
  } catch (e) {
    $("meta").textContent = "Cannot reach the handset: " + e.message;
  }
}
refresh();
setInterval(refresh, REFRESH_MS);
