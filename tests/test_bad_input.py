"""Bad input on the socket and over REST: the contract's codes, nothing stored, nothing called."""

import io
import json
import os
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from PIL import Image

from generations.models import Generation
from tests.socket_client import Followed, SocketClient
from tests.support import DEFAULT_MODELS, data_url, png_bytes, screenshot_bytes

pytestmark = pytest.mark.django_db(transaction=True)

UNKNOWN_ID = "5f0c6a52-9d7e-4c55-8a0e-3a1d2b4c6e7f"


# --------------------------------------------------------------------------- images


def noisy_png(size: int) -> bytes:
    """A PNG of a little over `size` bytes: random pixels do not compress."""
    side = int((size / 3) ** 0.5) + 8
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "GIF")
    return buffer.getvalue()


PNG = png_bytes()
IMAGE = data_url(PNG)
LONG_TEXT = "x" * 4001  # instructions are capped at 4000 characters
LONE_SURROGATE = "x\ud800y"  # valid JSON (escaped), but no UTF-8 can carry it
DEEP_ARRAY = "[" * 100_000 + "]" * 100_000  # past Python's recursion limit
DEEP_OBJECT = '{"image": ' * 40 + '"x"' + "}" * 40  # under that limit, far past any request
TOO_MANY_PARAMETERS = "&".join(f"p{i}=1" for i in range(1500))  # Django's limit is 1000


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One bad request: the socket frame and/or REST call that carry it, and the expected code."""

    code: str
    socket: str | bytes | None = None  # the raw frame
    rest: tuple[str, str, str | None, str] | None = None  # method, path, body, content type
    max_image_mb: int | None = None


def generate(fields: dict, code: str, max_image_mb: int | None = None) -> Case:
    """A `generate` message on the socket, the same fields as a POST body over REST."""
    return Case(
        code=code,
        socket=json.dumps({"type": "generate", **fields}),
        rest=("POST", "/api/generations", json.dumps(fields), "application/json"),
        max_image_mb=max_image_mb,
    )


def image(url: str, code: str) -> Case:
    return generate({"image": url}, code)


def raw(body: str, code: str) -> Case:
    return Case(code, socket=body, rest=("POST", "/api/generations", body, "application/json"))


def on_id(action: str, generation_id, code: str) -> Case:
    """`subscribe`/`retry`/`cancel` with that id on the socket; the matching REST call."""
    frame = json.dumps({"type": action, "generation_id": generation_id})
    path = f"/api/generations/{generation_id}"
    if action == "subscribe":
        return Case(code, socket=frame, rest=("GET", path, None, ""))
    return Case(code, socket=frame, rest=("POST", f"{path}/{action}", None, ""))


CASES = {
    # not JSON, or not a JSON object
    "not_json": raw("{this is not json", "invalid_json"),
    "json_array": raw('[{"type": "generate"}]', "invalid_json"),
    "json_string": raw('"generate"', "invalid_json"),
    "json_null": raw("null", "invalid_json"),
    "binary_frame": Case("invalid_json", socket=b'{"type": "generate"}'),
    "form_body": Case(
        "invalid_json",
        rest=("POST", "/api/generations", "image=x", "application/x-www-form-urlencoded"),
    ),
    # unknown type (socket only)
    "unknown_type": Case("unknown_type", socket=json.dumps({"type": "explode"})),
    "missing_type": Case("unknown_type", socket=json.dumps({"image": IMAGE})),
    "unhashable_type": Case("unknown_type", socket=json.dumps({"type": ["generate"]})),
    # missing or malformed fields
    "missing_image": generate({}, "invalid_field"),
    "image_not_text": generate({"image": 42}, "invalid_field"),
    "bad_stack": generate({"image": IMAGE, "stack": "react"}, "invalid_field"),
    "stack_not_text": generate({"image": IMAGE, "stack": ["html_css"]}, "invalid_field"),
    "instructions_not_text": generate({"image": IMAGE, "instructions": 7}, "invalid_field"),
    "instructions_too_long": generate({"image": IMAGE, "instructions": LONG_TEXT}, "invalid_field"),
    "empty_body": Case("invalid_field", rest=("POST", "/api/generations", None, "")),
    # text that is not Unicode (a lone surrogate), in any string: values, keys, ids
    "surrogate_instructions": generate(
        {"image": IMAGE, "instructions": LONE_SURROGATE}, "invalid_field"
    ),
    "surrogate_stack": generate({"image": IMAGE, "stack": LONE_SURROGATE}, "invalid_field"),
    "surrogate_image": generate({"image": IMAGE + LONE_SURROGATE}, "invalid_field"),
    "surrogate_key": generate({"image": IMAGE, LONE_SURROGATE: "x"}, "invalid_field"),
    "surrogate_raw_utf8": Case(
        "invalid_field",
        rest=(
            "POST",
            "/api/generations",
            b'{"image": "x", "instructions": "\xed\xa0\x80"}',
            "application/json",
        ),
    ),
    "surrogate_subscribe_id": Case(
        "invalid_field", socket=json.dumps({"type": "subscribe", "generation_id": LONE_SURROGATE})
    ),
    "surrogate_retry_id": Case(
        "invalid_field", socket=json.dumps({"type": "retry", "generation_id": LONE_SURROGATE})
    ),
    "surrogate_type": Case("invalid_field", socket=json.dumps({"type": LONE_SURROGATE})),
    # nested deeper than any request: past the recursion limit, and just deep
    "deep_array": raw(DEEP_ARRAY, "invalid_json"),
    "deep_object": raw(DEEP_OBJECT, "invalid_json"),
    "deep_field": generate(
        {"image": IMAGE, "instructions": json.loads(DEEP_OBJECT)}, "invalid_json"
    ),
    # a filter value that is neither true nor false
    "has_failed_variant_maybe": Case(
        "invalid_field", rest=("GET", "/api/generations?has_failed_variant=maybe", None, "")
    ),
    # too many query parameters
    "too_many_query_parameters": Case(
        "invalid_field", rest=("GET", f"/api/generations?{TOO_MANY_PARAMETERS}", None, "")
    ),
    "too_many_query_parameters_on_detail": Case(
        "invalid_field",
        rest=("GET", f"/api/generations/{UNKNOWN_ID}?{TOO_MANY_PARAMETERS}", None, ""),
    ),
    # not a decodable PNG, JPEG or WebP
    "text_plain_data_url": image("data:text/plain;base64,aGVsbG8=", "invalid_image"),
    "not_a_data_url": image("https://example.com/screenshot.png", "invalid_image"),
    "not_base64": image("data:image/png;base64,@@not base64@@", "invalid_image"),
    "corrupt_png": image(data_url(PNG[:16] + os.urandom(2000)), "invalid_image"),
    "truncated_png": image(data_url(PNG[: len(PNG) // 2]), "invalid_image"),
    "text_labelled_png": image(data_url(b"Some notes, not a picture.\n" * 20), "invalid_image"),
    "gif": image(data_url(gif_bytes(), "image/gif"), "invalid_image"),
    # over CLONEGEN_MAX_IMAGE_MB (set to 1 for this case): about 1.5 MiB
    "image_too_large": generate(
        {"image": data_url(noisy_png(1536 * 1024))}, "image_too_large", max_image_mb=1
    ),
    # ids
    "subscribe_malformed_id": on_id("subscribe", "not-a-uuid", "invalid_id"),
    "subscribe_numeric_id": on_id("subscribe", 12345, "invalid_id"),
    "retry_malformed_id": on_id("retry", "not-a-uuid", "invalid_id"),
    "cancel_malformed_id": on_id("cancel", "not-a-uuid", "invalid_id"),
    "subscribe_unknown_id": on_id("subscribe", UNKNOWN_ID, "not_found"),
    "retry_unknown_id": on_id("retry", UNKNOWN_ID, "not_found"),
    "cancel_unknown_id": on_id("cancel", UNKNOWN_ID, "not_found"),
}


def cases_for(channel: str) -> list:
    """The cases that apply to `channel` ("socket" or "rest"), named for pytest."""
    return [
        pytest.param(case, id=name)
        for name, case in CASES.items()
        if getattr(case, channel) is not None
    ]


# --------------------------------------------------------------------------- helpers


class _AnyText:
    def __eq__(self, other) -> bool:
        return isinstance(other, str) and bool(other)

    def __repr__(self) -> str:
        return "<any non-empty text>"


ANY_TEXT = _AnyText()


def screenshot_files() -> set[Path]:
    folder = Path(django_settings.MEDIA_ROOT) / "screenshots"
    return set(folder.rglob("*")) if folder.exists() else set()


async def send(communicator, frame: str | bytes) -> None:
    if isinstance(frame, bytes):
        await communicator.send_to(bytes_data=frame)
    else:
        await communicator.send_to(text_data=frame)


async def expect_error(communicator, code: str) -> None:
    frame = await communicator.receive_json_from(timeout=10)
    assert frame == {"type": "error", "code": code, "message": ANY_TEXT}


async def assert_still_open(communicator) -> None:
    """The socket still answers: a subscribe for an unknown id gets `not_found`."""
    await communicator.send_json_to({"type": "subscribe", "generation_id": str(uuid.uuid4())})
    await expect_error(communicator, "not_found")


async def assert_nothing_happened(standin, files_before: set[Path]) -> None:
    assert standin.requests == [], "no model may be called for bad input"
    assert await Generation.objects.acount() == 0
    assert screenshot_files() == files_before


def assert_no_variant_failed(followed: Followed) -> str:
    """Return the generation's final status, once sure no variant failed on the way."""
    assert followed.of_type("variant.failed") == []
    return followed.status


async def run_to_completion(communicator, image: str) -> tuple[str, str]:
    """Generate on this socket; return the generation's id and final status."""
    followed = await SocketClient(communicator).generate_and_follow(image)
    assert len(followed.frames[0]["variants"]) == 4
    return followed.generation_id, assert_no_variant_failed(followed)


async def rest_call(client, method: str, path: str, body: str | None, content_type: str):
    kwargs = {"content_type": content_type} if content_type else {}
    return await client.generic(method, path, body or "", **kwargs)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("case", cases_for("socket"))
async def test_socket_refuses_bad_input(case, connect, live_models, settings):
    if case.max_image_mb:
        settings.CLONEGEN_MAX_IMAGE_MB = case.max_image_mb
    files_before = screenshot_files()
    communicator = await connect()

    await send(communicator, case.socket)
    await expect_error(communicator, case.code)
    await assert_still_open(communicator)
    await communicator.disconnect()
    await assert_nothing_happened(live_models, files_before)


@pytest.mark.parametrize("case", cases_for("rest"))
async def test_rest_refuses_bad_input(case, async_client, live_models, settings):
    if case.max_image_mb:
        settings.CLONEGEN_MAX_IMAGE_MB = case.max_image_mb
    files_before = screenshot_files()

    response = await rest_call(async_client, *case.rest)
    expected_status = 404 if case.code == "not_found" else 400
    assert response.status_code == expected_status, response.content[:300]
    assert response.json() == {"success": False, "error": {"code": case.code, "message": ANY_TEXT}}
    await assert_nothing_happened(live_models, files_before)


async def test_too_many_query_parameters_says_so(async_client):
    response = await async_client.get(f"/api/generations?{TOO_MANY_PARAMETERS}")
    assert "More than 1000 query parameters" in response.json()["error"]["message"]


async def test_a_refused_filter_names_its_parameter(async_client):
    response = await async_client.get("/api/generations?has_failed_variant=maybe")
    assert "has_failed_variant" in response.json()["error"]["message"]
    for value, listed in (("true", 0), ("FALSE", 0), ("1", 0), ("", 0)):
        answer = await async_client.get(f"/api/generations?has_failed_variant={value}")
        assert answer.status_code == 200, value
        assert answer.json()["data"]["count"] == listed


async def test_socket_survives_a_run_of_bad_frames_then_generates(connect, live_models):
    communicator = await connect()
    for name in ("not_json", "json_array", "unknown_type", "corrupt_png", "retry_malformed_id"):
        case = CASES[name]
        await send(communicator, case.socket)
        await expect_error(communicator, case.code)
    assert live_models.requests == []

    _, status = await run_to_completion(communicator, IMAGE)
    await communicator.disconnect()
    assert status == "completed"
    assert sorted(r["model"] for r in live_models.requests) == sorted(DEFAULT_MODELS)


@cache
def real_screenshot() -> str:
    return data_url(screenshot_bytes())


async def test_real_screenshot_over_the_socket(connect, live_models):
    communicator = await connect()
    generation_id, status = await run_to_completion(communicator, real_screenshot())
    await communicator.disconnect()

    assert status == "completed"
    generation = await Generation.objects.aget(id=generation_id)
    assert await generation.variants.filter(status="completed").acount() == 4
    assert {image_sent(r) for r in live_models.requests} == {real_screenshot()}


async def test_real_screenshot_over_rest(async_client, connect, live_models):
    body = json.dumps({"image": real_screenshot()})
    assert len(body) > 2.5 * 1024 * 1024  # over Django's default DATA_UPLOAD_MAX_MEMORY_SIZE

    response = await async_client.post("/api/generations", body, content_type="application/json")
    assert response.status_code == 202, response.content[:300]
    generation_id = response.json()["data"]["id"]
    socket = SocketClient(await connect())
    status = assert_no_variant_failed(await socket.subscribe_and_follow(generation_id))
    await socket.close()

    assert status == "completed"
    stored = (await async_client.get(f"/api/generations/{generation_id}")).json()["data"]
    assert [v["status"] for v in stored["variants"]] == ["completed"] * 4
    assert {image_sent(r) for r in live_models.requests} == {real_screenshot()}


def image_sent(request: dict) -> str:
    parts = request["messages"][-1]["content"]
    return next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
