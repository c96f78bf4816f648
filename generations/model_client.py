"""The model client: one AsyncOpenAI per event loop, one streamed chat completion per call, and
the mapping of every way a call can fail onto what the runner should do next."""

import asyncio
import contextlib
import email.utils
import json
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import httpx2
import openai
from django.conf import settings
from openai.types.chat import ChatCompletionChunk

from demo.mode import is_demo_mode
from demo.thread import standin_base_url
from generations.catalog import request_options_for
from generations.models import VariantErrorCode
from generations.redaction import redact
from generations.sse import sse_payloads

# The request phase (429, 5xx, connection errors) is retried here rather than by the SDK: the
# SDK would also retry an exhausted quota, which the API answers with 429 too.
REQUEST_RETRIES = 2
RETRY_BACKOFF_SECONDS = (0.5, 2.0)
MAX_RETRY_AFTER_SECONDS = 30.0


# Refusals that pass: worth the request again after a pause.
_PASSING = (
    VariantErrorCode.RATE_LIMITED,
    VariantErrorCode.UPSTREAM_ERROR,
    VariantErrorCode.TIMEOUT,
)


@dataclass(frozen=True)
class StreamResult:
    finish_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None


class ModelCallError(Exception):
    """A call that ended without a result; `code` is the contract's variant.failed code."""

    code = VariantErrorCode.UPSTREAM_ERROR

    def __init__(self, message: str, code: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        if code:
            self.code = code

    @property
    def worth_retrying(self) -> bool:
        """True for a passing refusal of the request (rate limit, server error, no connection)."""
        return self.code in ("rate_limited", "upstream_error", VariantErrorCode.TIMEOUT)


class ModelUnavailable(ModelCallError):
    """The API does not know the model: try the next one in the chain."""

    code = VariantErrorCode.MODEL_UNAVAILABLE


class StreamBroken(ModelCallError):
    """The stream was cut or ended without a finish_reason: worth running again from the start."""

    code = VariantErrorCode.STREAM_BROKEN


_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI]" = (
    weakref.WeakKeyDictionary()
)


def client() -> openai.AsyncOpenAI:
    """Return this event loop's client; an AsyncOpenAI must never be shared across loops."""
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        if is_demo_mode():
            api_key, base_url = "demo", standin_base_url()
        else:
            api_key, base_url = settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL
        _clients[loop] = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            # The SDK's own aiohttp transport (its HTTP parser is C, httpx's h11 is Python):
            # about 30 µs less CPU per streamed chunk. Auth, base URL, proxies from the
            # environment and the SDK's error types are unchanged.
            http_client=openai.DefaultAioHttpClient(),
        )
    return _clients[loop]


async def close_client() -> None:
    """Close this event loop's client and its kept-alive connections (at shutdown)."""
    opened = _clients.pop(asyncio.get_running_loop(), None)
    if opened is not None:
        await opened.close()


async def stream_completion(
    *,
    model: str,
    messages: bytes,
    max_tokens: int,
    on_delta: Callable[[str], None],
    on_request: Callable[[], None],
    max_chars: int,
) -> StreamResult:
    """Stream one answer from `model`, handing each text delta to `on_delta` as it arrives.

    Returns when the model sent a finish_reason; raises a ModelCallError otherwise. Cancelling
    the awaiting task closes the HTTP stream, so the API stops producing (and billing) tokens.
    `on_request` is called once for every HTTP request, retries included. `messages` is
    the JSON from `encode_messages`. An answer that reaches `max_chars` characters is cut there
    and its stream closed, as if the model had stopped with finish_reason "length" (contract
    §13): one runaway answer must not fill memory, the database or a socket frame.

    The request goes through the SDK (auth, base URL, request-phase errors), but the answer is
    read as the raw SSE byte stream and each `data:` payload parsed with jiter into plain
    dicts: the SDK's chunk objects cost about twice the CPU per chunk, for fields we never read.
    """
    finish_reason, usage = None, None
    room = max_chars
    async with _open_stream(
        model=model, messages=messages, max_tokens=max_tokens, on_request=on_request
    ) as response:
        try:
            async for chunk in sse_payloads(response.aiter_bytes()):
                if chunk.get("error"):
                    # An error event mid-stream (the SDK raises APIError for it).
                    raise StreamBroken("The stream broke: APIError")
                if chunk.get("usage") is not None:
                    usage = chunk["usage"]
                for choice in _choices(chunk):
                    delta = choice.get("delta")
                    if isinstance(delta, dict) and delta.get("content"):
                        content = delta["content"][:room]
                        room -= len(content)
                        on_delta(content)
                    if choice.get("finish_reason"):
                        finish_reason = choice["finish_reason"]
                if room <= 0:
                    finish_reason = "length"
                    break  # leaving the block closes the HTTP stream: no more tokens billed
        except (
            openai.APIError,
            httpx2.HTTPError,
            aiohttp.ClientError,
            OSError,
            ValueError,
        ) as error:
            # A connection cut midway surfaces as a transport error (or a protocol error for a
            # truncated chunked body); it is never retried by the SDK, so the runner runs the
            # stream again from the start. Malformed JSON is a ValueError.
            raise StreamBroken(f"The stream broke: {type(error).__name__}") from None
    if finish_reason is None:
        raise StreamBroken("The stream ended without a finish_reason.")
    return StreamResult(
        finish_reason=finish_reason,
        prompt_tokens=_usage_field(usage, "prompt_tokens"),
        completion_tokens=_usage_field(usage, "completion_tokens"),
    )


def _choices(chunk: dict) -> list[dict]:
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return []
    return [choice for choice in choices if isinstance(choice, dict)]


def _usage_field(usage: object, name: str) -> int | None:
    value = usage.get(name) if isinstance(usage, dict) else None
    return value if isinstance(value, int) else None


def encode_messages(messages: list[dict]) -> bytes:
    """The messages as JSON, once per generation: they hold the screenshot's data URL (hundreds
    of KB), which the SDK would otherwise encode again for every variant and every retry."""
    return json.dumps(messages, ensure_ascii=False, separators=(",", ":")).encode()


def _request_body(*, model: str, messages: bytes, max_tokens: int) -> bytes:
    """The JSON that `chat.completions.create` would send, around the encoded messages."""
    # The limit's name, temperature and reasoning effort per model: the one model table.
    options = request_options_for(model, max_tokens) | {
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    return b"".join(
        (
            b'{"model":',
            json.dumps(model, ensure_ascii=False).encode(),
            b',"messages":',
            messages,
            b",",
            json.dumps(options, separators=(",", ":")).encode()[1:],  # without its "{"
        )
    )


@contextlib.asynccontextmanager
async def _open_stream(*, model, messages: bytes, max_tokens, on_request):
    """Send the request, retrying passing refusals with backoff and honouring Retry-After;
    yield the raw streaming response and close it (and its connection, if unread) on exit.

    Sent with the SDK's public `post` (its auth, base URL, headers and error types, as
    `create` uses them) with the body already encoded.
    """
    body = _request_body(model=model, messages=messages, max_tokens=max_tokens)
    for retry in range(REQUEST_RETRIES + 1):
        on_request()
        try:
            # Not iterated: only its `response` is read, as raw server-sent events.
            stream = await client().post(
                "/chat/completions",
                cast_to=ChatCompletionChunk,
                content=body,
                stream=True,
                stream_cls=openai.AsyncStream[ChatCompletionChunk],
            )
        except (openai.APIError, aiohttp.ClientError) as error:
            refusal = classify_request_error(error)
            if not refusal.worth_retrying or retry == REQUEST_RETRIES:
                raise refusal from None
            await asyncio.sleep(refusal.retry_after or RETRY_BACKOFF_SECONDS[retry])
            continue
        try:
            yield stream.response
        finally:
            await stream.response.aclose()
        return
    raise AssertionError("unreachable")


def classify_request_error(error: openai.APIError | aiohttp.ClientError) -> ModelCallError:
    """Map an error raised before streaming began onto the contract's variant.failed codes."""
    if isinstance(error, aiohttp.ClientError):
        # A reply that is not HTTP at all, which the aiohttp transport does not translate
        # (httpx reports it as a connection error).
        return ModelCallError(
            "The model API could not be reached.", VariantErrorCode.UPSTREAM_ERROR
        )
    message = _readable(error)
    if isinstance(error, openai.NotFoundError):
        return ModelUnavailable(message)
    if isinstance(error, openai.APITimeoutError) and _timed_out(error):
        return ModelCallError(message, VariantErrorCode.TIMEOUT)
    if isinstance(error, openai.RateLimitError):
        if getattr(error, "code", None) == "insufficient_quota":
            return ModelCallError(message, VariantErrorCode.QUOTA_EXCEEDED)
        return ModelCallError(
            message, VariantErrorCode.RATE_LIMITED, retry_after=_retry_after(error)
        )
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return ModelCallError(message, VariantErrorCode.AUTH_FAILED)
    if isinstance(error, openai.BadRequestError | openai.UnprocessableEntityError):
        return ModelCallError(message, VariantErrorCode.BAD_REQUEST)
    if isinstance(error, openai.APIStatusError) and error.status_code < 500:
        return ModelCallError(message, VariantErrorCode.BAD_REQUEST)
    return ModelCallError(message, VariantErrorCode.UPSTREAM_ERROR, retry_after=_retry_after(error))


def _timed_out(error: openai.APITimeoutError) -> bool:
    """False for a connection refused or dropped: the aiohttp transport reports those as a
    connect timeout, where httpx reports a connection error (`upstream_error`)."""
    cause = error.__cause__
    while cause is not None:
        if isinstance(cause, aiohttp.ClientError):
            return isinstance(cause, TimeoutError)
        cause = cause.__cause__
    return True


def _retry_after(error: openai.APIError) -> float | None:
    response = getattr(error, "response", None)
    if response is None:
        return None
    raw = response.headers.get("retry-after-ms")
    if raw:
        return _bounded(float(raw) / 1000)
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        return _bounded(float(raw))
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        return _bounded(email.utils.mktime_tz(parsed) - time.time()) if parsed else None


def _bounded(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _readable(error: openai.APIError) -> str:
    # The API's own sentence; the SDK's str() can carry request details.
    body = getattr(error, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return redact(body["message"])[:500]
    status = getattr(error, "status_code", None)
    return f"The model API answered {status}." if status else "The model API could not be reached."
