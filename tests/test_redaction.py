"""API keys never reach storage or a client: model API messages are redacted (contract §13)."""

import json

import pytest

from demo.faults import Fault
from generations.models import Variant
from generations.redaction import redact
from tests.support import TEST_API_KEY, Follower, data_url, png_bytes

MASKED_KEY = "sk-proj-********************************************abcd"
OTHER_KEY = "sk-live-9f8e7d6c5b4a39281706ZZZZ"


def test_redact_replaces_the_configured_key_and_key_shaped_words(settings):
    settings.OPENAI_API_KEY = "not-shaped-like-a-key-7f3a"
    text = f"Bad key not-shaped-like-a-key-7f3a, {OTHER_KEY} and {MASKED_KEY}."
    assert redact(text) == "Bad key [redacted], [redacted] and [redacted]."
    # Words that merely contain "sk-" are left alone.
    assert redact("A risk-free task-list; a desk-top.") == "A risk-free task-list; a desk-top."


@pytest.mark.django_db(transaction=True)
async def test_a_401_echoing_the_key_is_stored_and_shown_redacted(
    live_models, connect, settings, async_client
):
    settings.CLONEGEN_MODELS = "m-401,m-fine"
    message = (
        f"Incorrect API key provided: {TEST_API_KEY}. Also seen: {MASKED_KEY}. "
        "You can find your API key at https://platform.openai.com/account/api-keys."
    )
    live_models.add_fault("m-401", Fault(status=401, message=message))
    communicator = await connect()
    await communicator.send_json_to({"type": "generate", "image": data_url(png_bytes())})
    generation_id = (await communicator.receive_json_from(timeout=10))["generation_id"]
    follower = Follower()
    while follower.status is None:
        follower.apply(await communicator.receive_json_from(timeout=30))
    await communicator.send_json_to({"type": "subscribe", "generation_id": generation_id})
    snapshot = await communicator.receive_json_from(timeout=10)
    await communicator.disconnect()

    stored = await Variant.objects.aget(generation_id=generation_id, index=0)
    api = (await async_client.get(f"/api/generations/{generation_id}")).json()["data"]
    shown = {
        "frame": follower.failures[0]["message"],
        "snapshot": snapshot["variants"][0]["error"]["message"],
        "api": api["variants"][0]["error"]["message"],
        "database": stored.error_message,
    }
    expected = (
        "Incorrect API key provided: [redacted]. Also seen: [redacted]. "
        "You can find your API key at https://platform.openai.com/account/api-keys."
    )
    assert shown == dict.fromkeys(shown, expected)
    assert stored.error_code == "auth_failed"
    everything = json.dumps([shown, snapshot, api])
    assert TEST_API_KEY not in everything
    assert "sk-" not in everything
