"""Render a generated page: a full-page PNG at 1280 px, a thumbnail, and its text boxes.

The shared browser (generations/browser.py) loads the page locked down with the vendored
Tailwind; this module says what to capture and shapes the result. `render_page` blocks its
calling thread (call it from a worker thread, never an event loop); `arender_page` awaits the
same work without blocking a loop.
"""

import asyncio
import io
from dataclasses import dataclass, field

from PIL import Image

from generations.browser import VIEWPORT, SharedBrowser, shared_browser

WIDTH = VIEWPORT["width"]
HEIGHT_CAP = 8000  # CSS px: enough for a long landing page, bounded in memory and scoring time
THUMBNAIL_WIDTH = 320
THUMBNAIL_ASPECT = 0.75  # the thumbnail shows the first screen: 1280 x 960 scaled to 320 x 240
MAX_TEXT_BOXES = 4000

# Let the play script finish: it builds its stylesheet after DOMContentLoaded and on mutations,
# so wait for two frames after load, then for the fonts the page may have declared.
SETTLE_JS = """async () => {
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  if (document.fonts) { await document.fonts.ready; }
  return Math.max(document.documentElement.scrollHeight,
                  document.body ? document.body.scrollHeight : 0);
}"""

# One box per line of visible text: what the screenshot's text regions are compared with.
TEXT_BOXES_JS = """(limit) => {
  const boxes = [];
  if (!document.body) return boxes;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node && boxes.length < limit; node = walker.nextNode()) {
    if (!node.textContent.trim()) continue;
    const element = node.parentElement;
    if (!element || !element.checkVisibility({opacityProperty: true, visibilityProperty: true}))
      continue;
    const color = getComputedStyle(element).color;
    if (/rgba\\(.*,\\s*0\\)$/.test(color)) continue;
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      if (r.width >= 1 && r.height >= 1)
        boxes.push([r.left + scrollX, r.top + scrollY, r.width, r.height]);
    }
  }
  return boxes;
}"""


@dataclass(frozen=True)
class Render:
    """What one render produced. Sizes and boxes are CSS pixels (device scale 1)."""

    png: bytes
    width: int
    height: int  # of the PNG: the page's height, at least the viewport, at most HEIGHT_CAP
    page_height: int  # the document's own height, which may exceed HEIGHT_CAP
    text_boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    thumbnail: bytes = b""  # PNG, THUMBNAIL_WIDTH wide, the top of the page

    def image(self) -> Image.Image:
        """Return the render decoded as an RGB image."""
        return Image.open(io.BytesIO(self.png)).convert("RGB")


async def _capture(page) -> tuple[bytes, int, list]:
    page_height = int(await page.evaluate(SETTLE_JS))
    height = min(max(page_height, VIEWPORT["height"]), HEIGHT_CAP)
    png = await page.screenshot(
        full_page=True,
        clip={"x": 0, "y": 0, "width": WIDTH, "height": height},
        animations="disabled",
        caret="hide",
        type="png",
    )
    boxes = await page.evaluate(TEXT_BOXES_JS, MAX_TEXT_BOXES)
    return png, page_height, boxes


def thumbnail(png: bytes) -> bytes:
    """Return a small PNG of the page's first screen (THUMBNAIL_WIDTH wide)."""
    with Image.open(io.BytesIO(png)) as image:
        top = image.convert("RGB").crop(
            (0, 0, image.width, min(image.height, round(image.width * THUMBNAIL_ASPECT)))
        )
    height = max(1, round(top.height * THUMBNAIL_WIDTH / top.width))
    small = top.resize((THUMBNAIL_WIDTH, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _result(captured: tuple[bytes, int, list]) -> Render:
    png, page_height, boxes = captured
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
    return Render(
        png=png,
        width=width,
        height=height,
        page_height=page_height,
        text_boxes=[tuple(box) for box in boxes],
        thumbnail=thumbnail(png),
    )


def render_page(
    html: str, browser: SharedBrowser | None = None, time_limit: float = 30.0
) -> Render:
    """Render `html` and return its Render; blocks the calling thread.

    Raises browser.BrowserUnavailable (no Chromium) or TimeoutError (the page took too long).
    """
    future = (browser or shared_browser()).submit(html, _capture, time_limit=time_limit)
    return _result(future.result())


async def arender_page(
    html: str, browser: SharedBrowser | None = None, time_limit: float = 30.0
) -> Render:
    """Render `html` without blocking the event loop (the thumbnail is made on a worker thread)."""
    future = (browser or shared_browser()).submit(html, _capture, time_limit=time_limit)
    captured = await asyncio.wrap_future(future)
    return await asyncio.to_thread(_result, captured)
