"""Clone from a URL (contract §10) through the API and the socket: a local page captured with
the private flag on, every refusal with it off. Every connection stays on loopback."""

import asyncio
import io
import json

import pytest
from aiohttp import web
from channels.db import database_sync_to_async
from PIL import Image

from generations.images import decode_screenshot
from generations.models import Generation
from generations.sources import screenshot_from_capture
from tests.factories import make_generation
from tests.support import data_url, png_bytes, screenshot_bytes
from tests.test_url_capture import closed_port, needs_chromium, page, serve

pytestmark = pytest.mark.django_db(transaction=True)

LOOPBACK_SPELLINGS = ("localhost", "[::1]", "127.1", "2130706433", "0x7f000001")


async def post_json(client, payload):
    return await client.post(
        "/api/generations", json.dumps(payload), content_type="application/json"
    )


def error_code(response, status: int) -> str:
    assert response.status_code == status, response.content[:500]
    return response.json()["error"]["code"]


@pytest.fixture
def private_allowed(settings):
    settings.CLONEGEN_URL_ALLOW_PRIVATE = True
    settings.CLONEGEN_URL_TIMEOUT_SECONDS = 10


async def green_page(request) -> web.Response:
    return page('<div style="height:1000px;background:#00aa00"></div>')


@needs_chromium
async def test_a_local_page_becomes_the_screenshot_and_source_url_is_kept(
    async_client, live_models, private_allowed
):
    async with serve({"/": green_page}) as site:
        response = await post_json(async_client, {"url": f"{site.base}/", "stack": "html_css"})
    assert response.status_code == 202, response.content
    data = response.json()["data"]
    assert data["source_url"] == f"{site.base}/"
    assert (data["kind"], data["parent"], data["root_id"]) == ("clone", None, data["id"])
    stored = await Generation.objects.aget(id=data["id"])
    assert (stored.screenshot_type, stored.screenshot_width, stored.screenshot_height) == (
        "image/png",
        1280,
        1000,
    )
    with stored.screenshot.open("rb") as file:
        image = Image.open(io.BytesIO(file.read())).convert("RGB")
    assert image.getpixel((640, 500)) == (0, 170, 0)


@needs_chromium
async def test_a_capture_over_the_socket_leaves_the_socket_answering(
    live_models, connect, private_allowed
):
    """The page answers only when the test lets it; meanwhile the same socket answers another
    frame, then `generation.started` follows once the page is captured."""
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow_page(request):
        arrived.set()
        await release.wait()
        return await green_page(request)

    other = await database_sync_to_async(make_generation)()
    async with serve({"/": slow_page}) as site:
        communicator = await connect()
        await communicator.send_json_to({"type": "generate", "url": f"{site.base}/"})
        await asyncio.wait_for(arrived.wait(), 30)  # the browser waits for the page now
        await communicator.send_json_to({"type": "subscribe", "generation_id": str(other.id)})
        snapshot = await communicator.receive_json_from(timeout=5)
        assert (snapshot["type"], snapshot["generation_id"]) == (
            "generation.snapshot",
            str(other.id),
        )
        release.set()
        started = await communicator.receive_json_from(timeout=30)
    assert started["type"] == "generation.started", started
    stored = await Generation.objects.aget(id=started["generation_id"])
    assert stored.source_url == f"{site.base}/"
    await communicator.disconnect()


@needs_chromium
async def test_a_page_that_cannot_be_loaded_is_url_unreachable(async_client, private_allowed):
    response = await post_json(async_client, {"url": f"http://127.0.0.1:{closed_port()}/"})
    assert error_code(response, 400) == "url_unreachable"
    assert await Generation.objects.acount() == 0


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_loopback_in_any_spelling_is_forbidden_without_the_flag(async_client, connect, host):
    async with serve({"/": green_page}) as site:
        url = f"http://{host}:{site.port}/"
        assert error_code(await post_json(async_client, {"url": url}), 400) == "url_forbidden"
        communicator = await connect()
        await communicator.send_json_to({"type": "generate", "url": url})
        frame = await communicator.receive_json_from(timeout=10)
        await communicator.disconnect()
    assert (frame["type"], frame["code"]) == ("error", "url_forbidden")
    assert site.requests == []  # refused before anything connected
    assert await Generation.objects.acount() == 0


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/", "not a url", "http://", "javascript:alert(1)", 42, "http://a b/"],
)
async def test_a_malformed_url_is_invalid_url(async_client, connect, url):
    assert error_code(await post_json(async_client, {"url": url}), 400) == "invalid_url"
    communicator = await connect()
    await communicator.send_json_to({"type": "generate", "url": url})
    frame = await communicator.receive_json_from(timeout=10)
    await communicator.disconnect()
    assert (frame["type"], frame["code"]) == ("error", "invalid_url")


async def test_the_rate_limit_is_checked_before_any_capture(async_client, settings, live_models):
    settings.CLONEGEN_RATE_LIMIT = "1/hour"
    settings.CLONEGEN_URL_ALLOW_PRIVATE = True
    assert (await post_json(async_client, {"image": data_url(png_bytes())})).status_code == 202
    async with serve({"/": green_page}) as site:
        refused = await post_json(async_client, {"url": f"{site.base}/"})
    assert error_code(refused, 429) == "rate_limited"
    assert site.requests == []


def test_a_capture_over_the_size_limit_is_re_encoded_not_refused():
    big = screenshot_bytes(3 * 1024 * 1024)  # noise: a PNG that compresses badly
    limit = 1024 * 1024
    shot = screenshot_from_capture(big, max_bytes=limit)
    assert shot.mime_type == "image/jpeg"
    assert len(shot.content) <= limit
    original = decode_screenshot(data_url(big), max_bytes=10 * limit)
    assert (shot.width, shot.height) == (original.width, original.height)
    small = png_bytes()
    assert screenshot_from_capture(small, max_bytes=limit).content == small  # kept as it was


async def test_captures_switched_off_refuse_every_url(async_client, settings):
    settings.CLONEGEN_URL_CAPTURE = False
    settings.CLONEGEN_URL_ALLOW_PRIVATE = True
    async with serve({"/": green_page}) as site:
        refused = await post_json(async_client, {"url": f"{site.base}/"})
    assert error_code(refused, 400) == "url_forbidden"
    assert site.requests == []
