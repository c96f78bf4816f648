"""A small OpenAI-compatible server for the images and models endpoints, run on 127.0.0.1 in
the test's own event loop: pictures drawn with Pillow, failures and listings scripted."""

import asyncio
import base64
import contextlib
import io
import time
from typing import Any

import openai
from aiohttp import web
from PIL import Image, ImageDraw

TEST_KEY = "sk-test-images-0123456789abcdef"


def drawn_png(width: int, height: int, label: str) -> bytes:
    """Return a PNG of the given size with a coloured field and the label on it."""
    hue = sum(label.encode()) % 200
    picture = Image.new("RGB", (width, height), (40 + hue, 90, 200 - hue // 2))
    ImageDraw.Draw(picture).text((16, 16), label[:60], fill=(255, 255, 255))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


class FakeOpenAI:
    """Answers POST /v1/images/generations and GET /v1/models; records what it was asked."""

    def __init__(self) -> None:
        self.base_url = ""
        self.image_requests: list[dict[str, Any]] = []
        # prompt -> (status, message): that prompt is refused with this error.
        self.refuse: dict[str, tuple[int, str]] = {}
        # prompt -> raw b64 to answer instead of a picture (a broken image, say).
        self.answer_b64: dict[str, str] = {}
        self.in_flight = 0
        self.most_in_flight = 0
        # Cleared by a test to hold image answers until it sets it again.
        self.release = asyncio.Event()
        self.release.set()
        self.models: list[dict[str, Any]] = []
        self.models_status = 200
        self.models_requests = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/images/generations", self._images)
        app.router.add_get("/v1/models", self._models)
        return app

    async def _images(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.image_requests.append(body)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        prompt = body["prompt"]
        if prompt in self.refuse:
            status, message = self.refuse[prompt]
            error = {"message": message, "type": "invalid_request_error", "code": None}
            return web.json_response({"error": error}, status=status)
        width, height = (int(side) for side in body.get("size", "1024x1024").split("x"))
        encoded = (
            self.answer_b64.get(prompt)
            or base64.b64encode(drawn_png(width, height, prompt)).decode()
        )
        return web.json_response(
            {
                "created": int(time.time()),
                "data": [{"b64_json": encoded}],
                "output_format": "png",
                "size": body.get("size"),
                "usage": {
                    "input_tokens": 10,
                    "input_tokens_details": {"image_tokens": 0, "text_tokens": 10},
                    "output_tokens": 200,
                    "total_tokens": 210,
                },
            }
        )

    async def _models(self, request: web.Request) -> web.Response:
        self.models_requests += 1
        if self.models_status != 200:
            error = {"message": "server trouble", "type": "server_error", "code": None}
            return web.json_response({"error": error}, status=self.models_status)
        return web.json_response({"object": "list", "data": self.models})


def model_entry(name: str, shutdown_date: str | None = None) -> dict[str, Any]:
    """Return one /v1/models entry as the API lists it."""
    entry = {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "system"}
    if shutdown_date is not None:
        entry["shutdown_date"] = shutdown_date
    return entry


def client_for(base_url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=TEST_KEY, base_url=base_url, max_retries=0)


@contextlib.asynccontextmanager
async def serving():
    """Run a FakeOpenAI on 127.0.0.1 in the running event loop; yield it."""
    server = FakeOpenAI()
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    yield server
    server.release.set()
    await runner.cleanup()
