"""One headless Chromium per process, shared by every render, with untrusted pages locked down.

Playwright drives Debian's Chromium (never a browser it downloads). The browser runs on a thread
of its own with its own event loop, so any caller — a request's event loop, a worker thread, a
management command — submits work and waits for a future, and no caller's loop owns the browser.
It starts on first use, relaunches if it dies, opens at most CLONEGEN_RENDER_CONCURRENCY pages at
once, and closes at exit.

A page is untrusted: it gets JavaScript but no downloads, popups, dialogs, forms, permissions or
service workers, and no network at all: every request is refused except the vendored Tailwind,
which is answered from its file. Its origin is a reserved name no real site has, so it can read
no cookie or storage of clonegen or anything else.

Each of the CONCURRENCY slots keeps its context and page between renders: a fresh context costs
a new renderer process and a cold compile of the 366 KB Tailwind script (0.9 s of CPU per page
here, against 0.2 s reused). Between two renders the slot's page goes to about:blank (nothing of
the last page keeps running) and its origin's cookies and storage are wiped; a slot whose page
failed or timed out is closed, and every slot is replaced after SLOT_USES renders.
"""

import asyncio
import atexit
import concurrent.futures
import functools
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from generations import tailwind

logger = logging.getLogger(__name__)

T = TypeVar("T")

CHROMIUM = Path(os.environ.get("CLONEGEN_CHROMIUM", "/usr/bin/chromium"))
# How clonegen starts Debian's Chromium anywhere (renders here, URL captures in url_capture):
# headless, and none of the background connections this machine's closed network refuses.
BASE_CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHROMIUM_ARGS = [
    *BASE_CHROMIUM_ARGS,
    "--disable-quic",
    # An untrusted page that allocates without end loses its renderer, not the machine.
    "--js-flags=--max-old-space-size=512",
    # WebRTC bypasses request interception and the proxy below: no UDP that is not proxied.
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
]
# Anything that escapes request interception (a preconnect, a socket the router does not see) goes
# to a proxy that does not exist; "<-loopback>" makes loopback go there too instead of direct.
DEAD_PROXY = {"server": "http://127.0.0.1:9", "bypass": "<-loopback>"}
# The page's own address: a reserved name that never resolves, so nothing real is ever its origin.
ORIGIN = "http://render.invalid"
DOCUMENT_URL = f"{ORIGIN}/"
TAILWIND_BASE = f"{ORIGIN}/tailwind/"
# Scripts run, nothing else a sandbox can deny (popups, forms, dialogs, top navigation). The page
# keeps its (fake, private) origin: an opaque one would defeat V8's code cache and cost 0.2 s of
# CPU per page to compile Tailwind again.
DOCUMENT_HEADERS = {"content-security-policy": "sandbox allow-scripts allow-same-origin"}
VIEWPORT = {"width": 1280, "height": 800}
PAGE_TIMEOUT_MS = 15_000
RELAUNCH_AFTER_FAILURE_S = 60.0
SLOT_USES = 100


def render_concurrency() -> int:
    """Return how many pages may render at once (CLONEGEN_RENDER_CONCURRENCY, default 2)."""
    raw = os.environ.get("CLONEGEN_RENDER_CONCURRENCY", "2")
    try:
        value = int(raw)
    except ValueError:
        message = f"CLONEGEN_RENDER_CONCURRENCY must be a whole number, not {raw!r}"
        raise ValueError(message) from None
    if value < 1:
        raise ValueError(f"CLONEGEN_RENDER_CONCURRENCY must be at least 1, not {value}")
    return value


class BrowserUnavailable(RuntimeError):
    """No browser to render with; str() is 'unavailable: <reason>'."""

    def __init__(self, reason: str):
        super().__init__(f"unavailable: {reason}")
        self.reason = reason


class _Slot:
    """One reusable context and page, and the document it serves while a render runs."""

    def __init__(self, browser, context, page):
        self.browser, self.context, self.page = browser, context, page
        self.html: str | None = None
        self.uses = 0
        self.cdp = None

    async def route(self, route) -> None:
        url = route.request.url
        main_frame = route.request.frame == self.page.main_frame
        if url == DOCUMENT_URL and self.html is not None and main_frame:
            await route.fulfill(
                content_type="text/html; charset=utf-8", body=self.html, headers=DOCUMENT_HEADERS
            )
        elif url.removeprefix(TAILWIND_BASE) in (tailwind.PLAIN, tailwind.ALL_PLUGINS):
            await route.fulfill(
                content_type="text/javascript", body=_script(url.removeprefix(TAILWIND_BASE))
            )
        else:
            await route.abort("blockedbyclient")


@functools.cache
def _script(name: str) -> bytes:
    return tailwind.vendored_path(name).read_bytes()


class SharedBrowser:
    """A lazily started Chromium on a private event loop thread; see the module docstring."""

    def __init__(self, executable: Path = CHROMIUM, concurrency: int | None = None):
        self.executable = executable
        self.concurrency = concurrency or render_concurrency()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._launching: asyncio.Lock | None = None
        self._playwright = None
        self._browser = None
        self._failure: tuple[str, float] | None = None
        self._idle: list[_Slot] = []
        self.launches = 0  # how many times Chromium was started: 1 while it stays healthy

    # -- what callers use -------------------------------------------------------------------

    def status(self) -> str:
        """Return 'ready', 'idle' (not started yet) or 'unavailable: <reason>'."""
        if not self.executable.exists():
            return f"unavailable: {self._missing()}"
        if self._failure:
            return f"unavailable: {self._failure[0]}"
        return "ready" if self._browser is not None and self._browser.is_connected() else "idle"

    def submit(
        self, html: str, job: Callable[[Any], Awaitable[T]], time_limit: float = 30.0
    ) -> concurrent.futures.Future[T]:
        """Load `html` in a locked-down page, run `await job(page)` there; a future of its result.

        The future raises BrowserUnavailable when there is no browser, TimeoutError when the page
        and job take longer than `time_limit` seconds. Safe from any thread or event loop; wait with
        `.result()` or `await asyncio.wrap_future(future)`.
        """
        loop = self._ensure_loop()
        return asyncio.run_coroutine_threadsafe(self._run(html, job, time_limit), loop)

    def close(self) -> None:
        """Close the browser and stop its thread; the next submit starts them again."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=15)
        except Exception:  # closing must not fail a shutdown
            logger.exception("closing the shared browser failed")
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=15)

    # -- the browser's own thread -----------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    self._semaphore = asyncio.Semaphore(self.concurrency)
                    self._launching = asyncio.Lock()
                    loop.call_soon(ready.set)
                    loop.run_forever()
                    loop.close()

                thread = threading.Thread(target=serve, name="clonegen-browser", daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def _missing(self) -> str:
        return f"no Chromium at {self.executable} (apt-get install chromium)"

    async def _ensure_browser(self):
        async with self._launching:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if not self.executable.exists():
                raise BrowserUnavailable(self._missing())
            if self._failure and time.monotonic() - self._failure[1] < RELAUNCH_AFTER_FAILURE_S:
                raise BrowserUnavailable(self._failure[0])
            try:
                await self._launch()
            except Exception as error:
                first_line = str(error).splitlines()[0] if str(error) else repr(error)
                reason = f"Chromium did not start: {first_line}"
                self._failure = (reason, time.monotonic())
                logger.warning("shared browser %s", reason)
                await self._shutdown()
                raise BrowserUnavailable(reason) from error
            self._failure = None
            return self._browser

    async def _launch(self) -> None:
        try:
            from playwright.async_api import async_playwright
        except ImportError as error:
            raise RuntimeError("the playwright package is not installed") from error
        await self._shutdown()
        self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.launch(
            executable_path=str(self.executable),
            args=CHROMIUM_ARGS,
            proxy=DEAD_PROXY,
            handle_sigint=False,
            handle_sigterm=False,
            handle_sighup=False,
        )
        self.launches += 1
        logger.info("shared browser started: Chromium %s", self._browser.version)

    async def _shutdown(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        self._idle.clear()  # their contexts close with the browser
        if browser is not None:
            try:
                await browser.close()
            except Exception:  # already gone: nothing left to close
                logger.debug("browser close failed", exc_info=True)
        if playwright is not None:
            await playwright.stop()

    async def _run(self, html: str, job: Callable[[Any], Awaitable[T]], time_limit: float) -> T:
        # The clock starts once a slot is free: waiting behind other renders is not this page's.
        async with self._semaphore:
            slot = await self._take_slot()
            healthy = False
            try:
                async with asyncio.timeout(time_limit):
                    slot.html = tailwind.use_vendored_tailwind(html, base_url=TAILWIND_BASE)
                    await slot.page.goto(DOCUMENT_URL, wait_until="load")
                    result = await job(slot.page)
                healthy = True
                return result
            finally:
                await self._give_back(slot, healthy)

    async def _take_slot(self) -> "_Slot":
        browser = await self._ensure_browser()
        while self._idle:
            slot = self._idle.pop()
            if slot.browser is browser:
                return slot
        context = await browser.new_context(
            viewport=VIEWPORT,
            accept_downloads=False,
            service_workers="block",
            java_script_enabled=True,
            permissions=[],
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        slot = _Slot(browser, context, await context.new_page())
        await context.route("**/*", slot.route)
        # WebSockets are not requests to the router: answer each from here and close it at once.
        await context.route_web_socket("**/*", lambda socket: socket.close())
        slot.page.on("popup", self._close_popup)
        slot.cdp = await context.new_cdp_session(slot.page)
        return slot

    async def _give_back(self, slot: "_Slot", healthy: bool) -> None:
        """Blank and wipe a slot for the next page, or close it if it failed or is worn."""
        slot.html, slot.uses = None, slot.uses + 1
        try:
            if healthy and slot.uses < SLOT_USES and slot.browser.is_connected():
                async with asyncio.timeout(5):
                    await slot.page.goto("about:blank")
                    await slot.cdp.send(
                        "Storage.clearDataForOrigin", {"origin": ORIGIN, "storageTypes": "all"}
                    )
                    await slot.context.clear_cookies()
                self._idle.append(slot)
                return
        except Exception:  # a page that will not blank is closed below like a failed one
            logger.debug("blanking a render slot failed", exc_info=True)
        try:
            async with asyncio.timeout(10):
                await slot.context.close()
        except Exception:  # already gone with its browser
            logger.debug("closing a render slot failed", exc_info=True)

    async def _close_popup(self, popup) -> None:
        await popup.close()


_shared = SharedBrowser()
atexit.register(_shared.close)


def shared_browser() -> SharedBrowser:
    """Return this process's browser (not started until something renders)."""
    return _shared
