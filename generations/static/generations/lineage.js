// Versions: edit a finished variant, run a screenshot again, clone a page by its URL.
//
// Each starts a new generation over its own short-lived socket (contract §8, §10) and, once the
// server answers `generation.started`, opens that generation's page, which follows it live.
// The rest of the page (app.js, panel.js) knows nothing of this module: it finds the variant
// panels by their `data-index` and `data-status` and adds an Edit box to each finished one.

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

function openGeneration(id) {
  location.assign(`/g/${encodeURIComponent(id)}`);
}

function describeError(error) {
  return `${error.message ?? "Something went wrong."} (${error.code ?? "error"})`;
}

// ---- Edit a finished variant ------------------------------------------------------

const GENERATION_PATH = /^\/g\/([0-9a-f-]{36})\/?$/;

/** The generation this page shows: from the server's lineage card, else from the address
 *  (a generation started on this page moves the address to /g/<id> without a reload). */
function currentGenerationId() {
  return $("lineage")?.dataset.generationId ?? GENERATION_PATH.exec(location.pathname)?.[1];
}

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

const rerun = $("rerun-form");
rerun?.addEventListener("submit", async (event) => {
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
const currentBadge = document.querySelector('#lineage-chain li[aria-current="page"] .badge');
if (overall && currentBadge) {
  const mirror = () => {
    const status = overall.dataset.status;
    if (!status) return;
    currentBadge.dataset.status = status;
    currentBadge.textContent = status;
  };
  new MutationObserver(mirror).observe(overall, { attributes: true, attributeFilter: ["data-status"] });
  mirror();
}
