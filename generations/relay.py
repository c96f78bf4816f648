"""Relaying a streaming variant's text: coalesced chunk frames to followers, and checkpoints of
the text to the database."""

import asyncio
import logging
import time
import uuid
import weakref

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError

from generations import services
from generations.live import LiveGeneration, LiveVariant
from generations.publisher import interval_factor
from generations.tasks import tasks

logger = logging.getLogger(__name__)


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
                # A thread of its own (neither the shared sync thread nor the results thread),
                # so a large batch never delays a save.
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
