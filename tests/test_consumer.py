"""The socket consumer, in process: frames in, frames out, what the model server was asked."""

import json

import pytest

from generations.catalog import max_tokens_for
from generations.models import Generation, GenerationStatus, VariantStatus
from tests.socket_client import SocketClient
from tests.support import DEFAULT_MODELS, data_url, html_inside, png_bytes, rebuild_texts

pytestmark = pytest.mark.django_db(transaction=True)


async def test_generate_streams_four_variants_and_stores_them(live_models, connect):
    socket = SocketClient(await connect())
    frames = (await socket.generate_and_follow()).frames
    await socket.close()

    started = frames[0]
    assert started["type"] == "generation.started"
    assert [v["model"] for v in started["variants"]] == list(DEFAULT_MODELS)
    assert frames[-1] == {
        "type": "generation.finished",
        "generation_id": started["generation_id"],
        "status": "completed",
    }
    texts = rebuild_texts(frames)
    completed = {f["index"]: f for f in frames if f["type"] == "variant.completed"}
    generation = await Generation.objects.prefetch_related("variants").aget(
        id=started["generation_id"]
    )
    assert generation.status == GenerationStatus.COMPLETED
    async for variant in generation.variants.all():
        expected = live_models.text_for(variant.model)
        assert texts[variant.index] == expected
        assert variant.status == VariantStatus.COMPLETED
        assert variant.raw_html == html_inside(expected)
        assert completed[variant.index]["html"] == variant.html
        assert completed[variant.index]["finish_reason"] == "stop"


async def test_models_are_asked_fairly(live_models, connect):
    socket = SocketClient(await connect())
    await socket.generate_and_follow(instructions="Dark footer")
    await socket.close()

    by_model = {request["model"]: request for request in live_models.requests}
    assert set(by_model) == set(DEFAULT_MODELS)
    for model, request in by_model.items():
        assert request["temperature"] == 0
        assert request["stream"] is True
        assert request["stream_options"] == {"include_usage": True}
        assert request["max_tokens"] == max_tokens_for(model)
        assert not {"reasoning_effort", "reasoning", "thinking"} & set(request)
        image_parts = [
            part for part in request["messages"][-1]["content"] if part["type"] == "image_url"
        ]
        assert image_parts[0]["image_url"]["url"] == data_url(png_bytes())
        assert "Dark footer" in json.dumps(request["messages"])
    assert by_model["gpt-4o-2024-11-20"]["max_tokens"] == 16384
    assert by_model["gpt-4.1-2025-04-14"]["max_tokens"] == 20000


async def test_successor_models_are_asked_as_the_model_table_says(live_models, connect, settings):
    # After 2027-01-14 an operator changes CLONEGEN_MODELS alone (README, "Models over time").
    settings.CLONEGEN_MODELS = "gpt-6-luna,gpt-6.1-sol,gpt-9-unknown"
    socket = SocketClient(await connect())
    followed = await socket.generate_and_follow()
    await socket.close()

    assert followed.status == "completed"
    by_model = {request["model"]: request for request in live_models.requests}
    luna, sol, unknown = by_model["gpt-6-luna"], by_model["gpt-6.1-sol"], by_model["gpt-9-unknown"]
    # Reasoning off where the model allows it, and then temperature 0.
    assert (luna["max_completion_tokens"], luna["reasoning_effort"], luna["temperature"]) == (
        20000,
        "none",
        0,
    )
    # A model that cannot turn reasoning off gets the least, and no temperature (a 400 else).
    assert (sol["max_completion_tokens"], sol["reasoning_effort"]) == (20000, "low")
    assert "temperature" not in sol
    # A name the table does not know: only what no current model refuses.
    assert unknown["max_completion_tokens"] == 20000
    assert not {"temperature", "reasoning_effort", "max_tokens"} & set(unknown)
    for request in (luna, sol, unknown):
        assert "max_tokens" not in request
    generation = await Generation.objects.prefetch_related("variants").aget(
        id=followed.generation_id
    )
    assert [v.max_tokens for v in generation.variants.all()] == [20000, 20000, 20000]
