"""Requests between server processes over the channel layer: "send this subscriber an exact
snapshot" and "cancel this run", addressed to the process that runs a generation.

Only the running process knows exactly which text its followers were sent, so only it can
build a snapshot that the next chunk continues without a gap.
"""

import hashlib
import logging
import uuid

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from generations import selectors
from generations.process import RUNNER_ID
from generations.publisher import EVENT_TYPE
from generations.runner import runner
from generations.snapshots import snapshot_of

logger = logging.getLogger(__name__)


def runner_group(runner_id: str) -> str:
    return f"runner.{hashlib.sha256(runner_id.encode()).hexdigest()[:32]}"


async def ask_for_snapshot(runner_id: str, generation_id: uuid.UUID, reply_to: str) -> None:
    """Ask the process `runner_id` to send `reply_to` an exact snapshot of its run."""
    await get_channel_layer().group_send(
        runner_group(runner_id),
        {"type": "runner.snapshot", "generation_id": str(generation_id), "reply_to": reply_to},
    )


async def ask_to_cancel(runner_id: str, generation_id: uuid.UUID) -> None:
    await get_channel_layer().group_send(
        runner_group(runner_id), {"type": "runner.cancel", "generation_id": str(generation_id)}
    )


class ControlListener:
    """Answers other processes' requests for this process's runs."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel: str | None = None

    async def join(self) -> None:
        """Join (again) this process's group; repeated every heartbeat because group
        memberships expire in channels-redis."""
        if self.channel is None:
            self.channel = await self.layer.new_channel()
        await self.layer.group_add(runner_group(RUNNER_ID), self.channel)

    async def listen(self) -> None:
        await self.join()
        while True:
            message = await self.layer.receive(self.channel)
            try:
                await self.handle(message)
            except Exception:
                logger.exception("Control message %s failed", message.get("type"))

    async def handle(self, message: dict) -> None:
        generation_id = uuid.UUID(message["generation_id"])
        if message["type"] == "runner.cancel":
            # The asking socket follows the run and awaits its generation.finished.
            runner.note_remote_follower(generation_id)
            runner.cancel(generation_id)
        elif message["type"] == "runner.snapshot":
            await self.send_snapshot(generation_id, message["reply_to"])

    async def send_snapshot(self, generation_id: uuid.UUID, reply_to: str) -> None:
        generation = await database_sync_to_async(selectors.generation_get)(generation_id)

        async def send() -> None:
            frame = snapshot_of(generation)
            await self.layer.send(reply_to, {"type": EVENT_TYPE, "frame": frame})

        # While the run runs here, no chunk of it can be published between building the
        # snapshot and sending it; once it has ended, the stored state is the whole story.
        if not await runner.send_exact_snapshot(generation_id, send):
            await send()


listener = ControlListener()
