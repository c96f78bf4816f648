"""classify_request_error: every way a request can be refused, mapped to a variant.failed code.

The SDK's exceptions are built directly around an httpx2 Response, as the SDK builds them;
nothing goes over the network.
"""

import email.utils
import time

import aiohttp
import httpx2
import openai
import pytest

from generations.model_client import (
    MAX_RETRY_AFTER_SECONDS,
    ModelUnavailable,
    classify_request_error,
)

REQUEST = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


def status_error(
    error_class: type[openai.APIStatusError],
    status: int,
    *,
    code: str | None = None,
    message: str = "Refused by the API.",
    headers: dict[str, str] | None = None,
) -> openai.APIStatusError:
    body = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    response = httpx2.Response(status, headers=headers, json={"error": body}, request=REQUEST)
    return error_class(f"Error code: {status}", response=response, body=body)


@pytest.mark.parametrize(
    ("error_class", "status", "code"),
    [
        (openai.BadRequestError, 400, "bad_request"),
        (openai.AuthenticationError, 401, "auth_failed"),
        (openai.PermissionDeniedError, 403, "auth_failed"),
        (openai.NotFoundError, 404, "model_unavailable"),
        (openai.ConflictError, 409, "bad_request"),
        (openai.UnprocessableEntityError, 422, "bad_request"),
        (openai.RateLimitError, 429, "rate_limited"),
        (openai.InternalServerError, 500, "upstream_error"),
        (openai.InternalServerError, 503, "upstream_error"),
    ],
)
def test_each_status_error_maps_to_its_code(error_class, status, code):
    refusal = classify_request_error(status_error(error_class, status))
    assert refusal.code == code
    assert refusal.message == "Refused by the API.", "the API's own sentence is kept"
    assert refusal.worth_retrying is (code in ("rate_limited", "upstream_error"))


def test_unknown_model_is_model_unavailable_so_the_chain_moves_on():
    assert isinstance(
        classify_request_error(status_error(openai.NotFoundError, 404)), ModelUnavailable
    )


def test_exhausted_quota_is_not_a_passing_rate_limit():
    refusal = classify_request_error(
        status_error(openai.RateLimitError, 429, code="insufficient_quota")
    )
    assert refusal.code == "quota_exceeded"
    assert not refusal.worth_retrying


def test_a_long_message_is_cut_and_a_missing_one_named_by_status():
    long = classify_request_error(status_error(openai.BadRequestError, 400, message="x" * 900))
    assert long.message == "x" * 500
    bare = openai.InternalServerError(
        "Error code: 502", response=httpx2.Response(502, request=REQUEST), body=None
    )
    assert classify_request_error(bare).message == "The model API answered 502."


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the precise header wins
        ({"retry-after": "3600"}, MAX_RETRY_AFTER_SECONDS),  # never wait longer than this
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers, seconds):
    refusal = classify_request_error(status_error(openai.RateLimitError, 429, headers=headers))
    assert refusal.retry_after == seconds


def test_retry_after_as_an_http_date():
    when = email.utils.formatdate(time.time() + 10, usegmt=True)
    refusal = classify_request_error(
        status_error(openai.InternalServerError, 503, headers={"retry-after": when})
    )
    assert 8 <= refusal.retry_after <= 10


def test_a_timeout_is_timeout():
    refusal = classify_request_error(openai.APITimeoutError(request=REQUEST))
    assert refusal.code == "timeout"
    assert refusal.worth_retrying


def test_a_read_timeout_under_the_aiohttp_transport_is_timeout():
    error = openai.APITimeoutError(request=REQUEST)
    error.__cause__ = aiohttp.ServerTimeoutError("read timed out")
    assert classify_request_error(error).code == "timeout"


def test_a_refused_connection_reported_as_a_timeout_is_upstream_error():
    # The aiohttp transport reports a refused connection as a connect timeout.
    error = openai.APITimeoutError(request=REQUEST)
    error.__cause__ = aiohttp.ClientConnectionError("Connection refused")
    assert classify_request_error(error).code == "upstream_error"


def test_a_connection_error_is_upstream_error():
    refusal = classify_request_error(openai.APIConnectionError(request=REQUEST))
    assert refusal.code == "upstream_error"
    assert refusal.message == "The model API could not be reached."
    assert refusal.worth_retrying


def test_an_aiohttp_client_error_is_upstream_error():
    refusal = classify_request_error(aiohttp.ClientPayloadError("not HTTP at all"))
    assert refusal.code == "upstream_error"
    assert refusal.message == "The model API could not be reached."
