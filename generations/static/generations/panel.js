// One variant's panel: model, status, timer, the live code, the sandboxed preview, its actions.
//
// Offsets in the socket protocol count code points (Python `len`), while JS strings count
// UTF-16 units, so each panel keeps its text and a separate code-point length.

import { CompareView } from "./compare.js";
import { ScoreBadge } from "./scores.js";
import { showHighlighted } from "./syntax.js";
import { ACTIVE_VARIANT, ERROR_HINTS, RENDERS, VARIANT_STATUS_LABELS } from "./vocabulary.js";

// "restarting" is the page's own state between a `variant.restarted` frame and the next chunk;
// the server's variant is `streaming` throughout.
const RUNNING = new Set([...ACTIVE_VARIANT, "restarting"]);
const PREVIEW_WIDTHS = { desktop: 1280, mobile: 390 };

const codePoints = (text) => {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
};

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(label, className = "small") {
  const node = make("button", className, label);
  node.type = "button";
  return node;
}

function toggle(labels, groupLabel) {
  const group = make("div", "segmented");
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", groupLabel);
  const buttons = {};
  for (const [value, label] of Object.entries(labels)) {
    const node = button(label);
    node.dataset.value = value;
    node.setAttribute("aria-pressed", "false");
    buttons[value] = node;
    group.append(node);
  }
  return { group, buttons };
}

export function formatSeconds(ms) {
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, "0")} s`;
}

const numberFormat = new Intl.NumberFormat("en");

export class VariantPanel {
  constructor(index, { demo, onChoose, onCopied, onScored }) {
    this.index = index;
    this.demo = demo;
    this.onChoose = onChoose;
    this.onCopied = onCopied;
    this.onScored = onScored;
    // After the save, the server renders and scores the page (contract §9) and may replace
    // its placeholder images (§11); none of it changes the variant's status.
    this.renderStatus = null;
    this.renderError = "";
    this.renderUrl = null;
    this.score = null;
    this.images = [];
    this.imagesSettled = false; // a variant.images frame (or a stored list) arrived
    this.htmlVersion = 0; // bumped when the HTML changes under a loaded preview
    this.screenshotUrl = null;
    this.generationId = null;
    this.requestedModel = null;
    this.model = null;
    this.status = "pending";
    this.text = "";
    this.length = 0;
    this.html = null;
    this.durationMs = null;
    this.usage = null;
    this.finishReason = null;
    this.error = null;
    this.startedAt = performance.now();
    this.endedAt = null;
    this.view = "code";
    this.viewChosenByUser = false;
    this.width = "desktop";
    this.chosen = false;
    this.build();
    this.render();
  }

  // ---- DOM ---------------------------------------------------------------

  build() {
    const i = this.index;
    const root = make("article", "panel card");
    root.dataset.index = String(i);
    root.setAttribute("aria-labelledby", `model-${i}`);

    const header = make("header", "panel-header");
    const title = make("div", "panel-title");
    this.modelEl = make("h2", "model");
    this.modelEl.id = `model-${i}`;
    this.requestedEl = make("p", "requested");
    title.append(this.modelEl, this.requestedEl);
    const side = make("div", "panel-side");
    this.statusEl = make("span", "badge status");
    this.timerEl = make("span", "timer");
    this.timerEl.title = "Time this variant has taken";
    this.scoreBadge = new ScoreBadge();
    const badges = make("div", "panel-badges");
    badges.append(this.scoreBadge.root, this.statusEl);
    side.append(badges, this.timerEl);
    header.append(title, side);

    this.metaEl = make("p", "meta");

    const stage = make("div", "stage");
    this.stage = stage;
    this.noticeEl = make("p", "notice");
    this.noticeEl.hidden = true;
    this.codeEl = make("pre", "code");
    this.codeEl.tabIndex = 0;
    this.codeEl.setAttribute("aria-label", `Model answer of variant ${i + 1}`);
    this.codeText = document.createTextNode("");
    this.codeEl.append(this.codeText);
    this.buildHtmlView();
    this.viewport = make("div", "viewport");
    this.frame = make("iframe", "preview");
    // Generated HTML is untrusted: scripts may run, but in an opaque origin. Never add
    // allow-same-origin: with allow-scripts it would let the page remove its own sandbox.
    this.frame.setAttribute("sandbox", "allow-scripts");
    this.frame.setAttribute("referrerpolicy", "no-referrer");
    this.frame.title = `Rendered page of variant ${i + 1}`;
    this.frame.tabIndex = -1;
    // A new address set while the frame is still committing its last one can be dropped by
    // the browser: the next address waits for the current load to end.
    this.frameLoading = false;
    this.frame.addEventListener("load", () => {
      this.frameLoading = false;
      if (this.wantedUrl && this.wantedUrl !== this.frame.getAttribute("src")) this.loadFrame();
    });
    this.viewport.append(this.frame);
    this.compare = new CompareView(i);
    stage.append(this.noticeEl, this.codeEl, this.htmlEl, this.viewport, this.compare.root);

    const toolbar = make("div", "toolbar");
    toolbar.setAttribute("role", "toolbar");
    toolbar.setAttribute("aria-label", `Variant ${i + 1} actions`);
    const views = toggle(
      { preview: "Preview", compare: "Compare", code: "Code", raw: "Raw answer" }, "Show",
    );
    views.buttons.compare.title = "The original screenshot over the server's render of this page";
    views.group.classList.add("views");
    this.viewButtons = views.buttons;
    const widths = toggle({ desktop: "Desktop", mobile: "Mobile" }, "Preview width");
    widths.group.classList.add("widths");
    this.widthButtons = widths.buttons;
    this.copyButton = button("Copy", "small copy");
    this.downloadButton = button("Download", "small download");
    this.openLink = make("a", "button-link small open", "Open");
    this.openLink.target = "_blank";
    this.openLink.rel = "noopener";
    this.chooseButton = button("Use this one", "small choose");
    this.chooseButton.setAttribute("aria-pressed", "false");
    toolbar.append(
      views.group, widths.group, this.copyButton, this.downloadButton, this.openLink,
      this.chooseButton,
    );

    root.append(header, this.metaEl, stage, toolbar);
    this.root = root;

    for (const node of Object.values(this.viewButtons)) {
      node.addEventListener("click", () => {
        this.viewChosenByUser = true;
        this.setView(node.dataset.value);
      });
    }
    for (const node of Object.values(this.widthButtons)) {
      node.addEventListener("click", () => this.setWidth(node.dataset.value));
    }
    this.copyButton.addEventListener("click", () => this.copy());
    this.downloadButton.addEventListener("click", () => this.download());
    this.chooseButton.addEventListener("click", () => {
      if (!this.chosen) this.onChoose(this.index);
    });
    new ResizeObserver(() => this.fitPreview()).observe(this.viewport);
  }

  // ---- state -------------------------------------------------------------

  get running() {
    return RUNNING.has(this.status);
  }

  setGeneration(id) {
    this.generationId = id;
    this.render();
  }

  setModels({ model, requestedModel }) {
    if (requestedModel) this.requestedModel = requestedModel;
    if (model) this.model = model;
    if (!this.requestedModel) this.requestedModel = this.model;
    this.render();
  }

  setStatus(status, label) {
    const wasRunning = this.running;
    this.status = status;
    this.statusLabel = label ?? VARIANT_STATUS_LABELS[status] ?? status;
    if (this.running && !wasRunning) {
      // A retried variant starts a new run: its clock starts again.
      this.startedAt = performance.now();
      this.endedAt = null;
      this.durationMs = null;
    } else if (!this.running && wasRunning) {
      this.endedAt = performance.now();
    }
    this.render();
  }

  /** Start the timer `elapsedMs` ago (the page's server-rendered data knows how long). */
  setElapsed(elapsedMs) {
    if (typeof elapsedMs === "number") this.startedAt = performance.now() - elapsedMs;
  }

  setDetails({ durationMs, usage, finishReason }) {
    if (typeof durationMs === "number") this.durationMs = durationMs;
    if (usage && (usage.prompt_tokens != null || usage.completion_tokens != null)) this.usage = usage;
    if (finishReason) this.finishReason = finishReason;
    this.render();
  }

  /** Drop everything the current attempt produced (a restart or a retry). */
  reset() {
    this.setText("");
    this.html = null;
    this.error = null;
    this.durationMs = null;
    this.usage = null;
    this.finishReason = null;
    this.frame.removeAttribute("src");
    this.frameLoading = false;
    this.wantedUrl = null;
    this.loadedUrl = null;
    this.loadedHtml = null;
    this.highlightedHtml = null;
    this.htmlCode.textContent = "";
    this.setScore({ renderStatus: null, renderError: "", score: null, renderUrl: null });
    this.images = [];
    this.imagesSettled = false;
    if (!this.viewChosenByUser) this.view = "code";
    this.render();
  }

  setText(text) {
    this.text = text;
    this.length = codePoints(text);
    this.writeCode(() => {
      this.codeText.data = text;
    });
  }

  /** Apply a snapshot's text: keep what we hold when it is a prefix, so nothing flickers. */
  syncText(text) {
    if (text.startsWith(this.text)) {
      const rest = text.slice(this.text.length);
      if (rest) this.append(rest, codePoints(rest));
    } else {
      this.setText(text);
    }
  }

  /** Contract §3: append a delta at `offset`; returns false when there is a gap before it. */
  applyChunk(offset, delta) {
    if (offset > this.length) return false;
    const chars = Array.from(delta);
    const skip = this.length - offset; // the part we already hold
    if (skip < chars.length) {
      this.append(skip > 0 ? chars.slice(skip).join("") : delta, chars.length - skip);
    }
    return true;
  }

  append(text, length) {
    this.text += text;
    this.length += length;
    this.writeCode(() => this.codeText.appendData(text));
  }

  writeCode(update) {
    const code = this.codeEl;
    const following = code.scrollHeight - code.scrollTop - code.clientHeight < 32;
    update();
    if (following) code.scrollTop = code.scrollHeight;
  }

  complete({ html, durationMs, usage, finishReason, model }) {
    if (model) this.model = model;
    if (typeof html === "string") this.html = html;
    this.error = null;
    // A server that renders renders every completed variant: the score is on its way.
    if (this.renderStatus === null && RENDERS) this.renderStatus = "pending";
    this.setDetails({ durationMs, usage, finishReason });
    this.setStatus("completed");
    if (!this.viewChosenByUser && this.html !== null) this.view = "preview";
    this.render();
  }

  fail(error, status = "failed") {
    this.error = error ?? null;
    this.setStatus(status);
  }

  /** The server's render and score of this variant, as the API and the frames give them. */
  setScore({ renderStatus, renderError, score, renderUrl }) {
    if (renderStatus !== undefined) this.renderStatus = renderStatus;
    if (this.renderStatus !== "pending") this.renderGaveUp = false;
    if (renderError !== undefined) this.renderError = renderError ?? "";
    if (score !== undefined) this.score = score ?? null;
    if (renderUrl !== undefined) this.renderUrl = renderUrl ?? null;
    if (this.score && !this.renderStatus) this.renderStatus = "done";
    this.render();
    this.onScored?.(this);
  }

  /** The variant's images were generated: the stored HTML now points at them. */
  setImages({ html, images }) {
    if (Array.isArray(images)) this.images = images;
    this.imagesSettled = true;
    if (typeof html === "string") this.html = html;
    this.render();
  }

  /** The render's address, once the server has one. */
  renderAddress() {
    if (this.renderStatus !== "done" || !this.generationId) return null;
    return this.renderUrl
      ?? `/api/generations/${encodeURIComponent(this.generationId)}/variants/${this.index}/render.png`;
  }

  /** No render came while the page waited: the badge says so instead of "Rendering…". */
  giveUpRender() {
    if (this.status !== "completed" || this.renderStatus !== "pending") return;
    this.renderGaveUp = true;
    this.render();
  }

  setScreenshot(url) {
    this.screenshotUrl = url ?? null;
    this.render();
  }

  get hasGeneratedImages() {
    return this.images.some((image) => image.status === "generated");
  }

  setChosen(chosen) {
    this.chosen = chosen;
    this.render();
  }

  // ---- actions -----------------------------------------------------------

  setView(view) {
    this.view = view;
    this.render();
    if (view !== "preview") this.codeEl.scrollTop = this.codeEl.scrollHeight;
  }

  /** Show the rendered page, if there is one (the compare layout shows only pages). */
  preferPreview() {
    if (this.html === null || this.view === "preview") return;
    this.view = "preview";
    this.render();
  }

  setWidth(width) {
    this.width = width;
    this.render();
  }

  async copy() {
    if (this.html === null) return;
    let ok = false;
    try {
      await navigator.clipboard.writeText(this.html);
      ok = true;
    } catch {
      ok = false;
    }
    this.flash(this.copyButton, ok ? "Copied" : "Copy failed", "Copy");
    this.onCopied?.(ok);
  }

  download() {
    if (this.html === null) return;
    if (this.hasGeneratedImages && this.generationId) {
      // A zip of index.html and its stored images, made by the server (contract §11).
      const link = make("a");
      link.href = `/api/generations/${encodeURIComponent(this.generationId)}/variants/${this.index}/download`;
      link.download = "";
      document.body.append(link);
      link.click();
      link.remove();
      return;
    }
    const url = URL.createObjectURL(new Blob([this.html], { type: "text/html;charset=utf-8" }));
    const link = make("a");
    link.href = url;
    link.download = "index.html";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  flash(node, text, back) {
    node.textContent = text;
    clearTimeout(node.flashTimer);
    node.flashTimer = setTimeout(() => {
      node.textContent = back;
    }, 1500);
  }

  // ---- rendering -----------------------------------------------------------

  tick(now = performance.now()) {
    let text = "";
    if (this.running) text = formatSeconds(now - this.startedAt);
    else if (typeof this.durationMs === "number") text = formatSeconds(this.durationMs);
    else if (this.endedAt !== null) text = formatSeconds(this.endedAt - this.startedAt);
    if (this.timerEl.textContent !== text) this.timerEl.textContent = text;
  }

  metaText() {
    if (this.status !== "completed") return "";
    const parts = [];
    if (this.finishReason === "length") parts.push("truncated: hit the token limit");
    if (this.usage) {
      const prompt = this.usage.prompt_tokens;
      const completion = this.usage.completion_tokens;
      const fmt = (n) => (typeof n === "number" ? numberFormat.format(n) : "?");
      parts.push(`${fmt(prompt)} prompt + ${fmt(completion)} completion tokens`);
    }
    if (typeof this.durationMs === "number" && !parts.length) {
      parts.push(`done in ${formatSeconds(this.durationMs)}`);
    }
    return parts.join(" · ");
  }

  noticeText() {
    if (this.status === "failed") {
      const code = this.error?.code ?? "error";
      const hint = ERROR_HINTS[code];
      const message = this.error?.message ?? "";
      return `Failed (${code}). ${hint ?? ""} ${message}`.replace(/\s+/g, " ").trim();
    }
    if (this.status === "cancelled") return "Cancelled. The text so far is kept; Retry runs this variant again.";
    if (this.status === "interrupted") {
      return "Interrupted: the server stopped while this ran. The text so far is kept; Retry runs it again.";
    }
    return "";
  }

  render() {
    const root = this.root;
    root.dataset.status = this.status;
    root.classList.toggle("chosen", this.chosen);

    const model = this.model ?? this.requestedModel ?? `Variant ${this.index + 1}`;
    // Demo output is the local stand-in's: it never goes under a model's name (contract §6).
    const author = this.demo ? "Demo stand-in" : model;
    if (this.modelEl.textContent !== author) {
      this.modelEl.textContent = author;
      this.modelEl.title = model;
    }
    const parts = this.demo ? [`stand-in for ${model}`] : [];
    if (this.model && this.requestedModel && this.model !== this.requestedModel) {
      parts.push(`fallback: requested ${this.requestedModel}`);
    }
    this.requestedEl.textContent = parts.join(" · ");
    root.classList.toggle("fallback", Boolean(this.model && this.requestedModel && this.model !== this.requestedModel));

    this.statusEl.dataset.status = this.status;
    this.statusEl.textContent = this.statusLabel ?? VARIANT_STATUS_LABELS[this.status] ?? this.status;
    this.metaEl.textContent = this.metaText();
    this.metaEl.classList.toggle("truncated", this.finishReason === "length");

    const notice = this.noticeText();
    this.noticeEl.textContent = notice;
    this.noticeEl.hidden = !notice;
    this.noticeEl.dataset.kind = this.status;

    const hasHtml = this.html !== null;
    const view = this.shownView();
    this.stage.dataset.view = view;
    this.showCodeViews(view);
    this.viewport.hidden = view !== "preview";
    this.compare.root.hidden = view !== "compare";
    const renderUrl = this.renderAddress();
    if (view === "compare") {
      this.compare.setSources({ renderUrl, originalUrl: this.screenshotUrl });
    }
    // A server that does not render leaves every render pending: no badge then.
    const pendingForNothing = this.renderStatus === "pending" && !RENDERS;
    this.scoreBadge.show({
      completed: this.status === "completed" && !pendingForNothing,
      renderStatus: this.renderGaveUp ? "late" : this.renderStatus,
      renderError: this.renderError,
      score: this.score,
    });
    this.root.dataset.render = this.renderStatus ?? "";
    // The page loads from the REST HTML endpoint, whose own Content-Security-Policy sandboxes
    // it; an inline srcdoc would inherit this page's strict policy and break the preview.
    let url = this.htmlUrl();
    if (url && url === this.loadedUrl && this.loadedHtml !== this.html) {
      // New HTML under the same address (its images were generated): a new address, since
      // setting the same one while its first load is under way is not always a new load.
      this.htmlVersion += 1;
      url = this.htmlUrl();
    }
    if (url && this.loadedUrl !== url) {
      this.loadedUrl = url;
      this.loadedHtml = this.html;
      this.wantedUrl = url;
      if (!this.frameLoading) this.loadFrame();
    }
    for (const [value, node] of Object.entries(this.viewButtons)) {
      node.setAttribute("aria-pressed", String(value === view));
      node.disabled = value !== "code" && !hasHtml;
    }
    this.viewButtons.compare.disabled = !renderUrl || !this.screenshotUrl;
    for (const [value, node] of Object.entries(this.widthButtons)) {
      node.setAttribute("aria-pressed", String(value === this.width));
      node.disabled = !hasHtml;
    }
    this.viewport.dataset.width = this.width;
    this.copyButton.disabled = !hasHtml;
    this.downloadButton.disabled = !hasHtml;
    this.downloadButton.title = this.hasGeneratedImages
      ? "A zip: index.html and its generated images"
      : "The page as one HTML file";
    if (url) {
      this.openLink.href = url;
      this.openLink.removeAttribute("aria-disabled");
      this.openLink.tabIndex = 0;
    } else {
      this.openLink.removeAttribute("href");
      this.openLink.setAttribute("aria-disabled", "true");
      this.openLink.tabIndex = -1;
    }
    const canChoose = this.status === "completed" && Boolean(this.generationId);
    this.chooseButton.disabled = !canChoose;
    this.chooseButton.textContent = this.chosen ? "Chosen ✓" : "Use this one";
    this.chooseButton.setAttribute("aria-pressed", String(this.chosen));
    this.tick();
    this.fitPreview();
  }

  /** The view the stage shows: without HTML yet, the streaming answer is the code. */
  shownView() {
    if (this.html === null) return "code";
    if (this.view === "compare" && !(this.renderAddress() && this.screenshotUrl)) return "preview";
    return this.view;
  }

  buildHtmlView() {
    this.htmlEl = make("pre", "html-code");
    this.htmlEl.tabIndex = 0;
    this.htmlEl.setAttribute("aria-label", `HTML of variant ${this.index + 1}`);
    this.htmlCode = make("code", "language-html");
    this.htmlEl.append(this.htmlCode);
    this.highlightedHtml = null;
  }

  /** Code shows the extracted HTML (highlighted) once there is one, the live answer before;
   * Raw answer shows what the model wrote. A variant that ended with no text shows no box. */
  showCodeViews(view) {
    const hasHtml = this.html !== null;
    const blank = !this.text && !this.running && this.status !== "completed";
    this.stage.classList.toggle("blank", blank);
    this.codeEl.hidden = blank || !(view === "raw" || (view === "code" && !hasHtml));
    this.htmlEl.hidden = !(view === "code" && hasHtml);
    if (!this.htmlEl.hidden && this.highlightedHtml !== this.html) {
      this.highlightedHtml = this.html;
      showHighlighted(this.htmlCode, this.html);
    }
  }

  loadFrame() {
    this.frameLoading = true;
    this.frame.src = this.wantedUrl;
  }

  /** The variant's page on the REST API, once it has one. */
  htmlUrl() {
    if (this.html === null || this.status !== "completed" || !this.generationId) return null;
    const url = `/api/generations/${encodeURIComponent(this.generationId)}/variants/${this.index}/html`;
    return this.htmlVersion ? `${url}?v=${this.htmlVersion}` : url;
  }

  /** Lay the page out at a real desktop or phone width, scaled down to fit the panel. */
  fitPreview() {
    if (this.viewport.hidden) return;
    const target = PREVIEW_WIDTHS[this.width];
    const { clientWidth: width, clientHeight: height } = this.viewport;
    if (!width || !height) return;
    const scale = Math.min(1, width / target);
    const frame = this.frame.style;
    frame.width = `${target}px`;
    frame.height = `${Math.ceil(height / scale)}px`;
    frame.transform = `scale(${scale})`;
    frame.left = `${Math.max(0, Math.floor((width - target * scale) / 2))}px`;
  }
}
