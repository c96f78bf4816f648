"""A new user's first hour in a real browser: the layouts at 1920, 1280 and 390 px, the code
views, and every refusal of the new-generation form before (and after) anything is sent.

Screenshots land in test-artifacts/ (git-ignored): demo-1920.png, demo-1280.png,
demo-1280-compare.png, demo-390-top.png, demo-390.png, admin-1280-list.png, admin-1280-change.png.
"""

import base64
import io
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from PIL import Image

from demo.faults import Fault
from tests.support import DEFAULT_MODELS, REPO, data_url, png_bytes
from tests.test_ui import (
    assert_no_console_errors,
    save_screenshot,
    serve,
    stored_generation,
)
from tests.ui_support import COMPLETED_PANELS, upload_and_generate

pytestmark = pytest.mark.ui

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

# Every box of the page's five parts, relative to the viewport.
BOXES = """() => [document.getElementById('source'), ...document.querySelectorAll('.panel')]
  .map((e) => { const r = e.getBoundingClientRect();
    return {top: r.top, left: r.left, bottom: r.bottom, right: r.right}; })"""
# Each preview lays its page out at the device's width and shows all of that width, scaled.
WHOLE_WIDTH_PREVIEWS = """(device) => [...document.querySelectorAll('.panel .viewport')]
  .every((v) => {
  const f = v.querySelector('iframe');
  return f.offsetWidth === device
    && Math.abs(f.getBoundingClientRect().width - Math.min(v.clientWidth, device)) <= 1; })"""
MESSAGE_LOG = """() => { window.__messages = [];
  new MutationObserver(() => window.__messages.push(document.getElementById('message').textContent))
    .observe(document.getElementById('message'), {childList: true, subtree: true,
      characterData: true}); }"""


def wait_for_model_listing(server, timeout: float = 20) -> None:
    """Until the server's background fetch of GET /v1/models has answered (health shows it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(server.base_url + "/api/health") as answer:
            models = json.load(answer)["data"]["models"]
        if models[0]["available"] is not None:
            return
        time.sleep(0.1)  # polling: the fetch has no event a test can await
    raise AssertionError("the model listing never arrived")


def all_in_view(page, width: int, height: int) -> list[dict]:
    boxes = page.evaluate(BOXES)
    assert len(boxes) == 5
    outside = [
        b
        for b in boxes
        if b["top"] < 0 or b["left"] < 0 or b["bottom"] > height + 0.5 or b["right"] > width
    ]
    assert outside == [], f"not all of the original and the four variants show: {boxes}"
    return boxes


def assert_previews_show_whole_width(page, device_width: int = 1280) -> None:
    # The panels refit their previews when they observe a resize: wait for that.
    page.wait_for_function(WHOLE_WIDTH_PREVIEWS, arg=device_width, timeout=5_000)


def noisy_png(path, width: int, height: int):
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(path, "PNG")
    return path


# ------------------------------------------------------------------------------- layouts


@pytest.mark.e2e
def test_demo_generation_at_1920_1280_and_390(daphne, open_page, tmp_path):
    server = serve_demo(daphne)
    shot = tmp_path / "page.png"
    shot.write_bytes(png_bytes(1280, 1600, "#dbe7f3"))
    wait_for_model_listing(server)
    page = open_page(server.base_url, "/", width=1920, height=1080)
    expect(page.locator("#demo-banner")).to_be_visible()
    # The demo stand-in lists the default models with their announced shutdown (contract §12).
    expect(page.locator(".model-warning summary")).to_contain_text(
        "gpt-4o-2024-11-20 shuts down on 2027-01-14"
    )
    upload_and_generate(page, shot, "1280 \N{MULTIPLICATION SIGN} 1600 px")
    page.wait_for_function(COMPLETED_PANELS, arg=4)
    expect(page.locator("#layout-compare")).to_have_attribute("aria-pressed", "false")

    # 1920: the original and all four pages at once, each laid out at 1280 px and scaled.
    all_in_view(page, 1920, 1080)
    assert_previews_show_whole_width(page)
    save_screenshot(page, "demo-1920.png")

    # 1280: the panels wrap two by two; the compare layout shows all five at once.
    page.set_viewport_size({"width": 1280, "height": 800})
    assert_previews_show_whole_width(page)
    save_screenshot(page, "demo-1280.png")
    page.click("#layout-compare")
    expect(page.locator("#layout-compare")).to_have_attribute("aria-pressed", "true")
    all_in_view(page, 1280, 800)
    expect(page.locator(".panel .code").first).to_be_hidden()  # previews only
    assert_previews_show_whole_width(page)
    save_screenshot(page, "demo-1280-compare.png")

    # The choice of layout is kept for the next visit.
    page.reload()
    expect(page.locator("#workspace")).to_have_attribute("data-layout", "compare")
    page.wait_for_function(COMPLETED_PANELS, arg=4)

    # 390: stacked, nothing sideways; a phone preview is laid out at 390 px.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scroll"
    boxes = page.evaluate(BOXES)
    assert all(b["right"] <= 390 for b in boxes)
    assert [b["top"] for b in boxes] == sorted(b["top"] for b in boxes), "stacked in order"
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, "demo-390-top.png")
    page.click("#layout-compare")
    panel = page.locator('.panel[data-index="0"]')
    panel.get_by_role("button", name="Mobile").click()
    assert panel.locator("iframe").evaluate("(f) => f.offsetWidth") == 390
    save_screenshot(page, "demo-390.png")
    assert_no_console_errors(page)


def serve_demo(daphne):
    """A real daphne without a key: demo mode, its in-process stand-in answering."""
    return daphne(DJANGO_HTTPS="0", OPENAI_API_KEY="")


@pytest.mark.e2e
def test_code_shows_the_extracted_html_and_a_failure_keeps_no_code_box(
    daphne,
    standin,
    open_page,
    tmp_path,
):
    standin.add_fault(DEFAULT_MODELS[1], Fault(status=400, message="Scripted refusal."))
    server = serve(daphne)
    shot = tmp_path / "page.png"
    shot.write_bytes(png_bytes(640, 400, "#c0d6b0"))
    page = open_page(server.base_url)
    generation_id = upload_and_generate(page, shot, "640 \N{MULTIPLICATION SIGN} 400 px")
    page.wait_for_function(COMPLETED_PANELS, arg=3)
    stored = stored_generation(server, generation_id)

    failed = page.locator('.panel[data-index="1"]')
    expect(failed).to_have_attribute("data-status", "failed")
    expect(failed.locator(".notice")).to_be_visible()
    expect(failed.locator(".code")).to_be_hidden()
    expect(failed.locator(".html-code")).to_be_hidden()
    failed.scroll_into_view_if_needed()
    save_screenshot(page, "failed-variant-1280.png")

    panel = page.locator('.panel[data-index="0"]')
    panel.get_by_role("button", name="Code").click()
    code = panel.locator(".html-code code")
    expect(code).to_have_class("language-html hljs")  # highlighted
    html = stored["variants"][0]["html"]
    assert code.text_content() == html
    assert code.locator("span.hljs-tag").count() > 10
    assert "```" not in code.text_content(), "the fences and prose stay in the raw answer"
    panel.get_by_role("button", name="Raw answer").click()
    expect(panel.locator(".code")).to_be_visible()
    assert panel.locator(".code").text_content() == stored["variants"][0]["text"]
    assert "```" in stored["variants"][0]["text"]
    assert_no_console_errors(page)


# ------------------------------------------------------------------------------- the form


@pytest.mark.e2e
def test_a_large_screenshot_and_generate_at_once_waits_for_it(
    daphne,
    open_page,
    tmp_path,
):
    server = serve(daphne)
    big = noisy_png(tmp_path / "big.png", 1340, 1340)
    assert os.path.getsize(big) > 5 * 1024 * 1024
    page = open_page(server.base_url)
    page.evaluate(MESSAGE_LOG)

    page.set_input_files("#image", str(big))
    page.click("#generate")  # at once: the file is still being read
    page.wait_for_url("**/g/*", timeout=30_000)

    messages = page.evaluate("window.__messages")
    assert not any("Choose a screenshot" in m for m in messages), messages
    expect(page.locator("#source-info")).to_contain_text("1340 \N{MULTIPLICATION SIGN} 1340 px")
    assert server.get("/api/generations").json()["data"]["count"] == 1
    assert_no_console_errors(page)


@pytest.mark.e2e
def test_sizes_and_instructions_are_refused_before_anything_is_sent(
    daphne,
    standin,
    open_page,
    tmp_path,
):
    server = serve(daphne)
    page = open_page(server.base_url)
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    message = page.locator("#message")

    tiny = tmp_path / "tiny.png"
    tiny.write_bytes(png_bytes(1, 1))
    page.set_input_files("#image", str(tiny))
    expect(message).to_have_text(
        "The screenshot is 1x1 px; it must be at least 32x32 px. Nothing was sent."
    )
    page.click("#generate")
    expect(message).to_contain_text("at least 32x32 px")

    huge = tmp_path / "huge.png"
    buffer = io.BytesIO()
    Image.new("1", (9000, 8000), 0).save(buffer, "PNG")
    huge.write_bytes(buffer.getvalue())
    page.set_input_files("#image", str(huge))
    expect(message).to_have_text(
        "The screenshot is 9000x8000 px (72.0 megapixels); the limit is 64 megapixels."
        " Nothing was sent."
    )

    good = tmp_path / "good.png"
    good.write_bytes(png_bytes(640, 400))
    page.set_input_files("#image", str(good))
    expect(page.locator("#image-preview")).to_be_visible()
    counter = page.locator("#instructions-count")
    expect(counter).to_have_text("0 / 4,000")
    long_text = "make it blue " * 1540  # 20 020 characters, 20 019 once trimmed
    page.fill("#instructions", long_text)
    expect(counter).to_have_text("20,019 / 4,000 · too long")
    expect(counter).to_have_attribute("data-over", "true")
    page.click("#generate")
    expect(message).to_have_text(
        "The instructions are 20,019 characters long; the limit is 4,000."
        " Shorten them and try again. Nothing was sent."
    )
    assert page.input_value("#instructions") == long_text, "never cut silently"

    assert sockets == []
    assert standin.requests == []
    assert server.get("/api/generations").json()["data"]["count"] == 0
    assert_no_console_errors(page)


@pytest.mark.e2e
def test_the_rate_limit_reads_as_a_sentence(daphne, open_page, tmp_path):
    server = daphne(DJANGO_HTTPS="0", CLONEGEN_RATE_LIMIT="1/hour")
    assert server.post("/api/generations", json={"image": data_url(png_bytes())}).status_code == 202
    shot = tmp_path / "page.png"
    shot.write_bytes(png_bytes(640, 400))
    page = open_page(server.base_url)
    page.set_input_files("#image", str(shot))
    expect(page.locator("#image-preview")).to_be_visible()
    page.click("#generate")
    message = page.locator("#message")
    expect(message).to_have_text("You have started 1 generation this hour; try again in 1 h.")
    expect(message).to_have_attribute("data-code", "rate_limited")
    assert "3" not in message.text_content(), "no raw seconds"
    expect(page.locator("#generate")).to_be_enabled()
    assert_no_console_errors(page)


# ------------------------------------------------------------------------------- the admin


@pytest.mark.e2e
def test_the_admin_fits_1280_px(daphne, browser, tmp_path):
    server = serve(daphne)
    password = "first-hour-admin-password"
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "createsuperuser",
            "--no-input",
            "--username",
            "admin",
            "--email",
            "admin@example.com",
        ],
        cwd=REPO,
        env={**server.env, "DJANGO_SUPERUSER_PASSWORD": password},
        check=True,
        capture_output=True,
    )
    body = {"image": data_url(png_bytes(1280, 800)), "instructions": "calm " * 200}
    generation_id = server.post("/api/generations", json=body).json()["data"]["id"]
    wait_until_ended(server, generation_id)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(server.base_url + "/admin/login/")
        assert_favicon(page)
        page.fill("#id_username", "admin")
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.goto(server.base_url + "/admin/generations/generation/")
        assert_favicon(page)
        row = page.locator("#result_list tbody tr").first
        for cell in ("field-list_thumbnail", "field-total_cost", "field-status"):
            box = row.locator(f".{cell}").bounding_box()
            assert box is not None, cell
            assert box["x"] + box["width"] <= 1280, (cell, box)
        results = page.locator(".results")
        assert results.evaluate("(e) => e.scrollWidth <= e.clientWidth"), "the table overflows"
        save_screenshot(page, "admin-1280-list.png")

        row.locator("th a").click()
        page.wait_for_url(f"**/{generation_id}/change/")
        assert_favicon(page)
        assert page.evaluate("document.documentElement.scrollHeight") < 4000
        preview = page.locator(".clonegen-preview iframe").first
        preview.scroll_into_view_if_needed()
        assert preview.evaluate("(f) => f.offsetWidth") == 1280  # laid out at desktop width
        assert preview.bounding_box()["width"] <= 481  # and scaled to fit
        expect(page.frame_locator(".clonegen-preview iframe").first.locator("h1")).to_be_visible()
        expect(page.get_by_text("calm calm", exact=False).first).to_be_visible()
        assert page.locator("details", has_text="(1000 characters)").count() == 1
        save_screenshot(page, "admin-1280-change.png")
    finally:
        context.close()


def assert_favicon(page) -> None:
    hrefs = page.eval_on_selector_all("link[rel=icon]", "els => els.map((e) => e.href)")
    assert any(href.endswith("/static/generations/favicon.svg") for href in hrefs), hrefs


def wait_until_ended(server, generation_id: str) -> None:
    from tests.test_ui import wait_for_generation

    wait_for_generation(server, generation_id)


# ------------------------------------------------------------------------------- image.js


def encoded(fmt: str, size: tuple[int, int], mode: str = "RGB", **options) -> str:
    buffer = io.BytesIO()
    image = Image.new(mode, size, "white")
    if fmt == "JPEG":
        exif = Image.Exif()
        exif[0x010E] = "x" * 4000  # a long metadata segment before the frame header
        options["exif"] = exif
    image.save(buffer, fmt, **options)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def test_the_browser_reads_each_formats_declared_size_before_decoding(browser):
    cases = {
        "png": ("image/png", encoded("PNG", (123, 45)), [123, 45]),
        "jpeg": ("image/jpeg", encoded("JPEG", (321, 54)), [321, 54]),
        "webp-lossy": ("image/webp", encoded("WEBP", (77, 66)), [77, 66]),
        "webp-lossless": ("image/webp", encoded("WEBP", (88, 99), lossless=True), [88, 99]),
        "webp-alpha": ("image/webp", encoded("WEBP", (90, 35), mode="RGBA"), [90, 35]),
    }
    static = REPO / "generations" / "static"

    def route(request_route):
        path = request_route.request.url.split("clonegen.test", 1)[1]
        if path.startswith("/static/"):
            request_route.fulfill(
                path=static / path.removeprefix("/static/"), content_type="text/javascript"
            )
        else:
            request_route.fulfill(body="<!doctype html><title>t</title>", content_type="text/html")

    context = browser.new_context()
    try:
        page = context.new_page()
        page.route("http://clonegen.test/**", route)
        page.goto("http://clonegen.test/")
        sizes = page.evaluate(
            """async (cases) => {
              const { declaredSize, sniffType } = await import("/static/generations/image.js");
              const out = {};
              for (const [name, [type, b64]] of Object.entries(cases)) {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                const size = declaredSize(bytes, sniffType(bytes));
                out[name] = [sniffType(bytes) === type, size.width, size.height];
              }
              return out;
            }""",
            {name: [mime, b64] for name, (mime, b64, _) in cases.items()},
        )
    finally:
        context.close()
    assert sizes == {name: [True, *size] for name, (_, _, size) in cases.items()}
