"""Screenshot validation: which uploads are accepted, and the error code each refusal carries."""

import io

import pytest
from PIL import Image

from generations.errors import AppError
from generations.images import decode_screenshot
from tests.support import data_url, png_bytes

MAX_BYTES = 10 * 1024 * 1024


def image_bytes(fmt: str, width: int = 320, height: int = 200, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), "white" if mode != "1" else 0).save(buffer, fmt)
    return buffer.getvalue()


def noisy_png(width: int = 200, height: int = 200) -> bytes:
    """A PNG whose pixel data is large enough to cut in the middle of its image data."""
    buffer = io.BytesIO()
    Image.effect_noise((width, height), 64).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


NOISY_PNG = noisy_png()


def refusal(value: object, max_bytes: int = MAX_BYTES) -> str:
    with pytest.raises(AppError) as caught:
        decode_screenshot(value, max_bytes=max_bytes)
    return caught.value.code


@pytest.mark.parametrize(
    ("fmt", "mime_type", "width", "height"),
    [
        pytest.param("PNG", "image/png", 320, 200, id="png"),
        pytest.param("JPEG", "image/jpeg", 640, 480, id="jpeg"),
        pytest.param("WEBP", "image/webp", 1440, 900, id="webp"),
    ],
)
def test_accepted_formats(fmt, mime_type, width, height):
    content = image_bytes(fmt, width, height)
    shot = decode_screenshot(data_url(content, mime_type), max_bytes=MAX_BYTES)
    assert (shot.mime_type, shot.width, shot.height) == (mime_type, width, height)
    assert shot.content == content, "the stored screenshot must be the uploaded bytes"


@pytest.mark.parametrize(
    "declared",
    ["image/jpeg", "image/webp", "application/octet-stream", "text/plain"],
)
def test_declared_type_is_not_trusted(declared):
    shot = decode_screenshot(data_url(png_bytes(), declared), max_bytes=MAX_BYTES)
    assert shot.mime_type == "image/png"
    assert shot.extension == "png"


def test_jpeg_labelled_png_is_stored_as_jpeg():
    shot = decode_screenshot(data_url(image_bytes("JPEG"), "image/png"), max_bytes=MAX_BYTES)
    assert shot.mime_type == "image/jpeg"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(data_url(image_bytes("GIF", mode="L"), "image/gif"), id="gif"),
        pytest.param(data_url(image_bytes("GIF", mode="L"), "image/png"), id="gif-labelled-png"),
        pytest.param(data_url(image_bytes("BMP"), "image/bmp"), id="bmp"),
        pytest.param(data_url(b"<html>not an image</html>", "image/png"), id="text-bytes"),
        pytest.param(data_url(NOISY_PNG[: len(NOISY_PNG) * 3 // 5]), id="truncated-png"),
        pytest.param(data_url(png_bytes()[:40]), id="png-header-only"),
        pytest.param("data:image/png;base64,@@@not*base64!!", id="invalid-base64"),
        pytest.param("data:image/png;base64,iVBORw0KGgo", id="bad-base64-padding"),
        pytest.param(data_url(b""), id="empty-payload"),
        pytest.param("https://example.com/shot.png", id="not-a-data-url"),
        pytest.param("data:image/png,rawbytes", id="data-url-without-base64"),
    ],
)
def test_undecodable_images_are_refused_as_invalid_image(value):
    assert refusal(value) == "invalid_image"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty-string"),
        pytest.param(None, id="none"),
        pytest.param(123, id="number"),
        pytest.param(data_url(png_bytes()).encode(), id="bytes"),
        pytest.param({"url": data_url(png_bytes())}, id="object"),
        pytest.param([data_url(png_bytes())], id="list"),
    ],
)
def test_a_missing_or_non_string_image_is_an_invalid_field(value):
    assert refusal(value) == "invalid_field"


def test_image_exactly_at_the_limit_is_accepted_and_one_byte_over_is_refused():
    content = png_bytes()
    assert decode_screenshot(data_url(content), max_bytes=len(content)).content == content
    assert refusal(data_url(content), max_bytes=len(content) - 1) == "image_too_large"


def test_oversized_image_is_refused():
    content = image_bytes("PNG", 1000, 1000) + b"\0" * (2 * 1024 * 1024)
    assert refusal(data_url(content), max_bytes=1024 * 1024) == "image_too_large"


def test_obviously_oversized_payload_is_refused_before_base64_decoding():
    # Characters that are not base64 at all: decoding would answer invalid_image, so
    # image_too_large proves the size was judged from the payload's length alone.
    payload = "!" * (4 * 1024 * 1024)
    assert refusal("data:image/png;base64," + payload, max_bytes=1024 * 1024) == "image_too_large"


@pytest.fixture(scope="module")
def bomb_png() -> bytes:
    """A PNG of a few KB that declares 20000 x 20000 pixels (400 megapixels)."""
    return image_bytes("PNG", 20000, 20000, mode="1")


def test_decompression_bomb_is_refused(bomb_png):
    assert len(bomb_png) < 100 * 1024, "the bomb must be small on the wire"
    assert refusal(data_url(bomb_png)) == "image_too_large"


def test_image_over_the_pixel_limit_but_under_pillows_is_refused():
    # 72 megapixels: below Pillow's own bomb threshold (~89 MP), above clonegen's 64 MP limit.
    content = image_bytes("PNG", 9000, 8000, mode="L")
    assert len(content) < MAX_BYTES
    assert refusal(data_url(content)) == "image_too_large"
