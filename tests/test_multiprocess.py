"""Two daphne processes sharing PostgreSQL and Redis: a client may reach either one."""

import asyncio
import json

import pytest
import websockets

from demo.faults import Fault
from demo.pages import sample_page, wrap_in_prose
from tests.support import Follower, data_url, png_bytes, rebuild_texts

pytestmark = pytest.mark.e2e
ORIGIN = "http://127.0.0.1"
FAST_HEARTBEAT = {"CLONEGEN_HEARTBEAT_SECONDS": "0.5", "CLONEGEN_CHECKPOINT_SECONDS": "0.3"}


def long_page(model: str) -> str:
    padding = "".join(f"<p>Paragraph {n} for {model}.</p>\n" for n in range(150))
    return wrap_in_prose(sample_page(model).replace("</body>", padding + "</body>"))


async def connect(server):
    return await websockets.connect(server.ws_url, origin=ORIGIN, max_size=None)


async def start_on(server) -> tuple[websockets.ClientConnection, dict]:
    ws = await connect(server)
    await ws.send(json.dumps({"type": "generate", "image": data_url(png_bytes())}))
    return ws, json.loads(await ws.recv())


async def follow_until_finished(ws, follower: Follower, generation_id: str) -> None:
    while not follower.finished:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
        assert frame["type"] != "error", frame
        follower.apply(frame)
        if follower.needs_snapshot:
            await ws.send(json.dumps({"type": "subscribe", "generation_id": generation_id}))


async def test_resume_on_another_process_is_exact(daphne, standin, shared_stack):
    standin.text_for = long_page
    standin.chunks_per_second = 80
    a, b = daphne.pair(shared_stack)
    ws, started = await start_on(a)
    generation_id = started["generation_id"]
    follower = Follower()
    for _ in range(25):  # mid-stream: part of every variant is held by the client
        follower.apply(json.loads(await ws.recv()))
    ws.transport.abort()

    ws_b = await connect(b)
    await ws_b.send(json.dumps({"type": "subscribe", "generation_id": generation_id}))
    await follow_until_finished(ws_b, follower, generation_id)
    await ws_b.close()

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
    ws, started = await start_on(a)
    generation_id = started["generation_id"]
    frames = [started]
    while (frame := json.loads(await ws.recv()))["type"] != "variant.chunk":
        frames.append(frame)
    frames.append(frame)
    ws_b = await connect(b)
    await ws_b.send(json.dumps({"type": "subscribe", "generation_id": generation_id}))
    on_b = Follower()
    watching_b = asyncio.create_task(follow_until_finished(ws_b, on_b, generation_id))
    while frames[-1]["type"] != "generation.finished":
        frames.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
    await watching_b

    texts = rebuild_texts(frames)  # every chunk exactly once, in order
    assert [f["type"] for f in frames].count("variant.completed") == 4
    assert on_b.status == "completed"
    assert on_b.gaps == 0
    for variant in started["variants"]:
        assert (
            texts[variant["index"]] == on_b.texts[variant["index"]] == long_page(variant["model"])
        )
    await ws_b.close()
    await ws.close()


async def test_a_follower_in_another_process_sees_a_retry_run_from_its_start(
    daphne, standin, shared_stack
):
    # B follows a finished generation; A retries it: A's run must find B's socket by itself.
    standin.text_for = long_page
    standin.chunks_per_second = 80
    standin.add_fault("gpt-4.1-mini-2025-04-14", Fault(status=400, message="Bad request"))
    a, b = daphne.pair(shared_stack)
    ws, started = await start_on(a)
    generation_id = started["generation_id"]
    await follow_until_finished(ws, Follower(), generation_id)
    ws_b = await connect(b)
    await ws_b.send(json.dumps({"type": "subscribe", "generation_id": generation_id}))
    on_b = Follower()
    on_b.apply(json.loads(await ws_b.recv()))
    assert on_b.status == "partial"
    assert on_b.statuses[2] == "failed"

    await ws.send(json.dumps({"type": "retry", "generation_id": generation_id}))
    assert json.loads(await ws.recv())["type"] == "generation.snapshot"
    await ws.close()  # the run goes on without the socket that asked for it
    on_b.status = None  # from here B waits for the retry's end
    await follow_until_finished(ws_b, on_b, generation_id)
    assert on_b.status == "completed"
    assert on_b.gaps == 0, "B got the retry's frames from its first chunk"
    assert on_b.texts[2] == long_page("gpt-4.1-mini-2025-04-14")
    await ws_b.close()


async def test_cancel_sent_to_another_process_stops_the_run(daphne, standin, shared_stack):
    standin.text_for = long_page
    standin.chunks_per_second = 40
    a, b = daphne.pair(shared_stack)
    ws, started = await start_on(a)
    while json.loads(await ws.recv())["type"] != "variant.chunk":
        pass
    ws_b = await connect(b)
    await ws_b.send(json.dumps({"type": "cancel", "generation_id": started["generation_id"]}))
    follower = Follower()
    await follow_until_finished(ws, follower, started["generation_id"])
    assert follower.status == "cancelled"
    closed = [await asyncio.to_thread(standin.client_closes.acquire, True, 10) for _ in range(4)]
    assert all(closed), "process A closed its model streams"
    await ws_b.close()
    await ws.close()


async def test_kill_9_of_one_process_only_interrupts_its_own_work(daphne, standin, shared_stack):
    standin.text_for = long_page
    standin.chunks_per_second = 30
    a, b = daphne.pair(shared_stack, **FAST_HEARTBEAT)
    ws_a, on_a = await start_on(a)
    ws_b, on_b = await start_on(b)
    while json.loads(await ws_a.recv())["type"] != "variant.chunk":
        pass
    a.kill()

    follower = Follower()
    watcher = await connect(b)
    await watcher.send(json.dumps({"type": "subscribe", "generation_id": on_a["generation_id"]}))
    await follow_until_finished(watcher, follower, on_a["generation_id"])
    assert follower.status == "interrupted"

    # B's own generation ran on untouched, and B can retry A's under the same id.
    own = Follower()
    await follow_until_finished(ws_b, own, on_b["generation_id"])
    assert own.status == "completed"
    retried = Follower()
    await watcher.send(json.dumps({"type": "retry", "generation_id": on_a["generation_id"]}))
    # Frames of the interrupted run may still be queued; the retry's snapshot starts the new one.
    while (frame := json.loads(await asyncio.wait_for(watcher.recv(), 60)))["type"] != (
        "generation.snapshot"
    ) or frame["status"] != "running":
        assert frame["type"] != "error", frame
    retried.apply(frame)
    await follow_until_finished(watcher, retried, on_a["generation_id"])
    assert retried.status == "completed"
    for variant in on_a["variants"]:
        assert retried.texts[variant["index"]] == long_page(variant["model"])
    await watcher.close()
    await ws_b.close()
