"""A forward proxy on loopback that every connection of a URL capture goes through, checked.

Playwright's `page.route` does not see redirect hops (Chromium follows them unrouted), nor
preconnects, WebSockets or service workers, and a check made before the browser resolves the
host again loses to DNS rebinding. So the browser gets no network of its own: its context's
proxy is this one, which resolves each host itself, applies the guard to every address, and
dials only an address it checked. Plain HTTP arrives as absolute-URI requests, HTTPS and
WebSockets as CONNECT tunnels; both name the host exactly as the browser parsed it.

A per-capture random credential keeps other local processes from borrowing the proxy while it
listens. Written here rather than taken from a proxy package: it is two small paths (tunnel and
forward) and has to call the guard with the address actually dialled.
"""

import asyncio
import base64
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from generations.errors import AppError
from generations.url_guard import IPAddress, UrlGuard, canonical_host

log = logging.getLogger(__name__)

REFUSED_HEADER = "X-Clonegen-Refused"
_HEAD_LIMIT = 64 * 1024
_HEAD_TIMEOUT_SECONDS = 10
_CHUNK = 64 * 1024
# Hop-by-hop and proxy headers: never passed upstream (RFC 9110 §7.6.1).
_DROPPED_HEADERS = {"proxy-authorization", "proxy-connection", "connection", "keep-alive", "te"}


@dataclass
class ProxyLog:
    """What the proxy refused or could not reach, keyed by (host, port) as the browser named it."""

    refused: dict[tuple[str, int], str] = field(default_factory=dict)
    unreachable: dict[tuple[str, int], str] = field(default_factory=dict)
    bytes_received: int = 0
    over_byte_limit: bool = False


class GuardedProxy:
    """`async with GuardedProxy(guard, ...) as proxy:` then hand `proxy.playwright_proxy` to the
    browser context. Leaving the block closes every connection it still holds."""

    def __init__(self, guard: UrlGuard, *, max_bytes: int, connect_timeout: float):
        self.guard = guard
        self.max_bytes = max_bytes
        self.connect_timeout = connect_timeout
        self.log = ProxyLog()
        self._username = "capture"
        self._password = secrets.token_urlsafe(24)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task] = set()

    @property
    def playwright_proxy(self) -> dict:
        """The `proxy` option for Playwright's `browser.new_context`."""
        port = self._server.sockets[0].getsockname()[1]
        return {
            "server": f"http://127.0.0.1:{port}",
            "username": self._username,
            "password": self._password,
        }

    async def __aenter__(self) -> "GuardedProxy":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=_HEAD_LIMIT)
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._handlers.add(task)
        try:
            await self._handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the browser went away or sent garbage: nothing to answer
        except TimeoutError:
            pass
        finally:
            writer.close()
            self._handlers.discard(task)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT_SECONDS)
        request = _Request.parse(head)
        if request is None:
            await _answer(writer, 400, "Bad Request", "malformed proxy request")
            return
        if not self._authorised(request):
            await _answer(
                writer,
                407,
                "Proxy Authentication Required",
                "",
                extra='Proxy-Authenticate: Basic realm="clonegen"\r\n',
            )
            return
        if request.host is None:
            await _answer(writer, 400, "Bad Request", "only http:// and CONNECT are proxied")
            return
        upstream = await self._dial(request, writer)
        if upstream is None:
            return
        up_reader, up_writer = upstream
        try:
            if request.method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                up_writer.write(request.origin_form_head())
            await asyncio.gather(
                self._pump(reader, up_writer, count=False),
                self._pump(up_reader, writer, count=True),
            )
        finally:
            up_writer.close()

    def _authorised(self, request: "_Request") -> bool:
        expected = base64.b64encode(f"{self._username}:{self._password}".encode()).decode()
        given = request.headers.get("proxy-authorization", "")
        return secrets.compare_digest(given.encode(), f"Basic {expected}".encode())

    async def _dial(self, request: "_Request", writer: asyncio.StreamWriter):
        key = (request.host, request.port)
        if self.log.over_byte_limit:
            await _answer(writer, 502, "Bad Gateway", "the capture's byte limit is spent")
            return None
        try:
            host = canonical_host(request.host)
            addresses = await self.guard.allowed_addresses(host, request.port)
        except AppError as error:
            log_to = self.log.refused if error.code == "url_forbidden" else self.log.unreachable
            log_to[key] = error.message
            status = (403, "Forbidden") if error.code == "url_forbidden" else (502, "Bad Gateway")
            await _answer(
                writer, *status, error.message, extra=f"{REFUSED_HEADER}: {error.code}\r\n"
            )
            return None
        upstream = await self._connect(addresses, request.port)
        if upstream is None:
            self.log.unreachable[key] = f"{request.host}:{request.port} did not accept a connection"
            await _answer(
                writer,
                502,
                "Bad Gateway",
                self.log.unreachable[key],
                extra=f"{REFUSED_HEADER}: url_unreachable\r\n",
            )
        return upstream

    async def _connect(self, addresses: list[IPAddress], port: int):
        """Open a connection to the first checked address that answers (never by name)."""
        for address in addresses:
            with contextlib.suppress(OSError, TimeoutError):
                return await asyncio.wait_for(
                    asyncio.open_connection(str(address), port, limit=_CHUNK),
                    self.connect_timeout,
                )
        return None

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, count: bool
    ) -> None:
        try:
            while chunk := await source.read(_CHUNK):
                if count and not self._spend(len(chunk)):
                    break
                sink.write(chunk)
                await sink.drain()
            if sink.can_write_eof():
                sink.write_eof()
        except (ConnectionError, OSError):
            sink.close()

    def _spend(self, size: int) -> bool:
        self.log.bytes_received += size
        if self.log.bytes_received > self.max_bytes and not self.log.over_byte_limit:
            self.log.over_byte_limit = True
            log.warning("URL capture stopped loading after %d bytes", self.max_bytes)
        return not self.log.over_byte_limit


@dataclass(frozen=True)
class _Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]
    header_lines: list[str]
    host: str | None
    port: int

    @classmethod
    def parse(cls, head: bytes) -> "_Request | None":
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ")
        except ValueError:
            return None
        header_lines = [line for line in lines[1:] if line]
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        host, port = _target_host_port(method, target)
        return cls(method, target, version, headers, header_lines, host, port)

    def origin_form_head(self) -> bytes:
        """The request as an origin server expects it: path only, one request per connection."""
        parts = urlsplit(self.target)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept = [
            line
            for line in self.header_lines
            if line.partition(":")[0].strip().lower() not in _DROPPED_HEADERS
        ]
        lines = [f"{self.method} {path} {self.version}", *kept, "Connection: close", "", ""]
        return "\r\n".join(lines).encode("latin-1")


def _target_host_port(method: str, target: str) -> tuple[str | None, int]:
    try:
        if method == "CONNECT":
            parts = urlsplit(f"//{target}")
            return parts.hostname, 443 if parts.port is None else parts.port
        parts = urlsplit(target)
        if parts.scheme != "http":
            return None, 0
        return parts.hostname, 80 if parts.port is None else parts.port
    except ValueError:
        return None, 0


async def _answer(
    writer: asyncio.StreamWriter, status: int, reason: str, body: str, *, extra: str = ""
) -> None:
    payload = body.encode()
    writer.write(
        (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n{extra}"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        ).encode("latin-1")
        + payload
    )
    await writer.drain()
