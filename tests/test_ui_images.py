"""Generated images in a real browser (contract §11): the form's "Generate images" switch and
its estimate, a variant's placeholder pictures turned into stored images in its preview, and
Download giving a zip of the page and its images. Debian's Chromium driven by Playwright against
real daphne and the stand-in, which draws the pictures itself.

Screenshots land in test-artifacts/ (git-ignored): images-form-1280.png, images-1280.png,
images-1920.png, images-390.png, images-demo-1280.png.
"""

import io
import re
import zipfile

import pytest

from demo.pages import wrap_in_prose
from tests.support import DEFAULT_MODELS, png_bytes
from tests.ui_support import COMPLETED_PANELS, save_screenshot, upload_and_generate

pytestmark = [pytest.mark.ui, pytest.mark.e2e]

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect
expect.set_options(timeout=20_000)

ALTS = ("A red bicycle leaning on a brick wall", "Portrait of a smiling baker")
# Every panel's images have arrived (a `variant.images` frame or the REST API said so).
IMAGES_SETTLED = (
    "(n) => [...window.clonegen.state.panels.values()]"
    ".filter((p) => p.imagesSettled && p.images.length).length === n"
)

# At least n panels have generated images in their stored list.
IMAGES_SETTLED_SOME = (
    "(n) => [...window.clonegen.state.panels.values()]"
    ".filter((p) => p.images.some((i) => i.status === 'generated')).length >= n"
)


def page_with_placeholders(model: str) -> str:
    """A page like a model writes it: two placeholder pictures with alt text."""
    return wrap_in_prose(
        f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{model}</title>
<script src="https://cdn.tailwindcss.com"></script></head>
<body class="bg-gray-50 p-8">
  <h1 class="text-3xl font-bold">Pictures by {model}</h1>
  <div class="mt-6 grid grid-cols-2 gap-6">
    <img src="https://placehold.co/600x400" alt="{ALTS[0]}" width="600" height="400"
         class="w-full rounded-lg">
    <img src="" alt="{ALTS[1]}" width="400" height="400" class="w-full rounded-lg">
  </div>
</body>
</html>"""
    )


def assert_pictures_shown(page, image_prefix: str) -> None:
    """Every preview shows its two stored pictures, loaded and painted."""
    for index, model in enumerate(DEFAULT_MODELS):
        frame = page.frame_locator(f'.panel[data-index="{index}"] iframe')
        expect(frame.locator("h1")).to_have_text(f"Pictures by {model}")
        pictures = frame.locator("img")
        expect(pictures).to_have_count(2)
        for n, alt in enumerate(ALTS):
            picture = pictures.nth(n)
            expect(picture).to_have_attribute("alt", alt)
            expect(picture).to_have_attribute("src", re.compile("^" + re.escape(image_prefix)))
        # Polled on a timer: a frame out of view gets no animation frames to poll on.
        page.locator(
            f'.panel[data-index="{index}"] iframe'
        ).element_handle().content_frame().wait_for_function(
            "() => [...document.images].every((i) => i.complete && i.naturalWidth > 0)",
            polling=100,
        )


def test_placeholders_become_stored_images_and_download_is_a_zip(
    daphne, standin, open_page, tmp_path
):
    standin.text_for = page_with_placeholders
    server = daphne(DJANGO_HTTPS="0")
    page = open_page(server.base_url, "/")

    # The switch: off by default (CLONEGEN_IMAGES=0), with what it adds.
    switch = page.get_by_role("switch", name="Generate images")
    expect(switch).not_to_be_checked()
    expect(page.locator("#images-cost")).to_have_text(
        re.compile(r"≈ \$0\.\d+ per image, up to 8 per variant")
    )
    page.locator(".switch").click()
    expect(switch).to_be_checked()
    save_screenshot(page, "images-form-1280.png")
    frames = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(payload)))

    shot = tmp_path / "shot.png"
    shot.write_bytes(png_bytes(1280, 800, "#dbe7f3"))
    generation_id = upload_and_generate(page, shot)
    assert any('"images": true' in f or '"images":true' in f for f in frames), frames
    page.wait_for_function(COMPLETED_PANELS, arg=4)
    page.wait_for_function(IMAGES_SETTLED, arg=4)

    stored = server.get(f"/api/generations/{generation_id}").json()["data"]
    assert stored["images"] is True
    image_prefix = f"/api/generations/{generation_id}/images/"
    for variant in stored["variants"]:
        assert [i["status"] for i in variant["images"]] == ["generated", "generated"], variant
        assert "placehold.co" in variant["raw_html"]
        assert "placehold.co" not in variant["html"]

    # Each preview reloaded with the stored pictures, loaded and drawn.
    assert_pictures_shown(page, image_prefix)
    save_screenshot(page, "images-1280.png")

    # Download: a zip of index.html and its images, with relative paths.
    panel = page.locator('.panel[data-index="0"]')
    expect(panel.get_by_role("button", name="Download")).to_have_attribute(
        "title", re.compile("zip")
    )
    with page.expect_download() as download_info:
        panel.get_by_role("button", name="Download").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".zip"), download.suggested_filename
    archive = zipfile.ZipFile(io.BytesIO(download.path().read_bytes()))
    names = archive.namelist()
    assert "index.html" in names, names
    pictures = [name for name in names if name != "index.html"]
    assert len(pictures) == 2, names
    index_html = archive.read("index.html").decode()
    for name in pictures:
        assert name in index_html
        assert archive.read(name)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "/api/" not in index_html

    page.set_viewport_size({"width": 1920, "height": 1080})
    page.evaluate("window.scrollTo(0, 0)")
    assert_pictures_shown(page, image_prefix)
    save_screenshot(page, "images-1920.png")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scroll"
    panel.evaluate("(el) => el.scrollIntoView({block: 'start'})")
    assert_pictures_shown(page, image_prefix)
    save_screenshot(page, "images-390.png")
    assert page.console_errors == [], page.console_errors


def test_in_demo_mode_the_sample_page_gets_a_drawn_picture(daphne, open_page, tmp_path):
    # No key: the in-process stand-in writes the pages and draws the pictures.
    server = daphne(DJANGO_HTTPS="0", OPENAI_API_KEY="")
    page = open_page(server.base_url, "/")
    page.locator(".switch").click()
    expect(page.get_by_role("switch", name="Generate images")).to_be_checked()
    shot = tmp_path / "shot.png"
    shot.write_bytes(png_bytes(1280, 800, "#dbe7f3"))
    generation_id = upload_and_generate(page, shot)
    page.wait_for_function(COMPLETED_PANELS, arg=4)
    page.wait_for_function(IMAGES_SETTLED_SOME, arg=1)

    stored = server.get(f"/api/generations/{generation_id}").json()["data"]
    with_pictures = [v for v in stored["variants"] if v["images"]]
    assert with_pictures, stored["variants"]
    variant = with_pictures[0]
    assert [i["status"] for i in variant["images"]] == ["generated"], variant["images"]
    assert 'src=""' in variant["raw_html"]  # what the stand-in wrote is kept

    panel = page.locator(f'.panel[data-index="{variant["index"]}"]')
    frame = page.frame_locator(f'.panel[data-index="{variant["index"]}"] iframe')
    picture = frame.locator("img")
    expect(picture).to_have_attribute("alt", variant["images"][0]["alt"])
    expect(picture).to_have_attribute(
        "src", re.compile("^" + re.escape(f"/api/generations/{generation_id}/images/"))
    )
    panel.locator("iframe").element_handle().content_frame().wait_for_function(
        "() => [...document.images].every((i) => i.complete && i.naturalWidth > 0)",
        polling=100,
    )
    panel.evaluate("(el) => el.scrollIntoView({block: 'start'})")
    save_screenshot(page, "images-demo-1280.png")
    assert page.console_errors == [], page.console_errors
