// The new-generation form's guards: a counter against the server's instructions limit, and
// the state of a screenshot still being read when someone presses Generate.

const numberFormat = new Intl.NumberFormat("en");

const codePoints = (text) => {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
};

/**
 * Keep `output` counting the characters of `textarea` against `max` (the server's limit,
 * counted as it counts: code points of the trimmed text). Returns `tooLong()`, which gives the
 * refusal to show when the text is over the limit, else null.
 */
export function instructionsCounter(textarea, output, max) {
  const length = () => codePoints(textarea.value.trim());
  const update = () => {
    const n = length();
    const over = Boolean(max) && n > max;
    output.textContent = max
      ? `${numberFormat.format(n)} / ${numberFormat.format(max)}${over ? " · too long" : ""}`
      : "";
    output.dataset.over = String(over);
    textarea.setAttribute("aria-invalid", String(over));
  };
  textarea.addEventListener("input", update);
  update();
  return {
    tooLong() {
      const n = length();
      if (!max || n <= max) return null;
      return `The instructions are ${numberFormat.format(n)} characters long; the limit is `
        + `${numberFormat.format(max)}. Shorten them and try again. Nothing was sent.`;
    },
  };
}

/** A refusal from the server (an `error` frame or REST error) as a person reads it. */
export function refusalText({ code, message } = {}) {
  // The server words its refusals for people (the rate limit says when to come back): show
  // them as they are; only an answer without a message falls back to its code.
  if (message) return message;
  return `The server refused the request (${code ?? "unknown error"}).`;
}
