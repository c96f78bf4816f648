"""Fault scripting: what a request should suffer, and the OpenAI-style error answers."""

from dataclasses import dataclass

from aiohttp import web


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


# A request nothing was scripted for.
NORMAL = Fault()


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
