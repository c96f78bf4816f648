"""Resume after a dropped socket: snapshot, then live frames, rebuilt exactly by offset."""

import json
import random
import uuid

import pytest
import websockets

from tests.support import Follower, data_url, generate_to_the_end, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


async def send(communicator, **frame) -> None:
    await communicator.send_to(text_data=json.dumps(frame))


def assert_prefixes(follower: Follower, standin, models: dict[int, str]) -> None:
    for index, text in follower.texts.items():
        assert standin.text_for(models[index]).startswith(text), f"variant {index} diverged"


async def test_resume_many_times_at_random_points(live_models, connect):
    live_models.chunks_per_second = 150
    live_models.chunk_chars = 9
    rng = random.Random(20261126)
    first = await connect()
    await send(first, type="generate", image=data_url(png_bytes()))
    started = json.loads(await first.receive_from())
    generation_id = started["generation_id"]
    models = {v["index"]: v["model"] for v in started["variants"]}
    await first.disconnect()

    follower = Follower()
    reconnects = 0
    while not follower.finished:
        communicator = await connect()
        await send(communicator, type="subscribe", generation_id=generation_id)
        for _ in range(rng.randint(1, 40)):
            follower.apply(json.loads(await communicator.receive_from(timeout=30)))
            assert_prefixes(follower, live_models, models)
            if follower.needs_snapshot:
                await send(communicator, type="subscribe", generation_id=generation_id)
            if follower.finished:
                break
        await communicator.disconnect()
        reconnects += 1

    assert reconnects >= 10
    assert follower.status == "completed"
    for index, model in models.items():
        assert follower.texts[index] == live_models.text_for(model)


async def test_subscribe_to_a_finished_generation_gives_the_final_snapshot(live_models, connect):
    communicator = await connect()
    generation_id = await generate_to_the_end(communicator)
    await send(communicator, type="subscribe", generation_id=generation_id)
    snapshot = json.loads(await communicator.receive_from())
    await communicator.disconnect()

    assert snapshot["type"] == "generation.snapshot"
    assert snapshot["status"] == "completed"
    for variant in snapshot["variants"]:
        assert variant["status"] == "completed"
        assert variant["text"] == live_models.text_for(variant["model"])
        assert variant["html"].startswith("<!DOCTYPE html>")


async def test_subscribe_to_an_unknown_id_is_not_found(live_models, connect):
    communicator = await connect()
    await send(communicator, type="subscribe", generation_id=str(uuid.uuid4()))
    assert json.loads(await communicator.receive_from())["code"] == "not_found"
    await communicator.disconnect()


@pytest.mark.e2e
async def test_resume_over_real_tcp_after_abrupt_aborts(daphne, standin):
    standin.chunks_per_second = 120
    standin.chunk_chars = 11
    server = daphne()
    rng = random.Random(7)
    origin = "http://127.0.0.1"
    ws = await websockets.connect(server.ws_url, origin=origin, max_size=None)
    await ws.send(json.dumps({"type": "generate", "image": data_url(png_bytes())}))
    started = json.loads(await ws.recv())
    models = {v["index"]: v["model"] for v in started["variants"]}
    follower = Follower()
    while not follower.finished:
        for _ in range(rng.randint(1, 60)):
            follower.apply(json.loads(await ws.recv()))
            assert_prefixes(follower, standin, models)
            if follower.finished:
                break
        ws.transport.abort()  # no close handshake: the network just went away
        if follower.finished:
            break
        ws = await websockets.connect(server.ws_url, origin=origin, max_size=None)
        await ws.send(json.dumps({"type": "subscribe", "generation_id": started["generation_id"]}))

    for index, model in models.items():
        assert follower.texts[index] == standin.text_for(model)
