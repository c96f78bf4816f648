"""A screenshot being decoded never holds up another socket's database calls."""

import asyncio
import threading

import pytest

from generations import actions, decoding
from generations.images import decode_screenshot
from tests.factories import make_generation
from tests.support import data_url, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


async def wait_for(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 10), "timed out"


async def test_a_subscribe_is_answered_while_a_screenshot_decodes(
    live_models, connect, monkeypatch
):
    """The decode is held open until the other socket's snapshot has arrived: on the thread
    the database calls share, that snapshot could never come first."""
    decoding_started, release = threading.Event(), threading.Event()

    def slow_decode(*args, **kwargs):
        decoding_started.set()
        release.wait(10)
        return decode_screenshot(*args, **kwargs)

    monkeypatch.setattr(actions, "decode_screenshot", slow_decode)
    existing = await asyncio.to_thread(make_generation)
    uploader, watcher = await connect(), await connect()
    try:
        await uploader.send_json_to({"type": "generate", "image": data_url(png_bytes())})
        await wait_for(decoding_started)

        await watcher.send_json_to({"type": "subscribe", "generation_id": str(existing.id)})
        snapshot = await watcher.receive_json_from(timeout=5)
        assert snapshot["type"] == "generation.snapshot"
        assert not release.is_set()  # answered while the decode was still running
    finally:
        release.set()
    started = await uploader.receive_json_from(timeout=10)
    assert started["type"] == "generation.started"
    await uploader.disconnect()
    await watcher.disconnect()


async def test_decoding_runs_at_most_two_at_a_time(monkeypatch):
    running, most, entered = 0, 0, threading.Semaphore(0)
    lock, release = threading.Lock(), threading.Event()

    def decode():
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        entered.release()
        release.wait(10)
        with lock:
            running -= 1

    decodes = [asyncio.ensure_future(decoding.off_shared_thread(decode)) for _ in range(5)]
    for _ in range(decoding.DECODE_THREADS):
        assert await asyncio.to_thread(entered.acquire, True, 10)
    # An absence cannot be awaited: a third decode is given a moment to (wrongly) start.
    assert not await asyncio.to_thread(entered.acquire, True, 0.3)
    release.set()
    await asyncio.gather(*decodes)
    assert most == decoding.DECODE_THREADS == 2
