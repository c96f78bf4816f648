"""A test's socket to clonegen: generate, subscribe, and follow a generation to its result, over
the in-process WebsocketCommunicator or a real TCP connection to a daphne process."""

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import websockets

from tests.support import Follower, data_url, png_bytes

# The Origin a browser on the test servers sends (AllowedHostsOriginValidator checks it).
ORIGIN = "http://127.0.0.1"


@dataclass
class Followed:
    """What a socket saw of one generation: every frame, and the texts rebuilt from them by the
    contract's offset rules (a snapshot replaces a text, chunks extend it)."""

    generation_id: str
    frames: list[dict] = field(default_factory=list)
    follower: Follower = field(default_factory=Follower)

    @property
    def status(self) -> str | None:
        return self.follower.status

    @property
    def texts(self) -> dict[int, str]:
        return self.follower.texts

    def of_type(self, kind: str) -> list[dict]:
        return [frame for frame in self.frames if frame["type"] == kind]


class SocketClient:
    """JSON frames over one socket: a channels WebsocketCommunicator or a websockets client."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self._in_process = hasattr(connection, "send_to")

    @classmethod
    async def over_tcp(cls, server) -> "SocketClient":
        """Connect to a DaphneProcess as a browser on its origin would."""
        return cls(await websockets.connect(server.ws_url, origin=ORIGIN, max_size=None))

    async def send(self, **frame) -> None:
        text = json.dumps(frame)
        if self._in_process:
            await self.connection.send_to(text_data=text)
        else:
            await self.connection.send(text)

    async def receive(self, timeout: float = 60) -> dict:
        if self._in_process:
            return json.loads(await self.connection.receive_from(timeout=timeout))
        return json.loads(await asyncio.wait_for(self.connection.recv(), timeout))

    async def close(self) -> None:
        if self._in_process:
            await self.connection.disconnect()
        else:
            await self.connection.close()

    async def generate(self, image: str | None = None, **fields) -> dict:
        """Ask for a generation (of a small PNG unless `image`); return `generation.started`."""
        await self.send(type="generate", image=image or data_url(png_bytes()), **fields)
        started = await self.receive()
        assert started["type"] == "generation.started", started
        return started

    async def subscribe(self, generation_id: str) -> None:
        await self.send(type="subscribe", generation_id=generation_id)

    async def until(self, kind: str, timeout: float = 60) -> list[dict]:
        """Read frames up to and including the first of type `kind`; return them all."""
        frames = [await self.receive(timeout)]
        while frames[-1]["type"] != kind:
            frames.append(await self.receive(timeout))
        return frames

    async def follow(
        self,
        generation_id: str,
        *,
        seen: Sequence[dict] = (),
        follower: Follower | None = None,
        stop_on_error: bool = False,
        timeout: float = 60,
    ) -> Followed:
        """Read frames until the generation's result: `generation.finished`, or a snapshot of an
        ended generation. A gap in the chunks asks for a fresh snapshot, as the contract says.

        `seen` are frames of this socket already read (they start the result's frames);
        `follower` carries on a view begun on another socket (a resume). An `error` frame fails
        the test, unless `stop_on_error` makes it the result."""
        followed = Followed(generation_id, list(seen), follower or Follower())
        for frame in seen:
            followed.follower.apply(frame)
        while not followed.follower.finished:
            frame = await self.receive(timeout)
            followed.frames.append(frame)
            if frame["type"] == "error":
                assert stop_on_error, frame
                break
            followed.follower.apply(frame)
            if followed.follower.needs_snapshot and frame["type"] == "variant.chunk":
                await self.subscribe(generation_id)
        return followed

    async def generate_and_follow(self, image: str | None = None, **fields) -> Followed:
        """Generate on this socket and follow to the result; the frames start with
        `generation.started`."""
        started = await self.generate(image, **fields)
        return await self.follow(started["generation_id"], seen=[started])

    async def subscribe_and_follow(self, generation_id: str) -> Followed:
        await self.subscribe(generation_id)
        return await self.follow(generation_id)
