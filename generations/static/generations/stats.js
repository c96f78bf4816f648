// The model leaderboard (/stats): GET /api/models/stats drawn as a small bar chart per model —
// median visual score, share completed, median duration, cost per finished page. Plain SVG.

const SVG = "http://www.w3.org/2000/svg";
const CHART = { width: 360, row: 26, label: 104, value: 76 };
const money = new Intl.NumberFormat("en", {
  style: "currency", currency: "USD", maximumSignificantDigits: 2,
});

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A finished page's cost: everything the model cost over its finished runs. */
function costPerPage(row) {
  const total = Number(row.total_cost_usd);
  const finished = Math.round(row.runs * row.completed_share);
  return finished && Number.isFinite(total) && total > 0 ? total / finished : null;
}

const seconds = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

/** The four measures of a row, each with its bar's length from 0 to 1 against `most`. */
function measures(row, most) {
  const cost = costPerPage(row);
  return [
    {
      key: "visual", label: "Visual score", value: row.median_visual_score,
      share: row.median_visual_score, text: row.median_visual_score?.toFixed(2),
    },
    {
      key: "completed", label: "Completed", value: row.completed_share,
      share: row.completed_share, text: `${Math.round(row.completed_share * 100)} %`,
    },
    {
      key: "duration", label: "Median time", value: row.median_duration_ms,
      share: row.median_duration_ms / most.duration,
      text: row.median_duration_ms == null ? null : seconds(row.median_duration_ms),
    },
    {
      key: "cost", label: "Cost / page", value: cost,
      share: cost / most.cost, text: cost == null ? null : money.format(cost),
    },
  ];
}

function chart(row, most) {
  const items = measures(row, most);
  const { width, row: step, label, value } = CHART;
  const track = width - label - value;
  const node = svg("svg", {
    class: "chart", viewBox: `0 0 ${width} ${items.length * step}`, role: "img",
    "aria-label": items.map((m) => `${m.label}: ${m.text ?? "none yet"}`).join(", "),
  });
  items.forEach((m, i) => {
    const y = i * step;
    const g = svg("g", { class: `measure measure-${m.key}`, "data-measure": m.key });
    g.append(svg("text", { x: 0, y: y + step / 2, class: "chart-label", "dominant-baseline": "middle" }, m.label));
    g.append(svg("rect", { x: label, y: y + 6, width: track, height: step - 12, rx: 3, class: "chart-track" }));
    if (m.value != null && Number.isFinite(m.share)) {
      const length = Math.max(2, Math.min(1, m.share) * track);
      g.append(svg("rect", { x: label, y: y + 6, width: length, height: step - 12, rx: 3, class: "chart-bar" }));
    }
    g.append(svg("text", {
      x: width, y: y + step / 2, class: "chart-value", "text-anchor": "end", "dominant-baseline": "middle",
    }, m.text ?? "–"));
    node.append(g);
  });
  return node;
}

function ranked(rows) {
  const visual = (row) => row.median_visual_score ?? -1;
  return [...rows].sort((a, b) => visual(b) - visual(a)
    || b.completed_share - a.completed_share || a.model.localeCompare(b.model));
}

function entry(row, rank, most) {
  const item = make("li", "leader card");
  item.dataset.model = row.model;
  const head = make("div", "leader-head");
  head.append(make("span", "leader-rank", `${rank}`), make("h2", "leader-model", row.model));
  const runs = `${row.runs} run${row.runs === 1 ? "" : "s"}`;
  const extra = [runs];
  if (row.fallbacks) extra.push(`${row.fallbacks} as a fallback`);
  if (row.truncations) extra.push(`${row.truncations} truncated`);
  item.append(head, make("p", "leader-meta hint", extra.join(" · ")), chart(row, most));
  return item;
}

async function load() {
  const status = document.getElementById("stats-status");
  const list = document.getElementById("leaderboard");
  let rows;
  try {
    const response = await fetch("/api/models/stats", {
      credentials: "same-origin", headers: { Accept: "application/json" },
    });
    const body = await response.json();
    if (!response.ok || !body.success) throw new Error(body.error?.message ?? response.statusText);
    rows = body.data;
  } catch (error) {
    status.textContent = `The figures could not be loaded: ${error.message}`;
    status.dataset.kind = "error";
    return;
  }
  if (!rows.length) {
    status.textContent = "No model has run here yet (demo generations do not count).";
    return;
  }
  const most = {
    duration: Math.max(...rows.map((r) => r.median_duration_ms ?? 0)) || 1,
    cost: Math.max(...rows.map((r) => costPerPage(r) ?? 0)) || 1,
  };
  list.replaceChildren(...ranked(rows).map((row, i) => entry(row, i + 1, most)));
  status.textContent = `${rows.length} model${rows.length === 1 ? "" : "s"}. Bars for time and cost are against the slowest and dearest.`;
}

load();
