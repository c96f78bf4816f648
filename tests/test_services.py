"""Each write in generations.services, against the database: what it stores and what it refuses."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.utils import timezone

from generations import services
from generations.catalog import configured_variants
from generations.errors import AppError
from generations.images import decode_screenshot
from generations.models import Generation, Variant
from tests.factories import make_generation, page_html
from tests.support import DEFAULT_MODELS, data_url, png_bytes

pytestmark = pytest.mark.django_db

RUNNER = "host:1:test"


def screenshot():
    return decode_screenshot(data_url(png_bytes(64, 32)), max_bytes=10 * 1024 * 1024)


def variant(generation, index: int = 0) -> Variant:
    return Variant.objects.get(generation_id=generation.id, index=index)


def statuses(generation) -> list[str]:
    return list(
        Variant.objects.filter(generation_id=generation.id).values_list("status", flat=True)
    )


def listed_screenshots() -> set[str]:
    storage = Generation._meta.get_field("screenshot").storage
    return set(storage.listdir("screenshots")[1]) if storage.exists("screenshots") else set()


def started(statuses_=("pending",) * 4) -> Generation:
    """A generation this process is running, its variants in `statuses_`."""
    return make_generation(statuses_, status="running", run_started_at=timezone.now())


def save_result(generation, index: int = 0, **fields) -> bool:
    now = timezone.now()
    values = {
        "model": DEFAULT_MODELS[index],
        "text": f"```html\n{page_html(index)}\n```",
        "raw_html": page_html(index),
        "finish_reason": "stop",
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "requests": 1,
        "first_token_at": now,
        "finished_at": now,
        "duration_ms": 1200,
        **fields,
    }
    return services.variant_save_result(generation_id=generation.id, index=index, **values)


def end_unfinished(generation, index: int = 0, **fields) -> None:
    values = {
        "status": "failed",
        "text": "partial",
        "requests": 1,
        "error_code": "bad_request",
        "error_message": "Refused.",
        "finished_at": timezone.now(),
        "duration_ms": 10,
        **fields,
    }
    services.variant_end_unfinished(generation_id=generation.id, index=index, **values)


# ------------------------------------------------------------------------ creating and starting


def test_generation_create_stores_the_screenshot_and_pending_variants():
    shot = screenshot()
    generation = services.generation_create(
        screenshot=shot,
        instructions="Dark mode",
        stack="html_tailwind",
        variants=configured_variants(),
        client_key="k" * 64,
    )
    stored = Generation.objects.get(id=generation.id)
    assert stored.status == "started"
    assert (stored.screenshot_width, stored.screenshot_height) == (64, 32)
    assert stored.screenshot_bytes == len(shot.content)
    assert stored.screenshot.read() == shot.content
    assert stored.run_started_at is not None
    assert statuses(stored) == ["pending"] * 4
    assert [v.requested_model for v in stored.variants.all()] == list(DEFAULT_MODELS)


def test_generation_create_leaves_no_file_when_the_record_is_not_stored():
    specs = configured_variants()
    duplicated = (specs[0], specs[0])  # two variants at index 0 break the unique constraint
    before = Generation.objects.count()
    screenshots_before = listed_screenshots()
    with pytest.raises(IntegrityError):
        services.generation_create(
            screenshot=screenshot(), instructions="", stack="html_tailwind", variants=duplicated
        )
    assert Generation.objects.count() == before
    assert listed_screenshots() == screenshots_before, "no orphan file for a record never stored"


def test_begin_run_claims_the_generation_and_returns_its_pending_variants():
    generation = make_generation(("completed", "pending", "failed", "pending"), status="started")
    variants = services.generation_begin_run(generation_id=generation.id, runner_id=RUNNER)
    assert [v.index for v in variants] == [1, 3]
    stored = Generation.objects.get(id=generation.id)
    assert (stored.status, stored.runner_id) == ("running", RUNNER)
    assert stored.heartbeat_at is not None


def test_begin_run_of_an_ended_generation_runs_nothing():
    generation = make_generation(("cancelled",) * 4, status="cancelled")
    assert services.generation_begin_run(generation_id=generation.id, runner_id=RUNNER) == []
    assert Generation.objects.get(id=generation.id).status == "cancelled"


# ------------------------------------------------------------------------ a variant's life


def test_begin_attempt_starts_a_fresh_text_with_its_model_and_budget():
    generation = started(("failed", "pending", "pending", "pending"))
    Variant.objects.filter(generation=generation, index=0).update(
        error_code="stream_broken", error_message="cut", first_token_at=timezone.now()
    )
    at = timezone.now()
    services.variant_begin_attempt(
        generation_id=generation.id, index=0, model="gpt-4o", max_tokens=16384, started_at=at
    )
    stored = variant(generation)
    assert (stored.status, stored.model, stored.max_tokens) == ("streaming", "gpt-4o", 16384)
    assert (stored.text, stored.error_code, stored.error_message) == ("", "", "")
    assert stored.started_at == at
    assert stored.first_token_at is None


def test_checkpoint_stores_a_streaming_text_only():
    generation = started(("streaming", "completed", "pending", "pending"))
    services.variant_checkpoint(generation_id=generation.id, index=0, text="<!DOCTYPE")
    services.variant_checkpoint(generation_id=generation.id, index=1, text="overwritten?")
    assert variant(generation, 0).text == "<!DOCTYPE"
    assert variant(generation, 1).text == page_html(1), "a finished variant is left alone"


def test_save_result_commits_the_answer_with_its_cost():
    generation = started(("streaming",) * 4)
    Variant.objects.filter(generation=generation, index=0).update(attempts=1)
    assert save_result(generation, 0, requests=2) is True
    stored = variant(generation)
    assert stored.status == "completed"
    assert stored.raw_html == page_html(0)
    assert stored.html is None, "the post-processed HTML is a separate write"
    assert (stored.prompt_tokens, stored.completion_tokens) == (1000, 500)
    assert stored.attempts == 3, "requests add to the attempts already counted"
    # gpt-4o-2024-11-20: $2.50 in, $10.00 out per million tokens.
    assert stored.cost_usd == Decimal("0.007500")
    assert (stored.finish_reason, stored.duration_ms) == ("stop", 1200)


def test_save_result_never_overwrites_a_completed_variant():
    generation = started(("streaming",) * 4)
    assert save_result(generation, 0) is True
    assert save_result(generation, 0, text="a replay", raw_html="<p>replay</p>") is False
    stored = variant(generation)
    assert stored.raw_html == page_html(0)
    assert stored.attempts == 1


def test_save_result_stores_the_post_processed_html_beside_the_raw_extraction():
    generation = started(("streaming",) * 4)
    save_result(generation, 0, html="<p>cleaned</p>")
    stored = variant(generation)
    assert (stored.html, stored.raw_html) == ("<p>cleaned</p>", page_html(0))


def test_variants_save_results_commits_several_and_skips_a_completed_one():
    generation = started(("streaming",) * 4)
    save_result(generation, 1)
    common = {
        "model": "m",
        "finish_reason": "stop",
        "prompt_tokens": 1,
        "completion_tokens": 2,
        "requests": 1,
        "first_token_at": None,
        "finished_at": timezone.now(),
        "duration_ms": 5,
    }
    saved = services.variants_save_results(
        results=[
            {
                "generation_id": generation.id,
                "index": i,
                "text": f"t{i}",
                "raw_html": f"<p>{i}</p>",
                "html": f"<p>{i}</p>\n",
                **common,
            }
            for i in (0, 1, 2)
        ]
    )
    assert saved == [True, False, True]
    assert variant(generation, 1).raw_html == page_html(1)  # never overwritten
    assert variant(generation, 2).raw_html == "<p>2</p>"


def test_end_unfinished_keeps_the_text_and_the_error():
    generation = started(("streaming",) * 4)
    end_unfinished(generation, 0, status="failed", text="<!DOCTYPE html><ht", requests=3)
    stored = variant(generation)
    assert (stored.status, stored.text) == ("failed", "<!DOCTYPE html><ht")
    assert (stored.error_code, stored.error_message) == ("bad_request", "Refused.")
    assert stored.attempts == 3
    assert stored.finished_at is not None


def test_end_unfinished_never_touches_a_completed_variant():
    generation = started(("streaming",) * 4)
    save_result(generation, 0)
    end_unfinished(generation, 0, status="cancelled")
    stored = variant(generation)
    assert (stored.status, stored.raw_html, stored.error_code) == ("completed", page_html(0), "")


# ------------------------------------------------------------------------ ending a run


@pytest.mark.parametrize(
    ("variant_statuses", "expected"),
    [
        (("completed",) * 4, "completed"),
        (("completed", "failed", "completed", "cancelled"), "partial"),
        (("failed", "failed", "cancelled", "failed"), "failed"),
        (("completed", "interrupted", "failed", "completed"), "interrupted"),
        (("interrupted",) * 4, "interrupted"),
    ],
)
def test_finish_run_status_adds_up_the_variants(variant_statuses, expected):
    generation = make_generation(variant_statuses, status="running", run_started_at=None)
    Generation.objects.filter(id=generation.id).update(
        run_started_at=timezone.now() - timedelta(seconds=2)
    )
    finished = services.generation_finish_run(generation_id=generation.id)
    stored = Generation.objects.get(id=generation.id)
    assert finished.status == stored.status == expected
    assert stored.finished_at is not None
    assert 2000 <= stored.duration_ms < 60_000


def test_finish_run_stopped_by_a_user_or_a_shutdown_says_so():
    generation = started(("completed", "cancelled", "cancelled", "cancelled"))
    services.generation_finish_run(generation_id=generation.id, stopped_as="cancelled")
    assert Generation.objects.get(id=generation.id).status == "cancelled"


def test_refresh_status_counts_a_late_result():
    generation = make_generation(("completed", "completed", "completed", "interrupted"))
    Variant.objects.filter(generation=generation, index=3).update(status="completed")
    services.generation_refresh_status(generation_id=generation.id)
    assert Generation.objects.get(id=generation.id).status == "completed"


def test_refresh_status_leaves_a_running_generation_alone():
    generation = started(("completed",) * 4)
    services.generation_refresh_status(generation_id=generation.id)
    assert Generation.objects.get(id=generation.id).status == "running"


# ------------------------------------------------------------------------ what a client asks


def test_retry_resets_the_unfinished_variants_and_claims_the_run():
    generation = make_generation(("completed", "failed", "interrupted", "cancelled"))
    Variant.objects.filter(generation=generation, index=1).update(
        error_code="bad_request", duration_ms=5, finished_at=timezone.now()
    )
    retried = services.generation_retry(generation=generation, runner_id=RUNNER)
    assert (retried.status, retried.runner_id, retried.finished_at) == ("running", RUNNER, None)
    assert retried.heartbeat_at is not None
    assert statuses(generation) == ["completed", "pending", "pending", "pending"]
    reset = variant(generation, 1)
    assert (reset.text, reset.error_code, reset.duration_ms, reset.finished_at) == (
        "",
        "",
        None,
        None,
    )
    assert variant(generation, 0).raw_html == page_html(0), "a completed result is kept"


def test_retry_of_a_running_generation_is_a_conflict():
    generation = started(("streaming",) * 4)
    with pytest.raises(AppError) as refused:
        services.generation_retry(generation=generation, runner_id=RUNNER)
    assert refused.value.code == "conflict"


def test_retry_with_every_variant_completed_has_nothing_to_retry():
    generation = make_generation(("completed",) * 4)
    with pytest.raises(AppError) as refused:
        services.generation_retry(generation=generation, runner_id=RUNNER)
    assert refused.value.code == "nothing_to_retry"


def test_the_second_of_two_concurrent_retries_is_refused():
    generation = make_generation(("completed", "failed", "failed", "failed"))
    stale = Generation.objects.get(id=generation.id)  # read before the first retry landed
    services.generation_retry(generation=generation, runner_id=RUNNER)
    with pytest.raises(AppError) as refused:
        services.generation_retry(generation=stale, runner_id="host:2:other")
    assert refused.value.code == "conflict"
    assert Generation.objects.get(id=generation.id).runner_id == RUNNER


def test_cancel_idle_cancels_what_is_unfinished_and_keeps_results():
    generation = make_generation(("completed", "failed", "pending", "streaming"), status="running")
    cancelled = services.generation_cancel_idle(generation_id=generation.id)
    assert cancelled.status == "cancelled"
    assert statuses(generation) == ["completed", "failed", "cancelled", "cancelled"]


def test_choose_a_completed_variant():
    generation = make_generation(("completed", "failed", "completed", "completed"))
    services.generation_choose(generation=generation, index=2)
    assert Generation.objects.get(id=generation.id).chosen_index == 2


@pytest.mark.parametrize("index", [1, 7])
def test_choose_refuses_a_variant_that_has_no_result(index):
    generation = make_generation(("completed", "failed", "completed", "completed"))
    with pytest.raises(AppError) as refused:
        services.generation_choose(generation=generation, index=index)
    assert refused.value.code == "invalid_field"
    assert Generation.objects.get(id=generation.id).chosen_index is None


# ------------------------------------------------------------------------ processes


def test_heartbeat_touches_only_this_process_active_runs():
    long_ago = timezone.now() - timedelta(hours=1)
    mine = started()
    ended = make_generation(("completed",) * 4)
    theirs = started()
    Generation.objects.filter(id__in=[mine.id, ended.id]).update(runner_id=RUNNER)
    Generation.objects.filter(id=theirs.id).update(runner_id="host:2:other")
    Generation.objects.update(heartbeat_at=long_ago)
    assert services.runner_heartbeat(runner_id=RUNNER) == 1
    beats = dict(Generation.objects.values_list("id", "heartbeat_at"))
    assert beats[mine.id] > long_ago
    assert beats[ended.id] == beats[theirs.id] == long_ago


def test_interrupt_orphans_ends_stale_runs_of_other_processes_only():
    now = timezone.now()
    stale, fresh = now - timedelta(minutes=5), now
    dead = started(("completed", "streaming", "pending", "failed"))
    alive = started()
    mine = started()
    never_beat = make_generation(("pending",) * 4, status="started")
    Generation.objects.filter(id=dead.id).update(runner_id="host:2:dead", heartbeat_at=stale)
    Generation.objects.filter(id=alive.id).update(runner_id="host:3:alive", heartbeat_at=fresh)
    Generation.objects.filter(id=mine.id).update(runner_id=RUNNER, heartbeat_at=stale)
    Generation.objects.filter(id=never_beat.id).update(heartbeat_at=None, created_at=stale)
    Variant.objects.filter(generation=dead, index=1).update(text="<!DOCTYPE html>")

    interrupted = services.generations_interrupt_orphans(
        stale_before=now - timedelta(minutes=1), live_runner_id=RUNNER
    )

    assert set(interrupted) == {dead.id, never_beat.id}
    status = dict(Generation.objects.values_list("id", "status"))
    assert (status[dead.id], status[never_beat.id]) == ("interrupted", "interrupted")
    assert (status[alive.id], status[mine.id]) == ("running", "running")
    assert statuses(dead) == ["completed", "interrupted", "interrupted", "failed"]
    assert variant(dead, 1).text == "<!DOCTYPE html>", "the checkpointed text is kept"
