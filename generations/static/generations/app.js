// clonegen front page: upload a screenshot, stream four variants over a WebSocket.
// Offsets in the socket protocol count code points (Python str length), so each
// variant keeps its text as a JS string plus a separate code-point counter.

const ACCEPTED_TYPES = new Set(["image/png", "image/jpeg", "image/webp"]);
const ACTIVE_STATUSES = new Set(["pending", "queued", "running"]);
const TERMINAL_STATUSES = new Set(["completed", "failed"]);
const MAX_BACKOFF_MS = 5000;

const $ = (selector) => document.querySelector(selector);
const els = {
  form: $("#form"),
  file: $("#image"),
  imagePreview: $("#image-preview"),
  instructions: $("#instructions"),
  stack: $("#stack"),
  generate: $("#generate"),
  message: $("#message"),
  generation: $("#generation"),
  panels: $("#panels"),
};
const maxImageMb = Number(document.body.dataset.maxImageMb) || 10;

const state = {
  id: null, // generation id, known once generation.started arrives
  running: false,
  variants: new Map(), // index -> { model, text, length, status, el }
  socket: null,
  retries: 0,
  retryTimer: null,
  awaitingSnapshot: false,
};
let imagePreviewUrl = null;

// ---- small helpers -------------------------------------------------------

function showMessage(text, kind = "error") {
  els.message.textContent = text;
  els.message.dataset.kind = kind;
}

function clearInfoMessage() {
  if (els.message.dataset.kind === "info") showMessage("");
}

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const codePointLength = (text) => [...text].length;

function fileProblem(file) {
  if (!file) return "Choose a screenshot first.";
  if (!ACCEPTED_TYPES.has(file.type)) return "Only PNG, JPEG or WebP images are accepted.";
  if (file.size > maxImageMb * 1024 * 1024) return `The image is larger than ${maxImageMb} MB.`;
  return null;
}

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener("load", () => resolve(reader.result));
    reader.addEventListener("error", () => reject(reader.error));
    reader.readAsDataURL(file);
  });
}

function setBusy(busy) {
  els.generate.disabled = busy;
  els.generate.textContent = busy ? "Generating…" : "Generate";
}

// ---- panels --------------------------------------------------------------

function createVariant(index, model) {
  const el = { root: make("article", "panel") };
  el.root.dataset.index = String(index);
  const header = make("header", "panel-header");
  el.model = make("h2", "model", model || `variant ${index}`);
  el.status = make("span", "status");
  header.append(el.model, el.status);
  el.meta = make("p", "meta");
  el.code = make("pre", "code");
  el.code.tabIndex = 0; // scrollable region reachable by keyboard
  el.error = make("p", "error");
  el.error.hidden = true;
  el.preview = make("iframe", "preview");
  el.preview.setAttribute("sandbox", "allow-scripts"); // never allow-same-origin
  el.preview.title = `Preview of variant ${index}`;
  el.preview.hidden = true;
  el.root.append(header, el.meta, el.code, el.error, el.preview);

  const variant = { model, text: "", length: 0, status: "pending", el };
  setStatus(variant, "pending");
  state.variants.set(index, variant);
  const next = [...els.panels.children].find((p) => Number(p.dataset.index) > index);
  els.panels.insertBefore(el.root, next ?? null);
  return variant;
}

function ensureVariant(index, model) {
  const variant = state.variants.get(index) ?? createVariant(index, model);
  if (model && model !== variant.model) {
    variant.model = model;
    variant.el.model.textContent = model;
  }
  return variant;
}

function setStatus(variant, status, label = status) {
  variant.status = status;
  variant.el.status.textContent = label;
  variant.el.status.dataset.status = status;
}

function writeCode(variant, update) {
  const code = variant.el.code;
  const atBottom = code.scrollHeight - code.scrollTop - code.clientHeight < 24;
  update(code);
  if (atBottom) code.scrollTop = code.scrollHeight;
}

function setText(variant, text) {
  variant.text = text;
  variant.length = codePointLength(text);
  writeCode(variant, (code) => { code.textContent = text; });
}

function appendText(variant, text, length) {
  variant.text += text;
  variant.length += length;
  writeCode(variant, (code) => code.append(text));
}

function showResult(variant, { html, duration_ms: durationMs, usage, finish_reason: finishReason }) {
  const parts = [];
  if (finishReason === "length") parts.push("truncated");
  if (typeof durationMs === "number") parts.push(`${(durationMs / 1000).toFixed(1)} s`);
  if (usage) parts.push(`${usage.prompt_tokens ?? "?"} prompt / ${usage.completion_tokens ?? "?"} completion tokens`);
  variant.el.meta.textContent = parts.join(" · ");
  variant.el.meta.classList.toggle("truncated", finishReason === "length");
  if (typeof html === "string") {
    variant.el.preview.srcdoc = html;
    variant.el.preview.hidden = false;
  }
}

function showError(variant, error) {
  variant.el.error.textContent = `${error?.code ?? "error"}: ${error?.message ?? "unknown error"}`;
  variant.el.error.hidden = false;
}

function resetVariantOutput(variant) {
  setText(variant, "");
  variant.el.meta.textContent = "";
  variant.el.error.hidden = true;
  variant.el.preview.hidden = true;
  variant.el.preview.removeAttribute("srcdoc");
}

function showGeneration(id) {
  const link = make("a", null, "JSON");
  link.href = `/api/generations/${encodeURIComponent(id)}`;
  els.generation.replaceChildren(
    "Generation ", make("code", null, id), " · ", link, " · ", make("span", "overall", "running"),
  );
  els.generation.hidden = false;
}

// ---- frame handlers ------------------------------------------------------

function finish(status) {
  state.running = false;
  setBusy(false);
  clearInfoMessage();
  const overall = els.generation.querySelector(".overall");
  if (overall) overall.textContent = status;
  const socket = state.socket;
  state.socket = null;
  socket?.close();
}

function requestSnapshot() {
  if (state.awaitingSnapshot || !state.id) return;
  state.awaitingSnapshot = true;
  send({ type: "subscribe", generation_id: state.id });
}

const handlers = {
  "generation.started"(frame) {
    state.id = frame.generation_id;
    showGeneration(state.id);
    for (const { index, model } of frame.variants ?? []) ensureVariant(index, model);
  },
  "variant.chunk"({ index, offset, delta }) {
    const variant = state.variants.get(index);
    if (!variant || typeof delta !== "string") return;
    if (offset > variant.length) return requestSnapshot(); // we missed something
    const chars = [...delta];
    const skip = variant.length - offset; // part we already hold
    if (skip >= chars.length) return;
    appendText(variant, skip > 0 ? chars.slice(skip).join("") : delta, chars.length - skip);
    if (!TERMINAL_STATUSES.has(variant.status)) setStatus(variant, "streaming");
  },
  "variant.completed"(frame) {
    const variant = ensureVariant(frame.index, frame.model);
    setStatus(variant, "completed");
    showResult(variant, frame);
  },
  "variant.failed"(frame) {
    const variant = ensureVariant(frame.index);
    setStatus(variant, "failed");
    showError(variant, frame.error);
  },
  "variant.restarted"({ index, attempt, model }) {
    const variant = ensureVariant(index, model);
    resetVariantOutput(variant);
    setStatus(variant, "restarting", `restarting (attempt ${attempt}, model ${model})`);
  },
  "generation.snapshot"(frame) {
    state.awaitingSnapshot = false;
    state.retries = 0;
    clearInfoMessage();
    for (const item of frame.variants ?? []) {
      const variant = ensureVariant(item.index, item.model);
      resetVariantOutput(variant);
      setText(variant, item.text ?? "");
      setStatus(variant, item.status ?? "pending");
      if (item.html != null) showResult(variant, item);
      if (item.error) showError(variant, item.error);
    }
    if (!ACTIVE_STATUSES.has(frame.status)) finish(frame.status);
  },
  "generation.finished"(frame) {
    finish(frame.status);
  },
  error({ code, message }) {
    showMessage(`${code ?? "error"}: ${message ?? "unknown error"}`);
    if (!state.id) finish("failed");
  },
};

function handleFrame(raw) {
  let frame;
  try {
    frame = JSON.parse(raw);
  } catch {
    return;
  }
  const handler = handlers[frame?.type];
  if (!handler) return;
  const ours = frame.type === "error"
    || (frame.type === "generation.started" && !state.id)
    || frame.generation_id === state.id;
  if (ours) handler(frame);
}

// ---- socket --------------------------------------------------------------

function send(frame) {
  if (state.socket?.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(frame));
}

function openSocket(firstFrame) {
  clearTimeout(state.retryTimer);
  const old = state.socket;
  state.socket = null;
  old?.close();

  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/generations/`);
  state.socket = socket;
  state.awaitingSnapshot = firstFrame.type === "subscribe";
  socket.addEventListener("open", () => send(firstFrame));
  socket.addEventListener("message", (event) => {
    if (socket === state.socket) handleFrame(event.data);
  });
  socket.addEventListener("close", () => {
    if (socket !== state.socket) return; // replaced or closed on purpose
    state.socket = null;
    onSocketLost();
  });
}

function onSocketLost() {
  if (!state.running) return;
  if (!state.id) {
    state.running = false;
    setBusy(false);
    showMessage("The connection closed before the generation started. Please try again.");
    return;
  }
  const delay = Math.min(500 * 2 ** state.retries, MAX_BACKOFF_MS);
  state.retries += 1;
  showMessage("reconnecting…", "info");
  state.retryTimer = setTimeout(
    () => openSocket({ type: "subscribe", generation_id: state.id }),
    delay,
  );
}

// ---- form ----------------------------------------------------------------

els.file.addEventListener("change", () => {
  if (imagePreviewUrl) URL.revokeObjectURL(imagePreviewUrl);
  imagePreviewUrl = null;
  els.imagePreview.hidden = true;
  const file = els.file.files[0];
  if (!file) return;
  const problem = fileProblem(file);
  if (problem) {
    els.file.value = "";
    showMessage(problem);
    return;
  }
  showMessage("");
  imagePreviewUrl = URL.createObjectURL(file);
  els.imagePreview.src = imagePreviewUrl;
  els.imagePreview.hidden = false;
});

els.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (state.running) return;
  const file = els.file.files[0];
  const problem = fileProblem(file);
  if (problem) return showMessage(problem);

  let image;
  try {
    image = await readAsDataUrl(file);
  } catch {
    return showMessage("Could not read the image file.");
  }
  showMessage("");
  state.id = null;
  state.retries = 0;
  state.variants.clear();
  els.panels.replaceChildren();
  els.generation.replaceChildren();
  els.generation.hidden = true;
  state.running = true;
  setBusy(true);
  openSocket({
    type: "generate",
    image,
    instructions: els.instructions.value.trim(),
    stack: els.stack.value,
  });
});
