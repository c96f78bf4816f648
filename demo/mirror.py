"""Demo answers that resemble the uploaded screenshot, each default model at its own fidelity,
so demo mode shows visibly different visual scores (issue 12): the screenshot scaled down to a
few dozen pixels and stretched back over the page, sharper for some models than for others.

Only the demo stand-in uses this: it is plainly a picture of the screenshot, labelled as the
stand-in's, never a model's work.
"""

import base64
import binascii
import io

from PIL import Image, UnidentifiedImageError

from demo.pages import DEMO_NOTICE, escaped, wrap_in_prose

# Columns of the scaled-down screenshot per default model (the chains' first entries); any other
# model answers the generic sample page, the "unrelated" end of the scale.
FIDELITY = {
    "gpt-4o-2024-11-20": 320,
    "gpt-4.1-2025-04-14": 120,
    "gpt-4.1-mini-2025-04-14": 30,
}


def answer(model: str, body: dict) -> str | None:
    """The demo answer for `model` that mirrors the request's screenshot, or None (then the
    stand-in answers its sample page)."""
    columns = FIDELITY.get(model)
    screenshot = _screenshot(body)
    if columns is None or screenshot is None:
        return None
    try:
        return wrap_in_prose(mirrored_page(model, screenshot, columns))
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def mirrored_page(model: str, screenshot: bytes, columns: int) -> str:
    """A page showing `screenshot` scaled to `columns` pixels wide and stretched to 1280 px."""
    with Image.open(io.BytesIO(screenshot)) as image:
        rgb = image.convert("RGB")
    rows = max(1, round(columns * rgb.height / rgb.width))
    small = rgb.resize((columns, rows), Image.Resampling.BOX)
    buffer = io.BytesIO()
    small.save(buffer, "PNG", optimize=True)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Demo mirror by {escaped(model)}</title>
  <style>
    body {{ margin: 0; }}
    .mirror {{ width: 100%; aspect-ratio: {rgb.width} / {rgb.height};
               background: url(data:image/png;base64,{data}) 0 0 / 100% 100%; }}
  </style>
</head>
<body>
  <div class="mirror" role="img" aria-label="The screenshot at {columns} px wide"></div>
  <h1 style="font: 12px sans-serif; margin: 4px 8px">Demo mirror by {escaped(model)}</h1>
  <p style="font: 12px sans-serif; margin: 4px 8px">The screenshot at {columns} columns.
     {escaped(DEMO_NOTICE)}</p>
</body>
</html>"""


def _screenshot(body: dict) -> bytes | None:
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else ():
            url = (part.get("image_url") or {}).get("url") if isinstance(part, dict) else None
            if isinstance(url, str) and url.startswith("data:") and ";base64," in url:
                try:
                    return base64.b64decode(url.split(";base64,", 1)[1], validate=True)
                except (binascii.Error, ValueError):
                    return None
    return None
