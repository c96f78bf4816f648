"""The demo stand-in's parts for issue 14, served on loopback and read through the SDK with the
transport clonegen uses (the SDK's aiohttp client): drawn pictures and the model listing."""

import datetime
import io

import openai
import pytest
from aiohttp import web
from PIL import Image

from demo import images as standin_images
from generations.model_status import ModelStatus
from generations.placeholder_images import GENERATED, ImageGenerator, stored_image


@pytest.fixture
async def demo_api():
    app = web.Application()
    app.router.add_post("/v1/images/generations", standin_images.images_generations)
    app.router.add_get("/v1/models", standin_images.models)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    client = openai.AsyncOpenAI(
        api_key="demo",
        base_url=f"http://127.0.0.1:{runner.addresses[0][1]}/v1",
        max_retries=0,
        http_client=openai.DefaultAioHttpClient(),
    )
    yield client
    await client.close()
    await runner.cleanup()


async def test_demo_placeholders_become_drawn_pictures_of_the_right_shape(demo_api, tmp_path):
    generator = ImageGenerator(
        generation_id="demo-1",
        client=demo_api,
        model="gpt-image-2.6-sunburst",
        per_variant=8,
        root=tmp_path,
    )
    result = await generator.process('<img src="https://placehold.co/1200x600" alt="A harbour">')

    (image,) = result.images
    assert image["status"] == GENERATED
    with Image.open(stored_image(tmp_path, "demo-1", image["url"].rsplit("/", 1)[1])) as picture:
        assert picture.size == (1536, 1024)
    assert result.cost_usd is not None


def test_each_prompt_gets_its_own_picture():
    first = Image.open(io.BytesIO(standin_images.drawn_picture("A harbour", 64, 64)))
    second = Image.open(io.BytesIO(standin_images.drawn_picture("A forest", 64, 64)))
    assert first.tobytes() != second.tobytes()


async def test_demo_listing_reports_the_defaults_shutdown_date(demo_api):
    status = ModelStatus(
        models=lambda: ["gpt-4o-2024-11-20", "gpt-6-luna"],
        client=lambda: demo_api,
        today=lambda: datetime.date(2026, 11, 30),
    )
    await status.refresh()

    assert status.health() == [
        {"model": "gpt-4o-2024-11-20", "available": True, "shutdown_date": "2027-01-14"},
        {"model": "gpt-6-luna", "available": True, "shutdown_date": None},
    ]
    assert [warning["model"] for warning in status.warnings()] == ["gpt-4o-2024-11-20"]
