"""A runaway answer (contract §13): cut at CLONEGEN_MAX_OUTPUT_CHARS, its stream closed so no more
tokens are billed, the variant `completed` with finish_reason "length", every frame small."""

import json

import pytest

from generations.models import Generation
from tests.socket_client import SocketClient

pytestmark = pytest.mark.django_db(transaction=True)

CAP = 5_000


async def test_an_answer_past_the_cap_is_cut_there_and_its_stream_closed(
    live_models, connect, settings
):
    settings.CLONEGEN_MODELS = "m-runaway,m-normal"
    settings.CLONEGEN_MAX_OUTPUT_CHARS = CAP
    runaway = "<!DOCTYPE html><html><body>" + "<p>é and more</p>" * 20_000  # ~340 000 chars
    live_models.text_for = lambda model: runaway if model == "m-runaway" else "<html>ok</html>"

    socket = SocketClient(await connect())
    followed = await socket.generate_and_follow()
    await socket.close()

    generation = await Generation.objects.prefetch_related("variants").aget(
        id=followed.generation_id
    )
    cut, normal = generation.variants.all()
    assert (cut.status, cut.finish_reason) == ("completed", "length")
    assert cut.text == runaway[:CAP]
    assert followed.texts[0] == runaway[:CAP]
    assert (normal.status, normal.finish_reason, normal.text) == (
        "completed",
        "stop",
        "<html>ok</html>",
    )
    # The stand-in saw the client close the runaway stream before it was done.
    assert live_models.client_closes.acquire(timeout=10)
    # No frame carried more than the cap (plus the frame's own fields).
    assert max(len(json.dumps(frame)) for frame in followed.frames) < 3 * CAP
