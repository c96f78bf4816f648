// A variant's visual score (contract §9) as a panel shows it: a badge ("Visual 0.87") whose
// components show on hover and on click, "Rendering…" while the server renders it, the reason
// when its render failed; and the order of the panels by score.

const COMPONENTS = [
  ["structure", "Structure"],
  ["color", "Colour"],
  ["layout", "Layout"],
  ["text", "Text"],
  ["coverage", "Coverage"],
];

const two = (value) => (typeof value === "number" ? value.toFixed(2) : "–");

/** How close a score is, for its colour: the thresholds only tint the badge. */
export function scoreLevel(visual) {
  if (typeof visual !== "number") return "none";
  if (visual >= 0.8) return "high";
  if (visual >= 0.5) return "mid";
  return "low";
}

/** The score's components as lines of text ("Structure 0.91"), in a fixed order. */
export function componentLines(score) {
  const lines = COMPONENTS.filter(([key]) => typeof score?.[key] === "number")
    .map(([key, label]) => `${label} ${two(score[key])}`);
  if (typeof score?.offset_px === "number") lines.push(`Offset ${Math.round(score.offset_px)} px`);
  return lines;
}

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The score of one panel: a `<details>` whose summary is the badge and whose body lists the
 * components (touch and keyboard users open it; a mouse also gets them as the tooltip). */
export class ScoreBadge {
  constructor() {
    this.root = make("details", "score");
    this.root.hidden = true;
    this.summary = make("summary", "badge score-badge");
    this.parts = make("dl", "score-parts");
    this.root.append(this.summary, this.parts);
    this.shown = null;
  }

  /** Show `renderStatus` ("pending" | "done" | "failed", or "late": no render came while the
   * page waited) and `score` of a completed variant;
   * `completed` false hides the badge (nothing is rendered before the HTML is saved). */
  show({ completed, renderStatus, renderError, score }) {
    const key = JSON.stringify([completed, renderStatus, renderError, score]);
    if (key === this.shown) return;
    this.shown = key;
    const root = this.root;
    root.hidden = !completed || !renderStatus;
    if (root.hidden) return;
    let state = renderStatus;
    if (state === "done" && !score) state = "pending"; // rendered, scoring still running
    root.dataset.state = state;
    root.dataset.level = state === "done" ? scoreLevel(score.visual) : "none";
    this.parts.replaceChildren();
    if (state === "done") {
      this.summary.textContent = `Visual ${two(score.visual)}`;
      const lines = componentLines(score);
      this.summary.title = ["Visual score, 0 to 1 (1: looks like the screenshot)", ...lines].join("\n");
      for (const line of lines) {
        const [label, ...value] = line.split(" ");
        this.parts.append(make("dt", "", label), make("dd", "", value.join(" ")));
      }
      root.classList.toggle("no-parts", !lines.length);
    } else if (state === "failed") {
      const reason = renderError || "unknown reason";
      this.summary.textContent = `Render failed: ${reason}`;
      this.summary.title = `The server could not render this page, so it has no score.\n${reason}`;
      root.classList.add("no-parts");
      root.open = false;
    } else if (state === "late") {
      this.summary.textContent = "Not scored yet";
      this.summary.title = "No render arrived while this page waited; reload later to see it";
      root.classList.add("no-parts");
      root.open = false;
    } else {
      this.summary.textContent = "Rendering…";
      this.summary.title = "The server is rendering this page to score it against the screenshot";
      root.classList.add("no-parts");
      root.open = false;
    }
  }
}

/**
 * The panels' places, highest visual score first (unscored ones after, in their own order),
 * or their own order when `byScore` is false: a Map of panel -> position from 0.
 */
export function panelOrder(panels, byScore) {
  const list = [...panels].sort((a, b) => a.index - b.index);
  if (byScore) {
    const visual = (panel) => (typeof panel.score?.visual === "number" ? panel.score.visual : -1);
    list.sort((a, b) => visual(b) - visual(a) || a.index - b.index);
  }
  return new Map(list.map((panel, position) => [panel, position]));
}
