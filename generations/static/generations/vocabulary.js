// The server's status names, sets, labels and hints (views.page_vocabulary), read once from
// the page's `clonegen-vocabulary` JSON: the browser keeps no copy of its own to drift.

const node = document.getElementById("clonegen-vocabulary");
const data = node ? JSON.parse(node.textContent) : {};

export const ACTIVE_GENERATION = new Set(data.active_generation_statuses ?? []);
export const RETRYABLE_GENERATION = new Set(data.retryable_generation_statuses ?? []);
export const ACTIVE_VARIANT = new Set(data.active_variant_statuses ?? []);
export const ENDED_VARIANT = new Set(data.ended_variant_statuses ?? []);
export const VARIANT_STATUS_LABELS = data.variant_status_labels ?? {};
export const ERROR_HINTS = data.error_hints ?? {};
export const STACK_LABELS = data.stack_labels ?? {};
// The server's input limits (instructions, image size): checked here before anything is sent.
export const LIMITS = data.limits ?? {};
// Whether this server renders and scores completed variants (off: no render is ever pending).
export const RENDERS = data.renders ?? true;
