"""The web UI in a real browser: Debian's Chromium driven by Playwright, against real daphne
processes and the stand-in model server.

Screenshots land in test-artifacts/ (git-ignored); the tests never write into docs/ (the README's
picture is refreshed by `make screenshots`, tests/screenshots.py).
"""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from demo.faults import Fault
from tests.factories import make_generation
from tests.support import DEFAULT_MODELS, png_bytes
from tests.ui_support import (
    COMPLETED_PANELS,
    CuttableProxy,
    evaluate_static_module,
    save_screenshot,
    upload_and_generate,
)

pytestmark = pytest.mark.ui

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect
expect.set_options(timeout=15_000)  # a loaded CI machine streams slower than a laptop


SECONDS = re.compile(r"^\d+\.\d s$")
REFUSED_SOCKET = re.compile(r"^WebSocket connection to 'ws://[^']+/ws/generations/' failed")
EVERY_CODE_LONGER_THAN = """(chars) => {
  const codes = [...document.querySelectorAll('.panel .code')];
  return codes.length === 4 && codes.every((e) => e.textContent.length > chars);
}"""
# Predicates are functions, never bare expressions (see ui_support.COMPLETED_PANELS).


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture
def screenshot_file(tmp_path):
    path = tmp_path / "screenshot.png"
    path.write_bytes(png_bytes(1280, 800, "#8fb3d9"))
    return path


# ------------------------------------------------------------------------------- helpers


def serve(daphne):
    """A real daphne over plain HTTP, as the browser reaches it in these tests."""
    return daphne(DJANGO_HTTPS="0")


def code_texts(page) -> list[str]:
    return page.eval_on_selector_all(".panel .code", "els => els.map((e) => e.textContent)")


def code_lengths(page) -> list[int]:
    return [len(text) for text in code_texts(page)]


def preview_sources(page) -> list[str | None]:
    return page.eval_on_selector_all(
        ".panel iframe", "els => els.map((e) => e.getAttribute('src'))"
    )


def panel_boxes(page) -> list[dict]:
    return page.eval_on_selector_all(
        ".panel",
        "els => els.map((e) => { const r = e.getBoundingClientRect();"
        " return {x: r.x, y: r.y + scrollY, width: r.width, height: r.height}; })",
    )


def stored_generation(server, generation_id: str) -> dict:
    response = server.get(f"/api/generations/{generation_id}")
    assert response.status_code == 200
    return response.json()["data"]


def wait_for_generation(server, generation_id: str, timeout: float = 20) -> dict:
    """Poll the REST API until the generation has ended (no browser involved)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = stored_generation(server, generation_id)
        if data["status"] not in ("started", "running"):
            return data
        time.sleep(0.1)  # a REST poll: there is no event to await from outside the server
    raise AssertionError(f"generation {generation_id} still running after {timeout}s")


def assert_previews_render(page, models) -> None:
    sandboxes = page.eval_on_selector_all(
        ".panel iframe", "els => els.map((e) => e.getAttribute('sandbox'))"
    )
    assert sandboxes == ["allow-scripts"] * 4, sandboxes
    for index, model in enumerate(models):
        frame = page.frame_locator(f'.panel[data-index="{index}"] iframe')
        expect(frame.locator("h1")).to_contain_text(f"by {model}")


def assert_shows_stored_result(page, stored: dict) -> None:
    """The code view shows each model's streamed text exactly; the preview its stored page."""
    texts = code_texts(page)
    for variant in stored["variants"]:
        assert texts[variant["index"]] == variant["text"], f"variant {variant['index']} code"
    assert preview_sources(page) == [
        f"/api/generations/{stored['id']}/variants/{variant['index']}/html"
        for variant in stored["variants"]
    ]


def assert_no_console_errors(page, expected: re.Pattern | None = None) -> None:
    """No error from the app; `expected` matches errors the browser logs on its own."""
    errors = [e for e in page.console_errors if not (expected and expected.search(e))]
    assert errors == [], errors


# ------------------------------------------------------------------------------- tests


@pytest.mark.e2e
def test_upload_streams_four_variants_into_sandboxed_previews(
    daphne, standin, open_page, screenshot_file
):
    standin.chunks_per_second = 200  # a realistic pace: the panels visibly stream
    server = serve(daphne)
    page = open_page(server.base_url, "/", height=1320)
    expect(page.locator("#demo-banner")).to_have_count(0)  # a key is set: live mode

    generation_id = upload_and_generate(page, screenshot_file)
    expect(page.locator(".panel")).to_have_count(4)
    page.wait_for_function(COMPLETED_PANELS, arg=4)

    statuses = page.evaluate("window.__statuses")
    for index in range(4):
        seen = statuses[str(index)]
        assert "streaming" in seen, (index, seen)
        assert seen[-1] == "completed", (index, seen)
    assert_previews_render(page, DEFAULT_MODELS)
    # Tailwind comes from clonegen: the sample pages load cdn.tailwindcss.com, which this
    # machine cannot reach, and are styled all the same (contract §9).
    heading = page.frame_locator('.panel[data-index="0"] iframe').locator("h1")
    expect(heading).to_have_css("font-weight", "800")  # font-extrabold
    expect(page.locator("#overall")).to_contain_text("completed")
    for index, model in enumerate(DEFAULT_MODELS):
        panel = page.locator(f'.panel[data-index="{index}"]')
        expect(panel.locator(".model")).to_have_text(model)
        expect(panel.locator(".meta")).to_contain_text("completion tokens")
        expect(panel.locator(".timer")).to_have_text(SECONDS)
    # Nothing is chosen until a user chooses (contract §13).
    expect(page.locator(".panel .choose")).to_have_text(["Use this one"] * 4)
    assert_shows_stored_result(page, stored_generation(server, generation_id))
    assert len(standin.requests) == 4

    # Artifacts of this run at both widths (the README's picture is `make screenshots`' job).
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, "ui-1280.png")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator(".panel").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scroll"
    save_screenshot(page, "ui-390-top.png")

    # Per-variant views: the page at phone width, then the code.
    panel = page.locator('.panel[data-index="0"]')
    panel.get_by_role("button", name="Mobile").click()
    expect(panel.get_by_role("button", name="Mobile")).to_have_attribute("aria-pressed", "true")
    assert panel.locator("iframe").evaluate("(f) => f.style.width") == "390px"
    panel.evaluate("(el) => el.scrollIntoView({block: 'start'})")
    save_screenshot(page, "ui-390-panel.png")
    panel.get_by_role("button", name="Code").click()
    expect(panel.locator(".html-code")).to_be_visible()
    expect(panel.locator("iframe")).to_be_hidden()
    panel.get_by_role("button", name="Raw answer").click()
    expect(panel.locator(".code")).to_be_visible()
    expect(panel.locator(".html-code")).to_be_hidden()
    assert_no_console_errors(page)


@pytest.mark.e2e
def test_dropped_connection_shows_reconnecting_and_resumes_by_offset(
    daphne, standin, open_page, screenshot_file
):
    standin.chunks_per_second = 40  # about 6 s per variant: time to act mid-stream
    standin.chunk_chars = 12
    server = serve(daphne)
    proxy = CuttableProxy(server.port)
    try:
        page = open_page(proxy.base_url)
        generation_id = upload_and_generate(page, screenshot_file)
        page.wait_for_function(EVERY_CODE_LONGER_THAN, arg=200)
        expect(page.locator("#connection")).to_have_text("live")

        proxy.cut()  # every TCP connection reset: the socket dies without a close frame
        held_at_cut = code_lengths(page)
        expect(page.locator("#connection")).to_have_text("reconnecting…")
        expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
        save_screenshot(page, "ui-reconnecting.png")
        # The browser tries again while the network is down (refused), then it comes back.
        page.wait_for_function(
            "() => window.clonegen.socket.attempts >= 2", polling=50, timeout=10_000
        )
        proxy.restore()

        expect(page.locator("#connection")).to_have_text("live")
        page.wait_for_function(COMPLETED_PANELS, arg=4)
        stored = stored_generation(server, generation_id)
        assert all(
            held < len(v["text"]) for held, v in zip(held_at_cut, stored["variants"], strict=True)
        ), "the connection must drop mid-stream"
        assert_shows_stored_result(page, stored)
        assert_previews_render(page, DEFAULT_MODELS)
        assert "lost" not in page.inner_text("body").lower()
        assert proxy.connections_cut >= 2
        # While the network is down Chromium itself logs each refused socket handshake.
        assert_no_console_errors(page, expected=REFUSED_SOCKET)
    finally:
        proxy.close()


@pytest.mark.e2e
def test_reload_mid_generation_resumes_by_id(daphne, standin, open_page, screenshot_file):
    standin.chunks_per_second = 40  # about 6 s per variant: time to act mid-stream
    standin.chunk_chars = 12
    server = serve(daphne)
    page = open_page(server.base_url)
    generation_id = upload_and_generate(page, screenshot_file)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.panel .code')]"
        ".some((e) => e.textContent.length > 200)"
    )
    before = code_lengths(page)

    page.reload()
    assert page.url.endswith(f"/g/{generation_id}")
    expect(page.locator("#generation-id")).to_have_text(generation_id)
    expect(page.locator(".panel")).to_have_count(4)
    expect(page.locator("#source-image")).to_have_attribute("src", f"/g/{generation_id}/screenshot")
    # The snapshot brings back everything streamed so far, then the live frames continue.
    page.wait_for_function(
        "(before) => [...document.querySelectorAll('.panel .code')]"
        ".every((e, i) => e.textContent.length >= before[i])",
        arg=before,
    )
    statuses = page.evaluate("window.__statuses")
    assert any("streaming" in seen for seen in statuses.values()), statuses
    boxes_while_streaming = panel_boxes(page)
    page.wait_for_function(COMPLETED_PANELS, arg=4)
    assert panel_boxes(page) == boxes_while_streaming, "the panels moved or resized"
    stored = stored_generation(server, generation_id)
    assert stored["status"] == "completed"
    assert_shows_stored_result(page, stored)
    assert_previews_render(page, DEFAULT_MODELS)
    assert len(standin.requests) == 4, "a reload never starts the models again"
    assert_no_console_errors(page)


@pytest.mark.e2e
def test_finished_generation_renders_from_storage_on_another_machine(
    daphne, standin, open_page, tmp_path
):
    # Variant 0's first model is gone (a fallback); variant 1 is refused once (a failure).
    standin.unknown_models = {DEFAULT_MODELS[0]}
    standin.add_fault(DEFAULT_MODELS[1], Fault(status=400, message="Scripted refusal."))
    server = serve(daphne)
    small = tmp_path / "small.png"
    small.write_bytes(png_bytes(640, 400, "#c0d6b0"))
    first = open_page(server.base_url)
    first.fill("#instructions", "keep it calm")
    generation_id = upload_and_generate(first, small, "640 \N{MULTIPLICATION SIGN} 400 px")
    stored = wait_for_generation(server, generation_id)
    assert stored["status"] == "partial"
    first.context.close()

    # Another machine: a fresh browser context opens the address.
    page = open_page(server.base_url, f"/g/{generation_id}")
    expect(page.locator(".panel")).to_have_count(4)
    page.wait_for_function(COMPLETED_PANELS, arg=3)
    expect(page.locator("#overall")).to_contain_text("partial")
    expect(page.locator("#source-info")).to_contain_text("640 \N{MULTIPLICATION SIGN} 400 px")
    expect(page.locator("#source-instructions")).to_have_text("keep it calm")
    assert page.evaluate("document.getElementById('source-image').naturalWidth") == 640

    fallback = page.locator('.panel[data-index="0"]')
    expect(fallback.locator(".model")).to_have_text("gpt-4o")
    expect(fallback.locator(".requested")).to_contain_text(f"requested {DEFAULT_MODELS[0]}")
    failed = page.locator('.panel[data-index="1"]')
    expect(failed).to_have_attribute("data-status", "failed")
    expect(failed.locator(".notice")).to_contain_text("bad_request")
    expect(failed.locator(".choose")).to_be_disabled()
    for index in (0, 2, 3):
        panel = page.locator(f'.panel[data-index="{index}"]')
        expect(panel.locator(".meta")).to_contain_text("completion tokens")
        expect(panel.locator(".timer")).to_have_text(SECONDS)
        expect(panel.locator("a", has_text="Open")).to_have_attribute(
            "href", f"/api/generations/{generation_id}/variants/{index}/html"
        )
    for index, model in ((0, "gpt-4o"), (2, DEFAULT_MODELS[2]), (3, DEFAULT_MODELS[3])):
        frame = page.frame_locator(f'.panel[data-index="{index}"] iframe')
        expect(frame.locator("h1")).to_contain_text(f"by {model}")
    texts = code_texts(page)
    for variant in stored["variants"]:
        assert texts[variant["index"]] == variant["text"]

    # "Use this one" stores the choice; another machine sees it. Before, nothing is chosen.
    expect(page.locator('.panel[data-index="0"] .choose')).to_have_text("Use this one")
    assert stored_generation(server, generation_id)["chosen_index"] is None
    page.locator('.panel[data-index="2"] .choose').click()
    expect(page.locator('.panel[data-index="2"] .choose')).to_have_text("Chosen ✓")
    expect(page.locator('.panel[data-index="0"] .choose')).to_have_text("Use this one")
    assert stored_generation(server, generation_id)["model"] == DEFAULT_MODELS[2]
    other = open_page(server.base_url, f"/g/{generation_id}")
    expect(other.locator('.panel[data-index="2"] .choose')).to_have_text("Chosen ✓")

    # Retry re-runs only the failed variant, under the same id.
    page.click("#retry")
    expect(failed).to_have_attribute("data-status", "completed")
    expect(page.locator("#overall")).to_contain_text("completed")
    expect(page.frame_locator('.panel[data-index="1"] iframe').locator("h1")).to_contain_text(
        f"by {DEFAULT_MODELS[1]}"
    )
    assert wait_for_generation(server, generation_id)["status"] == "completed"

    # The history lists it with its thumbnail, status and models.
    page.goto(server.base_url + "/history")
    row = page.locator(f'.history-item[data-id="{generation_id}"]')
    expect(row).to_have_attribute("data-status", "completed")
    expect(row.locator(".history-models")).to_contain_text(DEFAULT_MODELS[1])
    thumb = row.locator("img")
    expect(thumb).to_have_attribute("src", f"/g/{generation_id}/thumbnail")
    page.wait_for_function(  # the stored thumbnail: 320 px wide, not the 640 px screenshot
        "(img) => img.complete && img.naturalWidth === 320", arg=thumb.element_handle()
    )
    row.get_by_role("link", name="Open").click()
    page.wait_for_url(f"**/g/{generation_id}")
    page.wait_for_function(COMPLETED_PANELS, arg=4)

    shot = server.get(f"/g/{generation_id}/screenshot")
    assert shot.status_code == 200
    assert shot.headers["content-type"] == "image/png"
    assert "max-age=31536000" in shot.headers["cache-control"]
    assert server.get("/g/00000000-0000-4000-8000-000000000000/screenshot").status_code == 404
    assert server.get("/g/00000000-0000-4000-8000-000000000000").status_code == 404
    assert_no_console_errors(page)
    assert_no_console_errors(other)


@pytest.mark.e2e
def test_a_file_that_is_not_an_image_is_refused_before_anything_is_sent(
    daphne, standin, open_page, tmp_path
):
    server = serve(daphne)
    page = open_page(server.base_url)
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    fake = tmp_path / "notes.png"
    fake.write_text("These are my notes, not a screenshot.\n")

    page.set_input_files("#image", str(fake))
    message = page.locator("#message")
    expect(message).to_contain_text("not a PNG, JPEG or WebP image")
    expect(message).to_contain_text("nothing was sent")
    expect(page.locator("#image-preview")).to_be_hidden()
    page.click("#generate")
    expect(message).to_contain_text("not a PNG, JPEG or WebP image")
    page.locator("#instructions").press("Control+Enter")
    expect(message).to_contain_text("not a PNG, JPEG or WebP image")

    assert page.url == server.base_url + "/"
    assert sockets == []
    assert standin.requests == []
    assert server.get("/api/generations").json()["data"]["count"] == 0
    assert_no_console_errors(page)


def test_offsets_follow_the_contract(browser):
    """A panel applies chunks by code-point offset: overlaps skipped, gaps refused."""
    result = evaluate_static_module(
        browser,
        """async () => {
              const { VariantPanel } = await import("/static/generations/panel.js");
              const panel = new VariantPanel(0, { demo: false, onChoose() {} });
              document.body.append(panel.root);
              const steps = [];
              const step = (ok) => steps.push([ok, panel.text, panel.length]);
              step(panel.applyChunk(0, "ab"));
              step(panel.applyChunk(1, "bc"));      // overlaps what we hold
              step(panel.applyChunk(0, "a"));       // entirely held already
              step(panel.applyChunk(5, "x"));       // a gap: refused
              step(panel.applyChunk(3, "😀d"));     // one code point, two UTF-16 units
              step(panel.applyChunk(4, "de"));
              panel.syncText("abc😀def");           // a snapshot that extends the text
              step(true);
              panel.syncText("new attempt");        // a snapshot of a restarted variant
              step(true);
              return { steps, shown: panel.codeEl.textContent };
            }""",
    )
    assert result["steps"] == [
        [True, "ab", 2],
        [True, "abc", 3],
        [True, "abc", 3],
        [False, "abc", 3],
        [True, "abc😀d", 5],
        [True, "abc😀de", 6],
        [True, "abc😀def", 7],
        [True, "new attempt", 11],
    ]
    assert result["shown"] == "new attempt"


# ------------------------------------------------------------------- the pages, without a browser
# (secure=True: with debug off the settings redirect plain HTTP to HTTPS.)


@pytest.mark.django_db
def test_history_lists_generations_newest_first(client):
    older = make_generation(created_at=timezone.now() - timedelta(hours=1))
    newer = make_generation(statuses=("completed", "failed", "completed", "completed"))
    response = client.get("/history", secure=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index(str(newer.id)) < html.index(str(older.id))
    assert f'src="/g/{newer.id}/thumbnail"' in html
    assert f'href="/g/{newer.id}"' in html
    assert f'href="/api/generations/{newer.id}"' in html
    assert 'data-status="partial"' in html
    assert DEFAULT_MODELS[1] in html
    assert client.get("/history/", secure=True).status_code == 200


@pytest.mark.django_db
def test_generation_page_carries_what_the_page_needs(client):
    generation = make_generation(statuses=("failed", "completed", "completed", "completed"))
    response = client.get(f"/g/{generation.id}", secure=True)
    assert response.status_code == 200
    assert client.get(f"/g/{generation.id}/", secure=True).status_code == 200
    data = response.context["generation_data"]
    assert data["id"] == str(generation.id)
    assert data["chosen_index"] is None  # until a user chooses
    assert data["screenshot"]["url"] == f"/g/{generation.id}/screenshot"
    assert [v["requested_model"] for v in data["variants"]] == list(DEFAULT_MODELS)
    assert 'id="generation-data" type="application/json"' in response.content.decode()


@pytest.mark.django_db
def test_screenshot_is_served_with_a_long_cache(client):
    generation = make_generation()
    response = client.get(f"/g/{generation.id}/screenshot", secure=True)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "max-age=31536000" in response["Cache-Control"]
    assert response.content == generation.screenshot.open("rb").read()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/g/00000000-0000-4000-8000-000000000000",
        "/g/00000000-0000-4000-8000-000000000000/screenshot",
        "/g/not-a-uuid",
        "/g/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz/screenshot",
    ],
)
def test_unknown_generations_are_404(client, path):
    assert client.get(path, secure=True).status_code == 404


@pytest.mark.django_db
def test_templates_have_no_inline_scripts_or_styles(client):
    generation = make_generation()
    pages = ["/", f"/g/{generation.id}", "/history", "/g/00000000-0000-4000-8000-000000000000"]
    for path in pages:
        html = client.get(path, secure=True).content.decode()
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path
        for attrs in re.findall(r"<script([^>]*)>", html):
            assert "src=" in attrs or 'type="application/json"' in attrs, (path, attrs)
