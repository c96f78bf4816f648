"""After the save (contract §9, §11): every completed variant is rendered on the server and
scored against the screenshot, placeholder images are generated when asked for, and none of it
touches the saved result or holds up its frames."""

import io
import zipfile
from pathlib import Path

import pytest
from django.test import AsyncClient
from PIL import Image

from generations.models import Generation
from tests.socket_client import SocketClient
from tests.support import data_url, png_bytes
from tests.ui_support import CHROMIUM, MISSING_CHROMIUM

pytestmark = pytest.mark.django_db(transaction=True)

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING_CHROMIUM)

PLACEHOLDER_PAGE = """<!DOCTYPE html><html><head>
<script src="https://cdn.tailwindcss.com"></script></head>
<body class="bg-blue-600"><h1 class="text-white">Harbour</h1>
<img src="https://placehold.co/600x400" alt="A harbour at dawn" width="600" height="400">
<img src="" alt="A lighthouse">
</body></html>"""


async def _scored(socket: SocketClient, followed, count: int) -> dict[int, dict]:
    """The `variant.scored` frames of the run, waiting for those after `generation.finished`."""
    scored = {f["index"]: f for f in followed.of_type("variant.scored")}
    while len(scored) < count:
        frame = (await socket.until("variant.scored", timeout=90))[-1]
        scored[frame["index"]] = frame
    return scored


@needs_chromium
async def test_every_completed_variant_is_rendered_and_scored(live_models, connect, settings):
    settings.CLONEGEN_RENDERS = True
    settings.CLONEGEN_MODELS = "m-a,m-b"
    socket = SocketClient(await connect())
    followed = await socket.generate_and_follow(image=data_url(png_bytes(1280, 800, "white")))
    scored = await _scored(socket, followed, 2)
    await socket.close()

    generation = await Generation.objects.prefetch_related("variants").aget(
        id=followed.generation_id
    )
    client = AsyncClient()
    for variant in generation.variants.all():
        frame = scored[variant.index]
        assert frame["render_status"] == "done"
        assert 0 <= frame["score"]["visual"] <= 1
        assert variant.render_status == "done"
        assert variant.score == frame["score"]
        # The saved result is as it was: post-processing never rewrites it.
        assert variant.status == "completed"
        assert variant.raw_html
        render = await client.get(
            f"/api/generations/{generation.id}/variants/{variant.index}/render.png"
        )
        assert render.status_code == 200
        assert render["Content-Type"] == "image/png"
        assert Image.open(io.BytesIO(b"".join(render.streaming_content))).width == 1280
    # Every variant.completed went out before that variant's score.
    types = [(f["type"], f.get("index")) for f in followed.frames]
    for index in (0, 1):
        if ("variant.scored", index) in types:
            assert types.index(("variant.completed", index)) < types.index(
                ("variant.scored", index)
            )
    detail = (await client.get(f"/api/generations/{generation.id}")).json()["data"]
    assert detail["variants"][0]["render_url"].endswith("/variants/0/render.png")
    snapshot_socket = SocketClient(await connect())
    await snapshot_socket.subscribe(str(generation.id))
    snapshot = (await snapshot_socket.until("generation.snapshot"))[-1]
    await snapshot_socket.close()
    assert [v["score"] for v in snapshot["variants"]] == [scored[0]["score"], scored[1]["score"]]
    stats = (await client.get("/api/models/stats")).json()["data"]
    assert {row["model"]: row["median_visual_score"] for row in stats} == {
        "m-a": scored[0]["score"]["visual"],
        "m-b": scored[1]["score"]["visual"],
    }


async def test_without_a_browser_everything_is_saved_and_the_render_says_why(
    live_models, connect, settings, monkeypatch
):
    from generations import browser

    settings.CLONEGEN_RENDERS = True
    settings.CLONEGEN_MODELS = "m-a"
    monkeypatch.setattr(browser, "_shared", browser.SharedBrowser(Path("/nonexistent/chromium")))
    socket = SocketClient(await connect())
    followed = await socket.generate_and_follow()
    frame = (await _scored(socket, followed, 1))[0]
    await socket.close()

    assert followed.status == "completed"
    assert frame["render_status"] == "failed"
    assert frame["score"] is None
    assert "No browser to render with" in frame["render_error"]
    variant = await (await Generation.objects.aget(id=followed.generation_id)).variants.aget()
    assert (variant.status, variant.render_status) == ("completed", "failed")
    health = (await AsyncClient().get("/api/health")).json()["data"]
    assert health["renderer"].startswith("unavailable")


async def test_placeholders_become_stored_images_when_asked_for(live_models, connect, settings):
    settings.CLONEGEN_MODELS = "m-a"
    live_models.text_for = lambda model: PLACEHOLDER_PAGE
    socket = SocketClient(await connect())
    followed = await socket.generate_and_follow(images=True)
    frame = (
        (await socket.until("variant.images", timeout=60))[-1]
        if not followed.of_type("variant.images")
        else followed.of_type("variant.images")[0]
    )
    await socket.close()

    generation = await Generation.objects.prefetch_related("variants").aget(
        id=followed.generation_id
    )
    variant = generation.variants.all()[0]
    assert generation.images is True
    assert [image["status"] for image in variant.images] == ["generated", "generated"]
    assert variant.raw_html == PLACEHOLDER_PAGE  # what the model wrote, untouched
    assert "placehold.co" not in variant.html
    assert frame["html"] == variant.html
    client = AsyncClient()
    for image in variant.images:
        assert image["url"] in variant.html
        served = await client.get(image["url"])
        assert served.status_code == 200
        assert served["Content-Type"] == "image/png"
    download = await client.get(f"/api/generations/{generation.id}/variants/0/download")
    assert download["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert len([n for n in archive.namelist() if n.startswith("images/")]) == 2
    page = archive.read("index.html").decode()
    assert "/api/generations/" not in page  # relative paths: the folder opens offline
    assert "https://cdn.tailwindcss.com" in page  # the download keeps the model's script tag

    # Deleting the generation takes its images along.
    await client.delete(f"/api/generations/{generation.id}")
    assert (await client.get(variant.images[0]["url"])).status_code == 404


async def test_without_images_the_download_is_the_single_page(live_models, connect, settings):
    settings.CLONEGEN_MODELS = "m-a"
    socket = SocketClient(await connect())
    followed = await socket.generate_and_follow()
    await socket.close()
    download = await AsyncClient().get(
        f"/api/generations/{followed.generation_id}/variants/0/download"
    )
    assert download["Content-Type"].startswith("text/html")
    assert download["Content-Disposition"] == 'attachment; filename="index.html"'


async def test_previews_load_tailwind_from_clonegen_and_the_stored_page_keeps_the_cdn(
    live_models, connect, settings
):
    settings.CLONEGEN_MODELS = "m-a"
    live_models.text_for = lambda model: PLACEHOLDER_PAGE
    socket = SocketClient(await connect())
    followed = await socket.generate_and_follow()
    await socket.close()
    preview = await AsyncClient().get(f"/api/generations/{followed.generation_id}/variants/0/html")
    body = preview.content.decode()
    assert "cdn.tailwindcss.com" not in body
    assert "/static/generations/vendor/tailwindcss/" in body
    variant = await (await Generation.objects.aget(id=followed.generation_id)).variants.aget()
    assert "https://cdn.tailwindcss.com" in variant.raw_html
