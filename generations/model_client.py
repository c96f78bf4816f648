"""The model client: one AsyncOpenAI per event loop, one streamed chat completion per call, and
the mapping of every way a call can fail onto what the runner should do next."""

import asyncio
import email.utils
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import openai
from django.conf import settings

from generations import demo

# The request phase (429, 5xx, connection errors) is retried here rather than by the SDK: the
# SDK would also retry an exhausted quota, which the API answers with 429 too.
REQUEST_RETRIES = 2
RETRY_BACKOFF_SECONDS = (0.5, 2.0)
MAX_RETRY_AFTER_SECONDS = 30.0


@dataclass(frozen=True)
class StreamResult:
    finish_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None


class ModelCallError(Exception):
    """A call that ended without a result; `code` is the contract's variant.failed code."""

    code = "upstream_error"

    def __init__(self, message: str, code: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        if code:
            self.code = code

    @property
    def worth_retrying(self) -> bool:
        """True for a passing refusal of the request (rate limit, server error, no connection)."""
        return self.code in ("rate_limited", "upstream_error", "timeout")


class ModelUnavailable(ModelCallError):
    """The API does not know the model: try the next one in the chain."""

    code = "model_unavailable"


class StreamBroken(ModelCallError):
    """The stream was cut or ended without a finish_reason: worth running again from the start."""

    code = "stream_broken"


_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI]" = (
    weakref.WeakKeyDictionary()
)


def is_demo_mode() -> bool:
    return not settings.OPENAI_API_KEY


def client() -> openai.AsyncOpenAI:
    """Return this event loop's client; an AsyncOpenAI must never be shared across loops."""
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        if is_demo_mode():
            api_key, base_url = "demo", demo.standin_base_url()
        else:
            api_key, base_url = settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL
        _clients[loop] = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0)
    return _clients[loop]


async def stream_completion(
    *,
    model: str,
    messages: list[dict],
    max_tokens: int,
    on_delta: Callable[[str], None],
    requests_made: list[int],
) -> StreamResult:
    """Stream one answer from `model`, handing each text delta to `on_delta` as it arrives.

    Returns when the model sent a finish_reason; raises a ModelCallError otherwise. Cancelling
    the awaiting task closes the HTTP stream, so the API stops producing (and billing) tokens.
    `requests_made[0]` grows by one for every HTTP request, retries included.
    """
    stream = await _open_stream(
        model=model, messages=messages, max_tokens=max_tokens, requests_made=requests_made
    )
    finish_reason, usage = None, None
    try:
        async with stream:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.delta is not None and choice.delta.content:
                        on_delta(choice.delta.content)
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
    except (openai.APIError, OSError, ValueError) as error:
        # A connection cut midway surfaces as a wrapped protocol error; it is never retried by
        # the SDK, so the runner runs the stream again from the start.
        raise StreamBroken(f"The stream broke: {type(error).__name__}") from None
    if finish_reason is None:
        raise StreamBroken("The stream ended without a finish_reason.")
    return StreamResult(
        finish_reason=finish_reason,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
    )


async def _open_stream(*, model, messages, max_tokens, requests_made):
    """Send the request, retrying passing refusals with backoff and honouring Retry-After."""
    for retry in range(REQUEST_RETRIES + 1):
        requests_made[0] += 1
        try:
            return await client().chat.completions.create(
                model=model,
                messages=messages,
                temperature=0,
                max_tokens=max_tokens,
                stream=True,
                stream_options={"include_usage": True},
            )
        except openai.APIError as error:
            refusal = classify_request_error(error)
            if not refusal.worth_retrying or retry == REQUEST_RETRIES:
                raise refusal from None
            await asyncio.sleep(refusal.retry_after or RETRY_BACKOFF_SECONDS[retry])
    raise AssertionError("unreachable")


def classify_request_error(error: openai.APIError) -> ModelCallError:
    """Map an error raised before streaming began onto the contract's variant.failed codes."""
    message = _readable(error)
    if isinstance(error, openai.NotFoundError):
        return ModelUnavailable(message)
    if isinstance(error, openai.APITimeoutError):
        return ModelCallError(message, "timeout")
    if isinstance(error, openai.RateLimitError):
        if getattr(error, "code", None) == "insufficient_quota":
            return ModelCallError(message, "quota_exceeded")
        return ModelCallError(message, "rate_limited", retry_after=_retry_after(error))
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return ModelCallError(message, "auth_failed")
    if isinstance(error, openai.BadRequestError | openai.UnprocessableEntityError):
        return ModelCallError(message, "bad_request")
    if isinstance(error, openai.APIStatusError) and error.status_code < 500:
        return ModelCallError(message, "bad_request")
    return ModelCallError(message, "upstream_error", retry_after=_retry_after(error))


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
        return body["message"][:500]
    status = getattr(error, "status_code", None)
    return f"The model API answered {status}." if status else "The model API could not be reached."
