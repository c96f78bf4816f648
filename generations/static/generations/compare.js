// The original beside a variant: the screenshot laid over the server's render of the variant
// (render.png, 1280 px wide) at the same width, either faded in and out with a slider or as a
// difference (CSS mix-blend-mode: difference), so whatever is not black is where they differ.

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class CompareView {
  constructor(index) {
    this.index = index;
    this.mode = "overlay";
    this.root = make("div", "compare");
    this.root.hidden = true;

    const controls = make("div", "compare-controls");
    const group = make("div", "segmented");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Compare with the original");
    this.modeButtons = {};
    for (const [value, label] of [["overlay", "Overlay"], ["difference", "Difference"]]) {
      const node = make("button", "small", label);
      node.type = "button";
      node.dataset.value = value;
      node.addEventListener("click", () => this.setMode(value));
      this.modeButtons[value] = node;
      group.append(node);
    }
    const fade = make("label", "compare-fade");
    this.fadeLabel = make("span", "hint", "Original");
    this.slider = make("input", "compare-slider");
    this.slider.type = "range";
    this.slider.min = "0";
    this.slider.max = "100";
    this.slider.value = "50";
    this.slider.setAttribute("aria-label", `Opacity of the original over variant ${index + 1}`);
    this.slider.addEventListener("input", () => this.applyFade());
    fade.append(this.fadeLabel, this.slider);
    controls.append(group, fade);

    this.scroller = make("div", "compare-scroller");
    this.scroller.tabIndex = 0;
    this.scroller.setAttribute("aria-label", `The original over the render of variant ${index + 1}`);
    this.layers = make("div", "compare-layers");
    this.render = make("img", "compare-render");
    this.render.alt = `Server render of variant ${index + 1}`;
    this.render.decoding = "async";
    this.original = make("img", "compare-original");
    this.original.alt = "The original screenshot, over the render";
    this.original.decoding = "async";
    this.layers.append(this.render, this.original);
    this.scroller.append(this.layers);
    this.root.append(controls, this.scroller);
    this.setMode("overlay");
  }

  /** Point the view at the render and the screenshot (null hides what it cannot show). */
  setSources({ renderUrl, originalUrl }) {
    if (renderUrl && this.render.getAttribute("src") !== renderUrl) this.render.src = renderUrl;
    if (originalUrl && this.original.getAttribute("src") !== originalUrl) {
      this.original.src = originalUrl;
    }
  }

  setMode(mode) {
    this.mode = mode;
    this.layers.dataset.mode = mode;
    for (const [value, node] of Object.entries(this.modeButtons)) {
      node.setAttribute("aria-pressed", String(value === mode));
    }
    this.slider.disabled = mode !== "overlay";
    this.applyFade();
  }

  applyFade() {
    // CSSOM, not a style attribute: the page's Content-Security-Policy allows only this.
    this.original.style.opacity = this.mode === "overlay" ? String(this.slider.value / 100) : "";
  }
}
