// Syntax highlighting of a variant's HTML (with its <style> and <script>) by highlight.js,
// vendored under vendor/highlight and loaded only when someone first opens a variant's code.

// Past this size highlighting would stall the page for seconds: such code is shown plain.
const MAX_HIGHLIGHTED_CHARS = 300_000;

let loading = null;

function loadHighlighter() {
  loading ??= Promise.all([
    import("./vendor/highlight/core.min.js"),
    import("./vendor/highlight/languages/xml.min.js"),
    import("./vendor/highlight/languages/css.min.js"),
    import("./vendor/highlight/languages/javascript.min.js"),
  ]).then(([core, xml, css, javascript]) => {
    const hljs = core.default;
    hljs.registerLanguage("xml", xml.default);
    hljs.registerLanguage("css", css.default);
    hljs.registerLanguage("javascript", javascript.default);
    return hljs;
  });
  return loading;
}

/** Show `html` in `node` (a <code>), highlighted; plain text if it is huge or loading fails. */
export async function showHighlighted(node, html) {
  node.textContent = html;
  node.classList.remove("hljs");
  if (html.length > MAX_HIGHLIGHTED_CHARS) return;
  let hljs;
  try {
    hljs = await loadHighlighter();
  } catch {
    return; // the plain text stays: still the whole, correct code
  }
  if (node.textContent !== html) return; // replaced meanwhile
  // highlight.js escapes the text itself: the only markup it returns is its own <span>s.
  node.innerHTML = hljs.highlight(html, { language: "xml", ignoreIllegals: true }).value;
  node.classList.add("hljs");
}
