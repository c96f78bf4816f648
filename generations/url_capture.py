"""Capture a web page a user named by URL as a PNG screenshot, behind the SSRF guard.

`capture_url` checks the URL (nothing is dialled for a refused one), takes one of a few capture
slots, and loads the page in a fresh headless Chromium context whose only network is
`GuardedProxy`: every request, redirect hop, tunnel and preconnect of the page is checked
against the same address rule as the URL itself.

The browser comes from a page opener, `open_page(**context_options)`: an async context manager
yielding a fresh page in a fresh context built with Playwright's `new_context` options, closed on
exit. `launch_page` starts a Chromium per capture; a shared process-wide browser can take its
place without touching anything else here.
"""

import asyncio
import contextlib
import math
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from generations import browser
from generations.errors import CAPTURE_BUSY, URL_FORBIDDEN, URL_UNREACHABLE, AppError
from generations.url_guard import UrlGuard
from generations.url_proxy import GuardedProxy

CHROMIUM = str(browser.CHROMIUM)
CHROMIUM_FLAGS = [
    *browser.BASE_CHROMIUM_ARGS,
    # WebRTC's UDP would bypass the proxy (and so the guard); keep it to proxied TCP.
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
]
CAPTURE_WIDTH = 1280
VIEWPORT_HEIGHT = 800
# Beyond the page's own time limit: enough to take a screenshot of a page that already loaded.
SCREENSHOT_SECONDS = 10
# What one capture may download in all (pages, images, fonts, scripts). A real page is a few
# MiB; this stops a URL that streams endlessly from filling memory.
MAX_CAPTURE_BYTES = 64 * 1024 * 1024
# Pages read the WebRTC constructors directly; removing them closes the last path that could
# reach a network without the proxy.
_NO_WEBRTC = """
for (const name of ["RTCPeerConnection", "webkitRTCPeerConnection", "RTCDataChannel"]) {
  try { delete window[name]; } catch (e) {}
}
"""
_PAGE_HEIGHT = """() => Math.max(
  document.documentElement ? document.documentElement.scrollHeight : 0,
  document.body ? document.body.scrollHeight : 0)"""

PageOpener = Callable[..., AbstractAsyncContextManager]


@dataclass(frozen=True)
class CaptureLimits:
    timeout_seconds: float = 20.0
    max_height: int = 4096
    max_bytes: int = MAX_CAPTURE_BYTES

    @classmethod
    def from_settings(cls) -> "CaptureLimits":
        from django.conf import settings

        return cls(
            timeout_seconds=settings.CLONEGEN_URL_TIMEOUT_SECONDS,
            max_height=settings.CLONEGEN_URL_MAX_PAGE_HEIGHT,
        )


@dataclass(frozen=True)
class Capture:
    """A captured page: PNG bytes `width` x `height`; `cut` when the page was taller."""

    png: bytes
    width: int
    height: int
    cut: bool
    page_height: int
    final_url: str


class CaptureSlots:
    """At most `limit` captures run at once; `queue` more wait their turn; any beyond that are
    refused at once with a busy answer (code `rate_limited`, with `retry_after`)."""

    def __init__(self, *, limit: int, queue: int, retry_after: int):
        self.limit = max(1, limit)
        self.queue = max(0, queue)
        self.retry_after = retry_after
        self.running = 0
        self._waiting: deque[asyncio.Future] = deque()

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        await self._acquire()
        try:
            yield
        finally:
            self._release()

    async def _acquire(self) -> None:
        if self.running < self.limit and not self._waiting:
            self.running += 1
            return
        if len(self._waiting) >= self.queue:
            raise AppError(CAPTURE_BUSY, retry_after=self.retry_after)
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn  # a finishing capture hands its slot over: `running` stays the same
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # handed a slot while being cancelled: pass it on
            else:
                self._waiting.remove(turn)
            raise

    def _release(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.running -= 1


_slots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CaptureSlots]" = (
    weakref.WeakKeyDictionary()
)


def process_slots() -> CaptureSlots:
    """This process's capture slots (one set per event loop: daphne runs one)."""
    from django.conf import settings

    loop = asyncio.get_running_loop()
    if loop not in _slots:
        _slots[loop] = CaptureSlots(
            limit=settings.CLONEGEN_URL_CAPTURE_CONCURRENCY,
            queue=settings.CLONEGEN_URL_CAPTURE_QUEUE,
            retry_after=math.ceil(settings.CLONEGEN_URL_TIMEOUT_SECONDS),
        )
    return _slots[loop]


@asynccontextmanager
async def launch_page(**context_options) -> AsyncIterator:
    """A page in its own Chromium, started for this capture and closed after it."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            context = await browser.new_context(**context_options)
            yield await context.new_page()
        finally:
            await browser.close()


def context_options(proxy: GuardedProxy) -> dict:
    """Playwright `new_context` options for a capture: 1280 px wide, no downloads, no service
    workers, no permissions granted, and the guarded proxy as the only network."""
    return {
        "viewport": {"width": CAPTURE_WIDTH, "height": VIEWPORT_HEIGHT},
        "device_scale_factor": 1,
        "accept_downloads": False,
        "service_workers": "block",
        "permissions": [],
        "proxy": proxy.playwright_proxy,
    }


async def capture_url(
    url: str,
    *,
    guard: UrlGuard | None = None,
    limits: CaptureLimits | None = None,
    open_page: PageOpener = launch_page,
    slots: CaptureSlots | None = None,
) -> Capture:
    """Return a PNG capture of the page at `url`, 1280 px wide, at most `max_height` tall.

    Raises AppError: `invalid_url`, `url_forbidden` (the URL, or the page's own address after
    redirects), `url_unreachable` (no answer, an HTTP error status, or not loaded within the
    time limit), `rate_limited` (every capture slot and queue place is taken). A refused URL
    is refused before anything connects anywhere.
    """
    guard = guard or UrlGuard.from_settings()
    limits = limits or CaptureLimits.from_settings()
    target = await guard.check_url(url)
    async with (slots or process_slots()).hold():
        proxy = GuardedProxy(
            guard, max_bytes=limits.max_bytes, connect_timeout=limits.timeout_seconds
        )
        async with proxy:
            try:
                async with asyncio.timeout(limits.timeout_seconds + SCREENSHOT_SECONDS):
                    async with open_page(**context_options(proxy)) as page:
                        return await _capture(page, target.url, limits, proxy)
            except TimeoutError as exc:
                raise AppError(URL_UNREACHABLE, _too_slow(limits)) from exc


async def _capture(page, url: str, limits: CaptureLimits, proxy: GuardedProxy) -> Capture:
    from playwright.async_api import Error as PlaywrightError

    deadline = time.monotonic() + limits.timeout_seconds
    await _load(page, url, limits, proxy)
    with contextlib.suppress(PlaywrightError):  # still busy at the limit: take what is there
        await page.wait_for_load_state(
            "networkidle", timeout=max(0.0, deadline - time.monotonic()) * 1000
        )
    try:
        return await _screenshot(page, limits)
    except PlaywrightError as exc:  # the page crashed or navigated away meanwhile
        reason = _first_line(exc)
        raise AppError(URL_UNREACHABLE, f"The page could not be captured: {reason}") from exc


async def _load(page, url: str, limits: CaptureLimits, proxy: GuardedProxy) -> None:
    """Navigate to `url` until DOMContentLoaded; raise url_forbidden or url_unreachable."""
    from playwright.async_api import Error as PlaywrightError

    await page.add_init_script(_NO_WEBRTC)
    navigations: list[str] = []
    page.on("request", lambda r: _note_navigation(page, r, navigations))
    try:
        response = await page.goto(
            url, wait_until="domcontentloaded", timeout=limits.timeout_seconds * 1000
        )
    except PlaywrightError as exc:
        _raise_if_stopped_by_proxy(navigations, proxy)
        raise _load_failure(exc, limits) from exc
    _raise_if_stopped_by_proxy(navigations, proxy)
    if response is not None and response.status >= 400:
        raise AppError(URL_UNREACHABLE, f"The page answered HTTP {response.status}.")


def _load_failure(exc: Exception, limits: CaptureLimits) -> AppError:
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    if isinstance(exc, PlaywrightTimeout):
        return AppError(URL_UNREACHABLE, _too_slow(limits))
    if "Download is starting" in str(exc):
        return AppError(URL_UNREACHABLE, "The URL is a download, not a page.")
    return AppError(URL_UNREACHABLE, f"The page could not be loaded: {_first_line(exc)}")


async def _screenshot(page, limits: CaptureLimits) -> Capture:
    page_height = max(1, int(await page.evaluate(_PAGE_HEIGHT)))
    height = min(page_height, limits.max_height)
    png = await page.screenshot(
        type="png",
        full_page=True,
        clip={"x": 0, "y": 0, "width": CAPTURE_WIDTH, "height": height},
        animations="disabled",
        timeout=SCREENSHOT_SECONDS * 1000,
    )
    return Capture(
        png=png,
        width=CAPTURE_WIDTH,
        height=height,
        cut=page_height > limits.max_height,
        page_height=page_height,
        final_url=page.url,
    )


def _note_navigation(page, request, navigations: list[str]) -> None:
    if request.is_navigation_request() and request.frame == page.main_frame:
        navigations.append(request.url)


def _raise_if_stopped_by_proxy(navigations: list[str], proxy: GuardedProxy) -> None:
    """The main frame's latest navigation (the URL or its last redirect hop) was refused or
    found unreachable by the proxy: say so, rather than show the proxy's own answer."""
    if not navigations:
        return
    parts = urlsplit(navigations[-1])
    if not parts.hostname:
        return
    key = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    if key in proxy.log.refused:
        raise AppError(URL_FORBIDDEN, proxy.log.refused[key])
    if key in proxy.log.unreachable:
        raise AppError(URL_UNREACHABLE, proxy.log.unreachable[key])


def _too_slow(limits: CaptureLimits) -> str:
    return f"The page did not load within {limits.timeout_seconds:g} seconds."


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
