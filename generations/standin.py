"""An OpenAI-compatible chat-completions server, for demo mode and as a scriptable fake in tests."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import html
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web

DEMO_NOTICE = "Demo output from the clonegen local stand-in, not the work of a model."

DEFAULT_OUTPUT_CAPS = {
    "gpt-4o-2024-11-20": 16384,
    "gpt-4o-2024-08-06": 16384,
    "gpt-4o": 16384,
}

# How often a stalled or paced stream looks for a vanished client or a stopping server.
_POLL_SECONDS = 0.05
# Per-app flag rather than per-Standin, so one Standin can back several apps and loops.
_STOPPING = web.AppKey("standin_stopping", list)

_THEMES = (
    ("indigo", "Northwind", "Ship landing pages before the coffee gets cold."),
    ("emerald", "Greenleaf", "Analytics that grow with your garden of products."),
    ("rose", "Petalform", "Forms your customers actually enjoy filling in."),
    ("amber", "Brightdesk", "One inbox for every conversation your team has."),
    ("sky", "Cloudline", "Deploy on Friday and still sleep at night."),
    ("violet", "Nightowl", "Dashboards tuned for people who work late."),
)

_FEATURES = (
    ("Fast setup", "Connect your stack in minutes with guided onboarding."),
    ("Team spaces", "Share work across projects with fine-grained roles."),
    ("Clear billing", "Plain monthly pricing, no surprises at renewal time."),
)


# --------------------------------------------------------------------------- sample content


def _theme_for(model: str) -> tuple[str, str, str]:
    # hashlib, not hash(): the page must be identical across processes.
    digest = hashlib.sha256(model.encode("utf-8")).digest()
    return _THEMES[digest[0] % len(_THEMES)]


def _text(value: str) -> str:
    # quote=False keeps apostrophes literal so callers can search the page for plain strings.
    return html.escape(value, quote=False)


def _feature_cards(colour: str) -> str:
    return "\n".join(
        f'        <div class="rounded-xl border border-gray-200 bg-white p-6 shadow-sm">\n'
        f'          <h3 class="text-lg font-semibold text-{colour}-700">{title}</h3>\n'
        f'          <p class="mt-2 text-sm text-gray-600">{body}</p>\n'
        f"        </div>"
        for title, body in _FEATURES
    )


def sample_page(model: str) -> str:
    """Return a small, deterministic Tailwind landing page whose <h1> names `model`."""
    colour, brand, tagline = _theme_for(model)
    name = _text(model)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{brand} - {name}</title>
  <script src="https://cdn.tailwindcss.com"></script>
</head>
<body class="min-h-screen bg-gray-50 font-sans text-gray-900">
  <header class="border-b border-gray-200 bg-white">
    <nav class="mx-auto flex max-w-5xl items-center justify-between px-6 py-4">
      <a href="#" class="text-xl font-bold text-{colour}-600">{brand}</a>
      <ul class="flex gap-6 text-sm text-gray-600">
        <li><a href="#features" class="hover:text-{colour}-600">Features</a></li>
        <li><a href="#pricing" class="hover:text-{colour}-600">Pricing</a></li>
        <li><a href="#contact" class="hover:text-{colour}-600">Contact</a></li>
      </ul>
    </nav>
  </header>
  <main>
    <section class="mx-auto max-w-5xl px-6 py-20 text-center">
      <h1 class="text-4xl font-extrabold tracking-tight sm:text-5xl">{brand} by {name}</h1>
      <p class="mx-auto mt-4 max-w-2xl text-lg text-gray-600">{tagline}</p>
      <div class="mt-8 flex justify-center gap-4">
        <a href="#"
           class="rounded-lg bg-{colour}-600 px-5 py-3 font-medium text-white
                  hover:bg-{colour}-700">Get started</a>
        <a href="#"
           class="rounded-lg border border-gray-300 px-5 py-3 font-medium text-gray-700
                  hover:bg-gray-100">Book a demo</a>
      </div>
    </section>
    <section id="features" class="mx-auto max-w-5xl px-6 pb-20">
      <div class="grid gap-6 sm:grid-cols-3">
{_feature_cards(colour)}
      </div>
    </section>
  </main>
  <footer class="border-t border-gray-200 bg-white">
    <div class="mx-auto max-w-5xl px-6 py-6 text-center text-sm text-gray-500">
      <p>&copy; 2025 {brand}. All rights reserved.</p>
      <p class="mt-1 font-medium text-{colour}-700">{_text(DEMO_NOTICE)}</p>
    </div>
  </footer>
</body>
</html>"""


def wrap_in_prose(page: str) -> str:
    """Return `page` inside an html fence between two prose sentences, the way models answer."""
    return (
        "Here is the HTML page recreated from your screenshot.\n\n"
        f"```html\n{page}\n```\n\n"
        "It uses Tailwind CSS from the CDN, so it renders without a build step.\n"
    )


def _default_text_for(model: str) -> str:
    return wrap_in_prose(sample_page(model))


# --------------------------------------------------------------------------- bench mode

# In bench mode each streamed chunk has these placeholders replaced as it is sent: the stamp by
# the wall-clock emission time ("%.6f", 17 characters until the year 2286), the stream mark by
# the stream's serial number. Both keep the chunk's length, so pages keep their chunk count.
BENCH_STAMP = "@" * 17
BENCH_STREAM = "~" * 8
BENCH_STAMP_PATTERN = re.compile(r'data-t="(\d{10}\.\d{6})"')
BENCH_STREAM_PATTERN = re.compile(r'data-stream="(\d{8})"')
_LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation. "
)


def bench_page(model: str, *, chunks: int = 240, chunk_chars: int = 100) -> str:
    """Return an answer of exactly `chunks` * `chunk_chars` characters, prose around an HTML
    page, with one emission stamp placeholder in every `chunk_chars` slice (so every streamed
    chunk carries the time it was sent) and the stream mark in the first."""
    if chunks < 3:
        raise ValueError("a bench page needs at least 3 chunks")
    first = (
        "Page:\n```html\n<!DOCTYPE html>\n<html>"
        f'<head data-stream="{BENCH_STREAM}" data-t="{BENCH_STAMP}">'
    )
    pieces = [
        _bench_fill(first, "\n", chunk_chars),
        _bench_fill(
            f'<title data-t="{BENCH_STAMP}">{_text(model)} ', "</title></head><body>\n", chunk_chars
        ),
    ]
    for number in range(2, chunks - 1):
        opening = f'<p data-t="{BENCH_STAMP}">{number:04d} '
        pieces.append(_bench_fill(opening, "</p>\n", chunk_chars))
    last_close = "</p></body>\n</html>\n```\nDone.\n"
    pieces.append(_bench_fill(f'<p data-t="{BENCH_STAMP}">', last_close, chunk_chars))
    return "".join(pieces)


def _bench_fill(opening: str, closing: str, size: int) -> str:
    room = size - len(opening) - len(closing)
    if room < 0:
        raise ValueError(f"chunk_chars={size} is too small for a bench page")
    return opening + (_LOREM * (1 + room // len(_LOREM)))[:room] + closing


# --------------------------------------------------------------------------- faults and errors


@dataclass
class Fault:
    """One scripted misbehaviour for one request."""

    status: int | None = None
    code: str | None = None
    message: str = "The clonegen stand-in was scripted to fail this request."
    retry_after: float | None = None
    cut_after_chars: int | None = None
    end_without_finish_after_chars: int | None = None
    stall_after_chars: int | None = None
    finish_reason: str = "stop"

    def char_limit(self) -> int | None:
        """Where a mid-stream fault interrupts the text, if it does."""
        for limit in (
            self.cut_after_chars,
            self.end_without_finish_after_chars,
            self.stall_after_chars,
        ):
            if limit is not None:
                return limit
        return None


_NORMAL = Fault()


def _error_type(status: int, code: str | None) -> str:
    # Mirrors the `type` values the real API pairs with these statuses.
    if code == "insufficient_quota":
        return "insufficient_quota"
    if status == 429:
        return "requests"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    error_type: str | None = None,
    retry_after: float | None = None,
) -> web.Response:
    """Build an OpenAI-style JSON error response."""
    body = {
        "error": {
            "message": message,
            "type": error_type or _error_type(status, code),
            "param": param,
            "code": code,
        }
    }
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    return web.json_response(body, status=status, headers=headers)


# --------------------------------------------------------------------------- the server


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
    ) -> None:
        if chunk_chars < 1:
            raise ValueError("chunk_chars must be at least 1")
        self.text_for = text_for or _default_text_for
        self.chunk_chars = chunk_chars
        self.chunks_per_second = chunks_per_second
        self.faults: dict[str, list[Fault]] = {k: list(v) for k, v in (faults or {}).items()}
        self.unknown_models = set(unknown_models or ())
        self.output_caps = dict(DEFAULT_OUTPUT_CAPS if output_caps is None else output_caps)
        self.usage_prompt_tokens = usage_prompt_tokens
        # Bench mode: stamp chunks as they are sent (see BENCH_STAMP) and log every stream.
        self.bench = bench
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
        fault = self._pop_fault(model) or _NORMAL
        refusal = self._refusal(model, body, fault)
        if refusal is not None:
            return refusal
        text = self.text_for(model)
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


# --------------------------------------------------------------------------- running it


class StandinThread:
    """Run a Standin on 127.0.0.1 in a daemon thread with its own event loop."""

    def __init__(self, standin: Standin, port: int = 0) -> None:
        self.standin = standin
        self.port = port
        self.base_url = ""
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._listening = False
        self._error: OSError | None = None

    def start(self) -> str:
        """Start serving; block until the socket listens and return the /v1 base URL."""
        if self._thread is not None:
            raise RuntimeError("StandinThread already started")
        self._thread = threading.Thread(target=self._run, name="clonegen-standin", daemon=True)
        self._thread.start()
        self._ready.wait()
        if not self._listening:
            self._thread.join()
            self._thread = None
            raise self._error or RuntimeError("the stand-in thread died before listening")
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        return self.base_url

    def stop(self) -> None:
        """Stop serving, drop in-flight streams, and join the thread."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except OSError as exc:  # e.g. port in use; re-raised in the thread that called start()
            self._error = exc
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.standin.app(), access_log=None, shutdown_timeout=5)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", self.port)
            await site.start()
            self.port = runner.addresses[0][1]
            self._listening = True
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Serve the stand-in in the foreground until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m generations.standin", description=__doc__.strip()
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--pace", type=float, default=None, help="chunks per second")
    parser.add_argument(
        "--chunk-chars", type=int, default=None, help="characters per chunk (40; 100 in bench mode)"
    )
    parser.add_argument(
        "--bench",
        action="store_true",
        help="serve bench pages whose chunks carry their emission time; log streams at "
        "GET /bench/streams",
    )
    parser.add_argument("--chunks", type=int, default=240, help="content chunks per bench page")
    args = parser.parse_args(argv)
    chunk_chars = args.chunk_chars or (100 if args.bench else 40)
    standin = Standin(chunks_per_second=args.pace, chunk_chars=chunk_chars, bench=args.bench)
    if args.bench:
        standin.text_for = lambda model: bench_page(
            model, chunks=args.chunks, chunk_chars=chunk_chars
        )
    print(f"clonegen stand-in: base_url http://{args.host}:{args.port}/v1", flush=True)  # noqa: T201
    # A bench streams thousands of requests: no access log line for each.
    quiet = {"access_log": None} if args.bench else {}
    web.run_app(standin.app(), host=args.host, port=args.port, print=None, **quiet)


if __name__ == "__main__":
    main()
