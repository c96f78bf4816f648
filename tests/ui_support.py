"""Helpers for the browser tests: system Chromium, main-frame console errors, a cuttable proxy."""

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
# `make test` installs it where it can (as root with apt-get); elsewhere browser tests skip.
MISSING_CHROMIUM = "needs Debian's chromium at /usr/bin/chromium (make test installs it as root)"
ARTIFACTS = REPO / "test-artifacts"
# Predicates are functions, never bare expressions: Playwright evaluates a bare expression with
# eval(), which the app's Content-Security-Policy (rightly) forbids.
# Records every status each panel shows, so a test can tell it streamed before it finished.
STATUS_RECORDER = """
window.__statuses = {};
new MutationObserver((records) => {
  for (const r of records) {
    const el = r.target;
    if (!el.classList || !el.classList.contains('panel')) continue;
    const log = (window.__statuses[el.dataset.index] ??= []);
    if (log[log.length - 1] !== el.dataset.status) log.push(el.dataset.status);
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-status']});
"""
COMPLETED_PANELS = "(n) => document.querySelectorAll('.panel[data-status=completed]').length === n"


@contextlib.contextmanager
def launched_chromium():
    """Headless system Chromium through Playwright (which never downloads a browser here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def upload_and_generate(page, path, size: str = "1280 \N{MULTIPLICATION SIGN} 800 px") -> str:
    """Choose the screenshot, press Generate, and return the new generation's id."""
    from playwright.sync_api import expect

    page.set_input_files("#image", str(path))
    expect(page.locator("#image-preview")).to_be_visible()
    expect(page.locator("#image-info")).to_contain_text(size)
    page.click("#generate")
    page.wait_for_url("**/g/*")
    return page.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class ConsoleErrors:
    """Errors the app itself logs: its main frame's console and uncaught exceptions.

    Generated pages run in sandboxed iframes and load Tailwind from a CDN this sandbox cannot
    reach; their errors are not the app's, so only messages from the app's origin count.
    """

    origin: str
    errors: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if url.startswith(self.origin):
            self.errors.append(f"{message.text} ({url})")


class CuttableProxy:
    """A TCP forwarder in front of daphne that can drop every live connection on demand.

    `cut()` resets every open connection (the browser sees its WebSocket die with no close
    frame, exactly like a lost network) and refuses new ones until `restore()`.
    """

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.refusing = threading.Event()
        self.lock = threading.Lock()
        self.live: set[socket.socket] = set()
        self.connections_cut = 0
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True, name="cuttable-proxy")
        self.thread.start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refusing.is_set():
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                _reset(client)
                continue
            with self.lock:
                self.live.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
            with self.lock:
                self.live.discard(source)
            _close(source)

    def cut(self) -> None:
        """Drop every connection now (TCP reset, no WebSocket close frame); refuse new ones."""
        self.refusing.set()
        with self.lock:
            doomed = list(self.live)
            self.live.clear()
        self.connections_cut += len(doomed)
        for sock in doomed:
            _reset(sock)

    def restore(self) -> None:
        self.refusing.clear()

    def close(self) -> None:
        self.closed = True
        self.cut()
        _close(self.listener)


def _reset(sock: socket.socket) -> None:
    # SO_LINGER 0: close() sends a RST instead of a FIN, like a network that went away.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def save_screenshot(page, name: str):
    """Write the page's screenshot to test-artifacts/ (git-ignored) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), animations="disabled")
    return path


def evaluate_static_module(browser, script: str):
    """Run `script` (an async JS function) in a blank page at http://clonegen.test/ that serves
    the app's static files and nothing else: a page module tested alone, with no server."""
    static = REPO / "generations" / "static"

    def serve(route):
        path = route.request.url.split("clonegen.test", 1)[1]
        if path.startswith("/static/"):
            route.fulfill(
                path=static / path.removeprefix("/static/"), content_type="text/javascript"
            )
        else:
            route.fulfill(body="<!doctype html><title>t</title>", content_type="text/html")

    context = browser.new_context()
    try:
        page = context.new_page()
        page.route("http://clonegen.test/**", serve)
        page.goto("http://clonegen.test/")
        return page.evaluate(script)
    finally:
        context.close()
