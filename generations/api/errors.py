"""The REST error envelope: every refusal, DRF's own included, as {"success": false, "error": …}."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response

from generations.errors import (
    CSRF_FAILED,
    INTERNAL_ERROR,
    INVALID_FIELD,
    INVALID_JSON,
    LOGIN_REQUIRED,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    RATE_LIMITED,
    REQUEST_TOO_LARGE,
    AppError,
    ErrorKind,
)

logger = logging.getLogger(__name__)

_DRF_KINDS: list[tuple[type[Exception], ErrorKind]] = [
    (exceptions.ParseError, INVALID_JSON),
    (exceptions.UnsupportedMediaType, INVALID_JSON),
    (exceptions.NotAuthenticated, LOGIN_REQUIRED),
    (exceptions.AuthenticationFailed, LOGIN_REQUIRED),
    # DRF refuses a session-authenticated write without a CSRF token this way.
    (exceptions.PermissionDenied, CSRF_FAILED),
    (exceptions.NotFound, NOT_FOUND),
    (Http404, NOT_FOUND),
    (exceptions.MethodNotAllowed, METHOD_NOT_ALLOWED),
    (exceptions.Throttled, RATE_LIMITED),
    (exceptions.ValidationError, INVALID_FIELD),
    # DRF reads a JSON body through `request.body`, where Django enforces
    # DATA_UPLOAD_MAX_MEMORY_SIZE (16 MiB) before any parser sees it.
    (RequestDataTooBig, REQUEST_TOO_LARGE),
    # Django refuses over DATA_UPLOAD_MAX_NUMBER_FIELDS (1000) query parameters this way.
    (TooManyFieldsSent, INVALID_FIELD),
]


def error_response(error: AppError, headers: dict | None = None) -> Response:
    return Response(
        {"success": False, "error": error.as_dict()}, status=error.http_status, headers=headers
    )


def envelope_exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER: map any exception onto the contract's codes; never a bare 500."""
    if isinstance(exc, AppError):
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return error_response(exc, headers)
    for exception_type, kind in _DRF_KINDS:
        if isinstance(exc, exception_type):
            headers = {}
            if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
                headers["Retry-After"] = str(int(exc.wait) + 1)
            if isinstance(exc, exceptions.MethodNotAllowed):
                headers["Allow"] = ", ".join(context["view"].allowed_methods)
            return error_response(AppError(kind, _detail(exc) or kind.message), headers)
    logger.exception("Unhandled error in %s", context.get("view"), exc_info=exc)
    return error_response(AppError(INTERNAL_ERROR))


def unknown_path(request, *args, **kwargs) -> JsonResponse:
    """Any /api/ path no endpoint matches: a 404 envelope rather than Django's HTML page."""
    error = AppError(NOT_FOUND, "No such API endpoint.")
    return JsonResponse({"success": False, "error": error.as_dict()}, status=error.http_status)


def _detail(exc: Exception) -> str:
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return f"More than {limit} query parameters or form fields."
    detail = getattr(exc, "detail", None)
    if isinstance(detail, str):
        return str(detail)  # a plain str: an ErrorDetail renders as a mapping in YAML
    if isinstance(detail, dict):  # a filter's refusal: name the parameter at fault
        return " ".join(f"`{name}`: {_joined(messages)}" for name, messages in detail.items())
    return ""


def _joined(messages) -> str:
    return " ".join(map(str, messages)) if isinstance(messages, list) else str(messages)
