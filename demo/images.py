"""The stand-in's images endpoint, answering with pictures drawn locally, and its model listing
with the shutdown dates OpenAI announced (POST /v1/images/generations, GET /v1/models)."""

import asyncio
import base64
import io
import time
import zlib

from aiohttp import web
from PIL import Image, ImageDraw, ImageFont

# The defaults' real shutdown date (the SDK's ChatModel list), so demo mode shows the banner.
DEMO_SHUTDOWN_DATES = {
    "gpt-4o-2024-11-20": "2027-01-14",
    "gpt-4o-2024-08-06": "2027-01-14",
    "gpt-4o": "2027-01-14",
    "gpt-4.1-2025-04-14": "2027-01-14",
    "gpt-4.1": "2027-01-14",
    "gpt-4.1-mini-2025-04-14": "2027-01-14",
    "gpt-4.1-mini": "2027-01-14",
    "gpt-6-luna": None,
    "gpt-6-sol": None,
    "gpt-6.1-sol": None,
    "gpt-6.1-terra": None,
    "gpt-image-2.6-sunburst": None,
    "gpt-image-2.6-flare": None,
}
_MAX_SIDE = 2048


def _wrapped(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if len(candidate) > width and line:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line][:4]


def drawn_picture(prompt: str, width: int, height: int) -> bytes:
    """Return a PNG of `width` x `height`: a sky, hills and a sun in colours chosen by the prompt,
    with the prompt written across it, so each placeholder gets a distinct, recognisable image.
    """
    seed = zlib.crc32(prompt.encode())
    hue = [(seed >> shift) & 0xFF for shift in (0, 8, 16)]
    picture = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(picture)
    for y in range(height):  # a vertical gradient: one line per row is cheap enough
        t = y / max(height - 1, 1)
        colour = tuple(int(c * (1 - t) + 40 * t) for c in (hue[0] // 2 + 100, 170, 230))
        draw.line([(0, y), (width, y)], fill=colour)
    radius = min(width, height) // 8
    sun = (width * (1 + seed % 3) // 5, height // 4)
    draw.ellipse(
        [sun[0] - radius, sun[1] - radius, sun[0] + radius, sun[1] + radius],
        fill=(255, 210, 90),
    )
    for step, shade in enumerate((hue[1] // 3 + 60, hue[2] // 4 + 40)):
        top = height * (55 + 12 * step) // 100
        draw.polygon(
            [
                (0, height),
                (0, top),
                (width // 3, top - height // 10),
                (width, top + step * 20),
                (width, height),
            ],
            fill=(shade // 2, shade, shade // 2),
        )
    font = ImageFont.load_default(size=max(14, min(width, height) // 18))
    for row, line in enumerate(_wrapped(prompt, 32)):
        y = height * 3 // 4 + row * (font.size + 6)
        draw.text((width // 20, y), line, fill=(255, 255, 255), font=font)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _size(value: object) -> tuple[int, int]:
    try:
        width, height = (int(side) for side in str(value).split("x"))
    except ValueError:
        return 1024, 1024
    return min(max(width, 16), _MAX_SIDE), min(max(height, 16), _MAX_SIDE)


async def images_generations(request: web.Request) -> web.Response:
    """POST /v1/images/generations: answer as a GPT image model does (base64 PNG, usage)."""
    body = await request.json()
    prompt = str(body.get("prompt") or "")
    width, height = _size(body.get("size", "1024x1024"))
    content = await asyncio.to_thread(drawn_picture, prompt, width, height)
    # Usage as the real model reports it: ~196 output tokens per low-quality megapixel.
    text_tokens = max(1, len(prompt) // 4)
    image_tokens = 196 * width * height // (1024 * 1024)
    return web.json_response(
        {
            "created": int(time.time()),
            "data": [{"b64_json": base64.b64encode(content).decode()}],
            "output_format": "png",
            "quality": body.get("quality", "low"),
            "size": f"{width}x{height}",
            "usage": {
                "input_tokens": text_tokens,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": text_tokens},
                "output_tokens": image_tokens,
                "total_tokens": text_tokens + image_tokens,
            },
        }
    )


def models_listing(shutdown_dates: dict[str, str | None] = DEMO_SHUTDOWN_DATES) -> dict:
    """Return a GET /v1/models body listing `shutdown_dates`' models with their dates."""
    data = []
    for name, date in shutdown_dates.items():
        entry = {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "system"}
        if date:
            entry["shutdown_date"] = date
        data.append(entry)
    return {"object": "list", "data": data}


async def models(request: web.Request) -> web.Response:
    """GET /v1/models: the demo listing."""
    return web.json_response(models_listing())
