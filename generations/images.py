"""Screenshot validation: a data URL decoded and checked with Pillow before anything is stored."""

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image

from generations.errors import IMAGE_TOO_LARGE, INVALID_FIELD, INVALID_IMAGE, AppError

ACCEPTED_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
# A screenshot of a very tall page is still far below this; anything larger is a bomb.
MAX_PIXELS = 64_000_000
# Below this a "screenshot" shows nothing a model could copy, yet it would start four paid calls.
MIN_SIDE = 32
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]*)*?);base64,", re.I)


@dataclass(frozen=True)
class Screenshot:
    """A decoded, validated screenshot."""

    content: bytes
    mime_type: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.mime_type]


def as_data_url(content: bytes, mime_type: str) -> str:
    """Return the data URL that carries `content` to a model as an image part."""
    return f"data:{mime_type};base64,{base64.b64encode(content).decode('ascii')}"


def decode_screenshot(data_url: object, *, max_bytes: int) -> Screenshot:
    """Return the screenshot in `data_url`, or raise AppError (invalid_field, invalid_image,
    image_too_large). The declared type is not trusted: the decoded format decides."""
    if not isinstance(data_url, str) or not data_url:
        raise AppError(INVALID_FIELD, "`image` must be a data URL string.")
    match = _DATA_URL.match(data_url)
    if not match:
        raise AppError(INVALID_IMAGE, "`image` must be a base64 data URL of a PNG, JPEG or WebP.")
    payload = data_url[match.end() :]
    # Four base64 characters carry three bytes: refuse an oversized image before decoding it.
    if len(payload) * 3 // 4 > max_bytes + 3:
        raise AppError(IMAGE_TOO_LARGE, _too_large_message(max_bytes))
    try:
        content = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise AppError(INVALID_IMAGE, "`image` is not valid base64.") from None
    if len(content) > max_bytes:
        raise AppError(IMAGE_TOO_LARGE, _too_large_message(max_bytes))
    return _decode_pixels(content)


def decode_image(content: bytes) -> Screenshot:
    """Return the screenshot in raw image bytes, or raise AppError (invalid_image,
    image_too_large): the checks of `decode_screenshot` after its base64 step."""
    return _decode_pixels(content)


def sniffed_type(content: bytes) -> str | None:
    """The MIME type of the accepted image format `content` is, read from its header alone
    (cheap enough for every request); None for anything else."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            return ACCEPTED_FORMATS.get(image.format)
    except Exception:  # not an image Pillow knows, or a bomb: either way not one to serve
        return None


def _decode_pixels(content: bytes) -> Screenshot:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                if image.format not in ACCEPTED_FORMATS:
                    raise AppError(INVALID_IMAGE, "Only PNG, JPEG and WebP images are accepted.")
                _check_dimensions(image.width, image.height)
                image.load()  # decodes every pixel: a truncated or corrupt file fails here
                return Screenshot(
                    content=content,
                    mime_type=ACCEPTED_FORMATS[image.format],
                    width=image.width,
                    height=image.height,
                )
    except AppError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise AppError(IMAGE_TOO_LARGE, "The image decompresses to too many pixels.") from None
    except Exception:  # Pillow raises many types for corrupt input; all mean the same here
        raise AppError(INVALID_IMAGE, "The image could not be decoded.") from None


def _check_dimensions(width: int, height: int) -> None:
    if width < MIN_SIDE or height < MIN_SIDE:
        raise AppError(
            INVALID_IMAGE,
            f"The screenshot is {width}x{height} px; it must be at least {MIN_SIDE}x{MIN_SIDE} px.",
        )
    if width * height > MAX_PIXELS:
        raise AppError(
            IMAGE_TOO_LARGE,
            f"The screenshot is {width}x{height} px ({width * height / 1e6:.1f} megapixels);"
            f" the limit is {MAX_PIXELS // 1_000_000} megapixels.",
        )


def _too_large_message(max_bytes: int) -> str:
    return f"The image is over {max_bytes // (1024 * 1024)} MiB."
