"""Fixtures: the stand-in model server, socket clients, real daphne processes."""

import os

import pytest
from channels.testing import WebsocketCommunicator

from demo.server import Standin
from demo.thread import StandinThread
from tests.services_up import skip_unless_reachable
from tests.support import (
    POSTGRES_URL,
    REDIS_URL,
    TEST_API_KEY,
    DaphneProcess,
    fresh_postgres_database,
)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    yield
    # PostgreSQL refuses to drop the test database while any session is open in it, and worker
    # threads of finished test event loops may still hold one: end the other sessions, then
    # close this one and the pool, before pytest-django drops the database.
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.close()
        if connection.pool is not None:
            connection.close_pool()


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for one test module's browser tests."""
    from tests.ui_support import CHROMIUM, MISSING_CHROMIUM, launched_chromium

    if not CHROMIUM.exists():
        pytest.skip(MISSING_CHROMIUM)
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def open_page(browser):
    """Open a page in a fresh browser context (like another machine) at `base_url + path`,
    recording each panel's statuses (`window.__statuses`) and the console's errors."""
    from tests.ui_support import STATUS_RECORDER, ConsoleErrors

    opened = []

    def _open(base_url: str, path: str = "/", width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(30_000)
        page = context.new_page()
        errors = ConsoleErrors(origin=base_url)
        errors.attach(page)
        page.add_init_script(STATUS_RECORDER)
        page.console_errors = errors.errors
        opened.append(context)
        page.goto(base_url + path)
        return page

    yield _open
    for context in opened:
        context.close()


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
async def connect():
    """Open WebsocketCommunicators to the app, as a browser on an allowed origin would."""
    from clonegen.asgi import application
    from generations import model_client

    async def _connect(origin: bytes = b"http://127.0.0.1:8000", cookie: str | None = None):
        # A browser's page sends its own origin and the Host it opened the socket on.
        headers = [(b"origin", origin), (b"host", b"127.0.0.1:8000")]
        if cookie:
            headers.append((b"cookie", cookie.encode()))
        communicator = WebsocketCommunicator(application, "/ws/generations/", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        return communicator

    yield _connect
    # The test's event loop ends with the test: close its model client's pooled connections.
    await model_client.close_client()


@pytest.fixture
def server_stack(tmp_path):
    """The database and channel layer that daphne processes under test share.

    By default the embedded stack (a SQLite file, in-memory layer); when the suite itself runs
    on PostgreSQL (DATABASE_URL) and Redis (REDIS_URL), each test gets a fresh database there.
    """
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield {"DATABASE_URL": f"sqlite:///{tmp_path / 'clonegen.sqlite3'}"}
        return
    with fresh_postgres_database(url) as database_url:
        yield {"DATABASE_URL": database_url, "REDIS_URL": os.environ.get("REDIS_URL", "")}


@pytest.fixture
def shared_stack():
    """PostgreSQL and Redis, whatever the suite runs on: several processes share them."""
    skip_unless_reachable(POSTGRES_URL, REDIS_URL)
    with fresh_postgres_database(POSTGRES_URL) as database_url:
        yield {"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL}


@pytest.fixture
def daphne(tmp_path, standin, server_stack):
    """Start real daphne processes sharing one database, all talking to the stand-in."""
    started = []
    migrated = set()

    def _start(stack: dict | None = None, wait: bool = True, **env) -> DaphneProcess:
        stack = stack or server_stack
        server = DaphneProcess(
            tmp_path,
            {
                "OPENAI_API_KEY": TEST_API_KEY,
                "OPENAI_BASE_URL": standin.base_url,
                **stack,
                **env,
            },
        )
        database = server.env["DATABASE_URL"]
        if database not in migrated:  # a second process on the same database skips it
            server.migrate()
            migrated.add(database)
        started.append(server.start(wait=wait))
        return server

    def _pair(stack: dict | None = None, **env) -> tuple[DaphneProcess, DaphneProcess]:
        """Two processes on one database, started side by side."""
        first, second = _start(stack, wait=False, **env), _start(stack, wait=False, **env)
        first.wait_ready()
        second.wait_ready()
        return first, second

    _start.pair = _pair
    yield _start
    for server in started:
        server.stop()


def pytest_sessionfinish(session, exitstatus):
    # Tests that reach the model client without the `connect` fixture leave its aiohttp session
    # to their closed event loop; collected at interpreter exit, asyncio logs "Unclosed client
    # session" into pytest's closed capture stream as "--- Logging error ---" after the
    # summary. Collect them now, quietly: they are the tests' loops, not the server's.
    import gc
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    gc.collect()
