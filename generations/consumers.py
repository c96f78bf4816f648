"""The socket at /ws/generations/: parses frames, delegates to `actions`, forwards group frames.

It never runs or awaits a generation: the runner owns the work, this socket only watches it,
so closing the socket changes nothing but who is watching.
"""

import asyncio
import contextlib
import functools
import json
import logging
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch
from django.conf import settings

from generations import actions, control, publisher, selectors
from generations.access import Requester
from generations.errors import INTERNAL_ERROR, INVALID_JSON, UNKNOWN_TYPE, AppError
from generations.payloads import parse_json
from generations.process import RUNNER_ID
from generations.publisher import group_name
from generations.selectors import parse_generation_id
from generations.snapshots import generation_started_frame, snapshot_frame, snapshot_of
from generations.tasks import tasks

logger = logging.getLogger(__name__)
# How long to wait for the process running a generation to send its exact snapshot.
REMOTE_SNAPSHOT_WAIT_SECONDS = 2.0


@dataclass
class PendingSnapshot:
    """A snapshot asked of another process, and the live frames held back until it comes."""

    timer: asyncio.TimerHandle
    held: list[dict] = field(default_factory=list)


class GenerationConsumer(AsyncWebsocketConsumer):
    async def __call__(self, scope, receive, send) -> None:
        """AsyncConsumer.__call__ with a third source: the inbox of frames published in this
        process, which never pass through the channel layer."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        self.base_send = send
        self.inbox = publisher.Inbox(maxsize=_layer_capacity())
        try:
            with contextlib.suppress(StopConsumer):  # the socket closed
                await await_many_dispatch(
                    [receive, self.channel_receive, self.inbox.get], self.dispatch
                )
        finally:
            # Also when the server cancels this socket's task without a disconnect.
            for group in getattr(self, "followed", ()):
                publisher.unfollow_locally(group, self.inbox)

    async def dispatch(self, message: dict) -> None:
        kind = message.get("type")
        if kind in (publisher.EVENT_TYPE, publisher.BATCH_EVENT_TYPE):
            # Already delivered through this socket's inbox.
            if message.get("origin") == RUNNER_ID:
                return
            # A forwarded frame touches no database: skip the close_old_connections thread
            # hop that channels' dispatch makes before every handler.
            if kind == publisher.EVENT_TYPE:
                await self.generation_frame(message)
            else:
                await self.generation_frames(message)
        else:
            await super().dispatch(message)

    async def connect(self) -> None:
        self.followed: set[str] = set()
        self.remote_snapshots: dict[str, PendingSnapshot] = {}
        client = self.scope.get("client") or ("", 0)
        self.requester = Requester.of(self.scope.get("user"), client[0])
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for pending in self.remote_snapshots.values():
            pending.timer.cancel()
        for group in self.followed:
            publisher.unfollow_locally(group, self.inbox)
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.answering_errors(self.handle(text_data))

    async def handle(self, text_data: str | None) -> None:
        message = _parse(text_data)
        kind = message.get("type")
        handler = self.handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise AppError(UNKNOWN_TYPE, f"Unknown type {kind!r}."[:200])
        await handler(self, message)

    async def answering_errors(self, work) -> None:
        """Await `work`; a refusal becomes this socket's `error` frame, the socket stays open."""
        try:
            await work
        except AppError as error:
            await self.send_frame({"type": "error", **error.as_dict()})
        except Exception:
            logger.exception("Unexpected failure handling a socket frame")
            await self.send_frame({"type": "error", **AppError(INTERNAL_ERROR).as_dict()})

    async def on_generate(self, message: dict) -> None:
        request = await actions.parse_request(message, self.requester)
        if request.url is None:
            await self.start(request)
        else:
            # A capture takes seconds, and a socket's frames are handled one at a time: it runs
            # beside this handler, so the socket keeps answering (and forwarding) meanwhile.
            tasks.spawn(self.answering_errors(self.start(request)), name="capture and generate")

    async def start(self, request: actions.GenerateRequest) -> None:
        await self.start_following(await actions.generation_from_request(request, self.requester))

    async def on_edit(self, message: dict) -> None:
        generation = await database_sync_to_async(actions.create_edit)(
            parse_generation_id(message.get("generation_id")), message, self.requester
        )
        await self.start_following(generation)

    async def start_following(self, generation) -> None:
        """Follow a new generation, announce it (`generation.started`), hand it to the runner.

        It runs even if the announcement fails (the socket closed during a capture, say): the
        generation is committed, and closing a socket never stops one."""
        try:
            await self.follow(generation.id)
            await self.send_frame(generation_started_frame(generation))
        finally:
            await actions.start_generation(generation)

    async def on_subscribe(self, message: dict) -> None:
        generation_id = parse_generation_id(message.get("generation_id"))
        await self.follow_with_snapshot(generation_id)

    async def on_retry(self, message: dict) -> None:
        generation = await actions.retry_generation(
            parse_generation_id(message.get("generation_id")), self.requester
        )
        await self.follow_with_snapshot(generation.id)

    async def on_cancel(self, message: dict) -> None:
        generation_id = parse_generation_id(message.get("generation_id"))
        # Follow before cancelling: the `generation.finished` it causes must reach this socket.
        async with self.following(generation_id):
            await actions.cancel_generation(generation_id, self.requester)

    handlers = {
        "generate": on_generate,
        "edit": on_edit,
        "subscribe": on_subscribe,
        "retry": on_retry,
        "cancel": on_cancel,
    }

    async def follow(self, generation_id) -> None:
        group = group_name(generation_id)
        if group not in self.followed:
            # Both: the run may be in this process (frames come to the inbox) or in another.
            publisher.follow_locally(group, self.inbox)
            self.followed.add(group)
            await self.channel_layer.group_add(group, self.channel_name)

    @contextlib.asynccontextmanager
    async def following(self, generation_id):
        """Follow the generation for the block, and keep following it unless the block fails
        with an AppError (not found, not allowed) and the socket did not follow it before."""
        group = group_name(generation_id)
        was_following = group in self.followed
        await self.follow(generation_id)
        try:
            yield
        except AppError:
            if not was_following:
                publisher.unfollow_locally(group, self.inbox)
                self.followed.discard(group)
                await self.channel_layer.group_discard(group, self.channel_name)
            raise

    async def follow_with_snapshot(self, generation_id) -> None:
        # Join first, then snapshot: every frame after the snapshot's text reaches this socket.
        async with self.following(generation_id):
            generation = await database_sync_to_async(selectors.generation_get)(
                generation_id, self.requester
            )
        if actions.is_running_elsewhere(generation):
            await self.ask_running_process_for_snapshot(generation)
        else:
            await self.send_frame(snapshot_of(generation))

    async def ask_running_process_for_snapshot(self, generation) -> None:
        """Only the running process can build an exact snapshot; if it does not answer in
        time (it just died), the stored checkpoint is the best there is.

        Until the snapshot is sent, this generation's live frames are held back, so the
        client receives the snapshot first and then every frame after it, with no gap.
        """
        key = str(generation.id)
        if key in self.remote_snapshots:
            return  # already asked; that answer will do
        await control.ask_for_snapshot(generation.runner_id, generation.id, self.channel_name)
        timer = asyncio.get_running_loop().call_later(
            REMOTE_SNAPSHOT_WAIT_SECONDS,
            lambda: tasks.spawn(
                self.send_stored_snapshot(generation.id), name=f"stored snapshot {generation.id}"
            ),
        )
        self.remote_snapshots[key] = PendingSnapshot(timer)

    async def send_stored_snapshot(self, generation_id) -> None:
        if str(generation_id) in self.remote_snapshots:
            await self.release_with(await snapshot_frame(generation_id))

    async def generation_frame(self, event: dict) -> None:
        """Forward a frame the runner published to this generation's group (or, for a
        snapshot, sent to this socket by the process running it)."""
        frame = event["frame"]
        pending = self.remote_snapshots.get(frame["generation_id"])
        if pending is None:
            await self.send_frame(frame)
        elif frame["type"] == "generation.snapshot":
            await self.release_with(frame)
        else:
            pending.held.append(frame)

    async def generation_frames(self, event: dict) -> None:
        """Forward several frames published together, in order."""
        for frame in event["frames"]:
            await self.generation_frame({"frame": frame})

    async def release_with(self, snapshot: dict) -> None:
        """Send the awaited snapshot, then the frames held back while waiting for it."""
        pending = self.remote_snapshots.pop(snapshot["generation_id"], None)
        await self.send_frame(snapshot)
        if pending is not None:
            pending.timer.cancel()
            for frame in pending.held:
                await self.send_frame(frame)

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))


def _layer_capacity() -> int:
    return settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("capacity", 100)


def _parse(text_data: str | None) -> dict:
    message = parse_json(text_data) if text_data is not None else None
    if not isinstance(message, dict):
        raise AppError(INVALID_JSON)
    return message
