"""The capture proxy on its own: credentials, refusals on the dialled address, tunnels, limits."""

import asyncio
import base64
from contextlib import asynccontextmanager

import pytest

from generations.url_guard import UrlGuard
from generations.url_proxy import GuardedProxy


@asynccontextmanager
async def origin(body: bytes = b"hello"):
    """A bare HTTP server on 127.0.0.1 that counts its connections."""
    seen = []

    async def answer(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    server.port = server.sockets[0].getsockname()[1]
    server.seen = seen
    try:
        yield server
    finally:
        server.close()
        await server.wait_closed()


def only_ports(*ports):
    return UrlGuard(policy=lambda address, port: address.is_loopback and port in ports)


@asynccontextmanager
async def running_proxy(guard, max_bytes=1 << 20):
    async with GuardedProxy(guard, max_bytes=max_bytes, connect_timeout=5) as proxy:
        yield proxy


async def ask(proxy, head: str, *, credentials=True, then: bytes = b"") -> bytes:
    settings = proxy.playwright_proxy
    port = int(settings["server"].rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if credentials:
        token = base64.b64encode(f"{settings['username']}:{settings['password']}".encode())
        head = head.replace("\r\n\r\n", f"\r\nProxy-Authorization: Basic {token.decode()}\r\n\r\n")
    writer.write(head.encode() + then)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


async def test_a_request_without_the_capture_credential_is_refused():
    async with origin() as site, running_proxy(only_ports(0)) as proxy:
        answer = await ask(
            proxy, f"GET http://127.0.0.1:{site.port}/ HTTP/1.1\r\n\r\n", credentials=False
        )
    assert answer.startswith(b"HTTP/1.1 407")
    assert site.seen == []


async def test_plain_http_is_forwarded_to_an_allowed_address_in_origin_form():
    async with origin(b"hello") as site, running_proxy(only_ports(site.port)) as proxy:
        answer = await ask(
            proxy,
            f"GET http://127.0.0.1:{site.port}/a?b=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Proxy-Connection: keep-alive\r\n\r\n",
        )
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b"hello")
    sent = site.seen[0].decode()
    assert sent.startswith("GET /a?b=1 HTTP/1.1\r\n")
    assert "proxy-" not in sent.lower()
    assert "Connection: close" in sent


@pytest.mark.parametrize(
    "form", ["GET http://{host}:{port}/ HTTP/1.1", "CONNECT {host}:{port} HTTP/1.1"]
)
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
async def test_a_forbidden_target_is_refused_and_logged_without_dialling(form, host):
    async with origin() as site, running_proxy(only_ports(site.port + 1)) as proxy:
        line = form.format(host=host, port=site.port)
        answer = await ask(proxy, f"{line}\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403")
    assert b"X-Clonegen-Refused: url_forbidden" in answer
    assert (host.strip("[]"), site.port) in proxy.log.refused
    assert site.seen == []


async def test_a_connect_tunnel_to_an_allowed_address_carries_bytes_both_ways():
    async with origin(b"through") as site, running_proxy(only_ports(site.port)) as proxy:
        answer = await ask(
            proxy,
            f"CONNECT 127.0.0.1:{site.port} HTTP/1.1\r\n\r\n",
            then=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        )
    assert answer.startswith(b"HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK")
    assert answer.endswith(b"through")


async def test_downloads_stop_at_the_byte_limit():
    async with (
        origin(b"x" * 50_000) as site,
        running_proxy(only_ports(site.port), max_bytes=10_000) as proxy,
    ):
        answer = await ask(proxy, f"GET http://127.0.0.1:{site.port}/ HTTP/1.1\r\n\r\n")
        assert len(answer) < 50_000
        assert proxy.log.over_byte_limit
        again = await ask(proxy, f"GET http://127.0.0.1:{site.port}/ HTTP/1.1\r\n\r\n")
    assert again.startswith(b"HTTP/1.1 502")


async def test_other_schemes_and_garbage_are_not_proxied():
    async with running_proxy(only_ports(0)) as proxy:
        assert (await ask(proxy, "GET ftp://127.0.0.1/ HTTP/1.1\r\n\r\n")).startswith(
            b"HTTP/1.1 400"
        )
        assert (await ask(proxy, "NONSENSE\r\n\r\n")).startswith(b"HTTP/1.1 400")
