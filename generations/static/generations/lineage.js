// Versions: edit a finished variant, run a screenshot again, clone a page by its URL, and move
// between the versions of a lineage without leaving the page.
//
// Each action starts a new generation over its own short-lived socket (contract §8, §10) and,
// once the server answers `generation.started`, shows that generation in place. The Versions
// card is the server's own rendering of /g/<id>, fetched and swapped in: the one template stays
// the only place that knows how a lineage reads, and the same fetch brings the generation's
// stored state, which app.js then follows over its socket. Apart from `showStoredGeneration`
// and `onAddressChange`, app.js and panel.js know nothing of this module: it finds the variant
// panels by their `data-index` and `data-status` and adds an Edit box to each finished one.

import { onAddressChange, showStoredGeneration } from "./app.js";

const $ = (id) => document.getElementById(id);
const SOCKET_PATH = "/ws/generations/";

/** Send `frame` on a fresh socket; resolve with the new generation's id, or reject with the
 *  server's error. A URL capture can take a while: the socket simply waits. */
function startGeneration(frame) {
  return new Promise((resolve, reject) => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}${SOCKET_PATH}`);
    let settled = false;
    const settle = (fn, value) => {
      if (settled) return;
      settled = true;
      fn(value);
      ws.close(1000, "done");
    };
    ws.addEventListener("open", () => ws.send(JSON.stringify(frame)));
    ws.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "generation.started") settle(resolve, message.generation_id);
      else if (message.type === "error") settle(reject, message);
    });
    ws.addEventListener("close", () =>
      settle(reject, { code: "connection", message: "The connection closed before the server answered." }),
    );
  });
}

const GENERATION_PATH = /^\/g\/([0-9a-f-]{36})\/?$/;
const pageOf = (id) => `/g/${encodeURIComponent(id)}`;

/** /g/<id> as the server renders it, parsed (scripts in it never run), or null. */
async function fetchPage(id) {
  try {
    const response = await fetch(pageOf(id), {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    if (!response.ok) return null;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    return doc.getElementById("generation-data") && doc.getElementById("lineage") ? doc : null;
  } catch {
    return null;
  }
}

/** Put the Versions card of `doc` in place of this page's (or under the screenshot). */
function placeCard(doc) {
  const card = document.adoptNode(doc.getElementById("lineage"));
  const current = $("lineage");
  if (current) current.replaceWith(card);
  else $("source")?.after(card);
  mirrorStatus();
}

let showing = 0; // the latest switch wins when versions are clicked quickly

/** Show generation `id` in place: its screenshot, details, panels and Versions card. With
 *  `push`, the address moves to /g/<id> (Back returns); popstate passes `push: false`. A page
 *  that cannot be fetched is loaded the ordinary way, which shows what went wrong. */
async function showVersion(id, { push }) {
  const ticket = ++showing;
  const doc = await fetchPage(id);
  if (ticket !== showing) return;
  if (!doc) {
    location.assign(pageOf(id));
    return;
  }
  const data = JSON.parse(doc.getElementById("generation-data").textContent);
  data.instructions = doc.getElementById("source-instructions")?.textContent.trim();
  if (push) history.pushState({ id }, "", pageOf(id));
  placeCard(doc); // first: app.js's `clonegen:generation` then finds the card already there
  showStoredGeneration(data);
}

function openGeneration(id) {
  return showVersion(id, { push: true });
}

onAddressChange((path) => {
  const id = GENERATION_PATH.exec(path)?.[1];
  if (!id) return false;
  showVersion(id, { push: false });
  return true;
});

// A link in the card switches in place; a click meant for a new tab or window stays a link.
document.addEventListener("click", (event) => {
  const link = event.target.closest?.("#lineage-chain a, #lineage-children a");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const id = GENERATION_PATH.exec(new URL(link.href).pathname)?.[1];
  if (!id) return;
  event.preventDefault();
  openGeneration(id);
});

// A generation started on this page (the form) has no card yet: fetch its page's.
document.addEventListener("clonegen:generation", async ({ detail: { id } }) => {
  if ($("lineage")?.dataset.generationId === id) return;
  const ticket = showing;
  const doc = await fetchPage(id);
  if (doc && ticket === showing && shownGenerationId() === id) placeCard(doc);
});

function describeError(error) {
  return `${error.message ?? "Something went wrong."} (${error.code ?? "error"})`;
}

// ---- Edit a finished variant ------------------------------------------------------

/** The generation this page shows: its card's, else the address's (one started on this page
 *  moves the address at once; its card comes a moment later). */
function currentGenerationId() {
  return $("lineage")?.dataset.generationId ?? GENERATION_PATH.exec(location.pathname)?.[1];
}

/** The generation app.js shows right now. */
const shownGenerationId = () => $("generation-id")?.textContent.trim();

function editBox(panel) {
  const index = Number(panel.dataset.index);
  const box = document.createElement("form");
  box.className = "edit-box";
  box.hidden = true;
  box.noValidate = true;
  const label = document.createElement("label");
  label.htmlFor = `edit-${index}`;
  label.textContent = `What should change in variant ${index + 1}?`;
  const text = document.createElement("textarea");
  text.id = `edit-${index}`;
  text.rows = 2;
  text.maxLength = 4000;
  text.placeholder = "e.g. make the header blue";
  const submit = document.createElement("button");
  submit.type = "submit";
  submit.className = "small primary";
  submit.textContent = "Make this change";
  const note = document.createElement("p");
  note.className = "edit-note";
  note.setAttribute("role", "alert");
  box.append(label, text, submit, note);
  box.addEventListener("submit", async (event) => {
    event.preventDefault();
    const instructions = text.value.trim();
    if (!instructions) {
      note.textContent = "Say what to change first.";
      text.focus();
      return;
    }
    submit.disabled = true;
    note.textContent = "Starting the edit…";
    try {
      openGeneration(
        await startGeneration({
          type: "edit",
          generation_id: currentGenerationId(),
          index,
          instructions,
        }),
      );
    } catch (error) {
      note.textContent = describeError(error);
      submit.disabled = false;
    }
  });
  return box;
}

function equip(panel) {
  if (!panel.querySelector(".edit-toggle")) {
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "small edit-toggle";
    toggle.textContent = "Edit";
    toggle.setAttribute("aria-expanded", "false");
    const box = editBox(panel);
    toggle.addEventListener("click", () => {
      box.hidden = !box.hidden;
      toggle.setAttribute("aria-expanded", String(!box.hidden));
      if (!box.hidden) box.querySelector("textarea").focus();
    });
    (panel.querySelector(".toolbar") ?? panel).append(toggle);
    panel.append(box);
  }
  // Only a completed variant can be edited (the server answers `conflict` otherwise).
  const editable = panel.dataset.status === "completed";
  panel.querySelector(".edit-toggle").hidden = !editable;
  if (!editable) panel.querySelector(".edit-box").hidden = true;
}

const panels = $("panels");
if (panels) {
  const equipAll = () => {
    if (currentGenerationId()) panels.querySelectorAll("article[data-index]").forEach(equip);
  };
  new MutationObserver(equipAll).observe(panels, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ["data-status"],
  });
  equipAll();
}

// ---- Run again ---------------------------------------------------------------------

// Delegated: the card, and so the form, is replaced on every switch.
document.addEventListener("submit", async (event) => {
  if (event.target.id !== "rerun-form") return;
  event.preventDefault();
  const message = $("lineage-message");
  const button = $("rerun-submit");
  button.disabled = true;
  message.textContent = "Starting…";
  try {
    openGeneration(
      await startGeneration({
        type: "generate",
        screenshot_of: currentGenerationId(),
        instructions: $("rerun-instructions").value.trim(),
        stack: $("rerun-stack").value,
      }),
    );
  } catch (error) {
    message.textContent = describeError(error);
    button.disabled = false;
  }
});

// ---- Clone a page by its URL --------------------------------------------------------

const form = $("form");
const urlField = $("url");
if (form && urlField) {
  // Capture phase on the document: runs before the form's own handler (app.js), which only
  // knows screenshots, and keeps it from running when an address is given.
  document.addEventListener(
    "submit",
    async (event) => {
      if (event.target !== form || !urlField.value.trim()) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      const message = $("message");
      const button = $("generate");
      button.disabled = true;
      message.dataset.kind = "info";
      message.textContent = "Capturing the page… this can take a few seconds.";
      try {
        openGeneration(
          await startGeneration({
            type: "generate",
            url: urlField.value.trim(),
            instructions: $("instructions").value.trim(),
            stack: $("stack").value,
            images: Boolean($("images")?.checked),
          }),
        );
      } catch (error) {
        message.dataset.kind = "error";
        message.textContent = `The page could not be used: ${describeError(error)}`;
        button.disabled = false;
      }
    },
    true,
  );
}

// ---- Keep this version's badge in step with the page's own status ------------------

const overall = $("overall");
function mirrorStatus() {
  const badge = document.querySelector('#lineage-chain li[aria-current="page"] .badge');
  const status = overall?.dataset.status;
  if (!badge || !status || $("lineage").dataset.generationId !== shownGenerationId()) return;
  badge.dataset.status = status;
  badge.textContent = status;
}
if (overall) {
  new MutationObserver(mirrorStatus).observe(overall, {
    attributes: true,
    attributeFilter: ["data-status"],
  });
  mirrorStatus();
}
