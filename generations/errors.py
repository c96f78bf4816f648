"""The one error type clonegen raises for bad input and refused actions, with the contract's codes.

The REST exception handler and the socket consumer both render it: the same code reaches a
client whichever way it came in.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorKind:
    code: str
    http_status: int
    message: str


INVALID_JSON = ErrorKind("invalid_json", 400, "The message is not a JSON object.")
UNKNOWN_TYPE = ErrorKind("unknown_type", 400, "Unknown message type.")
INVALID_FIELD = ErrorKind("invalid_field", 400, "A field is missing or malformed.")
INVALID_IMAGE = ErrorKind(
    "invalid_image", 400, "The image is not a decodable PNG, JPEG or WebP data URL."
)
IMAGE_TOO_LARGE = ErrorKind("image_too_large", 400, "The image is larger than the allowed size.")
INVALID_ID = ErrorKind("invalid_id", 400, "The generation id is not a valid UUID.")
NOT_FOUND = ErrorKind("not_found", 404, "No such generation.")
CONFLICT = ErrorKind("conflict", 409, "The generation is not in a state that allows this.")
NOTHING_TO_RETRY = ErrorKind("nothing_to_retry", 409, "Every variant already completed.")
RATE_LIMITED = ErrorKind("rate_limited", 429, "Too many new generations; try again later.")
LOGIN_REQUIRED = ErrorKind("login_required", 401, "Log in first.")
CSRF_FAILED = ErrorKind(
    "csrf_failed", 403, "A logged-in write needs the CSRF token (the X-CSRFToken header)."
)
REQUEST_TOO_LARGE = ErrorKind("request_too_large", 413, "The request body is over 16 MiB.")
INVALID_URL = ErrorKind(
    "invalid_url", 400, "The URL is malformed: give a full http:// or https:// address."
)
URL_FORBIDDEN = ErrorKind(
    "url_forbidden", 400, "That address is on a private, local or reserved network."
)
URL_UNREACHABLE = ErrorKind("url_unreachable", 400, "The page could not be loaded in time.")
# The contract has no "busy" code; rate_limited already tells clients to wait retry_after
# seconds and try again, which is exactly the right reaction to a full capture queue.
CAPTURE_BUSY = ErrorKind(
    "rate_limited", 429, "Too many pages are being captured right now; try again shortly."
)
METHOD_NOT_ALLOWED = ErrorKind("method_not_allowed", 405, "Method not allowed.")
# Not a bug, but the contract has no closer code: the client may simply try again shortly.
SHUTTING_DOWN = ErrorKind("internal_error", 503, "The server is restarting; try again in a moment.")
INTERNAL_ERROR = ErrorKind("internal_error", 500, "Something went wrong on our side.")


class AppError(Exception):
    """A refusal a client can act on: a stable code, a readable message, an HTTP status."""

    def __init__(self, kind: ErrorKind, message: str | None = None, retry_after: int | None = None):
        self.kind = kind
        self.code = kind.code
        self.http_status = kind.http_status
        self.message = message or kind.message
        self.retry_after = retry_after  # seconds, for refusals that pass (rate_limited)
        super().__init__(self.message)

    def as_dict(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.retry_after is not None:
            error["retry_after"] = self.retry_after
        return error
