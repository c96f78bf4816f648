"""Server-sent events: the JSON object of every `data:` event in a byte stream, up to `[DONE]`."""

from collections.abc import AsyncIterable, AsyncIterator

import jiter


async def sse_payloads(received_bytes: AsyncIterable[bytes]) -> AsyncIterator[dict]:
    """Yield the JSON payload of every server-sent event up to `[DONE]`, then drain the rest
    (so an HTTP/1.1 connection can be reused), as the SDK's own stream does.

    Raises ValueError for a payload that is not JSON or not a JSON object."""
    events = SSEEvents()
    buffer = b""
    async for received in received_bytes:
        if events.done:
            continue
        lines = (buffer + received).splitlines(keepends=True)
        # A line is complete once its LF arrived (a CR alone may be half of a CRLF).
        buffer = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
        for payload in events.feed(lines):
            yield payload
    if not events.done:
        # The body may end without the blank line that closes its last event.
        for payload in events.feed([buffer, b"\n"] if buffer else [b"\n"]):
            yield payload


class SSEEvents:
    """The server-sent events framing: `data:` lines joined until a blank line."""

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.done = False

    def feed(self, lines: list[bytes]) -> list[dict]:
        """Return the payloads of the events these complete lines end; stop at `[DONE]`."""
        payloads = []
        for raw in lines:
            line = raw.rstrip(b"\r\n")
            if not line:  # a blank line ends an event
                if self.data is not None:
                    if self.data.startswith(b"[DONE]"):
                        self.done = True
                        break
                    payloads.append(json_object(self.data))
                    self.data = None
            elif line.startswith(b"data:"):
                value = line[6:] if line.startswith(b"data: ") else line[5:]
                self.data = value if self.data is None else self.data + b"\n" + value
            # `event:`, `id:`, `retry:` and `:` comment lines carry nothing clonegen uses.
        return payloads


def json_object(data: bytes) -> dict:
    """Return `data` parsed as a JSON object; raise ValueError for anything else."""
    payload = jiter.from_json(data, cache_mode="keys")
    if not isinstance(payload, dict):
        raise ValueError("an SSE payload that is not a JSON object")
    return payload
