"""Capturing a page by URL: local pages on loopback, every refusal, limits. Loopback only."""

import asyncio
import io
import socket
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from PIL import Image

from generations.errors import AppError
from generations.url_capture import CaptureLimits, CaptureSlots, capture_url
from generations.url_guard import UrlGuard, default_policy

needs_chromium = pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (make test installs it as root)",
)
LIMITS = CaptureLimits(timeout_seconds=10, max_height=3000)


class Site:
    """An aiohttp site on 127.0.0.1 that records every request it gets."""

    def __init__(self, routes: dict):
        self.routes = routes
        self.requests: list[str] = []
        self.port = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        answer = self.routes.get(request.path)
        if answer is None:
            raise web.HTTPNotFound()
        return await answer(request) if callable(answer) else answer

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@asynccontextmanager
async def serve(routes: dict):
    site = Site(routes)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", site.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    site.port = runner.addresses[0][1]
    try:
        yield site
    finally:
        await runner.cleanup()


def page(body: str, style: str = "") -> web.Response:
    html = f"<!DOCTYPE html><html><head><style>html,body{{margin:0}}{style}</style></head>"
    return web.Response(text=f"{html}<body>{body}</body></html>", content_type="text/html")


def redirect(location: str):
    async def answer(request):
        raise web.HTTPFound(location)

    return answer


def private_allowed() -> UrlGuard:
    return UrlGuard(policy=default_policy(allow_private=True))


def only_ports(*ports: int) -> UrlGuard:
    """Loopback allowed on the given ports only: stands in for "public" vs "forbidden" hosts."""
    return UrlGuard(policy=lambda address, port: address.is_loopback and port in ports)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def capture_error(url, **kwargs) -> AppError:
    kwargs.setdefault("limits", LIMITS)
    kwargs.setdefault("slots", CaptureSlots(limit=2, queue=2, retry_after=1))
    with pytest.raises(AppError) as caught:
        await capture_url(url, **kwargs)
    return caught.value


def pixel(png: bytes, x: int, y: int) -> tuple:
    return Image.open(io.BytesIO(png)).convert("RGB").getpixel((x, y))


@needs_chromium
async def test_a_local_page_is_captured_with_the_private_flag_on():
    red_then_blue = page(
        '<div style="height:600px;background:#ff0000"></div>'
        '<div style="height:900px;background:#0000ff"></div>'
    )
    async with serve({"/": red_then_blue}) as site:
        capture = await capture_url(
            f"{site.base}/",
            guard=private_allowed(),
            limits=LIMITS,
            slots=CaptureSlots(limit=1, queue=0, retry_after=1),
        )
    image = Image.open(io.BytesIO(capture.png))
    assert image.format == "PNG"
    assert image.size == (1280, 1500) == (capture.width, capture.height)
    assert not capture.cut
    assert pixel(capture.png, 640, 300) == (255, 0, 0)
    assert pixel(capture.png, 640, 1400) == (0, 0, 255)  # below the 800 px viewport: full page


@needs_chromium
async def test_a_page_taller_than_the_cap_is_cut_and_says_so():
    async with serve({"/": page('<div style="height:5000px;background:#00ff00"></div>')}) as site:
        capture = await capture_url(
            f"{site.base}/",
            guard=private_allowed(),
            limits=CaptureLimits(timeout_seconds=10, max_height=1200),
            slots=CaptureSlots(limit=1, queue=0, retry_after=1),
        )
    assert (capture.width, capture.height, capture.page_height) == (1280, 1200, 5000)
    assert capture.cut
    assert Image.open(io.BytesIO(capture.png)).size == (1280, 1200)
    assert pixel(capture.png, 10, 1190) == (0, 255, 0)


@pytest.mark.parametrize(
    "spelling",
    ["localhost", "[::1]", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.0.0.1"],
)
async def test_loopback_spellings_are_refused_before_any_connection(spelling):
    async with serve({"/": page("secret")}) as site:

        @asynccontextmanager
        async def no_browser(**options):
            raise AssertionError("a browser was opened for a refused URL")
            yield

        error = await capture_error(
            f"http://{spelling}:{site.port}/",
            guard=UrlGuard(policy=default_policy(allow_private=False)),
            open_page=no_browser,
        )
        assert error.code == "url_forbidden"
        assert site.requests == []


@needs_chromium
async def test_a_subresource_on_a_forbidden_host_is_never_requested():
    async with serve({"/secret.png": web.Response(body=b"x")}) as inner:
        public = {
            "/": page(
                f'<div style="height:300px;background:#ff0000"></div>'
                f'<img src="http://127.0.0.1:{inner.port}/secret.png">'
                f'<img src="http://localhost:{inner.port}/secret.png?2">'
                f"<script>fetch('http://[::1]:{inner.port}/secret.png?3').catch(() => {{}});"
                f"fetch('http://127.1:{inner.port}/secret.png?4').catch(() => {{}});</script>"
            )
        }
        async with serve(public) as site:
            capture = await capture_url(
                f"{site.base}/",
                guard=only_ports(site.port),
                limits=LIMITS,
                slots=CaptureSlots(limit=1, queue=0, retry_after=1),
            )
        assert pixel(capture.png, 640, 100) == (255, 0, 0)
        assert site.requests[0] == "/"
        assert inner.requests == []


@asynccontextmanager
async def counting_listener():
    """A loopback port that counts every TCP connection made to it (and answers none)."""
    connections = []

    async def accept(reader, writer):
        connections.append(writer.get_extra_info("peername"))
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    server.port = server.sockets[0].getsockname()[1]
    server.connections = connections
    try:
        yield server
    finally:
        server.close()
        await server.wait_closed()


@needs_chromium
async def test_no_other_way_out_of_the_page_reaches_a_forbidden_port():
    async with counting_listener() as inner:
        forbidden = f"127.0.0.1:{inner.port}"
        vectors = (
            f'<link rel="preconnect" href="http://{forbidden}">'
            f'<link rel="dns-prefetch" href="http://{forbidden}">'
            f'<link rel="stylesheet" href="http://{forbidden}/a.css">'
            f'<div style="height:50px;background:url(http://{forbidden}/bg.png)"></div>'
            f'<iframe src="http://{forbidden}/frame"></iframe>'
            f'<img src="/bounce">'
            "<script>"
            f"try {{ new WebSocket('ws://{forbidden}/ws'); }} catch (e) {{}}"
            f"try {{ new EventSource('http://{forbidden}/events'); }} catch (e) {{}}"
            f"navigator.sendBeacon('http://{forbidden}/beacon', 'x');"
            f"new Image().src = 'http://localhost:{inner.port}/i';"
            "</script>"
        )
        routes = {"/": page(vectors), "/bounce": redirect(f"http://{forbidden}/img.png")}
        async with serve(routes) as site:
            await capture_url(
                f"{site.base}/",
                guard=only_ports(site.port),
                limits=LIMITS,
                slots=CaptureSlots(limit=1, queue=0, retry_after=1),
            )
        assert "/bounce" in site.requests
        assert inner.connections == []


@needs_chromium
async def test_a_redirect_to_a_forbidden_host_is_refused():
    async with serve({"/": page("secret")}) as inner:
        redirects = {
            "/go": redirect(f"http://127.0.0.1:{inner.port}/"),
            "/hop": redirect("/go"),
        }
        async with serve(redirects) as site:
            for path in ("/go", "/hop"):
                error = await capture_error(f"{site.base}{path}", guard=only_ports(site.port))
                assert error.code == "url_forbidden", error.message
        assert inner.requests == []


@needs_chromium
async def test_a_redirect_inside_allowed_hosts_is_followed():
    async with (
        serve({"/": page("", "body{background:#0000ff}")}) as target,
        serve({"/go": redirect(f"{target.base}/")}) as site,
    ):
        capture = await capture_url(
            f"{site.base}/go",
            guard=only_ports(site.port, target.port),
            limits=LIMITS,
            slots=CaptureSlots(limit=1, queue=0, retry_after=1),
        )
    assert capture.final_url == f"{target.base}/"
    assert pixel(capture.png, 5, 5) == (0, 0, 255)


@needs_chromium
async def test_an_unreachable_port_is_url_unreachable():
    port = closed_port()
    error = await capture_error(f"http://127.0.0.1:{port}/", guard=private_allowed())
    assert error.code == "url_unreachable"
    assert error.message == f"127.0.0.1:{port} did not accept a connection"


@needs_chromium
async def test_a_page_that_never_answers_is_url_unreachable_after_the_time_limit():
    release = asyncio.Event()

    async def hang(request):
        await release.wait()
        return page("late")

    async with serve({"/": hang}) as site:
        try:
            error = await capture_error(
                f"{site.base}/",
                guard=private_allowed(),
                limits=CaptureLimits(timeout_seconds=1.5, max_height=1000),
            )
        finally:
            release.set()
    assert error.code == "url_unreachable"
    assert "1.5 seconds" in error.message


@needs_chromium
async def test_an_http_error_page_is_url_unreachable():
    async with serve({}) as site:
        error = await capture_error(f"{site.base}/missing", guard=private_allowed())
    assert error.code == "url_unreachable"
    assert "404" in error.message


@pytest.mark.parametrize(
    "url", ["", "not a url", "ftp://127.0.0.1/", "http://user:pw@127.0.0.1/", "http://[::1/"]
)
async def test_malformed_urls_are_invalid_url(url):
    error = await capture_error(url, guard=private_allowed())
    assert error.code == "invalid_url"


async def test_captures_beyond_the_slots_and_queue_are_answered_busy():
    slots = CaptureSlots(limit=1, queue=1, retry_after=20)
    entered = asyncio.Event()
    release = asyncio.Event()
    order = []

    async def hold(name):
        async with slots.hold():
            order.append(name)
            entered.set()
            await release.wait()

    first = asyncio.create_task(hold("first"))
    await entered.wait()
    second = asyncio.create_task(hold("second"))  # queued
    await asyncio.sleep(0)
    with pytest.raises(AppError) as caught:
        async with slots.hold():
            pass
    assert caught.value.code == "rate_limited"
    assert caught.value.http_status == 429
    assert caught.value.retry_after == 20
    release.set()
    await asyncio.gather(first, second)
    assert order == ["first", "second"]
    assert slots.running == 0


async def test_a_cancelled_waiter_gives_its_place_back():
    slots = CaptureSlots(limit=1, queue=1, retry_after=1)
    release = asyncio.Event()
    entered = asyncio.Event()

    async def hold():
        async with slots.hold():
            entered.set()
            await release.wait()

    first = asyncio.create_task(hold())
    await entered.wait()
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await first
    assert slots.running == 0
    async with slots.hold():
        assert slots.running == 1


@needs_chromium
async def test_dialogs_and_permission_prompts_do_not_stall_a_capture():
    prompts = page(
        "<script>alert('hi'); confirm('sure?');"
        "navigator.geolocation.getCurrentPosition(() => {}, () => {});"
        "Notification.requestPermission();"
        "navigator.mediaDevices && navigator.mediaDevices.getUserMedia({video: true})"
        ".catch(() => {});</script>",
        "body{background:#00ff00}",
    )
    async with serve({"/": prompts}) as site:
        capture = await capture_url(
            f"{site.base}/",
            guard=private_allowed(),
            limits=LIMITS,
            slots=CaptureSlots(limit=1, queue=0, retry_after=1),
        )
    assert pixel(capture.png, 5, 5) == (0, 255, 0)


@needs_chromium
async def test_a_url_that_is_a_download_is_not_downloaded_and_is_url_unreachable():
    attachment = web.Response(
        body=b"%PDF-1.4 fake",
        headers={"Content-Type": "application/pdf", "Content-Disposition": "attachment"},
    )
    async with serve({"/file.pdf": attachment}) as site:
        error = await capture_error(f"{site.base}/file.pdf", guard=private_allowed())
    assert error.code == "url_unreachable"
    assert error.message == "The URL is a download, not a page."


async def test_defaults_come_from_the_settings(settings):
    from generations.url_capture import process_slots

    settings.CLONEGEN_URL_TIMEOUT_SECONDS = 7.5
    settings.CLONEGEN_URL_MAX_PAGE_HEIGHT = 999
    settings.CLONEGEN_URL_CAPTURE_CONCURRENCY = 3
    settings.CLONEGEN_URL_CAPTURE_QUEUE = 5
    limits = CaptureLimits.from_settings()
    assert (limits.timeout_seconds, limits.max_height) == (7.5, 999)
    slots = process_slots()
    assert (slots.limit, slots.queue, slots.retry_after) == (3, 5, 8)
    assert process_slots() is slots


@pytest.mark.parametrize(("flag", "code"), [(False, "url_forbidden"), (True, None)])
async def test_the_private_flag_setting_decides_loopback(settings, flag, code):
    settings.CLONEGEN_URL_ALLOW_PRIVATE = flag
    guard = UrlGuard.from_settings()
    if code is None:
        assert (await guard.check_url("http://127.1:9/")).addresses
    else:
        with pytest.raises(AppError) as caught:
            await guard.check_url("http://127.1:9/")
        assert caught.value.code == code


@pytest.fixture
def tls_context(tmp_path):
    """A server TLS context with a throwaway self-signed certificate for 127.0.0.1."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@asynccontextmanager
async def serve_tls(routes: dict, tls_context):
    site = Site(routes)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", site.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls_context).start()
    site.port = runner.addresses[0][1]
    try:
        yield site
    finally:
        await runner.cleanup()


@asynccontextmanager
async def page_trusting_the_test_certificate(**options):
    # Only the certificate check is relaxed (it is self-signed); the proxy stays in place.
    from generations.url_capture import launch_page

    async with launch_page(**options, ignore_https_errors=True) as opened:
        yield opened


@needs_chromium
async def test_https_goes_through_a_checked_tunnel(tls_context):
    async with counting_listener() as inner:
        routes = {
            "/": page("", "body{background:#ff00ff}"),
            "/away": redirect(f"https://127.0.0.1:{inner.port}/"),
        }
        async with serve_tls(routes, tls_context) as site:
            base = f"https://127.0.0.1:{site.port}"
            capture = await capture_url(
                f"{base}/",
                guard=only_ports(site.port),
                limits=LIMITS,
                open_page=page_trusting_the_test_certificate,
                slots=CaptureSlots(limit=1, queue=0, retry_after=1),
            )
            error = await capture_error(
                f"{base}/away",
                guard=only_ports(site.port),
                open_page=page_trusting_the_test_certificate,
            )
        assert pixel(capture.png, 5, 5) == (255, 0, 255)
        assert error.code == "url_forbidden"
        assert inner.connections == []
