"""Resume after a dropped socket: snapshot, then live frames, rebuilt exactly by offset."""

import random
import uuid

import pytest

from tests.socket_client import SocketClient
from tests.support import Follower

pytestmark = pytest.mark.django_db(transaction=True)


def assert_prefixes(follower: Follower, standin, models: dict[int, str]) -> None:
    for index, text in follower.texts.items():
        assert standin.text_for(models[index]).startswith(text), f"variant {index} diverged"


async def test_resume_many_times_at_random_points(live_models, connect):
    live_models.chunks_per_second = 150
    live_models.chunk_chars = 9
    rng = random.Random(20261126)
    first = SocketClient(await connect())
    started = await first.generate()
    generation_id = started["generation_id"]
    models = {v["index"]: v["model"] for v in started["variants"]}
    await first.close()

    follower = Follower()
    reconnects = 0
    while not follower.finished:
        socket = SocketClient(await connect())
        await socket.subscribe(generation_id)
        for _ in range(rng.randint(1, 40)):
            follower.apply(await socket.receive(timeout=30))
            assert_prefixes(follower, live_models, models)
            if follower.needs_snapshot:
                await socket.subscribe(generation_id)
            if follower.finished:
                break
        await socket.close()
        reconnects += 1

    assert reconnects >= 10
    assert follower.status == "completed"
    for index, model in models.items():
        assert follower.texts[index] == live_models.text_for(model)


async def test_subscribe_to_a_finished_generation_gives_the_final_snapshot(live_models, connect):
    socket = SocketClient(await connect())
    generation_id = (await socket.generate_and_follow()).generation_id
    await socket.subscribe(generation_id)
    snapshot = await socket.receive()
    await socket.close()

    assert snapshot["type"] == "generation.snapshot"
    assert snapshot["status"] == "completed"
    for variant in snapshot["variants"]:
        assert variant["status"] == "completed"
        assert variant["text"] == live_models.text_for(variant["model"])
        assert variant["html"].startswith("<!DOCTYPE html>")


async def test_subscribe_to_an_unknown_id_is_not_found(live_models, connect):
    socket = SocketClient(await connect())
    await socket.subscribe(str(uuid.uuid4()))
    assert (await socket.receive())["code"] == "not_found"
    await socket.close()


@pytest.mark.e2e
async def test_resume_over_real_tcp_after_abrupt_aborts(daphne, standin):
    standin.chunks_per_second = 120
    standin.chunk_chars = 11
    server = daphne()
    rng = random.Random(7)
    socket = await SocketClient.over_tcp(server)
    started = await socket.generate()
    models = {v["index"]: v["model"] for v in started["variants"]}
    follower = Follower()
    while not follower.finished:
        for _ in range(rng.randint(1, 60)):
            follower.apply(await socket.receive())
            assert_prefixes(follower, standin, models)
            if follower.finished:
                break
        socket.connection.transport.abort()  # no close handshake: the network just went away
        if follower.finished:
            break
        socket = await SocketClient.over_tcp(server)
        await socket.subscribe(started["generation_id"])

    for index, model in models.items():
        assert follower.texts[index] == standin.text_for(model)
