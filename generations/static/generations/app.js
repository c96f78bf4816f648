// clonegen's generation page: choose a screenshot, stream four variants side by side, and
// follow a generation by its address (/g/<id>) across reloads and dropped connections.
//
// Everything goes through the contract: the socket at /ws/generations/ (generate, subscribe,
// cancel, retry) and the REST API (the generation object, choose, delete, a variant's HTML).

import { instructionsCounter, refusalText } from "./composer.js";
import { describeImage, formatBytes, inspectImage } from "./image.js";
import { setupLayout } from "./layout.js";
import { formatSeconds, VariantPanel } from "./panel.js";
import { panelOrder } from "./scores.js";
import { GenerationSocket } from "./socket.js";
import {
  ACTIVE_GENERATION as ACTIVE,
  ENDED_VARIANT,
  LIMITS,
  RENDERS,
  RETRYABLE_GENERATION as RETRYABLE,
  STACK_LABELS,
} from "./vocabulary.js";

const NOTES = {
  started: "Starting the models. Every answer is saved as it arrives: you can close this tab and come back to this address.",
  running: "Streaming. Every answer is saved as it arrives: you can close this tab and come back to this address.",
  completed: "Every variant finished. Compare the pages, then press “Use this one” on the best.",
  partial: "Some variants failed; the others are saved. Retry runs the failed ones again.",
  failed: "No variant finished. Whatever the models wrote is kept; Retry runs them again.",
  cancelled: "Cancelled. The text each model wrote is kept; Retry runs the unfinished variants.",
  interrupted: "The server stopped while this ran. Each variant keeps its text; Retry runs the unfinished ones again.",
};

const $ = (id) => document.getElementById(id);
const els = {
  workspace: $("workspace"),
  form: $("form"),
  file: $("image"),
  dropzone: $("dropzone"),
  imagePreview: $("image-preview"),
  imageInfo: $("image-info"),
  instructions: $("instructions"),
  instructionsCount: $("instructions-count"),
  stack: $("stack"),
  images: $("images"),
  generate: $("generate"),
  message: $("message"),
  source: $("source"),
  sourceImage: $("source-image"),
  sourceLink: $("source-link"),
  sourceInfo: $("source-info"),
  sourceStack: $("source-stack"),
  sourceInstructions: $("source-instructions"),
  bar: $("generation"),
  generationId: $("generation-id"),
  overall: $("overall"),
  demoBadge: $("demo-badge"),
  deleteButton: $("delete"),
  orderByScore: $("order-score"),
  deleteDialog: $("delete-dialog"),
  connection: $("connection"),
  cancel: $("cancel"),
  retry: $("retry"),
  jsonLink: $("json-link"),
  note: $("generation-note"),
  empty: $("empty"),
  panels: $("panels"),
};
// The server's mode: a generation started from this page is a demo one exactly when it is.
const demoMode = document.body.dataset.mode === "demo";
const maxImageMb = Number(document.body.dataset.maxImageMb) || 10;

const state = {
  id: null,
  status: null,
  demo: false, // the generation was made in demo mode: the stand-in wrote it, not the models
  panels: new Map(), // index -> VariantPanel
  chosenIndex: null, // a user's choice only (contract §13): null until someone chooses
  image: null, // the inspected screenshot on the new-generation form
  reading: null, // a promise while a chosen screenshot is still being read and decoded
  imageProblem: null,
  generateFrame: null, // the `generate` frame, until the server confirms it
  generateSent: false,
  awaitingSnapshot: false,
  pendingAction: null, // "retry" or "cancel", sent once the socket is open
  screenshotUrl: null,
  imagesAsked: false, // the generation asked for generated images (contract §11)
  byScore: false, // the panels are ordered by visual score
};

// ---- messages --------------------------------------------------------------

function showMessage(text, kind = "error") {
  els.message.textContent = text;
  els.message.dataset.kind = kind;
  delete els.message.dataset.code;
}

function clearMessage() {
  showMessage("");
}

// ---- the socket -------------------------------------------------------------

const socket = new GenerationSocket({
  onFrame: handleFrame,
  onOpen: socketOpened,
  onState: showConnection,
});

function socketOpened() {
  if (state.id) {
    if (state.pendingAction === "retry") {
      state.pendingAction = null;
      socket.send({ type: "retry", generation_id: state.id }); // answered by a snapshot
      return;
    }
    state.awaitingSnapshot = true;
    socket.send({ type: "subscribe", generation_id: state.id });
    if (state.pendingAction === "cancel") {
      state.pendingAction = null;
      socket.send({ type: "cancel", generation_id: state.id });
    }
    return;
  }
  if (state.generateFrame && !state.generateSent) {
    state.generateSent = true;
    socket.send(state.generateFrame);
  }
}

function showConnection(connection) {
  if (connection === "reconnecting" && !state.id && state.generateSent) {
    // The server may or may not have created it; never send the same screenshot twice.
    socket.stop();
    state.generateFrame = null;
    setBusy(false);
    showMessage(
      "The connection dropped before the server confirmed the generation. "
      + "If it started, it is saved: you will find it in the History.",
    );
    return;
  }
  if (!state.id && state.generateFrame && connection === "reconnecting") {
    showMessage("The server cannot be reached yet; trying again…", "info");
  }
  const labels = {
    idle: "",
    connecting: "connecting…",
    open: state.id && ACTIVE.has(state.status) ? "live" : "",
    reconnecting: "reconnecting…",
  };
  els.connection.dataset.state = connection;
  els.connection.textContent = labels[connection] ?? "";
  els.connection.title = connection === "reconnecting"
    ? "The connection dropped. The generation carries on on the server; this page catches up when it is back."
    : "";
}

// ---- panels ----------------------------------------------------------------

function ensurePanel(index) {
  let panel = state.panels.get(index);
  if (!panel) {
    panel = new VariantPanel(index, { demo: state.demo, onChoose: choose, onScored: applyOrder });
    panel.setGeneration(state.id);
    panel.setScreenshot(state.screenshotUrl);
    state.panels.set(index, panel);
    const next = [...state.panels.keys()].filter((i) => i > index).sort((a, b) => a - b)[0];
    els.panels.insertBefore(panel.root, next === undefined ? null : state.panels.get(next).root);
  }
  return panel;
}

function updateChoice() {
  for (const panel of state.panels.values()) {
    panel.setChosen(panel.index === state.chosenIndex && panel.status === "completed");
  }
}

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (input?.value) return input.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    headers: { Accept: "application/json", ...(options.headers ?? {}) },
    ...options,
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok || !body?.success) {
    const error = body?.error ?? { code: `http_${response.status}`, message: response.statusText };
    throw Object.assign(new Error(error.message), { code: error.code });
  }
  return body.data;
}

async function choose(index) {
  if (!state.id) return;
  try {
    await api(`/api/generations/${encodeURIComponent(state.id)}/choose`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ index }),
    });
  } catch (error) {
    showMessage(`Could not choose that variant (${error.code ?? "error"}): ${error.message}`);
    return;
  }
  clearMessage();
  state.chosenIndex = index;
  updateChoice();
}

async function deleteGeneration() {
  if (!state.id) return;
  els.deleteButton.disabled = true;
  try {
    await api(`/api/generations/${encodeURIComponent(state.id)}`, {
      method: "DELETE",
      headers: { "X-CSRFToken": csrfToken() },
    });
  } catch (error) {
    els.deleteButton.disabled = false;
    showMessage(`Could not delete this generation (${error.code ?? "error"}): ${error.message}`);
    return;
  }
  socket.stop();
  location.assign("/history");
}

/** Fill what frames do not carry (tokens, durations, requested models) from the REST API. */
let refreshing = null;
/** Load over REST the ended variants a snapshot left out because of their size. */
async function fillOmitted(indexes) {
  const id = state.id;
  const data = await api(`/api/generations/${encodeURIComponent(id)}`).catch(() => null);
  if (!data || id !== state.id) return;
  for (const v of data.variants ?? []) {
    if (!indexes.includes(v.index)) continue;
    const panel = ensurePanel(v.index);
    panel.setGeneration(id);
    panel.setModels({ model: v.model, requestedModel: v.requested_model });
    panel.syncText(v.text ?? "");
    if (v.status === "completed") {
      panel.complete({ html: v.html, finishReason: v.finish_reason });
      applyPostProcessing(panel, v);
    } else panel.fail(v.error, v.status);
  }
  updateChoice();
}

async function refreshDetails() {
  if (!state.id || refreshing) return;
  const id = state.id;
  refreshing = api(`/api/generations/${encodeURIComponent(id)}`)
    .then((data) => {
      if (id !== state.id) return;
      if (typeof data.images === "boolean") state.imagesAsked = data.images;
      for (const v of data.variants ?? []) {
        const panel = ensurePanel(v.index);
        panel.setModels({ model: v.model, requestedModel: v.requested_model });
        if (v.status === "completed") {
          applyPostProcessing(panel, v);
          panel.setDetails({
            durationMs: v.duration_ms,
            usage: { prompt_tokens: v.prompt_tokens, completion_tokens: v.completion_tokens },
            finishReason: v.finish_reason,
          });
          if (panel.status !== "completed" && !ACTIVE.has(state.status)) {
            panel.complete({ html: v.html, model: v.model });
          }
        } else if (ENDED_VARIANT.has(v.status) && !ACTIVE.has(state.status)) {
          if (panel.status !== v.status) panel.fail(v.error, v.status);
          panel.setDetails({ durationMs: v.duration_ms });
        }
      }
      if (!ACTIVE.has(data.status)) setOverall(data.status, data.duration_ms);
      if (data.chosen_index != null) state.chosenIndex = data.chosen_index;
      updateChoice();
      if (!ACTIVE.has(data.status)) {
        if (awaitingPostProcessing()) followPostProcessing();
        else maybeStopFollowing();
      }
    })
    .catch(() => {
      // Details only: the code and previews come from the socket, so nothing is missing.
    })
    .finally(() => {
      refreshing = null;
    });
}

// ---- after the save: renders, scores and images (contract §9, §11) ----------------

// Renders and images come after a variant is saved, often after `generation.finished`: the page
// keeps its socket (and asks the REST API every few seconds) until they are in, for so long.
const FOLLOW_MS = 60_000;
const POLL_MS = 2_000;
const follow = { timer: null, until: 0 };

/** Apply what a generation object, a snapshot or a frame says about renders and images. */
function applyPostProcessing(panel, v) {
  if ("render_status" in v || "score" in v) {
    panel.setScore({
      renderStatus: v.render_status,
      renderError: v.render_error,
      score: v.score,
      renderUrl: v.render_url,
    });
  }
  if (Array.isArray(v.images) && v.images.length) {
    panel.setImages({ images: v.images, html: v.status === "completed" ? v.html : undefined });
  }
}

function awaitingPostProcessing() {
  return [...state.panels.values()].some((panel) => panel.status === "completed" && (
    (RENDERS && panel.renderStatus === "pending" && !panel.renderGaveUp)
    || (state.imagesAsked && !panel.imagesSettled)
  ));
}

function followPostProcessing() {
  if (follow.timer) return;
  follow.until = performance.now() + FOLLOW_MS;
  follow.timer = setInterval(pollPostProcessing, POLL_MS);
}

function stopFollowing() {
  clearInterval(follow.timer);
  follow.timer = null;
  if (state.id && !ACTIVE.has(state.status)) socket.stop();
}

async function pollPostProcessing() {
  if (performance.now() > follow.until) {
    // Nothing came in time (a busy server, or a record older than renders): say so, stop.
    for (const panel of state.panels.values()) panel.giveUpRender();
    stopFollowing();
    return;
  }
  if (!awaitingPostProcessing()) {
    stopFollowing();
    return;
  }
  const id = state.id;
  const data = await api(`/api/generations/${encodeURIComponent(id)}`).catch(() => null);
  if (!data || id !== state.id) return;
  for (const v of data.variants ?? []) {
    const panel = state.panels.get(v.index);
    if (panel?.status === "completed") applyPostProcessing(panel, v);
  }
}

/** Done with the socket once nothing more will come for this generation. */
function maybeStopFollowing() {
  if (!ACTIVE.has(state.status) && !awaitingPostProcessing()) stopFollowing();
}

/** Place the panels by score (highest first) or by their own order. */
function applyOrder() {
  const order = panelOrder(state.panels.values(), state.byScore);
  for (const [panel, position] of order) {
    // CSSOM, not a style attribute (the Content-Security-Policy allows only this). Moving the
    // nodes instead would reload every preview.
    panel.root.style.order = state.byScore ? String(position + 1) : "";
  }
}

function setOrderByScore(byScore) {
  state.byScore = byScore;
  els.orderByScore.setAttribute("aria-pressed", String(byScore));
  applyOrder();
}

// ---- the generation --------------------------------------------------------

function setOverall(status, durationMs) {
  state.status = status;
  els.overall.dataset.status = status;
  els.overall.textContent = typeof durationMs === "number" && !ACTIVE.has(status)
    ? `${status} · ${formatSeconds(durationMs)}`
    : status;
  els.cancel.hidden = !ACTIVE.has(status);
  els.retry.hidden = !RETRYABLE.has(status);
  els.deleteButton.hidden = ACTIVE.has(status); // a running generation is cancelled first
  els.cancel.disabled = false;
  els.retry.disabled = false;
  const note = NOTES[status] ?? "";
  els.note.textContent = note;
  els.note.hidden = !note;
  showConnection(socket.state);
}

function showGenerationView({ id, status, screenshot, stack, instructions }) {
  els.workspace.dataset.view = "generation";
  els.form.hidden = true;
  els.empty.hidden = true;
  els.source.hidden = false;
  els.bar.hidden = false;
  els.generationId.textContent = id;
  els.demoBadge.hidden = !state.demo;
  els.jsonLink.href = `/api/generations/${encodeURIComponent(id)}`;
  if (screenshot) {
    els.sourceImage.src = screenshot.url;
    state.screenshotUrl = screenshot.link ?? screenshot.url;
    for (const panel of state.panels.values()) panel.setScreenshot(state.screenshotUrl);
    els.sourceImage.width = screenshot.width;
    els.sourceImage.height = screenshot.height;
    els.sourceLink.href = screenshot.link ?? screenshot.url;
    els.sourceInfo.textContent = describeImage(screenshot);
  }
  if (stack) els.sourceStack.textContent = STACK_LABELS[stack] ?? stack;
  if (instructions !== undefined) els.sourceInstructions.textContent = instructions || "—";
  document.title = `Generation ${id.slice(0, 8)} · clonegen`;
  setOverall(status);
  // lineage.js shows where this generation sits (also for one started on this page).
  document.dispatchEvent(new CustomEvent("clonegen:generation", { detail: { id } }));
}

function finished(status) {
  setOverall(status);
  if (awaitingPostProcessing()) followPostProcessing();
  else socket.stop();
  refreshDetails();
}

function requestSnapshot() {
  if (state.awaitingSnapshot) return;
  state.awaitingSnapshot = true;
  socket.send({ type: "subscribe", generation_id: state.id });
}

const handlers = {
  "generation.started"(frame) {
    state.id = frame.generation_id;
    state.demo = demoMode;
    state.generateFrame = null;
    setBusy(false);
    clearMessage();
    // The address now names the generation: reload, bookmark or share it.
    history.pushState({ id: state.id }, "", `/g/${encodeURIComponent(state.id)}`);
    const image = state.image;
    showGenerationView({
      id: state.id,
      status: "started",
      screenshot: image && { ...image, link: `/g/${encodeURIComponent(state.id)}/screenshot` },
      stack: els.stack.value,
      instructions: els.instructions.value.trim(),
    });
    // The form is gone: keep keyboard focus in the page, on the new generation.
    if (els.form.contains(document.activeElement) || document.activeElement === document.body) {
      els.bar.focus({ preventScroll: true });
    }
    for (const { index, model } of frame.variants ?? []) {
      const panel = ensurePanel(index);
      panel.setGeneration(state.id);
      panel.setModels({ model, requestedModel: model });
      panel.setStatus("pending");
    }
  },
  "variant.chunk"({ index, offset, delta }) {
    const panel = state.panels.get(index);
    if (!panel || typeof delta !== "string" || typeof offset !== "number") return;
    if (!panel.applyChunk(offset, delta)) {
      requestSnapshot(); // a gap: the contract says ask for a fresh snapshot
      return;
    }
    if (panel.status === "pending" || panel.status === "restarting") panel.setStatus("streaming");
    if (state.status === "started") setOverall("running");
  },
  "variant.restarted"({ index, attempt, model }) {
    const panel = ensurePanel(index);
    panel.reset();
    panel.setModels({ model });
    panel.setStatus("restarting", `restarting · attempt ${attempt}`);
    updateChoice();
  },
  "variant.completed"(frame) {
    const panel = ensurePanel(frame.index);
    panel.complete({
      html: frame.html,
      model: frame.model,
      durationMs: frame.duration_ms,
      usage: frame.usage,
      finishReason: frame.finish_reason,
    });
    updateChoice();
  },
  "variant.scored"(frame) {
    const panel = state.panels.get(frame.index);
    if (!panel) return;
    panel.setScore({
      renderStatus: frame.render_status ?? (frame.score ? "done" : undefined),
      renderError: frame.render_error,
      score: frame.score,
      renderUrl: frame.render_url,
    });
    maybeStopFollowing();
  },
  "variant.images"(frame) {
    const panel = state.panels.get(frame.index);
    if (!panel) return;
    panel.setImages({ html: frame.html, images: frame.images ?? [] });
    maybeStopFollowing();
  },
  "variant.failed"(frame) {
    ensurePanel(frame.index).fail(frame.error);
    updateChoice();
  },
  "generation.snapshot"(frame) {
    state.awaitingSnapshot = false;
    let missingDetails = false;
    const omitted = [];
    for (const item of frame.variants ?? []) {
      const panel = ensurePanel(item.index);
      if (item.omitted?.length) {
        // Too large for one socket frame (contract §13): this ended variant comes over REST.
        omitted.push(item.index);
        continue;
      }
      panel.setGeneration(state.id);
      panel.setModels({ model: item.model });
      if (item.html == null && panel.html !== null) panel.reset(); // a retry started it over
      panel.syncText(item.text ?? "");
      if (item.status === "completed") {
        panel.complete({ html: item.html, finishReason: item.finish_reason });
        applyPostProcessing(panel, item);
        if (panel.durationMs === null) missingDetails = true;
      } else if (ENDED_VARIANT.has(item.status)) {
        panel.fail(item.error, item.status);
      } else if (panel.status !== item.status && !(panel.status === "restarting" && item.status === "streaming")) {
        panel.setStatus(item.status);
      } else if (panel.status === "restarting" && item.text) {
        panel.setStatus("streaming");
      }
    }
    updateChoice();
    if (omitted.length) fillOmitted(omitted);
    if (ACTIVE.has(frame.status)) {
      setOverall(frame.status);
      if (missingDetails) refreshDetails();
    } else {
      finished(frame.status);
    }
  },
  "generation.finished"(frame) {
    for (const panel of state.panels.values()) {
      if (panel.running && (frame.status === "cancelled" || frame.status === "interrupted")) {
        panel.fail(null, frame.status);
      }
    }
    updateChoice();
    finished(frame.status);
  },
  error({ code, message }) {
    if (!state.id) {
      // The server refused the screenshot: nothing was created.
      socket.stop();
      state.generateFrame = null;
      setBusy(false);
      showMessage(refusalText({ code, message }));
      els.message.dataset.code = code ?? "";
      return;
    }
    if (code === "not_found") {
      socket.stop();
      showMessage("There is no generation with this id.");
      return;
    }
    showMessage(`${message ?? "Something went wrong."} (${code ?? "error"})`);
    if (!ACTIVE.has(state.status)) {
      socket.stop();
      setOverall(state.status);
    }
  },
};

function handleFrame(frame) {
  const handler = handlers[frame.type];
  if (!handler) return;
  const ours = frame.type === "error"
    || (frame.type === "generation.started" ? !state.id : frame.generation_id === state.id);
  if (ours) handler(frame);
}

els.cancel.addEventListener("click", () => {
  if (!state.id) return;
  els.cancel.disabled = true;
  if (!socket.send({ type: "cancel", generation_id: state.id })) {
    state.pendingAction = "cancel";
    socket.start();
  }
});

els.deleteButton.addEventListener("click", () => {
  if (!state.id) return;
  els.deleteDialog.returnValue = "";
  els.deleteDialog.showModal();
});

els.deleteDialog.addEventListener("close", () => {
  if (els.deleteDialog.returnValue === "delete") deleteGeneration();
});

els.retry.addEventListener("click", () => {
  if (!state.id) return;
  clearMessage();
  els.retry.disabled = true;
  if (!socket.send({ type: "retry", generation_id: state.id })) {
    state.pendingAction = "retry";
    socket.start();
  } else {
    socket.start();
  }
});

// ---- the new-generation form ---------------------------------------------------

function setBusy(busy, label = "Starting…") {
  els.generate.disabled = busy;
  els.generate.textContent = busy ? label : "Generate";
  els.generate.setAttribute("aria-busy", String(busy));
}

const instructions = instructionsCounter(
  els.instructions, els.instructionsCount, LIMITS.max_instructions_chars,
);

/** Read and check a chosen file; Generate, pressed meanwhile, waits for `state.reading`. */
function useFile(file) {
  if (!file) return;
  els.dropzone.setAttribute("aria-busy", "true");
  const reading = readFile(file).catch(() => {
    showMessage("This file could not be read, so nothing was sent. Choose it again.");
  }).finally(() => {
    if (state.reading === reading) {
      state.reading = null;
      els.dropzone.removeAttribute("aria-busy");
    }
  });
  state.reading = reading;
}

let inspecting = 0;
async function readFile(file) {
  const ticket = ++inspecting;
  els.imageInfo.textContent = `Reading ${file.name || "the image"} (${formatBytes(file.size)})…`;
  const result = await inspectImage(file, maxImageMb, LIMITS);
  if (ticket !== inspecting) return;
  if (state.image) URL.revokeObjectURL(state.image.url);
  if (!result.ok) {
    state.image = null;
    state.imageProblem = result.message;
    els.file.value = "";
    els.imagePreview.hidden = true;
    els.imagePreview.removeAttribute("src");
    els.dropzone.classList.remove("has-image");
    els.imageInfo.textContent = "";
    showMessage(result.message);
    return;
  }
  state.image = result;
  state.imageProblem = null;
  clearMessage();
  els.imagePreview.src = result.url;
  els.imagePreview.hidden = false;
  els.dropzone.classList.add("has-image");
  els.imageInfo.textContent = `${file.name ? `${file.name} · ` : ""}${describeImage(result)}`;
}

function composing() {
  return els.workspace.dataset.view === "compose";
}

els.file.addEventListener("change", () => useFile(els.file.files[0]));

for (const type of ["dragenter", "dragover"]) {
  els.dropzone.addEventListener(type, (event) => {
    event.preventDefault();
    els.dropzone.classList.add("dragging");
  });
}
els.dropzone.addEventListener("dragleave", () => els.dropzone.classList.remove("dragging"));
// A file dropped anywhere on the page must not navigate away from it.
const carriesFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes("Files");
document.addEventListener("dragover", (event) => {
  if (carriesFiles(event)) event.preventDefault();
});
document.addEventListener("drop", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  els.dropzone.classList.remove("dragging");
  if (composing()) useFile(event.dataTransfer?.files?.[0]);
});

document.addEventListener("paste", (event) => {
  if (!composing()) return;
  const file = [...(event.clipboardData?.files ?? [])][0];
  if (!file) return; // plain text: let it paste into the field
  event.preventDefault();
  useFile(file);
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && composing()) {
    event.preventDefault();
    els.form.requestSubmit();
  }
});

els.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (state.generateFrame || els.generate.disabled) return;
  const tooLong = instructions.tooLong();
  if (tooLong) {
    showMessage(tooLong);
    els.instructions.focus();
    return;
  }
  if (state.reading) {
    // Pressed while the screenshot is still being read: start as soon as it is ready.
    setBusy(true, "Reading the image…");
    while (state.reading) await state.reading;
    setBusy(false);
  }
  if (!state.image) {
    showMessage(state.imageProblem ?? "Choose a screenshot first.");
    els.file.focus();
    return;
  }
  clearMessage();
  state.generateFrame = {
    type: "generate",
    image: state.image.dataUrl,
    instructions: els.instructions.value.trim(),
    stack: els.stack.value,
    images: els.images.checked,
  };
  state.imagesAsked = els.images.checked;
  state.generateSent = false;
  setBusy(true);
  socket.start();
});

// ---- start-up --------------------------------------------------------------

function followStoredGeneration(data) {
  state.id = data.id;
  state.imagesAsked = Boolean(data.images);
  state.demo = data.demo;
  state.chosenIndex = data.chosen_index;
  showGenerationView({
    id: data.id,
    status: data.status,
    screenshot: data.screenshot,
    stack: data.stack,
    instructions: data.instructions,
  });
  for (const v of data.variants) {
    const panel = ensurePanel(v.index);
    panel.setModels({ model: v.model, requestedModel: v.requested_model });
    panel.setElapsed(v.elapsed_ms);
    panel.setStatus(v.status);
    if (!panel.running) panel.endedAt = null; // its own duration, if stored, is shown instead
    panel.setDetails({
      durationMs: v.duration_ms,
      usage: { prompt_tokens: v.prompt_tokens, completion_tokens: v.completion_tokens },
      finishReason: v.finish_reason,
    });
  }
  setOverall(data.status, data.duration_ms);
  socket.start(); // subscribe: the snapshot brings the text, then live frames if it runs
}

/** Switch this page to another stored generation (`data` as the page's `generation-data`,
 *  plus `instructions`) over the same socket: the Versions card moves between versions. */
export function showStoredGeneration(data) {
  for (const panel of state.panels.values()) panel.root.remove();
  state.panels.clear();
  state.awaitingSnapshot = false;
  state.pendingAction = null;
  clearInterval(follow.timer); // the last generation's renders are no longer awaited here
  follow.timer = null;
  clearMessage();
  followStoredGeneration(data);
  if (socket.isOpen) requestSnapshot(); // else opening the socket subscribes
}

els.orderByScore.addEventListener("click", () => setOrderByScore(!state.byScore));

setupLayout(els.workspace, $("layout-compare"), () => {
  for (const panel of state.panels.values()) panel.preferPreview();
});

const pageData = $("generation-data");
if (pageData) followStoredGeneration(JSON.parse(pageData.textContent));

setInterval(() => {
  const now = performance.now();
  for (const panel of state.panels.values()) panel.tick(now);
}, 100);

// Back/forward: an address someone can show in place (lineage.js) is; else load what it names.
let showAddress = null;
export function onAddressChange(handler) {
  showAddress = handler;
}
window.addEventListener("popstate", () => {
  if (!showAddress?.(location.pathname)) location.reload();
});
// Leaving the page closes the socket quietly (the generation carries on on the server).
window.addEventListener("pagehide", () => socket.stop());
window.addEventListener("pageshow", (event) => {
  if (event.persisted && state.id && ACTIVE.has(state.status)) socket.start();
});

// For tests and the curious: read-only access to the page's state.
window.clonegen = { state, socket };
