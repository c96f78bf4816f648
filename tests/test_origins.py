"""The socket opens only for the app's own pages (host and port) and the origins listed."""

import pytest
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ImproperlyConfigured

from generations.origins import OwnOriginValidator

pytestmark = pytest.mark.django_db(transaction=True)


async def opens(origin: str | None, host: str | None) -> bool:
    from clonegen.asgi import application

    headers = [(b"origin", origin.encode())] if origin is not None else []
    if host is not None:
        headers.append((b"host", host.encode()))
    communicator = WebsocketCommunicator(application, "/ws/generations/", headers=headers)
    connected, _ = await communicator.connect()
    if connected:
        await communicator.disconnect()
    return connected


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://localhost:8123", "localhost:8123"),  # `make run PORT=8123`
        ("https://localhost", "localhost"),  # behind a TLS proxy that keeps the Host
        ("HTTP://LOCALHOST:8000", "localhost:8000"),
    ],
)
async def test_the_apps_own_page_opens_the_socket(origin, host):
    assert await opens(origin, host)


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://localhost:9999", "localhost:8000"),  # another app on the same machine
        ("http://127.0.0.1:9999", "127.0.0.1:8000"),
        ("http://localhost", "localhost:8000"),
        ("https://evil.example", "localhost:8000"),
        ("http://evil.example:8000", "evil.example:8000"),  # a host not in ALLOWED_HOSTS
        ("null", "localhost:8000"),  # a sandboxed frame, a generated page among them
        ("file://", "localhost:8000"),
        (None, "localhost:8000"),
        ("http://localhost:8000", None),
    ],
)
async def test_any_other_origin_is_refused(origin, host):
    assert not await opens(origin, host)


async def test_listed_origins_open_it_from_anywhere(settings):
    settings.CLONEGEN_ALLOWED_ORIGINS = ["https://app.example.com", "http://127.0.0.1:9000"]
    assert await opens("https://app.example.com", "10.0.0.5:8000")
    assert await opens("https://app.example.com:443", None)
    assert await opens("http://127.0.0.1:9000", None)
    assert not await opens("http://app.example.com", None)  # another scheme is another origin
    assert not await opens("http://127.0.0.1:9001", None)


def test_a_malformed_listed_origin_fails_loudly(settings):
    settings.CLONEGEN_ALLOWED_ORIGINS = ["app.example.com"]
    with pytest.raises(ImproperlyConfigured, match="CLONEGEN_ALLOWED_ORIGINS"):
        OwnOriginValidator(application=None)
