"""Two daphne processes sharing PostgreSQL and Redis: a client may reach either one."""

import asyncio

import pytest

from demo.faults import Fault
from demo.pages import sample_page, wrap_in_prose
from tests.socket_client import SocketClient
from tests.support import Follower, rebuild_texts

pytestmark = pytest.mark.e2e
FAST_HEARTBEAT = {"CLONEGEN_HEARTBEAT_SECONDS": "0.5", "CLONEGEN_CHECKPOINT_SECONDS": "0.3"}


def long_page(model: str) -> str:
    padding = "".join(f"<p>Paragraph {n} for {model}.</p>\n" for n in range(150))
    return wrap_in_prose(sample_page(model).replace("</body>", padding + "</body>"))


async def test_resume_on_another_process_is_exact(daphne, standin, shared_stack):
    standin.text_for = long_page
    standin.chunks_per_second = 80
    a, b = daphne.pair(shared_stack)
    on_a = await SocketClient.over_tcp(a)
    started = await on_a.generate()
    generation_id = started["generation_id"]
    follower = Follower()
    for _ in range(25):  # mid-stream: part of every variant is held by the client
        follower.apply(await on_a.receive())
    on_a.connection.transport.abort()

    on_b = await SocketClient.over_tcp(b)
    await on_b.subscribe(generation_id)
    await on_b.follow(generation_id, follower=follower)
    await on_b.close()

    assert follower.status == "completed"
    assert follower.gaps == 0, "B held A's live frames back until A's exact snapshot arrived"
    for variant in started["variants"]:
        assert follower.texts[variant["index"]] == long_page(variant["model"])
    stored = b.get(f"/api/generations/{generation_id}").json()["data"]
    assert all(v["status"] == "completed" for v in stored["variants"])


async def test_followers_in_both_processes_get_every_frame_once(daphne, standin, shared_stack):
    # A's own socket gets frames in process; B's through Redis, once B asked A for a snapshot.
    # A's socket is in the Redis group too, and must not get those frames a second time.
    standin.text_for = long_page
    standin.chunks_per_second = 80
    a, b = daphne.pair(shared_stack)
    socket_a = await SocketClient.over_tcp(a)
    started = await socket_a.generate()
    generation_id = started["generation_id"]
    seen = [started, *await socket_a.until("variant.chunk")]
    socket_b = await SocketClient.over_tcp(b)
    watching_b = asyncio.create_task(socket_b.subscribe_and_follow(generation_id))
    frames = (await socket_a.follow(generation_id, seen=seen)).frames
    on_b = (await watching_b).follower

    texts = rebuild_texts(frames)  # every chunk exactly once, in order
    assert [f["type"] for f in frames].count("variant.completed") == 4
    assert frames[-1]["type"] == "generation.finished"
    assert on_b.status == "completed"
    assert on_b.gaps == 0
    for variant in started["variants"]:
        assert (
            texts[variant["index"]] == on_b.texts[variant["index"]] == long_page(variant["model"])
        )
    await socket_b.close()
    await socket_a.close()


async def test_a_follower_in_another_process_sees_a_retry_run_from_its_start(
    daphne, standin, shared_stack
):
    # B follows a finished generation; A retries it: A's run must find B's socket by itself.
    standin.text_for = long_page
    standin.chunks_per_second = 80
    standin.add_fault("gpt-4.1-mini-2025-04-14", Fault(status=400, message="Bad request"))
    a, b = daphne.pair(shared_stack)
    socket_a = await SocketClient.over_tcp(a)
    generation_id = (await socket_a.generate_and_follow()).generation_id
    socket_b = await SocketClient.over_tcp(b)
    await socket_b.subscribe(generation_id)
    on_b = Follower()
    on_b.apply(await socket_b.receive())
    assert on_b.status == "partial"
    assert on_b.statuses[2] == "failed"

    await socket_a.send(type="retry", generation_id=generation_id)
    assert (await socket_a.receive())["type"] == "generation.snapshot"
    await socket_a.close()  # the run goes on without the socket that asked for it
    on_b.status = None  # from here B waits for the retry's end
    await socket_b.follow(generation_id, follower=on_b)
    assert on_b.status == "completed"
    assert on_b.gaps == 0, "B got the retry's frames from its first chunk"
    assert on_b.texts[2] == long_page("gpt-4.1-mini-2025-04-14")
    await socket_b.close()


async def test_cancel_sent_to_another_process_stops_the_run(daphne, standin, shared_stack):
    standin.text_for = long_page
    standin.chunks_per_second = 40
    a, b = daphne.pair(shared_stack)
    socket_a = await SocketClient.over_tcp(a)
    generation_id = (await socket_a.generate())["generation_id"]
    seen = await socket_a.until("variant.chunk")
    socket_b = await SocketClient.over_tcp(b)
    await socket_b.send(type="cancel", generation_id=generation_id)
    assert (await socket_a.follow(generation_id, seen=seen)).status == "cancelled"
    closed = [await asyncio.to_thread(standin.client_closes.acquire, True, 10) for _ in range(4)]
    assert all(closed), "process A closed its model streams"
    await socket_b.close()
    await socket_a.close()


async def test_kill_9_of_one_process_only_interrupts_its_own_work(daphne, standin, shared_stack):
    standin.text_for = long_page
    standin.chunks_per_second = 30
    a, b = daphne.pair(shared_stack, **FAST_HEARTBEAT)
    socket_a, socket_b = await SocketClient.over_tcp(a), await SocketClient.over_tcp(b)
    on_a, on_b = await socket_a.generate(), await socket_b.generate()
    await socket_a.until("variant.chunk")
    a.kill()

    watcher = await SocketClient.over_tcp(b)
    followed = await watcher.subscribe_and_follow(on_a["generation_id"])
    assert followed.status == "interrupted"

    # B's own generation ran on untouched, and B can retry A's under the same id.
    assert (await socket_b.follow(on_b["generation_id"])).status == "completed"
    await watcher.send(type="retry", generation_id=on_a["generation_id"])
    # Frames of the interrupted run may still be queued; the retry's snapshot starts the new one.
    while (frame := await watcher.receive())["type"] != "generation.snapshot" or frame[
        "status"
    ] != "running":
        assert frame["type"] != "error", frame
    retried = Follower()
    retried.apply(frame)
    await watcher.follow(on_a["generation_id"], follower=retried)
    assert retried.status == "completed"
    for variant in on_a["variants"]:
        assert retried.texts[variant["index"]] == long_page(variant["model"])
    await watcher.close()
    await socket_b.close()
