"""Which pages may open the socket: the app's own origin, and those CLONEGEN_ALLOWED_ORIGINS lists.

Channels' AllowedHostsOriginValidator compares host names only, so any port on an allowed host
passed: a page on http://localhost:9999 could open the socket with the user's cookies (cookies,
SameSite ones included, do not tell ports apart). Here the Origin must name the very host and
port the socket was opened on (that Host being one of DJANGO_ALLOWED_HOSTS), as a browser's own
page always does, or be listed in full. The scheme is not compared with the socket's: behind a
TLS proxy the page is https while the socket reaches daphne as plain ws.
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


class OwnOriginValidator:
    """ASGI middleware: refuse a socket whose Origin is neither its own nor listed."""

    def __init__(self, application) -> None:
        self.application = application
        listed_origins()  # a malformed setting fails at start-up, not on the first socket

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", ()))
        if origin_allowed(_text(headers.get(b"origin")), _text(headers.get(b"host"))):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """True if a page from `origin` may use the socket reached through `host` (the Host)."""
    key = origin_key(origin) if origin else None
    if key is None:
        return False  # no Origin, "null", or not an http(s) origin: never a page of ours
    if key in listed_origins():
        return True
    if not host:
        return False
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, _allowed_hosts()):
        return False
    return urlsplit(origin).netloc.lower() == host.lower()


def listed_origins() -> set[tuple[str, str, int]]:
    keys = set()
    for origin in settings.CLONEGEN_ALLOWED_ORIGINS:
        key = origin_key(origin)
        if key is None:
            raise ImproperlyConfigured(
                f"CLONEGEN_ALLOWED_ORIGINS: {origin!r} is not an origin like https://host[:port]"
            )
        keys.add(key)
    return keys


def origin_key(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) origin, the port filled in; None if it is not one."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def _allowed_hosts() -> list[str]:
    # As Django's own host check: with debug on and no hosts set, local names only.
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]
    return settings.ALLOWED_HOSTS


def _text(value: bytes | None) -> str | None:
    return value.decode("latin1") if value is not None else None
