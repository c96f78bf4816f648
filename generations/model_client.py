"""The model client: one AsyncOpenAI per event loop, one streamed chat completion per call, and
the mapping of every way a call can fail onto what the runner should do next."""

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import openai
from django.conf import settings

from generations import demo

# The SDK retries the request phase itself (429, 5xx, connect errors), honouring Retry-After.
SDK_MAX_RETRIES = 2


@dataclass(frozen=True)
class StreamResult:
    finish_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None


class ModelCallError(Exception):
    """A call that ended without a result; `code` is the contract's variant.failed code."""

    code = "upstream_error"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


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
        _clients[loop] = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=SDK_MAX_RETRIES
        )
    return _clients[loop]


async def stream_completion(
    *, model: str, messages: list[dict], max_tokens: int, on_delta: Callable[[str], None]
) -> StreamResult:
    """Stream one answer from `model`, handing each text delta to `on_delta` as it arrives.

    Returns when the model sent a finish_reason; raises a ModelCallError otherwise. Cancelling
    the awaiting task closes the HTTP stream, so the API stops producing (and billing) tokens.
    """
    try:
        stream = await client().chat.completions.create(
            model=model,
            messages=messages,
            temperature=0,
            max_tokens=max_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
    except openai.APIError as error:
        raise classify_request_error(error) from None
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
        # Cut connections surface as the HTTP library's protocol errors, wrapped or not.
        raise StreamBroken(f"The stream broke: {type(error).__name__}") from None
    except Exception as error:
        if type(error).__module__.split(".")[0] in {"httpx2", "httpcore2", "httpx", "httpcore"}:
            raise StreamBroken(f"The stream broke: {type(error).__name__}") from None
        raise
    if finish_reason is None:
        raise StreamBroken("The stream ended without a finish_reason.")
    return StreamResult(
        finish_reason=finish_reason,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
    )


def classify_request_error(error: openai.APIError) -> ModelCallError:
    """Map an error raised before streaming began onto the contract's variant.failed codes."""
    message = _readable(error)
    if isinstance(error, openai.NotFoundError):
        return ModelUnavailable(message)
    if isinstance(error, openai.APITimeoutError):
        return ModelCallError(message, "timeout")
    if isinstance(error, openai.RateLimitError):
        quota = getattr(error, "code", None) == "insufficient_quota"
        return ModelCallError(message, "quota_exceeded" if quota else "rate_limited")
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return ModelCallError(message, "auth_failed")
    if isinstance(error, openai.BadRequestError | openai.UnprocessableEntityError):
        return ModelCallError(message, "bad_request")
    return ModelCallError(message, "upstream_error")


def _readable(error: openai.APIError) -> str:
    # The SDK's message can quote the request; keep the API's own sentence, never headers.
    body = getattr(error, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"][:500]
    status = getattr(error, "status_code", None)
    return f"The model API answered {status}." if status else "The model API could not be reached."
