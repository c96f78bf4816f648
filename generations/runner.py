"""The fan-out runner: screenshot → models → database → followers.

A run starts one detached task per variant. Each task streams its model's answer, relays the
text to followers in coalesced chunks, checkpoints it, and commits the result the moment the
model finishes — before post-processing and before any frame is sent. Sockets only watch: a
closed one changes nothing here.
"""

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from generations import model_client, services, spool
from generations.catalog import max_tokens_for
from generations.extraction import extract_html, postprocess_html
from generations.images import as_data_url
from generations.messages import messages_for
from generations.model_client import ModelCallError, ModelUnavailable, StreamBroken
from generations.models import Generation, GenerationStatus, VariantStatus
from generations.process import RUNNER_ID
from generations.publisher import GroupPublisher, interval_factor
from generations.tasks import tasks

logger = logging.getLogger(__name__)

STREAM_RETRY_BACKOFF_SECONDS = (1.0, 3.0)
# Pauses between tries to commit a finished answer; after the last, it goes to the spool file.
SAVE_RETRY_DELAYS_SECONDS = (0.2, 1.0, 3.0)


@dataclass
class LiveVariant:
    """What one variant has streamed in this process, and how much of it followers were sent."""

    index: int
    chain: tuple[str, ...]
    model: str = ""
    status: str = VariantStatus.PENDING
    attempt: int = 0
    parts: list[str] = field(default_factory=list)
    length: int = 0
    published_parts: int = 0
    published_length: int = 0
    first_token_at: datetime | None = None
    html: str | None = None
    # HTTP requests made for this variant in this run, the SDK's own retries included.
    requests: list[int] = field(default_factory=lambda: [0])

    def append(self, delta: str) -> None:
        if self.first_token_at is None:
            self.first_token_at = timezone.now()
        self.parts.append(delta)
        self.length += len(delta)

    def begin_attempt(self, model: str) -> None:
        self.attempt += 1
        self.model = model
        self.status = VariantStatus.STREAMING
        self.parts, self.length = [], 0
        self.published_parts, self.published_length = 0, 0
        self.first_token_at = None

    def text(self) -> str:
        return "".join(self.parts)

    def published_text(self) -> str:
        """The prefix followers were sent: a snapshot of it ends where the next chunk starts."""
        return "".join(self.parts[: self.published_parts])

    def take_unpublished(self) -> tuple[int, str]:
        """Return (offset, delta) of the text not yet sent, and count it as sent."""
        offset, end = self.published_length, len(self.parts)
        delta = "".join(self.parts[self.published_parts : end])
        self.published_parts, self.published_length = end, self.length
        return offset, delta


@dataclass
class LiveGeneration:
    """A generation this process is running."""

    id: uuid.UUID
    publisher: GroupPublisher
    deadline: float
    messages: bytes = b""  # encode_messages(): the same for every variant and attempt
    variants: dict[int, LiveVariant] = field(default_factory=dict)
    # Set when the run is stopped from outside: `cancelled` by a user, `interrupted` by shutdown.
    stop_status: str | None = None
    # Serialises chunk publishing with snapshots answered for other processes.
    publish_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    variant_tasks: list[asyncio.Task] = field(default_factory=list)
    # The streaming variants' relays, and the one task that sends their chunks every interval.
    relays: "dict[int, ChunkRelay]" = field(default_factory=dict)
    relay_task: asyncio.Task | None = None


# This process's running generations: exact snapshots come from here, not from checkpoints.
live_generations: dict[uuid.UUID, LiveGeneration] = {}


class ChunkRelay:
    """Sends a variant's new text to followers every interval and has it checkpointed.

    Coalescing deltas keeps a fast model from flooding the channel layer; the checkpoint keeps
    the text a crash would otherwise lose. The work is shared, not per variant: one task per
    generation sends the chunks of all its streaming variants (one wake-up per interval, not
    four), and one task per process writes every due checkpoint in a single database call.
    """

    def __init__(self, run: LiveGeneration, variant: LiveVariant):
        self.run, self.variant = run, variant
        self.checkpointed_at = time.monotonic()
        self.checkpointed_length = 0
        run.relays[variant.index] = self
        if run.relay_task is None or run.relay_task.done():
            run.relay_task = tasks.spawn(_relay_loop(run), name=f"relay {run.id}")
        _checkpointer().add(self)

    async def flush(self) -> None:
        if self.variant.published_length == self.variant.length:
            return
        async with self.run.publish_lock:
            frame = self.take_frame()
            if frame is not None:
                await self.run.publisher.publish_many([frame])

    def take_frame(self) -> dict | None:
        """The chunk frame of the text not yet sent, counted as sent; the caller holds the
        run's publish lock until the frame is published."""
        if self.variant.published_length == self.variant.length:
            return None
        offset, delta = self.variant.take_unpublished()
        return {
            "type": "variant.chunk",
            "index": self.variant.index,
            "offset": offset,
            "delta": delta,
        }

    async def stop(self) -> None:
        """Stop relaying; returns once no send of this relay is in flight."""
        if self.run.relays.get(self.variant.index) is self:
            del self.run.relays[self.variant.index]
        _checkpointer().discard(self)
        # The relay loop sends under this lock: once we hold it, no send of ours is running,
        # and the loop no longer sees this relay.
        async with self.run.publish_lock:
            pass


async def _relay_loop(run: LiveGeneration) -> None:
    """Every interval, send each streaming variant's new text; ends when none streams.

    The pause starts when the previous send ends, and grows while this process's sockets lag
    behind the channel layer: a slow layer gets fewer, larger frames instead of a backlog
    (with Redis, a backlog over the layer's capacity is dropped).
    """
    interval = settings.CLONEGEN_CHUNK_INTERVAL_SECONDS
    while run.relays:
        await asyncio.sleep(interval * interval_factor(run.publisher.channel_layer))
        async with run.publish_lock:
            frames = [frame for relay in run.relays.values() if (frame := relay.take_frame())]
            if frames:  # one publish for all the variants: one group lookup, not four
                await run.publisher.publish_many(frames)


class _Checkpointer:
    """Writes the text of every streaming variant of this process (on this event loop) to the
    database every CLONEGEN_CHECKPOINT_SECONDS, all in one database call."""

    def __init__(self) -> None:
        self.relays: set[ChunkRelay] = set()
        self.task: asyncio.Task | None = None

    def add(self, relay: ChunkRelay) -> None:
        self.relays.add(relay)
        if self.task is None or self.task.done():
            self.task = tasks.spawn(self._loop(), name="checkpoints")

    def discard(self, relay: ChunkRelay) -> None:
        self.relays.discard(relay)

    async def _loop(self) -> None:
        period = settings.CLONEGEN_CHECKPOINT_SECONDS
        loop = asyncio.get_running_loop()
        next_at = loop.time() + period
        while self.relays:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at = max(next_at + period, loop.time())
            now = time.monotonic()
            due = []
            for relay in list(self.relays):
                variant = relay.variant
                # Half a period since the last one: checkpoints are at most 1.5 periods apart.
                if now - relay.checkpointed_at < period / 2:
                    continue
                relay.checkpointed_at = now
                if variant.length == relay.checkpointed_length:
                    continue  # nothing new since the stored text
                relay.checkpointed_length = variant.length
                due.append((relay.run.id, variant.index, variant.text()))
            if not due:
                continue
            try:
                # Off the thread that saves results, so a large batch never delays a save.
                await database_sync_to_async(_write_checkpoints, thread_sensitive=False)(due)
            except Exception:
                logger.exception("Checkpoints failed for %d variant(s)", len(due))


def _write_checkpoints(due: list[tuple[uuid.UUID, int, str]]) -> None:
    for generation_id, index, text in due:
        try:
            services.variant_checkpoint(generation_id=generation_id, index=index, text=text)
        except DatabaseError:
            logger.exception("Checkpoint failed for %s#%s", generation_id, index)


_checkpointers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Checkpointer]" = (
    weakref.WeakKeyDictionary()
)


def _checkpointer() -> _Checkpointer:
    loop = asyncio.get_running_loop()
    if loop not in _checkpointers:
        _checkpointers[loop] = _Checkpointer()
    return _checkpointers[loop]


class _Database:
    """The runner's database calls, run in batches.

    Every call that arrives while a batch runs joins the next batch, so a burst (a hundred
    variants finishing within a second) costs a few thread hops and connections instead of one
    each: with CONN_MAX_AGE=0 every hop opens and closes a connection, which costs more than
    the statement. Each call is still its own statement or transaction, its caller resumes only
    once it has returned, and its exception (a DatabaseError, say) goes to that caller alone.

    `executor=None` runs batches on the thread Django's async code shares (as
    `database_sync_to_async` does); finished results use the runner's own thread instead,
    because the shared one also serves every socket's per-message connection check (channels'
    consumers make one for each frame they forward), and a result must not wait behind
    hundreds of them to be saved.
    """

    def __init__(self, executor: ThreadPoolExecutor | None = None) -> None:
        self.executor = executor
        self.pending: list[tuple[Callable, dict, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def call(self, func: Callable, /, **kwargs):
        future = asyncio.get_running_loop().create_future()
        self.pending.append((func, kwargs, future))
        if self.task is None or self.task.done():
            self.task = tasks.spawn(self._drain(), name="runner database calls")
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[Callable, dict, asyncio.Future]] = []
        try:
            while self.pending:
                # A caller cancelled before its batch started never runs, as with a thread hop.
                batch = [call for call in self.pending if not call[2].done()]
                self.pending = []
                if not batch:
                    continue
                if self.executor is None:
                    run_batch = database_sync_to_async(_run_batch)
                else:
                    run_batch = database_sync_to_async(
                        _run_batch, thread_sensitive=False, executor=self.executor
                    )
                outcomes = await run_batch([(func, kwargs) for func, kwargs, _ in batch])
                for (_, _, future), (value, error) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if error is None:
                        future.set_result(value)
                    else:
                        future.set_exception(error)
                batch = []
        finally:
            # Only if this task itself was cancelled (shutdown): no caller may wait forever.
            for _, _, future in (*batch, *self.pending):
                if not future.done():
                    future.cancel()


_results_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clonegen-results")


def _run_batch(calls: list[tuple[Callable, dict]]) -> list[tuple[object, Exception | None]]:
    outcomes: list[tuple[object, Exception | None]] = []
    for func, kwargs in calls:
        try:
            outcomes.append((func(**kwargs), None))
        except Exception as error:
            outcomes.append((None, error))
    return outcomes


_databases: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[_Database, _Database]]" = (
    weakref.WeakKeyDictionary()
)


def _databases_of_loop() -> tuple[_Database, _Database]:
    loop = asyncio.get_running_loop()
    if loop not in _databases:
        _databases[loop] = (_Database(), _Database(_results_thread))
    return _databases[loop]


async def _db(func: Callable, /, **kwargs):
    """Run a `services` function (or another database function) for the runner."""
    return await _databases_of_loop()[0].call(func, **kwargs)


async def _db_result(func: Callable, /, **kwargs):
    """Like `_db`, for storing a finished result: on the runner's own thread."""
    return await _databases_of_loop()[1].call(func, **kwargs)


class GenerationRunner:
    """Starts, follows, cancels and drains the generations this process runs."""

    def __init__(self) -> None:
        self.accepting = True

    def start(self, generation_id: uuid.UUID) -> asyncio.Task:
        """Run the generation's pending variants detached from the caller, and return at once."""
        return tasks.spawn(self._run(generation_id), name=f"generation {generation_id}")

    def cancel(self, generation_id: uuid.UUID) -> bool:
        """Stop this process's model calls for the generation; return False if it runs elsewhere."""
        return self._stop(generation_id, GenerationStatus.CANCELLED)

    def interrupt_all(self) -> int:
        """Stop every run in this process, keeping text so far; return how many were stopped."""
        return sum(self._stop(gid, GenerationStatus.INTERRUPTED) for gid in list(live_generations))

    def _stop(self, generation_id: uuid.UUID, status: str) -> bool:
        run = live_generations.get(generation_id)
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
        runs = [task for task in tasks.running() if task.get_name().startswith("generation ")]
        if runs:
            _, late = await asyncio.wait(runs, timeout=grace_seconds)
            if late:
                logger.warning("Interrupting %d generation(s) still running", len(late))
                self.interrupt_all()
                await asyncio.wait(late, timeout=10)

    async def _run(self, generation_id: uuid.UUID) -> None:
        # Registered before the first await, so a cancel arriving while the run starts is seen.
        run = LiveGeneration(
            id=generation_id,
            publisher=GroupPublisher(generation_id),
            deadline=time.monotonic() + settings.CLONEGEN_VARIANT_DEADLINE_SECONDS,
        )
        live_generations[generation_id] = run
        try:
            if await self._prepare(run):
                await self._run_variants(run)
        finally:
            live_generations.pop(generation_id, None)

    async def _prepare(self, run: LiveGeneration) -> bool:
        """Claim the generation for this process and load what its models need."""
        pending = await _db(
            services.generation_begin_run, generation_id=run.id, runner_id=RUNNER_ID
        )
        if not pending:
            return False
        await run.publisher.look_for_remote_followers()
        generation, image_data_url = await _db(_load_generation, generation_id=run.id)
        run.messages = model_client.encode_messages(
            await _db(messages_for, generation=generation, image_data_url=image_data_url)
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
            if variant.status in (VariantStatus.PENDING, VariantStatus.STREAMING):
                await self._end_unfinished(run, variant, run.stop_status, time.monotonic())
        finished = await _db(
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
        await _db(
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
                    requests_made=variant.requests,
                )
        except TimeoutError:
            raise ModelCallError(
                "The model did not finish within the deadline.", "timeout"
            ) from None
        finally:
            await relay.stop()
        await self._complete(run, variant, relay, result, started)

    async def _complete(self, run, variant: LiveVariant, relay: ChunkRelay, result, started):
        """Save first, then tell: the raw extraction is committed before any frame goes out."""
        text = variant.text()
        raw_html = extract_html(text)
        duration_ms = _elapsed_ms(started)
        await _save_durably(
            generation_id=str(run.id),
            index=variant.index,
            model=variant.model,
            text=text,
            raw_html=raw_html,
            finish_reason=result.finish_reason,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            requests=variant.requests[0],
            first_token_at=variant.first_token_at,
            finished_at=timezone.now(),
            duration_ms=duration_ms,
        )
        await relay.flush()
        html = postprocess_html(raw_html)
        await _db_result(
            services.variant_save_html, generation_id=run.id, index=variant.index, html=html
        )
        variant.status, variant.html = VariantStatus.COMPLETED, html
        await run.publisher.publish(
            "variant.completed",
            index=variant.index,
            model=variant.model,
            html=html,
            duration_ms=duration_ms,
            finish_reason=result.finish_reason,
            usage={
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
            },
        )

    async def _end_unfinished(self, run, variant, status, started, error=None) -> None:
        variant.status = status
        await _db(
            services.variant_end_unfinished,
            generation_id=run.id,
            index=variant.index,
            status=status,
            text=variant.text(),
            requests=variant.requests[0],
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
    """Commit a finished answer, retrying while the database refuses; as a last resort append it
    to the spool file that start-up replays. A paid-for answer is never dropped."""
    for delay in (*SAVE_RETRY_DELAYS_SECONDS, None):
        try:
            await _db_result(services.variant_save_result, **result)
            return
        except DatabaseError:
            logger.warning("Saving %s#%s failed", result["generation_id"], result["index"])
            if delay is None:
                break
            await asyncio.sleep(delay)
    await sync_to_async(spool.append)(result)
    logger.error("Database unavailable: %s#%s spooled", result["generation_id"], result["index"])


def _load_generation(generation_id: uuid.UUID) -> tuple[Generation, str]:
    """Return the generation and its screenshot as the data URL the models are sent."""
    generation = Generation.objects.get(id=generation_id)
    with generation.screenshot.open("rb") as stored:
        content = stored.read()
    return generation, as_data_url(content, generation.screenshot_type)


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _loop_time(monotonic_deadline: float) -> float:
    loop = asyncio.get_running_loop()
    return loop.time() + (monotonic_deadline - time.monotonic())


runner = GenerationRunner()
