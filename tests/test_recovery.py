"""Every way a run can stop early: kill -9, SIGTERM, cancel, retry, a refusing database."""

import asyncio
import signal
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError
from django.utils import timezone

from demo.pages import sample_page, wrap_in_prose
from generations import actions, lifecycle, services, spool
from generations.access import Requester
from generations.errors import AppError
from generations.models import Generation
from generations.process import RUNNER_ID
from tests.factories import make_generation
from tests.socket_client import Followed, SocketClient

ANYONE = Requester(user=None, client_key="test")
QUICK_MODEL = "gpt-4.1-mini-2025-04-14"


def long_unless_quick(model: str) -> str:
    """One variant answers in a moment, the others take several seconds at the test's pace."""
    page = sample_page(model)
    if model == QUICK_MODEL:
        return wrap_in_prose(page)
    padding = "".join(f"<p>Section {n} of {model}.</p>\n" for n in range(400))
    return wrap_in_prose(page.replace("</body>", padding + "</body>"))


async def follow(server, generation_id: str, action: str = "subscribe") -> Followed:
    """On a new socket, send `action` for the generation and follow it until it ends."""
    socket = await SocketClient.over_tcp(server)
    await socket.send(type=action, generation_id=generation_id)
    followed = await socket.follow(generation_id)
    await socket.close()
    return followed


async def start(server) -> tuple[SocketClient, str]:
    socket = await SocketClient.over_tcp(server)
    return socket, (await socket.generate())["generation_id"]


async def until_completed(socket: SocketClient, count: int) -> None:
    for _ in range(count):
        await socket.until("variant.completed")


@pytest.mark.e2e
async def test_kill_9_then_restart_interrupts_and_retry_completes(daphne, standin):
    standin.text_for = long_unless_quick
    standin.chunks_per_second = 60
    fast = {"CLONEGEN_HEARTBEAT_SECONDS": "0.5", "CLONEGEN_CHECKPOINT_SECONDS": "0.3"}
    server = daphne(**fast)
    ws, generation_id = await start(server)
    await until_completed(ws, 1)  # the quick variant is done; the others are mid-stream
    await asyncio.sleep(1)  # let a few checkpoints land: what a crash may lose is the point
    server.kill()

    restarted = daphne(**fast)
    follower = await follow(restarted, generation_id)
    assert follower.status == "interrupted"
    before = restarted.get(f"/api/generations/{generation_id}").json()["data"]
    quick = next(v for v in before["variants"] if v["model"] == QUICK_MODEL)
    assert quick["status"] == "completed"
    for variant in before["variants"]:
        if variant is quick:
            continue
        assert variant["status"] == "interrupted"
        assert variant["text"], "checkpointed text is kept"
        assert long_unless_quick(variant["model"]).startswith(variant["text"])

    retried = await follow(restarted, generation_id, "retry")
    assert retried.status == "completed"
    after = restarted.get(f"/api/generations/{generation_id}").json()["data"]
    assert after["id"] == generation_id
    for variant in after["variants"]:
        assert variant["status"] == "completed"
        assert variant["text"] == long_unless_quick(variant["model"])
    untouched = next(v for v in after["variants"] if v["index"] == quick["index"])
    assert untouched == quick, "a completed variant is never re-run"
    retried_models = [r["model"] for r in standin.requests[4:]]
    assert QUICK_MODEL not in retried_models
    assert len(retried_models) == 3


@pytest.mark.e2e
async def test_sigterm_lets_short_generations_finish(daphne, standin):
    standin.chunks_per_second = 60
    server = daphne()
    _ws, generation_id = await start(server)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(30) == 0
    server.stop()
    restarted = daphne()
    stored = restarted.get(f"/api/generations/{generation_id}").json()["data"]
    assert stored["status"] == "completed"
    assert all(v["status"] == "completed" for v in stored["variants"])


@pytest.mark.e2e
async def test_sigterm_interrupts_what_outlasts_the_grace_period(daphne, standin):
    standin.text_for = long_unless_quick
    standin.chunks_per_second = 60
    server = daphne(CLONEGEN_SHUTDOWN_GRACE_SECONDS="1")
    ws, generation_id = await start(server)
    await until_completed(ws, 1)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(30) == 0
    server.stop()
    stored = daphne().get(f"/api/generations/{generation_id}").json()["data"]
    assert stored["status"] == "interrupted"
    statuses = sorted(v["status"] for v in stored["variants"])
    assert statuses == ["completed", "interrupted", "interrupted", "interrupted"]
    for variant in stored["variants"]:
        assert long_unless_quick(variant["model"]).startswith(variant["text"])
        assert variant["text"]


@pytest.mark.django_db(transaction=True)
async def test_cancel_closes_the_model_streams(live_models, connect):
    live_models.chunks_per_second = 30
    socket = SocketClient(await connect())
    generation_id = (await socket.generate())["generation_id"]
    seen = await socket.until("variant.chunk", timeout=10)
    await socket.send(type="cancel", generation_id=generation_id)
    followed = await socket.follow(generation_id, seen=seen, timeout=10)
    await socket.close()

    assert followed.status == "cancelled"
    closed = [
        await asyncio.to_thread(live_models.client_closes.acquire, True, 10) for _ in range(4)
    ]
    assert all(closed), "the stand-in saw every stream closed by the client"
    generation = await Generation.objects.prefetch_related("variants").aget(id=generation_id)
    assert generation.status == "cancelled"
    for variant in generation.variants.all():
        assert variant.status == "cancelled"
        assert live_models.text_for(variant.model).startswith(variant.text)


@pytest.mark.django_db(transaction=True)
async def test_retry_rules(live_models, connect, settings):
    live_models.unknown_models.add("m-gone")
    settings.CLONEGEN_MODELS = "m-gone,m-fine"
    socket = SocketClient(await connect())
    generation_id = (await socket.generate_and_follow()).generation_id
    # Two retries at once start exactly one run.
    outcomes = await asyncio.gather(
        actions.retry_generation(generation_id, ANYONE),
        actions.retry_generation(generation_id, ANYONE),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["AppError", "Generation"]
    assert next(o for o in outcomes if isinstance(o, AppError)).code == "conflict"
    running = next(o for o in outcomes if isinstance(o, Generation))
    assert running.status == "running"  # already running when the answer goes out
    await socket.send(type="retry", generation_id=generation_id)
    assert (await socket.receive())["code"] == "conflict"
    await socket.follow(generation_id)  # the run the first retry started
    live_models.unknown_models.clear()
    await socket.send(type="retry", generation_id=generation_id)
    assert (await socket.follow(generation_id)).status == "completed"
    await socket.send(type="retry", generation_id=generation_id)
    assert (await socket.receive())["code"] == "nothing_to_retry"
    await socket.close()
    requests_for_fine = [r for r in live_models.requests if r["model"] == "m-fine"]
    assert len(requests_for_fine) == 1, "a completed variant is never re-run"


@pytest.mark.django_db(transaction=True)
async def test_refusing_database_spools_the_result_and_start_up_replays_it(
    live_models, connect, settings, monkeypatch
):
    settings.CLONEGEN_MODELS = "m-one"
    monkeypatch.setattr("generations.runner.SAVE_RETRY_DELAYS_SECONDS", (0.01,))
    real_save = services.variant_save_result

    def database_down(**result):
        raise OperationalError("database is unavailable")

    monkeypatch.setattr(services, "variant_save_result", database_down)
    socket = SocketClient(await connect())
    generation_id = (await socket.generate_and_follow()).generation_id
    await socket.close()
    assert spool.spool_path().exists()

    monkeypatch.setattr(services, "variant_save_result", real_save)
    await database_sync_to_async(spool.replay)(lifecycle._apply_spooled)
    generation = await Generation.objects.prefetch_related("variants").aget(id=generation_id)
    variant = generation.variants.all()[0]
    assert variant.status == "completed"
    assert variant.text == live_models.text_for("m-one")
    assert generation.status == "completed"
    assert not spool.spool_path().exists()


@pytest.mark.django_db(transaction=True)
async def test_sweep_interrupts_only_generations_of_stale_processes():
    long_ago = timezone.now() - timedelta(minutes=5)
    streaming = ("completed", "streaming", "streaming", "pending")
    dead = await database_sync_to_async(make_generation)(
        streaming, status="running", runner_id="host:1:dead", heartbeat_at=long_ago
    )
    alive = await database_sync_to_async(make_generation)(
        streaming, status="running", runner_id="host:2:alive", heartbeat_at=timezone.now()
    )
    own = await database_sync_to_async(make_generation)(
        streaming, status="running", runner_id=RUNNER_ID, heartbeat_at=long_ago
    )

    interrupted = await lifecycle.beat_and_sweep(interval=1)

    assert interrupted == [dead.id]
    statuses = {
        g.id: (g.status, [v.status for v in g.variants.all()])
        async for g in Generation.objects.prefetch_related("variants")
    }
    assert statuses[dead.id] == (
        "interrupted",
        ["completed", "interrupted", "interrupted", "interrupted"],
    )
    assert statuses[alive.id][0] == "running"
    assert statuses[own.id][0] == "running"  # our own runs are beaten, never swept
    refreshed = await Generation.objects.aget(id=own.id)
    assert refreshed.heartbeat_at > long_ago
