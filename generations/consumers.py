"""The socket at /ws/generations/: parses frames, delegates to `actions`, forwards group frames.

It never runs or awaits a generation: the runner owns the work, this socket only watches it,
so closing the socket changes nothing but who is watching.
"""

import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from generations import actions
from generations.errors import INTERNAL_ERROR, INVALID_JSON, UNKNOWN_TYPE, AppError
from generations.publisher import group_name
from generations.selectors import parse_generation_id
from generations.snapshots import generation_started_frame, snapshot_frame

logger = logging.getLogger(__name__)


class GenerationConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.followed: set[str] = set()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.followed:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = _parse(text_data)
            handler = self.handlers.get(message.get("type"))
            if handler is None:
                raise AppError(UNKNOWN_TYPE, f"Unknown type {message.get('type')!r}.")
            await handler(self, message)
        except AppError as error:
            await self.send_frame({"type": "error", **error.as_dict()})
        except Exception:
            logger.exception("Unexpected failure handling a socket frame")
            await self.send_frame({"type": "error", **AppError(INTERNAL_ERROR).as_dict()})

    async def on_generate(self, message: dict) -> None:
        generation = await database_sync_to_async(actions.create_generation)(
            message, owner=_owner(self.scope)
        )
        await self.follow(generation.id)
        await self.send_frame(generation_started_frame(generation))
        await actions.start_generation(generation)

    async def on_subscribe(self, message: dict) -> None:
        generation_id = parse_generation_id(message.get("generation_id"))
        await self.follow_with_snapshot(generation_id)

    async def on_retry(self, message: dict) -> None:
        generation = await actions.retry_generation(
            parse_generation_id(message.get("generation_id"))
        )
        await self.follow_with_snapshot(generation.id)

    async def on_cancel(self, message: dict) -> None:
        generation = await actions.cancel_generation(
            parse_generation_id(message.get("generation_id"))
        )
        await self.follow(generation.id)

    handlers = {
        "generate": on_generate,
        "subscribe": on_subscribe,
        "retry": on_retry,
        "cancel": on_cancel,
    }

    async def follow(self, generation_id) -> None:
        group = group_name(generation_id)
        if group not in self.followed:
            await self.channel_layer.group_add(group, self.channel_name)
            self.followed.add(group)

    async def follow_with_snapshot(self, generation_id) -> None:
        # Join first, then snapshot: every frame after the snapshot's text reaches this socket.
        group = group_name(generation_id)
        was_following = group in self.followed
        await self.follow(generation_id)
        try:
            await self.send_frame(await snapshot_frame(generation_id))
        except AppError:
            if not was_following:
                await self.channel_layer.group_discard(group, self.channel_name)
                self.followed.discard(group)
            raise

    async def generation_frame(self, event: dict) -> None:
        """Forward a frame the runner published to this generation's group."""
        await self.send_frame(event["frame"])

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))


def _parse(text_data: str | None) -> dict:
    try:
        message = json.loads(text_data) if text_data is not None else None
    except ValueError:
        message = None
    if not isinstance(message, dict):
        raise AppError(INVALID_JSON)
    return message


def _owner(scope: dict):
    user = scope.get("user")
    return user if user is not None and user.is_authenticated else None
