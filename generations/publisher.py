"""Frames for followers of a generation, published to its channel-layer group.

The runner only publishes; it never knows whether any socket listens. A failed publish is
logged and forgotten: frames are a view of the work, the database is the record.
"""

import logging
import uuid

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

# The consumer's handler for group messages is named after this type (dots become underscores).
EVENT_TYPE = "generation.frame"


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
        frame = {"type": frame_type, "generation_id": str(self.generation_id), **fields}
        try:
            await self.channel_layer.group_send(self.group, {"type": EVENT_TYPE, "frame": frame})
        except Exception:
            logger.exception("Could not publish %s for %s", frame_type, self.generation_id)
