// The generation page's two layouts: panels (each variant with its code and tools, the
// original beside them) and compare (the original and the four rendered pages side by side,
// previews only). The choice is kept for the next visit.

const KEY = "clonegen.layout";

function stored() {
  try {
    return localStorage.getItem(KEY) === "compare" ? "compare" : "panels";
  } catch {
    return "panels"; // storage can be off; the default layout still works
  }
}

function store(layout) {
  try {
    localStorage.setItem(KEY, layout);
  } catch {
    // not kept: the toggle still works for this page
  }
}

/** Wire `button` to switch `workspace` between layouts; `onCompare` runs on entering compare. */
export function setupLayout(workspace, button, onCompare) {
  const apply = (layout) => {
    workspace.dataset.layout = layout;
    button.setAttribute("aria-pressed", String(layout === "compare"));
    if (layout === "compare") onCompare();
  };
  button.addEventListener("click", () => {
    const layout = workspace.dataset.layout === "compare" ? "panels" : "compare";
    store(layout);
    apply(layout);
  });
  apply(stored());
}
