"""Model faults, one per variant in the same generation: each has its defined outcome, the
attempts are recorded, and the other variants never notice."""

import pytest

from demo.faults import Fault
from generations.models import Generation
from tests.socket_client import SocketClient
from tests.support import Follower

pytestmark = pytest.mark.django_db(transaction=True)


async def run_generation(connect, models: str, settings) -> tuple[Follower, Generation]:
    settings.CLONEGEN_MODELS = models
    socket = SocketClient(await connect())
    followed = await socket.generate_and_follow()
    await socket.close()
    generation = await Generation.objects.prefetch_related("variants").aget(
        id=followed.generation_id
    )
    return followed.follower, generation


def variants_by_index(generation: Generation) -> dict:
    return {v.index: v for v in generation.variants.all()}


async def test_request_phase_faults_are_isolated(live_models, connect, settings):
    live_models.add_fault("m-429", Fault(status=429, retry_after=0.05))
    live_models.add_fault("m-500", Fault(status=500))
    live_models.add_fault("m-500", Fault(status=503))
    live_models.unknown_models.add("m-gone")
    live_models.add_fault("m-400", Fault(status=400, message="max_tokens is too large"))
    live_models.add_fault("m-401", Fault(status=401, message="Incorrect API key provided"))
    live_models.add_fault(
        "m-quota", Fault(status=429, code="insufficient_quota", message="You exceeded your quota")
    )

    follower, generation = await run_generation(
        connect, "m-429,m-500,m-gone|m-next,m-400,m-401,m-quota,m-fine", settings
    )
    variants = variants_by_index(generation)

    assert generation.status == "partial"
    # 429 and 5xx before streaming: clonegen's own retries (the SDK's are off, max_retries=0),
    # honouring Retry-After, then success.
    assert (variants[0].status, variants[0].attempts) == ("completed", 2)
    assert (variants[1].status, variants[1].attempts) == ("completed", 3)
    # Not found: the next model of the chain; requested and used model both recorded.
    assert (variants[2].status, variants[2].requested_model, variants[2].model) == (
        "completed",
        "m-gone",
        "m-next",
    )
    assert variants[2].raw_html
    assert "m-next" in variants[2].raw_html
    # 400, 401 and quota: final at once, no retry storm, a readable message.
    for index, code in ((3, "bad_request"), (4, "auth_failed"), (5, "quota_exceeded")):
        assert (variants[index].status, variants[index].error_code) == ("failed", code)
        assert variants[index].attempts == 1
        assert follower.failures[index]["code"] == code
    assert "max_tokens" in variants[3].error_message
    assert variants[6].status == "completed"
    assert [r["model"] for r in live_models.requests].count("m-400") == 1


async def test_broken_streams_are_rerun_and_followers_told(live_models, connect, settings):
    live_models.add_fault("m-cut", Fault(cut_after_chars=300))
    live_models.add_fault("m-early", Fault(end_without_finish_after_chars=200))
    for _ in range(3):
        live_models.add_fault("m-always-cut", Fault(cut_after_chars=100))

    follower, generation = await run_generation(
        connect, "m-cut,m-early,m-always-cut,m-fine", settings
    )
    variants = variants_by_index(generation)

    for index, model in ((0, "m-cut"), (1, "m-early")):
        assert variants[index].status == "completed"
        assert variants[index].text == live_models.text_for(model)  # no splice of two attempts
        assert follower.texts[index] == live_models.text_for(model)
    restarted = {(r["index"], r["attempt"]) for r in follower.restarts}
    assert {(0, 2), (1, 2), (2, 2), (2, 3)} <= restarted
    assert (variants[2].status, variants[2].error_code) == ("failed", "stream_broken")
    assert variants[3].status == "completed"
    assert not any(r["index"] == 3 for r in follower.restarts)


async def test_every_model_of_a_chain_missing(live_models, connect, settings):
    live_models.unknown_models.update({"m-old", "m-older"})
    _follower, generation = await run_generation(connect, "m-old|m-older,m-fine", settings)
    variants = variants_by_index(generation)
    assert (variants[0].status, variants[0].error_code) == ("failed", "model_unavailable")
    assert variants[1].status == "completed"
    assert generation.status == "partial"


async def test_truncated_answer_is_completed_and_marked(live_models, connect, settings):
    live_models.add_fault("m-long", Fault(finish_reason="length"))
    _, generation = await run_generation(connect, "m-long", settings)
    variant = variants_by_index(generation)[0]
    assert (variant.status, variant.finish_reason) == ("completed", "length")


async def test_stalled_stream_hits_the_deadline(live_models, connect, settings):
    settings.CLONEGEN_VARIANT_DEADLINE_SECONDS = 2
    live_models.add_fault("m-stall", Fault(stall_after_chars=100))
    _follower, generation = await run_generation(connect, "m-stall,m-fine", settings)
    variants = variants_by_index(generation)
    assert (variants[0].status, variants[0].error_code) == ("failed", "timeout")
    assert variants[0].text == live_models.text_for("m-stall")[:100]  # text so far kept
    assert variants[1].status == "completed"
