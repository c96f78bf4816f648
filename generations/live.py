"""What a running generation has streamed in this process: the exact text, and how much of it
followers were sent. Owned by the runner (`GenerationRunner.live`); everything else reads it
through the runner's methods."""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from generations.models import VariantStatus
from generations.publisher import GroupPublisher

if TYPE_CHECKING:
    from generations.postprocessing import PostProcessor
    from generations.relay import ChunkRelay


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
    # HTTP requests made for this variant in this run (clonegen's own request retries included).
    requests: int = 0

    def append(self, delta: str) -> None:
        if self.first_token_at is None:
            self.first_token_at = timezone.now()
        self.parts.append(delta)
        self.length += len(delta)

    def count_request(self) -> None:
        self.requests += 1

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


@dataclass(eq=False)  # hashed by identity: the runner keys its registry of tasks by run
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
    # What runs after each variant's save: images, the render, the score (set when prepared).
    after_save: "PostProcessor | None" = None
