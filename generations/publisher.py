"""Frames for followers of a generation, published to its channel-layer group.

The runner only publishes; it never knows whether any socket listens. A failed publish is
logged and forgotten: frames are a view of the work, the database is the record.

Chunk frames are the bulk of all traffic (one per streaming variant every interval), so the
in-memory layer gets a faster path than its `group_send` (see `docs/benchmarks.md`); any other
layer (Redis) gets plain `group_send`, one per frame.
"""

import asyncio
import contextlib
import logging
import time
import uuid
import weakref

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

# The consumer's handler for group messages is named after this type (dots become underscores).
EVENT_TYPE = "generation.frame"
# Several frames in one channel-layer message ({"type": ..., "frames": [...]}), in order: sent
# only once the consumer has a handler for it (`generation_frames`), which every process of a
# deployment must have (see docs/benchmarks.md: it divides the layer's messages by up to 4).
BATCH_EVENT_TYPE = "generation.frames"
# The in-memory layer's group_send sweeps every channel and group for expired messages on
# each call (60 s expiry); the fast path below sweeps at most this often.
IN_MEMORY_SWEEP_SECONDS = 1.0


def group_name(generation_id: uuid.UUID) -> str:
    # Built from the server's UUID only, never from user text.
    return f"generation.{uuid.UUID(str(generation_id)).hex}"


class GroupPublisher:
    """Publish frames to the followers of one generation."""

    def __init__(self, generation_id: uuid.UUID, channel_layer=None):
        self.generation_id = generation_id
        self.group = group_name(generation_id)
        self.channel_layer = channel_layer or get_channel_layer()

    async def publish(self, frame_type: str, **fields) -> None:
        await self.publish_many([{"type": frame_type, **fields}])

    async def publish_many(self, frames: list[dict]) -> None:
        """Publish frames in order: every follower gets all of them, in this order."""
        # Keys in the order frames always had: type, generation_id, then the frame's fields.
        head = {"type": "", "generation_id": str(self.generation_id)}
        messages = [{"type": EVENT_TYPE, "frame": head | frame} for frame in frames]
        if len(messages) > 1 and _consumer_takes_batches():
            messages = [{"type": BATCH_EVENT_TYPE, "frames": [m["frame"] for m in messages]}]
        layer = self.channel_layer
        if _is_in_memory(layer):
            try:
                await _in_memory_group_send(layer, self.group, messages)
            except Exception:
                kinds = ", ".join(sorted({frame["type"] for frame in frames}))
                logger.exception("Could not publish %s for %s", kinds, self.generation_id)
            return
        for message in messages:  # each frame on its own: one failure loses only that frame
            try:
                await layer.group_send(self.group, message)
            except Exception:
                frame_type = message["frame"]["type"] if "frame" in message else "frames"
                logger.exception("Could not publish %s for %s", frame_type, self.generation_id)


_batches: bool | None = None


def _consumer_takes_batches() -> bool:
    global _batches
    if _batches is None:
        from generations.consumers import GenerationConsumer  # imports this module

        _batches = callable(getattr(GenerationConsumer, BATCH_EVENT_TYPE.replace(".", "_"), None))
    return _batches


# --------------------------------------------------------------------------- in-memory layer


def _is_in_memory(layer) -> bool:
    return type(layer) is InMemoryChannelLayer and isinstance(getattr(layer, "groups", None), dict)


_last_sweep: "weakref.WeakKeyDictionary[InMemoryChannelLayer, float]" = weakref.WeakKeyDictionary()


async def _in_memory_group_send(layer: InMemoryChannelLayer, group: str, messages: list) -> None:
    """InMemoryChannelLayer.group_send without its per-call costs.

    It sweeps all channels and groups for expired entries (O(sockets) per frame, for entries
    that live 60 s) and starts a task per member for a send that never waits. Here the sweep
    runs at most once a second and each member gets the same `send` (a copy of the message on
    its queue; a full queue drops the frame, as group_send does).
    """
    layer.require_valid_group_name(group)
    now = time.monotonic()
    if now - _last_sweep.get(layer, 0.0) >= IN_MEMORY_SWEEP_SECONDS:
        _last_sweep[layer] = now
        layer._clean_expired()
    for channel in list(layer.groups.get(group, ())):
        for message in messages:
            with contextlib.suppress(ChannelFull):
                await layer.send(channel, message)


# --------------------------------------------------------------------------- back-pressure

# With Redis, each process's sockets read their messages from one queue in Redis, capped at
# the layer's capacity; past it, frames are dropped, `generation.finished` included. The
# runner stretches the chunk interval as that queue grows (1 + backlog / BACKLOG_PER_STEP,
# at most MAX_INTERVAL_FACTOR), so an overloaded process sends fewer, larger frames instead.
BACKLOG_PER_STEP = 25
MAX_INTERVAL_FACTOR = 10.0
BACKLOG_SAMPLE_SECONDS = 0.25


class _Backlog:
    def __init__(self, layer) -> None:
        self.layer = layer
        self.factor = 1.0
        self.wanted_at = time.monotonic()
        self.task = None

    async def sample(self) -> None:
        layer = self.layer
        channel = f"specific.{layer.client_prefix}!"
        connection = layer.connection(layer.consistent_hash(channel))
        key = layer.prefix + channel
        while time.monotonic() - self.wanted_at < 5 * BACKLOG_SAMPLE_SECONDS:
            try:
                backlog = await connection.zcard(key)
            except Exception:  # the layer's own calls report Redis being down
                backlog = 0
            self.factor = min(MAX_INTERVAL_FACTOR, 1.0 + backlog / BACKLOG_PER_STEP)
            await asyncio.sleep(BACKLOG_SAMPLE_SECONDS)
        self.factor = 1.0


_backlogs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Backlog]" = (
    weakref.WeakKeyDictionary()
)


def interval_factor(channel_layer=None) -> float:
    """How much longer than CLONEGEN_CHUNK_INTERVAL_SECONDS to wait between chunk frames: 1.0
    unless this process's sockets lag behind the Redis layer (and then up to 10)."""
    layer = channel_layer or get_channel_layer()
    if not _has_process_queue(layer):
        return 1.0
    loop = asyncio.get_running_loop()
    backlog = _backlogs.get(loop)
    if backlog is None or backlog.layer is not layer:
        backlog = _backlogs[loop] = _Backlog(layer)
    backlog.wanted_at = time.monotonic()
    if backlog.task is None or backlog.task.done():
        backlog.task = loop.create_task(backlog.sample(), name="channel-layer backlog")
    return backlog.factor


def _has_process_queue(layer) -> bool:
    # channels-redis's RedisChannelLayer: one sorted set per process ("<prefix>specific.<id>!").
    return (
        type(layer).__name__ == "RedisChannelLayer"
        and isinstance(getattr(layer, "client_prefix", None), str)
        and isinstance(getattr(layer, "prefix", None), str)
        and callable(getattr(layer, "connection", None))
    )
