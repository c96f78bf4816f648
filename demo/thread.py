"""Running a stand-in in a daemon thread: the tests' fixture, and demo mode's one per process."""

import asyncio
import threading
from typing import Self

from aiohttp import web

from demo.server import Standin


class StandinThread:
    """Run a Standin on 127.0.0.1 in a daemon thread with its own event loop."""

    def __init__(self, standin: Standin, port: int = 0) -> None:
        self.standin = standin
        self.port = port
        self.base_url = ""
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._listening = False
        self._error: OSError | None = None

    def start(self) -> str:
        """Start serving; block until the socket listens and return the /v1 base URL."""
        if self._thread is not None:
            raise RuntimeError("StandinThread already started")
        self._thread = threading.Thread(target=self._run, name="clonegen-standin", daemon=True)
        self._thread.start()
        self._ready.wait()
        if not self._listening:
            self._thread.join()
            self._thread = None
            raise self._error or RuntimeError("the stand-in thread died before listening")
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        return self.base_url

    def stop(self) -> None:
        """Stop serving, drop in-flight streams, and join the thread."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except OSError as exc:  # e.g. port in use; re-raised in the thread that called start()
            self._error = exc
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.standin.app(), access_log=None, shutdown_timeout=5)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", self.port)
            await site.start()
            self.port = runner.addresses[0][1]
            self._listening = True
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()


# Slow enough that a person sees four panels fill, fast enough to finish in seconds.
DEMO_CHUNKS_PER_SECOND = 40
_lock = threading.Lock()
_thread: StandinThread | None = None


def standin_base_url() -> str:
    """Return the base URL of this process's demo stand-in, starting it on first use."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = StandinThread(
                Standin(chunks_per_second=DEMO_CHUNKS_PER_SECOND, mirror_screenshots=True)
            )
            _thread.start()
        return _thread.base_url
