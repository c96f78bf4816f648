"""Frames for followers of a generation: sockets in this process get them directly, sockets
in other processes through the channel layer's group for the generation.

The runner only publishes; it never knows whether any socket listens. A failed publish is
logged and forgotten: frames are a view of the work, the database is the record.

Chunk frames are the bulk of all traffic (one per streaming variant every interval). Through
Redis each message costs several round trips in the sending and in the receiving process, so
a frame goes through the layer only when a follower may be in another process; a socket of
this process that also gets it through the layer (it joined the group as well, for runs in
other processes) drops it by its `origin` (see docs/benchmarks.md).
"""

import asyncio
import logging
import time
import uuid
import weakref

from channels.layers import InMemoryChannelLayer, get_channel_layer

from generations.process import RUNNER_ID
from generations.tasks import tasks

logger = logging.getLogger(__name__)

# The consumer's handlers for these messages are named after them (dots become underscores).
EVENT_TYPE = "generation.frame"  # {"type": ..., "frame": {...}}
BATCH_EVENT_TYPE = "generation.frames"  # {"type": ..., "frames": [...]}, in order
# A runner that found no follower in another process looks again this often, in case one
# joined without asking it for a snapshot (see GroupPublisher.remote_followers).
REMOTE_FOLLOWERS_RECHECK_SECONDS = 1.0


def group_name(generation_id: uuid.UUID) -> str:
    # Built from the server's UUID only, never from user text.
    return f"generation.{uuid.UUID(str(generation_id)).hex}"


# --------------------------------------------------------------------------- local followers


class Inbox(asyncio.Queue):
    """A socket's queue of frames published in this process, read by the socket's own task
    (so they are sent in order with everything else it sends). Bounded like a layer channel:
    a socket that stops reading loses live frames, never the process's memory."""

    dropped = 0

    def offer(self, message: dict) -> None:
        try:
            self.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1:  # once per socket: the client re-subscribes on the gap
                logger.warning("A socket fell %d messages behind; dropping frames", self.maxsize)


_local: dict[str, "weakref.WeakSet[Inbox]"] = {}


def follow_locally(group: str, inbox: Inbox) -> None:
    _local.setdefault(group, weakref.WeakSet()).add(inbox)


def unfollow_locally(group: str, inbox: Inbox) -> None:
    members = _local.get(group)
    if members is not None:
        members.discard(inbox)
        if not members:
            del _local[group]


def _deliver_locally(group: str, message: dict) -> None:
    for inbox in list(_local.get(group, ())):
        try:
            inbox.offer(message)
        except RuntimeError:  # its event loop is closed: a socket that was never closed
            unfollow_locally(group, inbox)


# --------------------------------------------------------------------------- publishing


class GroupPublisher:
    """Publish frames to the followers of one generation.

    `remote_followers` is None when unknown (every publisher but a run's): then every frame
    also goes through a cross-process layer. A run sets it with `look_for_remote_followers`
    once it has claimed the generation, and `remote_follower_joined` when another process
    asks it for a snapshot.
    """

    def __init__(self, generation_id: uuid.UUID, channel_layer=None):
        self.generation_id = generation_id
        self.group = group_name(generation_id)
        self.channel_layer = channel_layer or get_channel_layer()
        self.remote_followers: bool | None = None
        self.looked_at = 0.0

    async def publish(self, frame_type: str, **fields) -> None:
        await self.publish_many([{"type": frame_type, **fields}])

    async def publish_many(self, frames: list[dict]) -> None:
        """Publish frames in order: every follower gets all of them, in this order."""
        # Keys in the order frames always had: type, generation_id, then the frame's fields.
        head = {"type": "", "generation_id": str(self.generation_id)}
        frames = [head | frame for frame in frames]
        if len(frames) == 1:
            message = {"type": EVENT_TYPE, "frame": frames[0]}
        else:
            message = {"type": BATCH_EVENT_TYPE, "frames": frames}
        _deliver_locally(self.group, message)
        if not await self._may_have_remote_followers():
            return
        try:
            await self.channel_layer.group_send(self.group, message | {"origin": RUNNER_ID})
        except Exception:
            kinds = ", ".join(sorted({frame["type"] for frame in frames}))
            logger.exception("Could not publish %s for %s", kinds, self.generation_id)

    async def look_for_remote_followers(self) -> None:
        """Find out whether a socket of another process follows this generation. A run calls
        it after claiming the generation: a socket that joined the group before the claim is
        seen here, and one that joins after it finds the run and asks it for a snapshot."""
        self.remote_followers = await _group_has_other_processes(self.channel_layer, self.group)
        self.looked_at = time.monotonic()

    def remote_follower_joined(self) -> None:
        self.remote_followers = True

    async def _may_have_remote_followers(self) -> bool:
        if isinstance(self.channel_layer, InMemoryChannelLayer):
            return False  # one process only
        if self.remote_followers is None or self.remote_followers:
            return True
        if time.monotonic() - self.looked_at >= REMOTE_FOLLOWERS_RECHECK_SECONDS:
            await self.look_for_remote_followers()
        return bool(self.remote_followers)


async def _group_has_other_processes(layer, group: str) -> bool:
    """True if a channel of another process is in the group (or if this layer cannot tell)."""
    if isinstance(layer, InMemoryChannelLayer):
        return False
    if not _has_process_queue(layer):
        return True
    try:
        key = layer._group_key(group)
        connection = layer.connection(layer.consistent_hash(group))
        # Members older than the layer's group expiry are gone for group_send too.
        members = await connection.zrangebyscore(key, time.time() - layer.group_expiry, "+inf")
    except Exception:
        logger.exception("Could not read the followers of %s; publishing to all", group)
        return True
    own = f"specific.{layer.client_prefix}!"
    return any(not member.decode().startswith(own) for member in members)


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
        backlog.task = tasks.spawn(backlog.sample(), name="channel-layer backlog")
    return backlog.factor


def _has_process_queue(layer) -> bool:
    # channels-redis's RedisChannelLayer: one sorted set per process ("<prefix>specific.<id>!"),
    # and a sorted set of channel names per group.
    return (
        type(layer).__name__ == "RedisChannelLayer"
        and isinstance(getattr(layer, "client_prefix", None), str)
        and isinstance(getattr(layer, "prefix", None), str)
        and isinstance(getattr(layer, "group_expiry", None), int)
        and all(callable(getattr(layer, name, None)) for name in _REDIS_LAYER_METHODS)
    )


_REDIS_LAYER_METHODS = ("connection", "consistent_hash", "_group_key")
