"""The stand-in itself: an aiohttp app answering OpenAI chat completions, streamed or not,
with scripted faults and the logs and counters tests read."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from demo import images, mirror
from demo.bench import BENCH_STAMP, BENCH_STREAM
from demo.faults import NORMAL, Fault, error_response
from demo.pages import default_text_for

# The API's own limits, written down here rather than read from the app's catalog: a fake that
# copied the code under test would agree with a wrong cap instead of refusing it.
DEFAULT_OUTPUT_CAPS = {
    "gpt-4o-2024-11-20": 16384,
    "gpt-4o-2024-08-06": 16384,
    "gpt-4o": 16384,
}

# How often a stalled or paced stream looks for a vanished client or a stopping server.
_POLL_SECONDS = 0.05
# Per-app flag rather than per-Standin, so one Standin can back several apps and loops.
_STOPPING = web.AppKey("standin_stopping", list)


def _sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


class _ClientGone(Exception):
    """The client disconnected before the server finished sending."""


class _ServerStopping(Exception):
    """The app is shutting down; in-flight streams are dropped."""


class Standin:
    """A scriptable OpenAI chat-completions server whose logs and counters tests can read."""

    def __init__(
        self,
        *,
        text_for: Callable[[str], str] | None = None,
        chunk_chars: int = 40,
        chunks_per_second: float | None = None,
        faults: dict[str, list[Fault]] | None = None,
        unknown_models: set[str] | None = None,
        output_caps: dict[str, int] | None = None,
        usage_prompt_tokens: int = 1000,
        bench: bool = False,
        mirror_screenshots: bool = False,
    ) -> None:
        if chunk_chars < 1:
            raise ValueError("chunk_chars must be at least 1")
        self.text_for = text_for or default_text_for
        self.chunk_chars = chunk_chars
        self.chunks_per_second = chunks_per_second
        self.faults: dict[str, list[Fault]] = {k: list(v) for k, v in (faults or {}).items()}
        self.unknown_models = set(unknown_models or ())
        self.output_caps = dict(DEFAULT_OUTPUT_CAPS if output_caps is None else output_caps)
        self.usage_prompt_tokens = usage_prompt_tokens
        # Bench mode: stamp chunks as they are sent (see BENCH_STAMP) and log every stream.
        self.bench = bench
        # Demo mode: the default models answer pictures of the screenshot at their own
        # fidelity (demo/mirror.py), so their visual scores differ as real models' would.
        self.mirror_screenshots = mirror_screenshots
        self.bench_streams: list[dict[str, Any]] = []
        self._stream_serials = itertools.count(1)
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str] = []
        self.streams_opened = 0
        self.streams_finished = 0
        self.streams_closed_by_client = 0
        # Released once per stream the client closed, so tests can wait for closes as events.
        self.client_closes = threading.Semaphore(0)
        # Called in the server's thread with each request body, before it is answered.
        self.on_request: Callable[[dict[str, Any]], None] | None = None
        self._sent: list[tuple[str, str]] = []
        # Tests script faults from their own thread while the server loop pops them.
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # -- scripting helpers

    def add_fault(self, model: str, fault: Fault) -> None:
        """Queue `fault` for the next request for `model` not already claimed by a fault."""
        with self._lock:
            self.faults.setdefault(model, []).append(fault)

    def _pop_fault(self, model: str) -> Fault | None:
        with self._lock:
            queue = self.faults.get(model)
            return queue.pop(0) if queue else None

    def texts_sent(self) -> list[tuple[str, str]]:
        """Return (model, content) for every stream or completion the server began answering."""
        return list(self._sent)

    # -- aiohttp wiring

    def app(self) -> web.Application:
        """Return a fresh aiohttp application serving this stand-in."""
        # The real API takes screenshots of several MiB; aiohttp's default limit is 1 MiB.
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app[_STOPPING] = []
        app.on_shutdown.append(_mark_stopping)
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/chat/completions", self._handle)
        # Generated images and the model listing, so both features show without a key.
        app.router.add_post("/v1/images/generations", images.images_generations)
        app.router.add_get("/v1/models", images.models)
        if self.bench:
            app.router.add_get("/bench/streams", self._bench_streams)
        app.router.add_route("*", "/{tail:.*}", _not_found)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.auth_headers.append(request.headers.get("Authorization", ""))
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error_response(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return error_response(400, "The request body must be a JSON object.")
        if self.bench:
            self.requests.clear()  # a bench sends thousands of screenshots: keep only the last
        self.requests.append(body)
        if self.on_request is not None:
            self.on_request(body)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return error_response(400, "you must provide a model parameter", param="model")
        fault = self._pop_fault(model) or NORMAL
        refusal = self._refusal(model, body, fault)
        if refusal is not None:
            return refusal
        text = (self.mirror_screenshots and mirror.answer(model, body)) or self.text_for(model)
        self._sent.append((model, text))
        if not body.get("stream"):
            return self._completion(model, text, fault.finish_reason)
        return await self._stream(request, body, model, text, fault)

    def _refusal(self, model: str, body: dict[str, Any], fault: Fault) -> web.Response | None:
        if fault.status is not None:
            return error_response(
                fault.status, fault.message, code=fault.code, retry_after=fault.retry_after
            )
        if model in self.unknown_models:
            return error_response(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        return self._cap_refusal(model, body)

    def _cap_refusal(self, model: str, body: dict[str, Any]) -> web.Response | None:
        cap = self.output_caps.get(model)
        for param in ("max_completion_tokens", "max_tokens"):
            asked = body.get(param)
            if cap is not None and isinstance(asked, int) and asked > cap:
                return error_response(
                    400,
                    f"{param} is too large: {asked}. This model supports at most {cap} "
                    f"completion tokens, whereas you provided {asked}.",
                    code="invalid_value",
                    param=param,
                )
        return None

    async def _bench_streams(self, request: web.Request) -> web.Response:
        """Bench mode: every stream's log (times are wall-clock seconds), then forget them."""
        logged, self.bench_streams = self.bench_streams, []
        for log in logged:
            if isinstance(log["text"], list):  # a stream still running or cut short
                log["text"] = "".join(log["text"])
        return web.json_response(logged)

    # -- answers

    def _usage(self, text: str) -> dict[str, int]:
        completion = max(1, len(text) // 4) if text else 0
        return {
            "prompt_tokens": self.usage_prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.usage_prompt_tokens + completion,
        }

    def _completion(self, model: str, text: str, finish_reason: str) -> web.Response:
        return web.json_response(
            {
                "id": f"chatcmpl-standin-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_standin",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text, "refusal": None},
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": self._usage(text),
            }
        )

    async def _stream(
        self, request: web.Request, body: dict[str, Any], model: str, text: str, fault: Fault
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        self.streams_opened += 1
        stream = _Stream(self, request, response, body, model)
        try:
            await stream.run(text, fault)
        except (_ClientGone, ConnectionError):
            self.streams_closed_by_client += 1
            self.client_closes.release()
        except _ServerStopping:
            _abort(request)
        except asyncio.CancelledError:
            # Only reached if handler cancellation is enabled: that means the client left.
            if not request.app[_STOPPING]:
                self.streams_closed_by_client += 1
                self.client_closes.release()
            raise
        return response


class _Stream:
    """One SSE answer: the chunk framing, pacing and mid-stream faults."""

    def __init__(
        self,
        standin: Standin,
        request: web.Request,
        response: web.StreamResponse,
        body: dict[str, Any],
        model: str,
    ) -> None:
        self.standin = standin
        self.request = request
        self.response = response
        self.model = model
        options = body.get("stream_options") or {}
        self.include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        self.id = f"chatcmpl-standin-{next(standin._ids)}"
        self.created = int(time.time())
        self.interval = 1 / standin.chunks_per_second if standin.chunks_per_second else 0.0
        self.next_at = asyncio.get_running_loop().time()
        self.log: dict[str, Any] | None = None
        if standin.bench:
            self.log = {"stream": next(standin._stream_serials), "model": model}
            self.log.update(opened=time.time(), first=None, last=None, finish=None, done=None)
            self.log.update(chunks=0, text=[])
            standin.bench_streams.append(self.log)

    def chunk(
        self, choices: list[dict[str, Any]], usage: dict[str, int] | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_standin",
            "choices": choices,
        }
        if self.include_usage:
            payload["usage"] = usage
        return payload

    def choice(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

    async def send(self, payload: dict[str, Any] | str) -> None:
        self.check()
        await self.response.write(_sse(payload))

    def stamped(self, content: str) -> str:
        """Bench mode: fill the chunk's placeholders and log it; otherwise return it as is."""
        log = self.log
        if log is None:
            return content
        now = time.time()
        content = content.replace(BENCH_STAMP, f"{now:.6f}").replace(
            BENCH_STREAM, f"{log['stream']:0{len(BENCH_STREAM)}d}"
        )
        if log["first"] is None:
            log["first"] = now
        log["last"] = now
        log["chunks"] += 1
        log["text"].append(content)
        return content

    def check(self) -> None:
        if self.request.app[_STOPPING]:
            raise _ServerStopping
        if _client_gone(self.request):
            raise _ClientGone

    async def pace(self) -> None:
        # Absolute schedule so slow writes don't accumulate drift in the chunk rate.
        if not self.interval:
            return
        self.next_at += self.interval
        loop = asyncio.get_running_loop()
        while (delay := self.next_at - loop.time()) > 0:
            await asyncio.sleep(min(delay, _POLL_SECONDS))
            self.check()

    async def run(self, text: str, fault: Fault) -> None:
        limit = fault.char_limit()
        body = text if limit is None else text[: max(0, limit)]
        await self.send(self.chunk([self.choice({"role": "assistant", "content": ""})]))
        step = self.standin.chunk_chars
        for start in range(0, len(body), step):
            await self.pace()
            content = self.stamped(body[start : start + step])
            await self.send(self.chunk([self.choice({"content": content})]))
        if fault.cut_after_chars is not None:
            await self.cut()
        elif fault.stall_after_chars is not None:
            await self.stall()
        elif fault.end_without_finish_after_chars is not None:
            await self.done()
        else:
            await self.finish(text, fault.finish_reason)

    async def finish(self, text: str, finish_reason: str) -> None:
        await self.pace()
        if self.log is not None:
            self.log["finish"] = time.time()
        await self.send(self.chunk([self.choice({}, finish_reason)]))
        if self.include_usage:
            await self.send(self.chunk([], self.standin._usage(text)))
        await self.done()

    async def done(self) -> None:
        await self.send("[DONE]")
        await self.response.write_eof()
        self.standin.streams_finished += 1
        if self.log is not None:
            self.log["done"] = time.time()
            self.log["text"] = "".join(self.log["text"])

    async def cut(self) -> None:
        # Let the chunks already written reach the client, or abort() would discard them.
        transport = self.request.transport
        deadline = asyncio.get_running_loop().time() + 2
        while transport is not None and transport.get_write_buffer_size() > 0:
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.005)
        _abort(self.request)

    async def stall(self) -> None:
        while True:
            await asyncio.sleep(_POLL_SECONDS)
            self.check()


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


async def _mark_stopping(app: web.Application) -> None:
    app[_STOPPING].append(True)


async def _not_found(request: web.Request) -> web.Response:
    return error_response(404, f"Invalid URL ({request.method} {request.path})", code="unknown_url")
