"""Fixtures: the stand-in model server, socket clients, real daphne processes."""

import pytest
from channels.testing import WebsocketCommunicator

from generations.standin import Standin, StandinThread
from tests.support import TEST_API_KEY, DaphneProcess


@pytest.fixture
def standin():
    """A fresh OpenAI-compatible stand-in on 127.0.0.1; tests script its faults and pages."""
    server = Standin()
    thread = StandinThread(server)
    thread.start()
    server.base_url = thread.base_url
    yield server
    thread.stop()


@pytest.fixture
def live_models(settings, standin):
    """Point the app's model client at the stand-in with a test key (live mode)."""
    settings.OPENAI_API_KEY = TEST_API_KEY
    settings.OPENAI_BASE_URL = standin.base_url
    return standin


@pytest.fixture
def connect():
    """Open WebsocketCommunicators to the app, as a browser on an allowed origin would."""
    from clonegen.asgi import application

    async def _connect(origin: bytes = b"http://127.0.0.1:8000"):
        communicator = WebsocketCommunicator(
            application, "/ws/generations/", headers=[(b"origin", origin)]
        )
        connected, _ = await communicator.connect()
        assert connected
        return communicator

    return _connect


@pytest.fixture
def daphne(tmp_path, standin):
    """Start real daphne processes sharing one SQLite file, all talking to the stand-in."""
    started = []

    def _start(**env) -> DaphneProcess:
        server = DaphneProcess(
            tmp_path,
            {
                "OPENAI_API_KEY": TEST_API_KEY,
                "OPENAI_BASE_URL": standin.base_url,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'clonegen.sqlite3'}",
                **env,
            },
        )
        server.migrate()
        started.append(server.start())
        return server

    yield _start
    for server in started:
        server.stop()
