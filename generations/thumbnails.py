"""Small images of screenshots for lists: the history and the admin show a box of about
160 by 100 px, so they load a few KB instead of a screenshot of up to CLONEGEN_MAX_IMAGE_MB.

A thumbnail is the top of the screenshot (where a page says what it is), THUMBNAIL_WIDTH wide
and at most THUMBNAIL_MAX_HEIGHT tall, as WebP. It is derived data: made when the generation
is created, made again on first request when missing (a generation older than thumbnails, an
import), removed with the generation, and never exported.
"""

import io
import warnings

from PIL import Image, ImageOps

from generations.images import MAX_PIXELS

THUMBNAIL_WIDTH = 320  # twice the history's box, for high-density screens
THUMBNAIL_MAX_HEIGHT = 240
THUMBNAIL_TYPE = "image/webp"
THUMBNAIL_EXTENSION = "webp"


class ThumbnailError(Exception):
    """The stored screenshot could not be read as an image."""


def make_thumbnail(content: bytes) -> bytes:
    """Return the WebP thumbnail of a screenshot's bytes, or raise ThumbnailError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ThumbnailError("the screenshot has too many pixels")
                # JPEG can decode at a fraction of its size: far less work for a big photo.
                image.draft("RGB", (THUMBNAIL_WIDTH * 2, THUMBNAIL_MAX_HEIGHT * 2))
                return _encode(_top_of(ImageOps.exif_transpose(image)))
    except ThumbnailError:
        raise
    except Exception as error:  # Pillow raises many types for unreadable input
        raise ThumbnailError(f"the screenshot could not be read: {error}") from error


def _top_of(image: Image.Image) -> Image.Image:
    width, height = image.size
    # The top of a tall page, in the thumbnail's proportions; a wide or short one stays whole.
    visible = min(height, max(1, round(width * THUMBNAIL_MAX_HEIGHT / THUMBNAIL_WIDTH)))
    top = image.crop((0, 0, width, visible))
    if width > THUMBNAIL_WIDTH:
        top = top.resize(
            (THUMBNAIL_WIDTH, max(1, round(visible * THUMBNAIL_WIDTH / width))),
            Image.Resampling.LANCZOS,
        )
    has_alpha = top.mode in ("RGBA", "LA", "PA") or "transparency" in top.info
    return top.convert("RGBA" if has_alpha else "RGB")


def _encode(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=80, method=4)
    return out.getvalue()
