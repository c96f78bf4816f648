"""The fan-out runner: screenshot → models → database → followers.

A run starts one detached task per variant. Each task streams its model's answer, relays the
text to followers in coalesced chunks (`relay.py`), checkpoints it, and commits the result the
moment the model finishes — before any frame about it is sent (`database.py`). Sockets only
watch: a closed one changes nothing here. The live state of each run (`live.py`) is the
runner's own: other modules read it through `live`, `live_variants`, `note_remote_follower`
and `send_exact_snapshot`. Over 350 lines on purpose: the whole life of a run (claim, stream,
fall back, save, tell, stop) reads top to bottom in this one file.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from generations import model_client, postprocessing, services, spool
from generations.catalog import max_tokens_for
from generations.database import on_sync_thread, save_results_together
from generations.extraction import extract_html, postprocess_html
from generations.images import as_data_url
from generations.live import LiveGeneration, LiveVariant
from generations.messages import messages_for
from generations.model_client import ModelCallError, ModelUnavailable, StreamBroken
from generations.models import (
    ACTIVE_VARIANT_STATUSES,
    Generation,
    GenerationStatus,
    VariantErrorCode,
    VariantStatus,
)
from generations.process import RUNNER_ID
from generations.publisher import GroupPublisher
from generations.relay import ChunkRelay
from generations.tasks import tasks

logger = logging.getLogger(__name__)

STREAM_RETRY_BACKOFF_SECONDS = (1.0, 3.0)
# Pauses between tries to commit a finished answer; after the last, it goes to the spool file.
SAVE_RETRY_DELAYS_SECONDS = (0.2, 1.0, 3.0)


class GenerationRunner:
    """Starts, follows, cancels and drains the generations this process runs."""

    def __init__(self) -> None:
        self.accepting = True
        # This process's running generations, each with the task that runs it: exact snapshots
        # come from here, not from checkpoints.
        self._runs: dict[uuid.UUID, LiveGeneration] = {}
        self._tasks: dict[LiveGeneration, asyncio.Task] = {}

    # ----------------------------------------------------------------------------- control

    def start(self, generation_id: uuid.UUID) -> asyncio.Task:
        """Run the generation's pending variants detached from the caller, and return at once."""
        # Registered before the task's first step, so a cancel arriving while it starts is seen.
        run = LiveGeneration(
            id=generation_id,
            publisher=GroupPublisher(generation_id),
            deadline=time.monotonic() + settings.CLONEGEN_VARIANT_DEADLINE_SECONDS,
        )
        task = tasks.spawn(self._run(run), name=f"generation {generation_id}")
        self._runs[generation_id] = run
        self._tasks[run] = task
        task.add_done_callback(lambda _: self._forget(run))
        return task

    def _forget(self, run: LiveGeneration) -> None:
        self._tasks.pop(run, None)
        if self._runs.get(run.id) is run:
            del self._runs[run.id]

    def cancel(self, generation_id: uuid.UUID) -> bool:
        """Stop this process's model calls for the generation; return False if it runs elsewhere."""
        return self._stop(generation_id, GenerationStatus.CANCELLED)

    def interrupt_all(self) -> int:
        """Stop every run in this process, keeping text so far; return how many were stopped."""
        return sum(self._stop(gid, GenerationStatus.INTERRUPTED) for gid in list(self._runs))

    def _stop(self, generation_id: uuid.UUID, status: str) -> bool:
        run = self._runs.get(generation_id)
        if run is None:
            return False
        run.stop_status = run.stop_status or status
        for task in run.variant_tasks:
            task.cancel()  # closes the HTTP streams: the API stops producing tokens
        return True

    async def drain(self, grace_seconds: float) -> None:
        """Refuse new work, let running variants finish within the grace period, then interrupt
        the rest and wait for them to record their text."""
        self.accepting = False
        loop = asyncio.get_running_loop()
        runs = [task for task in self._tasks.values() if task.get_loop() is loop]
        if runs:
            _, late = await asyncio.wait(runs, timeout=grace_seconds)
            if late:
                logger.warning("Interrupting %d generation(s) still running", len(late))
                self.interrupt_all()
                await asyncio.wait(late, timeout=10)

    # ------------------------------------------------------------------ the live state, read

    def live(self, generation_id: uuid.UUID) -> LiveGeneration | None:
        """The run of `generation_id` in this process, if it runs here."""
        return self._runs.get(generation_id)

    def live_variants(self, generation_id: uuid.UUID) -> dict[int, LiveVariant]:
        """The variants this process runs for the generation, by index (empty if none)."""
        run = self._runs.get(generation_id)
        return run.variants if run else {}

    def note_remote_follower(self, generation_id: uuid.UUID) -> None:
        """A socket of another process follows the run: publish through the layer as well."""
        run = self._runs.get(generation_id)
        if run is not None:
            run.publisher.remote_follower_joined()

    async def send_exact_snapshot(
        self, generation_id: uuid.UUID, send: Callable[[], Awaitable[None]]
    ) -> bool:
        """Await `send()` (which builds and sends a snapshot) while no chunk of the run can be
        published, so the subscriber's next chunk starts where the snapshot ends; from then on
        the run publishes through the layer too. False (and nothing sent) if it is not running
        here."""
        run = self._runs.get(generation_id)
        if run is None:
            return False
        async with run.publish_lock:  # held by the run's chunk relays while they publish
            await send()
            run.publisher.remote_follower_joined()
        return True

    # ------------------------------------------------------------------------------ a run

    async def _run(self, run: LiveGeneration) -> None:
        try:
            if await self._prepare(run):
                await self._run_variants(run)
        except Exception:
            # A run that cannot go on (its screenshot file is gone, say) must still end: left
            # `running`, this process's heartbeat would keep it so for good.
            logger.exception("Generation %s could not run", run.id)
            finished = await on_sync_thread(services.generation_fail_run, generation_id=run.id)
            await run.publisher.publish("generation.finished", status=finished.status)

    async def _prepare(self, run: LiveGeneration) -> bool:
        """Claim the generation for this process and load what its models need."""
        pending = await on_sync_thread(
            services.generation_begin_run, generation_id=run.id, runner_id=RUNNER_ID
        )
        if not pending:
            return False
        await run.publisher.look_for_remote_followers()
        generation, screenshot = await on_sync_thread(_load_generation, generation_id=run.id)
        run.messages = model_client.encode_messages(
            await on_sync_thread(
                messages_for,
                generation=generation,
                image_data_url=as_data_url(screenshot, generation.screenshot_type),
            )
        )
        run.after_save = postprocessing.for_run(
            run.id, screenshot=screenshot, publisher=run.publisher, images=generation.images
        )
        run.variants = {v.index: LiveVariant(index=v.index, chain=v.chain) for v in pending}
        return True

    async def _run_variants(self, run: LiveGeneration) -> None:
        run.variant_tasks = [
            tasks.spawn(self._run_variant(run, variant), name=f"variant {run.id}#{index}")
            for index, variant in run.variants.items()
        ]
        if run.stop_status:
            for task in run.variant_tasks:
                task.cancel()
        # asyncio.wait, not gather: the variants must outlive this coordinator if it dies.
        await asyncio.wait(run.variant_tasks)
        for variant in run.variants.values():
            # A task cancelled before its first step never ran its own clean-up.
            if variant.status in ACTIVE_VARIANT_STATUSES:
                await self._end_unfinished(run, variant, run.stop_status, time.monotonic())
        finished = await on_sync_thread(
            services.generation_finish_run, generation_id=run.id, stopped_as=run.stop_status
        )
        await run.publisher.publish("generation.finished", status=finished.status)

    async def _run_variant(self, run: LiveGeneration, variant: LiveVariant) -> None:
        started = time.monotonic()
        error: ModelCallError | None = None
        try:
            for model in variant.chain:
                error = await self._run_model(run, variant, model, started)
                if not isinstance(error, ModelUnavailable):
                    break
            if isinstance(error, ModelUnavailable):
                error.message = f"No model of {'|'.join(variant.chain)} is available."
            if error is not None:
                await self._end_unfinished(run, variant, VariantStatus.FAILED, started, error)
        except asyncio.CancelledError:
            # Cancelled by a user or by shutdown: the text so far is kept, nothing is re-raised
            # so the clean-up above can finish its own writes.
            status = run.stop_status or VariantStatus.CANCELLED
            await self._end_unfinished(run, variant, status, started)

    async def _run_model(
        self, run: LiveGeneration, variant: LiveVariant, model: str, started: float
    ) -> ModelCallError | None:
        """Run `model` for the variant, re-running a broken stream a bounded number of times."""
        error = None
        for stream_try in range(settings.CLONEGEN_STREAM_ATTEMPTS):
            if stream_try:
                backoff = STREAM_RETRY_BACKOFF_SECONDS
                await asyncio.sleep(backoff[min(stream_try, len(backoff)) - 1])
            try:
                await self._attempt(run, variant, model, started)
                return None
            except StreamBroken as broken:
                error = broken
            except ModelCallError as final:
                return final
        return error

    async def _attempt(
        self, run: LiveGeneration, variant: LiveVariant, model: str, started: float
    ) -> None:
        variant.begin_attempt(model)
        if variant.attempt > 1:
            await run.publisher.publish(
                "variant.restarted", index=variant.index, attempt=variant.attempt, model=model
            )
        max_tokens = max_tokens_for(model)
        await on_sync_thread(
            services.variant_begin_attempt,
            generation_id=run.id,
            index=variant.index,
            model=model,
            max_tokens=max_tokens,
            started_at=timezone.now(),
        )
        relay = ChunkRelay(run, variant)
        try:
            async with asyncio.timeout_at(_loop_time(run.deadline)):
                result = await model_client.stream_completion(
                    model=model,
                    messages=run.messages,
                    max_tokens=max_tokens,
                    on_delta=variant.append,
                    on_request=variant.count_request,
                    max_chars=settings.CLONEGEN_MAX_OUTPUT_CHARS,
                )
        except TimeoutError:
            raise ModelCallError(
                "The model did not finish within the deadline.", VariantErrorCode.TIMEOUT
            ) from None
        finally:
            await relay.stop()
        await self._complete(run, variant, relay, result, started)

    async def _complete(self, run, variant: LiveVariant, relay: ChunkRelay, result, started):
        """Save first, then tell: the result is committed before any frame about it goes out.

        The post-processed HTML is computed first (pure string work, microseconds) and stored
        in the same statement as the raw extraction, which it never replaces."""
        text = variant.text()
        raw_html = extract_html(text)
        html = _tidied(raw_html)
        duration_ms = _elapsed_ms(started)
        await _save_durably(
            generation_id=str(run.id),
            index=variant.index,
            model=variant.model,
            text=text,
            raw_html=raw_html,
            html=html,
            finish_reason=result.finish_reason,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            requests=variant.requests,
            first_token_at=variant.first_token_at,
            finished_at=timezone.now(),
            duration_ms=duration_ms,
        )
        await relay.flush()
        shown = raw_html if html is None else html
        variant.status, variant.html = VariantStatus.COMPLETED, shown
        await run.publisher.publish(
            "variant.completed",
            index=variant.index,
            model=variant.model,
            html=shown,
            duration_ms=duration_ms,
            finish_reason=result.finish_reason,
            usage={
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
            },
        )
        # Saved and sent: only now images, the render and its score (never before, never
        # holding up either).
        run.after_save.start(variant.index, shown)

    async def _end_unfinished(self, run, variant, status, started, error=None) -> None:
        variant.status = status
        await on_sync_thread(
            services.variant_end_unfinished,
            generation_id=run.id,
            index=variant.index,
            status=status,
            text=variant.text(),
            requests=variant.requests,
            error_code=error.code if error else "",
            error_message=error.message if error else "",
            finished_at=timezone.now(),
            duration_ms=_elapsed_ms(started),
        )
        if error is not None:
            await run.publisher.publish(
                "variant.failed",
                index=variant.index,
                error={"code": error.code, "message": error.message},
            )


async def _save_durably(**result) -> None:
    """Commit a finished answer (with the others finishing at the same moment), retrying while
    the database refuses; as a last resort append it to the spool file that start-up replays.
    A paid-for answer is never dropped: every result of a refused batch retries, then spools,
    on its own."""
    for delay in (*SAVE_RETRY_DELAYS_SECONDS, None):
        try:
            await save_results_together(**result)
            return
        except DatabaseError:
            logger.warning("Saving %s#%s failed", result["generation_id"], result["index"])
            if delay is None:
                break
            await asyncio.sleep(delay)
    await sync_to_async(spool.append)(result)
    logger.error("Database unavailable: %s#%s spooled", result["generation_id"], result["index"])


def _load_generation(generation_id: uuid.UUID) -> tuple[Generation, bytes]:
    """Return the generation and its stored screenshot."""
    generation = Generation.objects.get(id=generation_id)
    with generation.screenshot.open("rb") as stored:
        return generation, stored.read()


def _tidied(raw_html: str) -> str | None:
    """The post-processed HTML, or None (the raw extraction is then shown) if tidying fails:
    a bug in post-processing must never cost the paid-for result its save."""
    try:
        return postprocess_html(raw_html)
    except Exception:
        logger.exception("Post-processing failed; the raw extraction is kept and shown")
        return None


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _loop_time(monotonic_deadline: float) -> float:
    loop = asyncio.get_running_loop()
    return loop.time() + (monotonic_deadline - time.monotonic())


runner = GenerationRunner()
