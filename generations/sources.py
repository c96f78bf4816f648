"""Where a new generation's screenshot comes from (contract §8, §10): an uploaded image, a page
captured by URL, or the stored screenshot of another generation. Each ends as a `Screenshot`
that passed the same checks as an upload."""

import io

from PIL import Image

from generations.errors import INVALID_FIELD, NOT_FOUND, AppError
from generations.images import Screenshot, as_data_url, decode_screenshot
from generations.models import Generation

SOURCE_FIELDS = ("image", "url", "screenshot_of")
# A capture over the size limit is re-encoded at this JPEG quality: a 1280 x 4096 page then
# weighs a few MiB, and text stays legible to the models.
CAPTURE_JPEG_QUALITY = 85


def source_field(payload: dict) -> str:
    """Return which of `image`, `url`, `screenshot_of` the request gives; exactly one must be
    there (a null counts as absent), else invalid_field."""
    given = [name for name in SOURCE_FIELDS if payload.get(name) is not None]
    if len(given) != 1:
        raise AppError(
            INVALID_FIELD,
            "Give exactly one of `image` (a data URL), `url` (a page to capture) and "
            "`screenshot_of` (the id of a generation whose screenshot to reuse).",
        )
    return given[0]


def stored_screenshot(generation: Generation) -> Screenshot:
    """The screenshot `generation` stored, as a Screenshot to store again under a new
    generation (each generation owns its file, so deleting one never takes another's)."""
    try:
        with generation.screenshot.open("rb") as stored:
            content = stored.read()
    except (FileNotFoundError, ValueError):
        raise AppError(NOT_FOUND, "That generation's stored screenshot is missing.") from None
    return Screenshot(
        content=content,
        mime_type=generation.screenshot_type,
        width=generation.screenshot_width,
        height=generation.screenshot_height,
    )


def screenshot_from_capture(png: bytes, *, max_bytes: int) -> Screenshot:
    """A captured page's PNG as a screenshot, through the upload's own checks. A PNG over the
    size limit (a long page of photographs) is re-encoded as JPEG rather than refused: the
    user gave a URL, not a file they could shrink."""
    content, mime_type = png, "image/png"
    if len(png) > max_bytes:
        content, mime_type = _as_jpeg(png), "image/jpeg"
    return decode_screenshot(as_data_url(content, mime_type), max_bytes=max_bytes)


def _as_jpeg(png: bytes) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=CAPTURE_JPEG_QUALITY)
        return out.getvalue()
