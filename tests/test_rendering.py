"""Server renders: the shared locked-down browser, offline Tailwind, the PNG and its text boxes."""

import asyncio
import io
import socket
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from generations.browser import BrowserUnavailable, SharedBrowser
from generations.rendering import HEIGHT_CAP, THUMBNAIL_WIDTH, render_page
from tests.ui_support import CHROMIUM, MISSING_CHROMIUM

CDN_PAGE = """<!doctype html><html><head><script src="https://cdn.tailwindcss.com"></script></head>
<body class="m-0"><div id="box" class="bg-blue-600 w-64 h-32 p-4 text-white">Styled</div></body>
</html>"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(MISSING_CHROMIUM)
    shared = SharedBrowser(concurrency=2)
    yield shared
    shared.close()


def run(browser: SharedBrowser, html: str, script: str, arg=None, time_limit: float = 30.0):
    """Load `html` like a render does and return what `script` evaluates to in the page."""

    async def job(page):
        return await page.evaluate(script, arg)

    return browser.submit(html, job, time_limit=time_limit).result()


@pytest.mark.ui
def test_a_page_with_the_cdn_tag_renders_styled_with_no_network(browser):
    script = "getComputedStyle(document.getElementById('box')).backgroundColor"
    colour = run(browser, CDN_PAGE, script)
    assert colour == "rgb(37, 99, 235)"  # Tailwind v3's blue-600, as on the real CDN
    render = render_page(CDN_PAGE, browser)
    with Image.open(io.BytesIO(render.png)) as image:
        assert image.convert("RGB").getpixel((200, 100)) == (37, 99, 235)


@pytest.mark.ui
def test_a_page_asking_for_plugins_gets_them(browser):
    page = CDN_PAGE.replace("cdn.tailwindcss.com", "cdn.tailwindcss.com?plugins=forms,typography")
    page = page.replace("</body>", '<input id="field" class="form-input"></body>')
    # @tailwindcss/forms gives a form-input the gray-500 border; plain Tailwind has no such class.
    border = run(browser, page, "getComputedStyle(document.getElementById('field')).borderTopColor")
    assert border == "rgb(107, 114, 128)"


class CountingListener:
    """A loopback TCP listener that counts every connection made to it."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()

    def close(self):
        self.socket.close()


@pytest.mark.ui
def test_an_untrusted_page_reaches_nothing_and_has_no_origin(browser):
    listener = CountingListener()
    here = f"127.0.0.1:{listener.port}"
    page = f"""<!doctype html><html><head>
      <link rel="preconnect" href="http://{here}"><link rel="stylesheet" href="http://{here}/s.css">
      <script src="http://{here}/s.js"></script></head><body>
      <img src="http://{here}/i.png"><iframe src="http://{here}/frame"></iframe>
      <img src="https://example.com/i.png">
      <script>
        window.attempts = Promise.allSettled([
          fetch("http://{here}/fetch"),
          fetch("https://example.com/"),
          new Promise((resolve) => {{
            const socket = new WebSocket("ws://{here}/ws/generations/");
            socket.onclose = socket.onerror = resolve;
          }}),
        ]).then((results) => results.map((result) => result.status));
        navigator.sendBeacon("http://{here}/beacon", "x");
        window.open("http://{here}/popup");
      </script></body></html>"""
    try:
        found = run(
            browser,
            page,
            """async () => ({
                attempts: await window.attempts,
                origin: self.origin,
                cookie: (() => { try { return document.cookie; } catch (e) { return e.name; } })(),
            })""",
        )
    finally:
        listener.close()
    assert found["attempts"][:2] == ["rejected", "rejected"]
    assert found["origin"] == "http://render.invalid"  # a reserved name: no real site's cookies
    assert found["cookie"] == ""
    assert listener.connections == 0


@pytest.mark.ui
def test_nothing_a_page_stores_is_there_for_the_next_one(browser):
    store = """<script>
      localStorage.setItem("left", "behind"); sessionStorage.setItem("left", "behind");
      document.cookie = "left=behind; max-age=3600";
      indexedDB.open("left", 1);
    </script>"""
    read = """async () => ({
        local: localStorage.length, session: sessionStorage.length, cookie: document.cookie,
        databases: (await indexedDB.databases()).length,
    })"""
    for _ in range(2 * browser.concurrency):  # every slot has held a storing page
        assert run(browser, store, "document.cookie") == "left=behind"
    found = run(browser, "<p>next</p>", read)
    assert found == {"local": 0, "session": 0, "cookie": "", "databases": 0}


@pytest.mark.ui
def test_the_render_is_the_full_page_up_to_the_cap_with_a_thumbnail(browser):
    tall = CDN_PAGE.replace("h-32", "h-[12000px]")
    render = render_page(tall, browser)
    assert (render.width, render.height) == (1280, HEIGHT_CAP)
    assert render.page_height >= 12000
    with Image.open(io.BytesIO(render.thumbnail)) as thumbnail:
        assert thumbnail.size == (THUMBNAIL_WIDTH, THUMBNAIL_WIDTH * 3 // 4)
    short = render_page("<p>short</p>", browser)
    assert (short.width, short.height) == (1280, 800)  # at least the viewport


@pytest.mark.ui
def test_text_boxes_are_the_visible_lines_of_text(browser):
    page = """<!doctype html><body style="margin:0;font:20px/30px sans-serif">
      <p style="position:absolute;left:100px;top:2000px;margin:0">Far down the page</p>
      <p style="display:none">hidden</p><p style="visibility:hidden">invisible</p>
      <p style="opacity:0">transparent</p><p style="color:rgba(0,0,0,0)">clear</p>
      <div style="height:3000px"></div></body>"""
    boxes = render_page(page, browser).text_boxes
    assert len(boxes) == 1
    x, y, width, height = boxes[0]
    assert (x, y) == (100, pytest.approx(2000, abs=8))
    assert 100 < width < 300
    assert 15 < height <= 30


@pytest.mark.ui
def test_one_browser_serves_every_render_a_bounded_number_at_a_time(browser):
    launches = browser.launches or 1
    render_page(CDN_PAGE, browser)
    active = {"now": 0, "most": 0}

    async def job(page):
        active["now"] += 1
        active["most"] = max(active["most"], active["now"])
        await page.evaluate("new Promise(r => requestAnimationFrame(r))")
        active["now"] -= 1

    futures = [browser.submit(CDN_PAGE, job) for _ in range(5)]
    for future in futures:
        future.result()
    assert active["most"] <= browser.concurrency == 2
    assert browser.launches == launches
    assert browser.status() == "ready"


@pytest.mark.ui
def test_a_page_that_never_settles_times_out_and_the_browser_carries_on(browser):
    with pytest.raises(TimeoutError):
        render_page("<script>while (true) {}</script>", browser, time_limit=3)
    assert render_page(CDN_PAGE, browser).width == 1280


@pytest.mark.ui
def test_a_closed_browser_starts_again_on_the_next_render():
    if not CHROMIUM.exists():
        pytest.skip(MISSING_CHROMIUM)
    browser = SharedBrowser(concurrency=1)
    try:
        assert browser.status() == "idle"
        render_page("<p>one</p>", browser)
        browser.close()
        assert render_page("<p>two</p>", browser).width == 1280
        assert browser.launches == 2
    finally:
        browser.close()


def test_without_chromium_rendering_is_unavailable_with_a_reason():
    browser = SharedBrowser(executable=Path("/nonexistent/chromium"), concurrency=1)
    try:
        assert browser.status() == (
            "unavailable: no Chromium at /nonexistent/chromium (apt-get install chromium)"
        )
        with pytest.raises(BrowserUnavailable, match=r"^unavailable: no Chromium at"):
            render_page("<p>x</p>", browser)
    finally:
        browser.close()


@pytest.mark.ui
async def test_a_variant_is_rendered_and_scored_from_an_event_loop(browser):
    from generations.evaluation import aevaluate

    screenshot = render_page(CDN_PAGE, browser).png
    loop_thread = threading.get_ident()
    seen = {}

    async def where(page):
        seen["job"] = threading.get_ident()

    await asyncio.wrap_future(browser.submit(CDN_PAGE, where))
    result = await aevaluate(CDN_PAGE, screenshot, browser)
    assert seen["job"] != loop_thread  # the browser works on its own thread, not this loop's
    assert result.score["visual"] >= 0.99
    assert result.render.text_boxes


@pytest.mark.ui
def test_a_browser_that_died_is_started_again(browser):
    render_page(CDN_PAGE, browser)
    launches = browser.launches
    # What a crash looks like from here: the connection to Chromium is gone.
    asyncio.run_coroutine_threadsafe(browser._browser.close(), browser._loop).result()
    assert render_page(CDN_PAGE, browser).width == 1280
    assert browser.launches == launches + 1


CHILDREN_AFTER_A_RENDER = """
import os, sys
from pathlib import Path
sys.path.insert(0, os.getcwd())
from generations.rendering import render_page
render_page("<p>then exit</p>")
def children(pid):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
            if parent == pid:
                found += [int(entry.name), *children(int(entry.name))]
    return found
print(" ".join(str(pid) for pid in children(os.getpid())))
"""


@pytest.mark.ui
def test_the_browser_closes_when_the_process_exits():
    if not CHROMIUM.exists():
        pytest.skip(MISSING_CHROMIUM)
    import subprocess
    import sys

    from tests.support import REPO

    result = subprocess.run(
        [sys.executable, "-c", CHILDREN_AFTER_A_RENDER],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    pids = [int(pid) for pid in result.stdout.split()]
    assert pids  # the driver and Chromium were running

    def alive() -> list[int]:
        running = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                running.append(pid)
        return running

    # Chromium's helpers exit just after its browser process, which the exit waited for.
    deadline = time.monotonic() + 5
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive() == []
